/** Media types the registry understands (OCI image-spec media-types.md, Docker schema 2). */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
];

export function isSchema1(mediaType: string): boolean {
  const mt = mediaType.split(';')[0]?.trim().toLowerCase();
  return mt === MediaTypes.dockerSchema1 || mt === MediaTypes.dockerSchema1Signed;
}

// RFC 6838 section 4.2: type "/" subtype, restricted-name characters, each at most 127.
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isMediaTypeString(v: unknown): v is string {
  return typeof v === 'string' && MEDIA_TYPE_RE.test(v);
}
