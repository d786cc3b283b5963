/**
 * Model files and model artifacts written by the tests:
 * - safetensors files laid out as huggingface/safetensors writes them (8-byte little-endian
 *   length, the JSON header padded with spaces to a multiple of 8, tensors in header order);
 * - GGUF v3 files to the published layout (ggml docs/gguf.md), tensor data aligned to 32 bytes;
 * - manifests of each kind field for field as the tools write them: modctl (ModelPack, Go's
 *   ocispec structs: schemaVersion, mediaType, artifactType, config, layers; descriptors
 *   mediaType, digest, size, annotations), kit (KitOps: no mediaType or artifactType, the
 *   cli-version annotation, Kitfile JSON as config) and Docker's model-distribution
 *   (go-containerregistry: schemaVersion, mediaType, config, layers; descriptors mediaType, size,
 *   digest).
 */
import { createHash } from 'node:crypto';

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, I8: 1, F64: 8, BOOL: 1 };

export interface TensorSpec {
  name: string;
  dtype: string;
  shape: number[];
}

/** A valid safetensors file; tensor bytes are a repeating pattern. */
export function safetensorsFile(tensors: TensorSpec[], metadata?: Record<string, string>): { file: Buffer; headerLength: number; parameters: number } {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  let parameters = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const bytes = count * DTYPE_BYTES[t.dtype]!;
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
    parameters += count;
  }
  return { ...rawSafetensors(JSON.stringify(header), offset), parameters };
}

/** A file with the given header JSON (padded with spaces to 8 bytes) and `dataBytes` of data. */
export function rawSafetensors(json: string, dataBytes: number, lengthOverride?: bigint): { file: Buffer; headerLength: number } {
  let text = json;
  while ((8 + Buffer.byteLength(text)) % 8 !== 0) text += ' ';
  const h = Buffer.from(text);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(h.length));
  const data = Buffer.alloc(dataBytes);
  for (let i = 0; i < dataBytes; i++) data[i] = (i * 31 + 7) & 0xff;
  return { file: Buffer.concat([len, h, data]), headerLength: h.length };
}

// ---------------------------------------------------------------- GGUF

export type GgufKv = [key: string, type: 'u32' | 'i32' | 'u64' | 'f32' | 'bool' | 'string' | 'string[]' | 'i32[]', value: unknown];
export interface GgufTensorSpec {
  name: string;
  dims: number[];
  /** ggml type id: 0 F32, 1 F16, 8 Q8_0 */
  type: number;
}

const GGML_SIZE: Record<number, [number, number]> = { 0: [1, 4], 1: [1, 2], 8: [32, 34] };

function ggufString(s: string): Buffer {
  const b = Buffer.from(s);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
}
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

function kvBytes([key, type, value]: GgufKv): Buffer {
  const k = ggufString(key);
  switch (type) {
    case 'u32':
      return Buffer.concat([k, u32(4), u32(value as number)]);
    case 'i32': {
      const b = Buffer.alloc(4);
      b.writeInt32LE(value as number);
      return Buffer.concat([k, u32(5), b]);
    }
    case 'u64':
      return Buffer.concat([k, u32(10), u64(value as number)]);
    case 'f32': {
      const b = Buffer.alloc(4);
      b.writeFloatLE(value as number);
      return Buffer.concat([k, u32(6), b]);
    }
    case 'bool':
      return Buffer.concat([k, u32(7), Buffer.from([value ? 1 : 0])]);
    case 'string':
      return Buffer.concat([k, u32(8), ggufString(value as string)]);
    case 'string[]':
      return Buffer.concat([k, u32(9), u32(8), u64((value as string[]).length), ...(value as string[]).map(ggufString)]);
    case 'i32[]':
      return Buffer.concat([k, u32(9), u32(5), u64((value as number[]).length), ...(value as number[]).map((n) => {
        const b = Buffer.alloc(4);
        b.writeInt32LE(n);
        return b;
      })]);
  }
}

/**
 * A GGUF v3 file. `overrides` writes wrong counts into the header (hostile files); tensors'
 * offsets are laid out in order, aligned to 32 bytes.
 */
export function ggufFile(kvs: GgufKv[], tensors: GgufTensorSpec[], overrides: { tensorCount?: bigint; kvCount?: bigint; version?: number; offsets?: number[] } = {}): { file: Buffer; dataOffset: number; parameters: number } {
  const infos: Buffer[] = [];
  let offset = 0;
  let parameters = 0;
  const sizes: number[] = [];
  tensors.forEach((t, i) => {
    const count = t.dims.reduce((a, b) => a * b, 1);
    const [blockEls, blockBytes] = GGML_SIZE[t.type]!;
    const bytes = (count / blockEls) * blockBytes;
    infos.push(Buffer.concat([ggufString(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(overrides.offsets?.[i] ?? offset)]));
    sizes.push(bytes);
    offset += Math.ceil(bytes / 32) * 32;
    parameters += count;
  });
  const head = Buffer.concat([
    Buffer.from('GGUF', 'ascii'),
    u32(overrides.version ?? 3),
    u64(overrides.tensorCount ?? BigInt(tensors.length)),
    u64(overrides.kvCount ?? BigInt(kvs.length)),
    ...kvs.map(kvBytes),
    ...infos,
  ]);
  const dataOffset = Math.ceil(head.length / 32) * 32;
  const data = Buffer.alloc(offset);
  for (let i = 0; i < offset; i++) data[i] = (i * 13) & 0xff;
  return { file: Buffer.concat([head, Buffer.alloc(dataOffset - head.length), data]), dataOffset, parameters };
}

// ---------------------------------------------------------------- manifests

export interface Blob {
  mediaType: string;
  bytes: Buffer;
  annotations?: Record<string, string>;
}

/** ModelPack as modctl writes it (ocispec.Manifest / Descriptor field order). */
export function modelpackManifest(config: Buffer, layers: Blob[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.cncf.model.manifest.v1+json',
      config: { mediaType: 'application/vnd.cncf.model.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha256(l.bytes), size: l.bytes.length, ...(l.annotations ? { annotations: l.annotations } : {}) })),
    }),
  );
}

/** A ModelPack config (model-spec docs/config.md) for the given layers. */
export function modelpackConfig(layers: Blob[], descriptor: Record<string, unknown>, config: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify({ descriptor, config, modelfs: { type: 'layers', diffIds: layers.map((l) => sha256(l.bytes)) } }));
}

/** ModelPack layer annotations as modctl writes them for a raw file. */
export function modelpackFileAnnotations(path: string, size: number): Record<string, string> {
  return {
    'org.cncf.model.file.metadata+json': JSON.stringify({ name: path, mode: 420, uid: 0, gid: 0, size, mtime: '2025-01-01T00:00:00Z', typeflag: 48 }),
    'org.cncf.model.file.mediatype.untested': 'false',
    'org.cncf.model.filepath': path,
  };
}

/** A KitOps ModelKit manifest as kit writes it (no mediaType, no artifactType; the CLI version annotation). */
export function modelkitManifest(kitfile: Buffer, layers: Blob[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: 'application/vnd.kitops.modelkit.config.v1+json', digest: sha256(kitfile), size: kitfile.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha256(l.bytes), size: l.bytes.length })),
      annotations: { 'ml.kitops.modelkit.cli-version': '1.5.0' },
    }),
  );
}

/** A Docker Model Runner model as model-distribution writes it (go-containerregistry field order). */
export function dockerModelManifest(config: Buffer, layers: Blob[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.docker.ai.model.config.v0.1+json', size: config.length, digest: sha256(config) },
      layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.bytes.length, digest: sha256(l.bytes) })),
    }),
  );
}
