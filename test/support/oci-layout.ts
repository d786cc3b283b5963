/**
 * Builds OCI image layouts on disk without any network: random-content tar+gzip layers made here
 * (minimal ustar writer + node:zlib), an image config with rootfs.diff_ids, an image manifest,
 * index.json; and a multi-arch layout whose index.json points to an image index of two platforms.
 * Also reads layouts back (resolve a tag, walk every blob) for round-trip comparisons.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

export const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function hex(digest: string): string {
  const i = digest.indexOf(':');
  return digest.slice(i + 1);
}

// ---------------------------------------------------------------- tar

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(name: string, size: number, type: '0' | '5', mode: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  const h = Buffer.alloc(512, 0);
  h.write(name, 0, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(1_700_000_000, 12), 136, 'ascii'); // mtime, fixed
  h.write('        ', 148, 'ascii'); // checksum placeholder
  h.write(type, 156, 'ascii');
  h.write('ustar\u000000', 257, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

export interface TarEntry {
  /** Path inside the archive, no leading slash; a trailing slash makes a directory. */
  name: string;
  content?: Buffer;
  mode?: number;
}

/** A minimal ustar archive (regular files and directories), ended by two zero blocks. */
export function makeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.name.endsWith('/')) {
      parts.push(tarHeader(e.name, 0, '5', e.mode ?? 0o755));
      continue;
    }
    const body = e.content ?? Buffer.alloc(0);
    parts.push(tarHeader(e.name, body.length, '0', e.mode ?? 0o644), body);
    const pad = (512 - (body.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

/**
 * Regular files of a tar archive (gzip-compressed or not), path (no leading ./ or /) -> content.
 * Understands ustar name+prefix and PAX `path` records; other entry types are skipped.
 */
export function readTar(archive: Buffer): Map<string, Buffer> {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const files = new Map<string, Buffer>();
  let paxPath: string | undefined;
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number): string => h.subarray(a, a + n).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const type = str(156, 1) || '0';
    const prefix = str(257, 6).startsWith('ustar') ? str(345, 155) : '';
    const body = tar.subarray(off + 512, off + 512 + size);
    let name = paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      paxPath = m?.[1];
    } else {
      paxPath = undefined;
      name = name.replace(/^(\.\/|\/)+/, '');
      if (type === '0' || type === '7') files.set(name, Buffer.from(body));
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

// ---------------------------------------------------------------- layout writing

export interface Layer {
  /** The gzip bytes (the blob). */
  blob: Buffer;
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  descriptor: Descriptor;
}

/** A layer of random content: one directory and `files` files of `fileSize` random bytes. */
export function randomLayer(options: { files?: number; fileSize?: number; dir?: string } = {}): Layer {
  const dir = options.dir ?? `data-${randomBytes(4).toString('hex')}`;
  const entries: TarEntry[] = [{ name: `${dir}/` }];
  for (let i = 0; i < (options.files ?? 2); i++) {
    entries.push({ name: `${dir}/file-${i}.bin`, content: randomBytes(options.fileSize ?? 4096) });
  }
  return layerFromTar(makeTar(entries));
}

export function layerFromTar(tar: Buffer): Layer {
  const blob = gzipSync(tar, { level: 1 });
  const digest = sha256(blob);
  return { blob, digest, diffId: sha256(tar), descriptor: { mediaType: MT.layerGzip, digest, size: blob.length } };
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  descriptor: Descriptor;
  config: Buffer;
  configDigest: string;
  layers: Layer[];
  /** Every blob of this image (config, layers, manifest), digest -> bytes. */
  blobs: Map<string, Buffer>;
}

/** An image (config + manifest) over the given layers, in memory. */
export function buildImage(options: { layers?: Layer[]; architecture?: string; os?: string; labels?: Record<string, string> } = {}): BuiltImage {
  const layers = options.layers ?? [randomLayer(), randomLayer()];
  const architecture = options.architecture ?? 'amd64';
  const os = options.os ?? 'linux';
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture,
      os,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: options.labels ?? {} },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `wharf e2e layer ${i}` })),
    }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: MT.config, digest: configDigest, size: config.length },
      layers: layers.map((l) => l.descriptor),
    }),
  );
  const manifestDigest = sha256(manifest);
  const blobs = new Map<string, Buffer>([[configDigest, config]]);
  for (const l of layers) blobs.set(l.digest, l.blob);
  blobs.set(manifestDigest, manifest);
  return {
    manifest,
    manifestDigest,
    descriptor: { mediaType: MT.manifest, digest: manifestDigest, size: manifest.length, platform: { architecture, os } },
    config,
    configDigest,
    layers,
    blobs,
  };
}

function writeBlob(layoutDir: string, digest: string, bytes: Buffer): void {
  const dir = join(layoutDir, 'blobs', digest.slice(0, digest.indexOf(':')));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, hex(digest)), bytes);
}

function writeIndexJson(layoutDir: string, manifests: Descriptor[]): void {
  writeFileSync(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests }));
}

export interface ImageLayout {
  dir: string;
  tag: string;
  /** skopeo transport reference, `oci:DIR:TAG`. */
  ref: string;
  image: BuiltImage;
}

/** Writes a single-image OCI layout to a fresh temp directory (or `dir`), tagged `tag`. */
export function writeImageLayout(options: { dir?: string; tag?: string; image?: BuiltImage } = {}): ImageLayout {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'wharf-oci-'));
  const tag = options.tag ?? 'latest';
  const image = options.image ?? buildImage();
  for (const [d, b] of image.blobs) writeBlob(dir, d, b);
  const { platform: _platform, ...desc } = image.descriptor;
  writeIndexJson(dir, [{ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } }]);
  return { dir, tag, ref: `oci:${dir}:${tag}`, image };
}

export interface MultiArchLayout {
  dir: string;
  tag: string;
  ref: string;
  index: Buffer;
  indexDigest: string;
  images: { amd64: BuiltImage; arm64: BuiltImage };
}

/** An OCI layout whose index.json points (tag) at an image index of a linux/amd64 and a linux/arm64 image. */
export function writeMultiArchLayout(options: { dir?: string; tag?: string } = {}): MultiArchLayout {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'wharf-oci-multi-'));
  const tag = options.tag ?? 'multi';
  const shared = randomLayer({ dir: 'shared' });
  const amd64 = buildImage({ layers: [shared, randomLayer()], architecture: 'amd64' });
  const arm64 = buildImage({ layers: [shared, randomLayer()], architecture: 'arm64' });
  const index = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: [amd64.descriptor, arm64.descriptor] }),
  );
  const indexDigest = sha256(index);
  for (const img of [amd64, arm64]) for (const [d, b] of img.blobs) writeBlob(dir, d, b);
  writeBlob(dir, indexDigest, index);
  writeIndexJson(dir, [
    { mediaType: MT.index, digest: indexDigest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': tag } },
  ]);
  return { dir, tag, ref: `oci:${dir}:${tag}`, index, indexDigest, images: { amd64, arm64 } };
}

export interface ArtifactLayout {
  dir: string;
  tag: string;
  ref: string;
  manifest: Buffer;
  manifestDigest: string;
  artifactType: string;
  blob: Buffer;
}

/**
 * An OCI 1.1 artifact layout: a manifest with artifactType, the empty config and one JSON blob,
 * whose `subject` is the given descriptor (so the registry lists it as a referrer of that manifest).
 */
export function writeArtifactLayout(options: { subject: Descriptor; artifactType?: string; dir?: string; tag?: string }): ArtifactLayout {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'wharf-oci-artifact-'));
  const tag = options.tag ?? 'artifact';
  const artifactType = options.artifactType ?? 'application/spdx+json';
  const empty = Buffer.from('{}');
  const blob = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `e2e-${randomBytes(4).toString('hex')}` }));
  const { mediaType, digest, size } = options.subject;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.manifest,
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: empty.length, data: empty.toString('base64') },
      layers: [{ mediaType: artifactType, digest: sha256(blob), size: blob.length }],
      subject: { mediaType, digest, size },
    }),
  );
  const manifestDigest = sha256(manifest);
  for (const b of [empty, blob, manifest]) writeBlob(dir, sha256(b), b);
  writeIndexJson(dir, [
    { mediaType: MT.manifest, digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } },
  ]);
  return { dir, tag, ref: `oci:${dir}:${tag}`, manifest, manifestDigest, artifactType, blob };
}

// ---------------------------------------------------------------- layout reading

export function readLayoutBlob(layoutDir: string, digest: string): Buffer {
  return readFileSync(join(layoutDir, 'blobs', digest.slice(0, digest.indexOf(':')), hex(digest)));
}

export function layoutHasBlob(layoutDir: string, digest: string): boolean {
  return existsSync(join(layoutDir, 'blobs', digest.slice(0, digest.indexOf(':')), hex(digest)));
}

/** The descriptor in index.json for `tag` (by org.opencontainers.image.ref.name), or the only one when tag is omitted. */
export function resolveLayoutTag(layoutDir: string, tag?: string): Descriptor {
  const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const found =
    tag === undefined
      ? index.manifests.length === 1
        ? index.manifests[0]
        : undefined
      : index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!found) throw new Error(`tag ${tag ?? '(only)'} not in ${layoutDir}/index.json: ${JSON.stringify(index.manifests)}`);
  return found;
}

interface ManifestLike {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/**
 * Every blob reachable from `root` in the layout (root itself, child manifests, configs, layers),
 * digest -> bytes, after checking each blob's bytes hash to its digest.
 */
export function walkLayout(layoutDir: string, root: Descriptor): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const visit = (d: Descriptor): void => {
    if (out.has(d.digest)) return;
    const bytes = readLayoutBlob(layoutDir, d.digest);
    if (sha256(bytes) !== d.digest) throw new Error(`layout blob ${d.digest} has wrong content`);
    if (bytes.length !== d.size) throw new Error(`layout blob ${d.digest} is ${bytes.length} bytes, descriptor says ${d.size}`);
    out.set(d.digest, bytes);
    if (d.mediaType === MT.manifest || d.mediaType === MT.index || d.mediaType === MT.dockerManifest || d.mediaType === MT.dockerList) {
      const m = JSON.parse(bytes.toString('utf8')) as ManifestLike;
      if (m.config) visit(m.config);
      for (const l of m.layers ?? []) visit(l);
      for (const c of m.manifests ?? []) visit(c);
    }
  };
  visit(root);
  return out;
}

export function parseJson<T = Record<string, unknown>>(bytes: Buffer | string): T {
  return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as T;
}
