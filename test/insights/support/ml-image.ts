/**
 * ML-shaped images for the insights tests, written here as OCI layouts (no network, no daemon):
 * a Debian-like base with a dpkg status and info/*.list files, a CUDA 11.8 toolkit with nvcc,
 * gcc and headers, apt lists and a .deb cache left behind, torch (built for CUDA 12.1) and numpy
 * with a pip cache and __pycache__, the application copied in with a fake private key and an
 * .env file, a safetensors file with a correct header, files deleted and overwritten by a later
 * layer, an opaque directory, a duplicated library, a symlink and a hard link; root user, a port
 * and no HEALTHCHECK. And a clean counterpart. Every file says which category it belongs to, so
 * the tests compute the expected bytes from what they built, not from the code under test.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { gzip, zstdRaw, type TarEntry } from '../../content/support/layers.js';

export type Category = 'os-packages' | 'cuda' | 'ml-frameworks' | 'python-packages' | 'model-weights' | 'caches' | 'build-tools' | 'docs' | 'application' | 'other';

export interface FileSpec extends TarEntry {
  /** the category a regular file belongs to (links, directories and whiteouts have none) */
  category?: Category;
}

export interface LayerSpec {
  files: FileSpec[];
  compression: 'gzip' | 'zstd' | 'none';
  createdBy: string;
}

export interface ImageSpec {
  layers: LayerSpec[];
  config: { User?: string; ExposedPorts?: Record<string, object>; Healthcheck?: { Test: string[] } };
  /** Docker media types (manifest v2 schema 2) instead of OCI */
  docker?: boolean;
  architecture?: string;
}

export interface BuiltLayer {
  digest: string;
  bytes: Buffer;
  tar: Buffer;
  mediaType: string;
}

export interface Built {
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  config: Buffer;
  layers: BuiltLayer[];
  blobs: Map<string, Buffer>;
}

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Deterministic bytes (so layer digests repeat between runs): a counter-mode SHA-256 stream. */
export function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0, block = 0; i < size; block++) {
    const h = createHash('sha256').update(`${seed}:${block}`).digest();
    i += h.copy(out, i, 0, Math.min(32, size - i));
  }
  return out;
}

export function safetensors(tensors: Record<string, { dtype: string; shape: number[] }>): Buffer {
  const width: Record<string, number> = { F16: 2, BF16: 2, F32: 4, I64: 8, F64: 8, U8: 1, I8: 1 };
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1) * width[t.dtype]!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = Buffer.from(JSON.stringify(header));
  // the format pads the header with spaces to 8 bytes
  if (json.length % 8) json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, bytesOf('tensors', offset)]);
}

/** A tar of `entries` with a fixed mtime, so the same files make the same layer digest. */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  const mtime = new Date(1_700_000_000_000);
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') {
      const body = Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content ?? '');
      p.entry({ name: e.name, type, size: body.length, mode: 0o644, mtime }, body);
    } else p.entry({ name: e.name, type, linkname: e.linkname, mode: 0o755, mtime });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function buildImage(spec: ImageSpec): Promise<Built> {
  const layers: BuiltLayer[] = [];
  const diffIds: string[] = [];
  for (const l of spec.layers) {
    const tar = await tarOf(l.files);
    diffIds.push(sha(tar));
    const bytes = l.compression === 'gzip' ? gzip(tar) : l.compression === 'zstd' ? zstdRaw(tar) : tar;
    const mediaType = spec.docker
      ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
      : l.compression === 'gzip'
        ? 'application/vnd.oci.image.layer.v1.tar+gzip'
        : l.compression === 'zstd'
          ? 'application/vnd.oci.image.layer.v1.tar+zstd'
          : 'application/vnd.oci.image.layer.v1.tar';
    layers.push({ digest: sha(bytes), bytes, tar, mediaType });
  }
  const history: { created_by: string; empty_layer?: boolean }[] = [];
  spec.layers.forEach((l, i) => {
    history.push({ created_by: l.createdBy });
    if (i === 0) history.push({ created_by: 'ENV PATH=/usr/local/cuda/bin:/usr/bin', empty_layer: true });
  });
  history.push({ created_by: 'CMD ["python3", "/app/server.py"]', empty_layer: true });
  const config = Buffer.from(
    JSON.stringify({
      architecture: spec.architecture ?? 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin'], Cmd: ['python3', '/app/server.py'], ...spec.config },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history,
    }),
  );
  const manifestObj = {
    schemaVersion: 2,
    mediaType: spec.docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: spec.docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.bytes.length })),
  };
  const manifest = Buffer.from(JSON.stringify(manifestObj));
  const blobs = new Map<string, Buffer>([[sha(config), config], ...layers.map((l) => [l.digest, l.bytes] as [string, Buffer])]);
  return { manifest, manifestDigest: sha(manifest), mediaType: manifestObj.mediaType, config, layers, blobs };
}

/** An OCI layout holding `images` under `tag` (one image, or an index of several platforms). */
export function writeLayout(dir: string, tag: string, images: Built[], platforms?: string[]): { ref: string; indexDigest?: string } {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const put = (digest: string, b: Buffer): void => writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), b);
  for (const img of images) {
    for (const [d, b] of img.blobs) put(d, b);
    put(img.manifestDigest, img.manifest);
  }
  let top: { mediaType: string; digest: string; size: number };
  let indexDigest: string | undefined;
  if (platforms) {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: images.map((img, i) => ({ mediaType: img.mediaType, digest: img.manifestDigest, size: img.manifest.length, platform: { os: 'linux', architecture: platforms[i]! } })),
      }),
    );
    indexDigest = sha(index);
    put(indexDigest, index);
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: index.length };
  } else {
    top = { mediaType: images[0]!.mediaType, digest: images[0]!.manifestDigest, size: images[0]!.manifest.length };
  }
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  return { ref: `oci:${dir}:${tag}`, ...(indexDigest ? { indexDigest } : {}) };
}

const KiB = 1024;
const MiB = 1024 * KiB;
const SITE = 'usr/local/lib/python3.11/site-packages';

const dpkgStatus = (pkgs: [string, string][]): string =>
  pkgs.map(([name, version]) => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`).join('\n');

export const PRIVATE_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nTHIS-IS-A-FAKE-KEY-WRITTEN-BY-THE-TEST\n-----END OPENSSH PRIVATE KEY-----\n';
export const ENV_SECRET = 'HF_TOKEN=hf_FAKEfakeFAKEfakeFAKEfakeFAKEfake12\n';

export const WEIGHTS = safetensors({ 'model.embed.weight': { dtype: 'F16', shape: [1024, 1024] }, 'model.norm.weight': { dtype: 'F32', shape: [1024] }, 'lm_head.bias': { dtype: 'BF16', shape: [512] } });
export const LIBTORCH = bytesOf('libtorch', Math.round(1.5 * MiB));

const status0 = dpkgStatus([['libc6', '2.36-9+deb12u4'], ['gcc-12', '12.2.0-14'], ['libssl-dev', '3.0.11-1~deb12u2'], ['cuda-nvcc-11-8', '11.8.89-1'], ['cuda-cudart-11-8', '11.8.89-1']]);
const status1 = `${status0}\n${dpkgStatus([['python3.11', '3.11.2-6']])}`;

/** The dirty ML image: every category, every finding. */
export function dirtyImage(): ImageSpec {
  return {
    config: { User: '', ExposedPorts: { '8000/tcp': {} } },
    layers: [
      {
        compression: 'gzip',
        createdBy: '/bin/sh -c #(nop) ADD file:4f1c2a in / ',
        files: [
          { name: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n', category: 'other' },
          { name: 'var/lib/dpkg/status', content: status0, category: 'other' },
          { name: 'var/lib/dpkg/info/libc6:amd64.list', content: '/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n/usr/share/doc/libc6/copyright\n', category: 'other' },
          { name: 'var/lib/dpkg/info/gcc-12.list', content: '/usr/bin/gcc-12\n/usr/bin/x86_64-linux-gnu-gcc-12\n/usr/lib/gcc/x86_64-linux-gnu/12/cc1\n', category: 'other' },
          { name: 'var/lib/dpkg/info/libssl-dev:amd64.list', content: '/usr/include/openssl/ssl.h\n', category: 'other' },
          { name: 'lib/x86_64-linux-gnu/libc.so.6', content: bytesOf('libc', 100 * KiB), category: 'os-packages' },
          { name: 'usr/share/doc/libc6/copyright', content: bytesOf('copyright', 3 * KiB), category: 'docs' },
          { name: 'usr/bin/gcc-12', content: bytesOf('gcc', 50 * KiB), category: 'build-tools' },
          { name: 'usr/bin/gcc', type: 'symlink', linkname: 'gcc-12' },
          { name: 'usr/bin/x86_64-linux-gnu-gcc-12', type: 'link', linkname: 'usr/bin/gcc-12' },
          { name: 'usr/lib/gcc/x86_64-linux-gnu/12/cc1', content: bytesOf('cc1', 200 * KiB), category: 'build-tools' },
          { name: 'usr/include/openssl/ssl.h', content: bytesOf('ssl.h', 20 * KiB), category: 'build-tools' },
          { name: 'usr/local/cuda-11.8/version.json', content: '{"cuda":{"name":"CUDA SDK","version":"11.8.0"}}', category: 'cuda' },
          { name: 'usr/local/cuda-11.8/lib64/libcudart.so.11.8.89', content: bytesOf('cudart', 90 * KiB), category: 'cuda' },
          { name: 'usr/local/cuda-11.8/bin/nvcc', content: bytesOf('nvcc', 60 * KiB), category: 'build-tools' },
        ],
      },
      {
        compression: 'gzip',
        createdBy: '/bin/sh -c apt-get update && apt-get install -y python3.11',
        files: [
          { name: 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages', content: bytesOf('lists', 300 * KiB), category: 'caches' },
          { name: 'var/cache/apt/archives/python3.11_3.11.2-6_amd64.deb', content: bytesOf('deb', 150 * KiB), category: 'caches' },
          { name: 'var/lib/dpkg/status', content: status1, category: 'other' },
          { name: 'var/lib/dpkg/info/python3.11.list', content: '/usr/bin/python3.11\n', category: 'other' },
          { name: 'usr/bin/python3.11', content: bytesOf('python', 80 * KiB), category: 'os-packages' },
        ],
      },
      {
        compression: 'zstd',
        createdBy: '/bin/sh -c pip install torch==2.1.0+cu121 numpy',
        files: [
          { name: `${SITE}/torch/lib/libtorch_cpu.so`, content: LIBTORCH, category: 'ml-frameworks' },
          { name: `${SITE}/torch/version.py`, content: "__version__ = '2.1.0+cu121'\ndebug = False\ncuda: Optional[str] = '12.1'\n", category: 'ml-frameworks' },
          { name: `${SITE}/torch-2.1.0+cu121.dist-info/METADATA`, content: 'Metadata-Version: 2.1\nName: torch\nVersion: 2.1.0+cu121\n', category: 'ml-frameworks' },
          { name: `${SITE}/numpy/core/_multiarray_umath.so`, content: bytesOf('numpy', 120 * KiB), category: 'python-packages' },
          { name: `${SITE}/numpy-1.26.0.dist-info/METADATA`, content: 'Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.0\n', category: 'python-packages' },
          { name: `${SITE}/numpy/__pycache__/__init__.cpython-311.pyc`, content: bytesOf('pyc', 10 * KiB), category: 'caches' },
          { name: 'root/.cache/pip/http-v2/a/b/c/d/e/0123456789abcdef', content: bytesOf('pipcache', 250 * KiB), category: 'caches' },
        ],
      },
      {
        compression: 'none',
        createdBy: 'COPY . /app # buildkit',
        files: [
          { name: 'app/server.py', content: bytesOf('server-v1', 5 * KiB), category: 'application' },
          { name: 'app/id_rsa', content: PRIVATE_KEY, category: 'application' },
          { name: 'app/.env', content: ENV_SECRET, category: 'application' },
          { name: 'app/data.tar', content: bytesOf('data', 2 * MiB), category: 'application' },
          { name: 'opt/tmp/scratch', content: bytesOf('scratch', 1 * MiB), category: 'other' },
        ],
      },
      {
        compression: 'gzip',
        createdBy: 'COPY model.safetensors /models/ # buildkit',
        files: [
          { name: 'models/model.safetensors', content: WEIGHTS, category: 'model-weights' },
          { name: 'app/vendor/libtorch_cpu.so', content: LIBTORCH, category: 'application' },
          { name: 'app/server.py', content: bytesOf('server-v2', 6000), category: 'application' },
          { name: 'app/.wh.id_rsa', content: '' },
          { name: 'app/.wh.data.tar', content: '' },
          { name: 'opt/tmp/.wh..wh..opq', content: '' },
        ],
      },
    ],
  };
}

/** The clean counterpart: the same kind of image without any finding. */
export function cleanImage(): ImageSpec {
  return {
    config: { User: '10001', ExposedPorts: { '8000/tcp': {} }, Healthcheck: { Test: ['CMD', 'curl', '-f', 'http://localhost:8000/health'] } },
    layers: [
      {
        compression: 'gzip',
        createdBy: '/bin/sh -c #(nop) ADD file:9a8b7c in / ',
        files: [
          { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n', category: 'other' },
          { name: 'var/lib/dpkg/status', content: dpkgStatus([['libc6', '2.36-9+deb12u4']]), category: 'other' },
          { name: 'var/lib/dpkg/info/libc6:amd64.list', content: '/lib/x86_64-linux-gnu/libc.so.6\n', category: 'other' },
          { name: 'lib/x86_64-linux-gnu/libc.so.6', content: bytesOf('libc', 100 * KiB), category: 'os-packages' },
        ],
      },
      {
        compression: 'gzip',
        createdBy: '/bin/sh -c pip install --no-cache-dir numpy',
        files: [
          { name: `${SITE}/numpy/core/_multiarray_umath.so`, content: bytesOf('numpy', 120 * KiB), category: 'python-packages' },
          { name: `${SITE}/numpy-1.26.0.dist-info/METADATA`, content: 'Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.0\n', category: 'python-packages' },
        ],
      },
      {
        compression: 'gzip',
        createdBy: 'COPY . /app # buildkit',
        files: [{ name: 'app/server.py', content: bytesOf('server-v1', 5 * KiB), category: 'application' }],
      },
    ],
  };
}

/** Bytes per category of regular files in each layer, as the fixture says. */
export function expectedCategories(spec: ImageSpec): { layers: Record<Category, number>[]; totals: Record<Category, number> } {
  const zero = (): Record<Category, number> => ({ 'os-packages': 0, cuda: 0, 'ml-frameworks': 0, 'python-packages': 0, 'model-weights': 0, caches: 0, 'build-tools': 0, docs: 0, application: 0, other: 0 });
  const totals = zero();
  const layers = spec.layers.map((l) => {
    const c = zero();
    for (const f of l.files) {
      if (!f.category) continue;
      const size = Buffer.isBuffer(f.content) ? f.content.length : Buffer.byteLength(f.content ?? '');
      c[f.category] += size;
      totals[f.category] += size;
    }
    return c;
  });
  return { layers, totals };
}

export function sizeOf(spec: ImageSpec, layer: number, name: string): number {
  const f = spec.layers[layer]!.files.find((x) => x.name === name)!;
  return Buffer.isBuffer(f.content) ? f.content.length : Buffer.byteLength(f.content ?? '');
}

export { randomBytes };
