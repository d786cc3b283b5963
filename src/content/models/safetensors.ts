/**
 * The safetensors header (huggingface/safetensors, docs "Format"): 8 bytes, an unsigned
 * little-endian 64-bit length N, then N bytes of UTF-8 JSON — an object mapping each tensor name
 * to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the byte after the
 * header) plus an optional `__metadata__` object of strings — then the tensor data.
 *
 * Checked as the reference loader checks it: the length fits the file and a cap, the JSON is that
 * object, every dtype is known, `end - begin` is exactly the tensor's size for its dtype and
 * shape, and the tensors, sorted by offset, tile the data area without a gap or an overlap and end
 * at the end of the file. Pure and bounded: no I/O, the caller hands in the bytes it read.
 */
import { ModelFileError } from './model-file-error.js';

/** the reference implementation refuses headers past 100 MB (safetensors MAX_HEADER_SIZE) */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** bits per element of each dtype safetensors defines */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** [begin, end) relative to the first data byte */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** N, the JSON's length (the data starts at 8 + N) */
  headerBytes: number;
  tensors: SafetensorsTensor[];
  /** `__metadata__` (string to string), null when absent */
  metadata: Record<string, string> | null;
  parameters: number;
  parametersByDtype: Record<string, number>;
  bytesByDtype: Record<string, number>;
  /** bytes of tensor data (file size - 8 - N) */
  dataBytes: number;
}

/**
 * N from the file's first 8 bytes. Throws ModelFileError when the file is shorter than 8 bytes,
 * or N is past the end of the file or over `maxHeaderBytes`.
 */
export function safetensorsHeaderLength(prefix: Uint8Array, fileSize: number, maxHeaderBytes = SAFETENSORS_MAX_HEADER_BYTES): number {
  if (fileSize < 8 || prefix.length < 8) throw new ModelFileError('safetensors: the file is shorter than the 8-byte header length');
  const n = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (n > BigInt(maxHeaderBytes)) throw new ModelFileError(`safetensors: the header length ${n} is over the limit of ${maxHeaderBytes} bytes`);
  if (n + 8n > BigInt(fileSize)) throw new ModelFileError(`safetensors: the header length ${n} runs past the end of the ${fileSize}-byte file`);
  if (n < 2n) throw new ModelFileError(`safetensors: the header length ${n} is too short for a JSON object`);
  return Number(n);
}

const shortName = (name: string): string => JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses the header JSON (the N bytes after the length) of a file of `fileSize` bytes.
 * Throws ModelFileError naming the first problem.
 */
export function parseSafetensorsHeader(json: Uint8Array, fileSize: number): SafetensorsHeader {
  const headerBytes = json.length;
  const dataBytes = fileSize - 8 - headerBytes;
  if (dataBytes < 0) throw new ModelFileError('safetensors: the header runs past the end of the file');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new ModelFileError(`safetensors: the header is not valid JSON (${(e as Error).message.slice(0, 120)})`);
  }
  if (!isObject(value)) throw new ModelFileError('safetensors: the header is not a JSON object');
  const out: SafetensorsHeader = { headerBytes, tensors: [], metadata: null, parameters: 0, parametersByDtype: {}, bytesByDtype: {}, dataBytes };
  for (const [name, t] of Object.entries(value)) {
    if (name === '__metadata__') {
      if (!isObject(t) || !Object.values(t).every((v) => typeof v === 'string')) throw new ModelFileError('safetensors: __metadata__ must be an object of strings');
      out.metadata = t as Record<string, string>;
      continue;
    }
    if (!isObject(t)) throw new ModelFileError(`safetensors: tensor ${shortName(name)} is not an object`);
    const { dtype, shape, data_offsets: offsets } = t;
    if (typeof dtype !== 'string' || DTYPE_BITS[dtype] === undefined) throw new ModelFileError(`safetensors: tensor ${shortName(name)} has an unknown dtype ${JSON.stringify(dtype)?.slice(0, 40)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new ModelFileError(`safetensors: tensor ${shortName(name)} has a bad shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      throw new ModelFileError(`safetensors: tensor ${shortName(name)} has bad data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new ModelFileError(`safetensors: tensor ${shortName(name)} ends before it begins`);
    if (end > dataBytes) throw new ModelFileError(`safetensors: tensor ${shortName(name)} runs past the end of the file (offset ${end} > ${dataBytes} data bytes)`);
    let count = 1;
    for (const d of shape as number[]) {
      count *= d;
      if (!Number.isSafeInteger(count)) throw new ModelFileError(`safetensors: tensor ${shortName(name)} has more elements than can be counted`);
    }
    const bytes = Math.ceil((count * DTYPE_BITS[dtype]!) / 8);
    if (bytes !== end - begin) throw new ModelFileError(`safetensors: tensor ${shortName(name)} spans ${end - begin} bytes, but ${dtype}${JSON.stringify(shape)} is ${bytes}`);
    out.tensors.push({ name, dtype, shape: shape as number[], dataOffsets: [begin, end] });
    out.parameters += count;
    out.parametersByDtype[dtype] = (out.parametersByDtype[dtype] ?? 0) + count;
    out.bytesByDtype[dtype] = (out.bytesByDtype[dtype] ?? 0) + bytes;
  }
  // the tensors tile the data area: no overlap, no gap, nothing after the last one
  const sorted = [...out.tensors].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let at = 0;
  for (const t of sorted) {
    if (t.dataOffsets[0] < at) throw new ModelFileError(`safetensors: tensor ${shortName(t.name)} overlaps the tensor before it (offset ${t.dataOffsets[0]} < ${at})`);
    if (t.dataOffsets[0] > at) throw new ModelFileError(`safetensors: a gap before tensor ${shortName(t.name)} (offset ${t.dataOffsets[0]}, expected ${at})`);
    at = t.dataOffsets[1];
  }
  if (at !== dataBytes) throw new ModelFileError(`safetensors: the tensors cover ${at} of the file's ${dataBytes} data bytes`);
  return out;
}

/** `model.safetensors.index.json` of a sharded checkpoint: which shard holds each tensor. */
export interface SafetensorsIndex {
  /** metadata.total_size when given */
  totalSize: number | null;
  /** shard file name -> tensor count */
  shards: Record<string, number>;
  tensors: number;
}

export function parseSafetensorsIndex(text: string): SafetensorsIndex {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ModelFileError('model.safetensors.index.json is not valid JSON');
  }
  if (!isObject(value) || !isObject(value.weight_map)) throw new ModelFileError('model.safetensors.index.json has no weight_map object');
  const shards: Record<string, number> = {};
  let tensors = 0;
  for (const [, file] of Object.entries(value.weight_map)) {
    if (typeof file !== 'string') throw new ModelFileError('model.safetensors.index.json: weight_map values must be file names');
    shards[file] = (shards[file] ?? 0) + 1;
    tensors++;
  }
  const total = isObject(value.metadata) ? value.metadata.total_size : undefined;
  return { totalSize: Number.isSafeInteger(total) ? (total as number) : null, shards, tensors };
}
