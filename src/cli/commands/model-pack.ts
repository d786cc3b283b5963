/**
 * Packs a model directory as a CNCF ModelPack artifact (modelpack/model-spec docs/spec.md,
 * docs/config.md, docs/annotations.md): one layer per file, stored raw — so a weight file's
 * header can be read with one Range request and a pull can fetch any byte range in parallel —
 * with the file's path and metadata in the layer annotations, and a config derived from the files
 * (format, parameter count and precision from the weight headers, read with the same bounded
 * parsers the registry uses). Reading the directory streams every file once (digests); nothing
 * is held in memory but the headers.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseGgufHeader } from '../../content/models/gguf.js';
import { ModelFileError, NeedMoreBytes } from '../../content/models/model-file-error.js';
import { ModelMediaTypes, ModelPackAnnotations } from '../../content/models/model-artifact.js';
import { parseSafetensorsHeader, safetensorsHeaderLength } from '../../content/models/safetensors.js';
import { WharfError } from '../../errors/wharf-error.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface PackedFile {
  /** slash-separated, relative to the model directory */
  path: string;
  absPath: string;
  size: number;
  mode: number;
  mtime: Date;
  digest: string;
  mediaType: string;
  /** the media type was guessed from the name (the spec's mediatype.untested annotation) */
  untested: boolean;
}

const WEIGHT = /\.(safetensors|gguf|bin|pt|pth|ckpt|onnx|h5|msgpack|tflite|pb|npz|mlmodel|engine|plan)$/i;
const WEIGHT_CONFIG = /(^|\/)(config\.json|generation_config\.json|.*\.index\.json|tokenizer[^/]*|special_tokens_map\.json|vocab\.[^/]+|merges\.txt|added_tokens\.json|preprocessor_config\.json|chat_template[^/]*|[^/]+\.tiktoken|tokenizer\.model)$/i;
const DOC = /(^|\/)(readme[^/]*|license[^/]*|licence[^/]*|notice[^/]*|[^/]+\.md|[^/]+\.pdf)$/i;
const CODE = /\.(py|ipynb|sh|js|ts|go|rs|c|cc|cpp|h|hpp|java|r|jl)$/i;

/** The ModelPack layer media type for a file (always .raw: one file per layer). */
export function mediaTypeFor(path: string): { mediaType: string; untested: boolean } {
  if (WEIGHT.test(path)) return { mediaType: 'application/vnd.cncf.model.weight.v1.raw', untested: false };
  if (WEIGHT_CONFIG.test(path)) return { mediaType: 'application/vnd.cncf.model.weight.config.v1.raw', untested: false };
  if (DOC.test(path)) return { mediaType: 'application/vnd.cncf.model.doc.v1.raw', untested: false };
  if (CODE.test(path)) return { mediaType: 'application/vnd.cncf.model.code.v1.raw', untested: false };
  if (/(^|\/)(data|datasets?)\//i.test(path)) return { mediaType: 'application/vnd.cncf.model.dataset.v1.raw', untested: true };
  return { mediaType: 'application/vnd.cncf.model.weight.config.v1.raw', untested: true };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** Every regular file below `dir`, sorted by path; symbolic links and special files are refused. */
export async function scanModelDir(dir: string): Promise<PackedFile[]> {
  const files: PackedFile[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const abs = join(d, e.name);
      if (e.isDirectory()) {
        await walk(abs);
        continue;
      }
      if (!e.isFile()) throw new WharfError('REQUEST_INVALID', `${abs} is not a regular file or directory (links are not packed)`);
      const st = await lstat(abs);
      const path = relative(dir, abs).split(sep).join('/');
      files.push({ path, absPath: abs, size: st.size, mode: st.mode & 0o777, mtime: st.mtime, digest: await sha256File(abs), ...mediaTypeFor(path) });
    }
  };
  await walk(dir);
  if (files.length === 0) throw new WharfError('REQUEST_INVALID', `${dir} has no files to pack`);
  return files;
}

async function readAt(path: string, start: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

interface WeightFacts {
  format: string;
  parameters: number;
  byDtype: Record<string, number>;
  architecture?: string;
}

/** What a weight file's header says; undefined for a format without one we read, or a malformed header. */
async function weightFacts(f: PackedFile): Promise<WeightFacts | undefined> {
  try {
    if (f.path.endsWith('.safetensors')) {
      const n = safetensorsHeaderLength(await readAt(f.absPath, 0, 8), f.size);
      const h = parseSafetensorsHeader(await readAt(f.absPath, 8, n), f.size);
      return { format: 'safetensors', parameters: h.parameters, byDtype: h.parametersByDtype };
    }
    if (f.path.endsWith('.gguf')) {
      let length = Math.min(f.size, 1024 * 1024);
      for (;;) {
        try {
          const h = parseGgufHeader(await readAt(f.absPath, 0, length), f.size);
          return { format: 'gguf', parameters: h.parameters, byDtype: h.parametersByType, architecture: h.architecture ?? undefined };
        } catch (e) {
          if (!(e instanceof NeedMoreBytes) || e.bytes <= length) throw e;
          length = e.bytes;
        }
      }
    }
  } catch (e) {
    if (e instanceof ModelFileError) return undefined;
    throw e;
  }
  const ext = /\.([a-z0-9]+)$/i.exec(f.path)?.[1]?.toLowerCase();
  return ext ? { format: ext === 'pth' || ext === 'bin' ? 'pt' : ext, parameters: 0, byDtype: {} } : undefined;
}

const PRECISION: Record<string, string> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', F8_E4M3: 'float8_e4m3', F8_E5M2: 'float8_e5m2',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U64: 'uint64', U32: 'uint32', U16: 'uint16', U8: 'uint8', BOOL: 'bool',
};

/** The spec's paramSize: a count with at most one decimal and a scale letter (6.7B, 100M). */
export function paramSize(n: number): string | undefined {
  if (n <= 0) return undefined;
  const scales: [number, string][] = [[1e15, 'Q'], [1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
  for (const [v, s] of scales) if (n >= v) return `${Number((n / v).toFixed(1))}${s}`;
  return `${Number((n / 1e3).toFixed(1))}K`;
}

/** The ModelPack config (application/vnd.cncf.model.config.v1+json) of the files. */
export async function modelPackConfig(files: PackedFile[], descriptor: { name: string; version?: string; createdAt: Date }): Promise<Buffer> {
  const facts = (await Promise.all(files.filter((f) => f.mediaType === 'application/vnd.cncf.model.weight.v1.raw').map(weightFacts))).filter((x): x is WeightFacts => x !== undefined);
  const byDtype: Record<string, number> = {};
  for (const f of facts) for (const [d, n] of Object.entries(f.byDtype)) byDtype[d] = (byDtype[d] ?? 0) + n;
  const precision = Object.entries(byDtype)
    .sort((a, b) => b[1] - a[1])
    .map(([d]) => PRECISION[d])
    .filter((p): p is string => p !== undefined);
  const formats = [...new Set(facts.map((f) => f.format))];
  const config: Record<string, unknown> = {};
  const arch = facts.find((f) => f.architecture)?.architecture;
  if (arch) config.architecture = arch;
  if (formats.length === 1) config.format = formats[0];
  const size = paramSize(facts.reduce((n, f) => n + f.parameters, 0));
  if (size) config.paramSize = size;
  if (precision.length > 0) config.precision = precision.join(',');
  return Buffer.from(
    JSON.stringify({
      descriptor: { createdAt: descriptor.createdAt.toISOString(), name: descriptor.name, ...(descriptor.version ? { version: descriptor.version } : {}) },
      config,
      modelfs: { type: 'layers', diffIds: files.map((f) => f.digest) },
    }),
  );
}

/** The ModelPack manifest: one raw layer per file, annotated with its path and file metadata. */
export function modelPackManifest(config: Buffer, files: PackedFile[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: ModelMediaTypes.modelpackArtifact,
      config: { mediaType: ModelMediaTypes.modelpackConfig, digest: `sha256:${createHash('sha256').update(config).digest('hex')}`, size: config.length },
      layers: files.map((f) => ({
        mediaType: f.mediaType,
        digest: f.digest,
        size: f.size,
        annotations: {
          [ModelPackAnnotations.fileMetadata]: JSON.stringify({ name: f.path, mode: f.mode, uid: 0, gid: 0, size: f.size, mtime: f.mtime.toISOString(), typeflag: 48 }),
          [ModelPackAnnotations.mediaTypeUntested]: String(f.untested),
          [ModelPackAnnotations.filepath]: f.path,
        },
      })),
    }),
  );
}
