import { WharfError } from '../errors/wharf-error.js';
import { parseDigest, type Digest } from './digest.js';
import { MediaTypes, isMediaTypeString, isSchema1 } from './media-types.js';

/**
 * Manifest parsing and validation. Pure: takes the exact bytes received plus the Content-Type the
 * client sent, returns what the registry needs to store and index. The bytes are never
 * re-serialized (their digest is the manifest's identity).
 */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Record<string, unknown>;
}

export type ReferenceKind = 'config' | 'layer' | 'manifest';

export interface ManifestReference {
  kind: ReferenceKind;
  descriptor: Descriptor;
  /** false for foreign / non-distributable layers that live at their `urls`, not in the registry */
  mustExist: boolean;
}

export interface ParsedManifest {
  mediaType: string;
  /** artifactType as the referrers API reports it (explicit, else config.mediaType for images) */
  artifactType?: string;
  isIndex: boolean;
  subject?: Descriptor;
  config?: Descriptor;
  annotations?: Record<string, string>;
  references: ManifestReference[];
}

const IMAGE_TYPES = new Set<string>([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
const INDEX_TYPES = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);

function invalid(message: string, detail?: unknown): WharfError {
  return new WharfError('MANIFEST_INVALID', message, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseAnnotations(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw invalid(`${where}.annotations must be an object of strings`);
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalid(`${where}.annotations[${JSON.stringify(k)}] must be a string`);
  }
  return v as Record<string, string>;
}

export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, artifactType, urls, platform } = v;
  if (!isMediaTypeString(mediaType)) throw invalid(`${where}.mediaType is missing or not a media type`);
  let d: Digest;
  try {
    d = parseDigest(digest);
  } catch (e) {
    throw invalid(`${where}.digest: ${(e as Error).message}`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  const desc: Descriptor = { mediaType, digest: d, size };
  if (artifactType !== undefined) {
    if (!isMediaTypeString(artifactType)) throw invalid(`${where}.artifactType is not a media type`);
    desc.artifactType = artifactType;
  }
  const annotations = parseAnnotations(v.annotations, where);
  if (annotations) desc.annotations = annotations;
  if (urls !== undefined) {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string')) throw invalid(`${where}.urls must be strings`);
    desc.urls = urls as string[];
  }
  if (platform !== undefined) {
    if (!isObject(platform) || typeof platform.architecture !== 'string' || typeof platform.os !== 'string') {
      throw invalid(`${where}.platform needs string architecture and os`);
    }
    desc.platform = platform;
  }
  return desc;
}

function isForeign(d: Descriptor): boolean {
  return /nondistributable|foreign/.test(d.mediaType) && (d.urls?.length ?? 0) > 0;
}

/**
 * Decide the manifest's media type from the body's `mediaType` field and the request's
 * Content-Type. They must agree when both are specific; a body without `mediaType` takes the
 * Content-Type, or is inferred from its shape when the Content-Type is generic.
 */
function resolveMediaType(body: Record<string, unknown>, contentType: string | undefined): string {
  const declared = body.mediaType;
  const ct = contentType?.split(';')[0]?.trim().toLowerCase();
  const specificCt = ct && ct !== 'application/json' && ct !== 'application/octet-stream' ? ct : undefined;
  if (declared !== undefined && typeof declared !== 'string') throw invalid('mediaType must be a string');
  if (declared !== undefined && specificCt !== undefined && declared !== specificCt) {
    throw invalid(`manifest mediaType ${declared} does not match Content-Type ${specificCt}`);
  }
  const mt = declared ?? specificCt;
  if (mt !== undefined) return mt;
  if (Array.isArray(body.manifests)) return MediaTypes.ociIndex;
  if (isObject(body.config)) return MediaTypes.ociManifest;
  throw invalid('cannot tell the manifest media type: set Content-Type or mediaType');
}

export function parseManifest(
  bytes: Uint8Array,
  contentType: string | undefined,
  maxBytes: number = MAX_MANIFEST_BYTES,
): ParsedManifest {
  if (bytes.byteLength > maxBytes) {
    throw invalid(`manifest is ${bytes.byteLength} bytes; the limit is ${maxBytes}`);
  }
  if (contentType && isSchema1(contentType)) {
    throw invalid('Docker schema 1 manifests are not supported; push with schema 2 or OCI (e.g. skopeo --format v2s2)');
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw invalid(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(body)) throw invalid('manifest must be a JSON object');
  if (body.schemaVersion === 1 || (typeof body.mediaType === 'string' && isSchema1(body.mediaType))) {
    throw invalid('Docker schema 1 manifests are not supported; push with schema 2 or OCI (e.g. skopeo --format v2s2)');
  }
  if (body.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const mediaType = resolveMediaType(body, contentType);
  const annotations = parseAnnotations(body.annotations, 'manifest');
  const subject = body.subject === undefined ? undefined : parseDescriptor(body.subject, 'subject');
  let explicitArtifactType: string | undefined;
  if (body.artifactType !== undefined) {
    if (!isMediaTypeString(body.artifactType)) throw invalid('artifactType is not a media type');
    explicitArtifactType = body.artifactType;
  }

  if (IMAGE_TYPES.has(mediaType)) {
    if (body.manifests !== undefined) throw invalid('an image manifest must not have manifests');
    const config = parseDescriptor(body.config, 'config');
    if (!Array.isArray(body.layers)) throw invalid('layers must be an array');
    const layers = body.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`));
    if (mediaType === MediaTypes.dockerManifest && layers.length === 0) {
      throw invalid('a Docker schema 2 manifest needs at least one layer');
    }
    const references: ManifestReference[] = [
      { kind: 'config', descriptor: config, mustExist: true },
      ...layers.map((d) => ({ kind: 'layer' as const, descriptor: d, mustExist: !isForeign(d) })),
    ];
    const artifactType = explicitArtifactType ?? config.mediaType;
    return { mediaType, artifactType, isIndex: false, subject, config, annotations, references };
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (body.config !== undefined || body.layers !== undefined) {
      throw invalid('an index must not have config or layers');
    }
    if (!Array.isArray(body.manifests)) throw invalid('manifests must be an array');
    const children = body.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`));
    const references: ManifestReference[] = children.map((d) => ({ kind: 'manifest', descriptor: d, mustExist: true }));
    return { mediaType, artifactType: explicitArtifactType, isIndex: true, subject, annotations, references };
  }
  throw invalid(`manifest media type ${mediaType} is not supported`);
}
