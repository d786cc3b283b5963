/**
 * The GGUF header (ggml docs/gguf.md, version 3; version 2 has the same layout): the magic
 * "GGUF", a uint32 version, a uint64 tensor count, a uint64 key/value count, the key/value pairs
 * (a gguf string key, a uint32 value type, the value), then one tensor info per tensor (name,
 * uint32 dimension count, uint64 dimensions, uint32 ggml type, uint64 offset into the data
 * area), padding to `general.alignment` (32 by default), the tensor data. Little-endian.
 *
 * Pure and bounded: parses a prefix of the file. When the prefix ends inside the header it throws
 * NeedMoreBytes (read more and call again) — unless the prefix is the whole file, which is then
 * truncated (ModelFileError). Every count and length is checked against what the rest of the file
 * could hold before anything is allocated, so an absurd count is an error, not an allocation.
 */
import { ModelFileError, NeedMoreBytes } from './model-file-error.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32

export type GgufScalar = number | bigint | boolean | string;
export interface GgufArraySummary {
  type: 'array';
  itemType: string;
  length: number;
  /** the items, for short arrays of scalars (at most 16) */
  values?: GgufScalar[];
}
export type GgufValue = GgufScalar | GgufArraySummary;

export interface GgufTensor {
  name: string;
  dims: number[];
  type: string;
  offset: number;
}

export interface GgufHeader {
  version: number;
  tensorCount: number;
  kvCount: number;
  /** every key; arrays summarised (tokenizer vocabularies are not kept), long strings cut at 1 KiB */
  metadata: Record<string, GgufValue>;
  architecture: string | null;
  name: string | null;
  /** general.file_type and its name (e.g. 15 = MOSTLY_Q4_K_M) */
  fileType: number | null;
  fileTypeName: string | null;
  /** <architecture>.context_length */
  contextLength: number | null;
  alignment: number;
  /** where the tensor data starts (header and padding before it) */
  dataOffset: number;
  tensors: GgufTensor[];
  parameters: number;
  parametersByType: Record<string, number>;
  bytesByType: Record<string, number>;
}

export interface GgufLimits {
  /** the header (everything before the tensor data) may not be longer */
  maxHeaderBytes: number;
  maxTensors: number;
  maxKeys: number;
  maxStringBytes: number;
}

export const DEFAULT_GGUF_LIMITS: GgufLimits = {
  maxHeaderBytes: 64 * 1024 * 1024,
  maxTensors: 1_000_000,
  maxKeys: 100_000,
  maxStringBytes: 16 * 1024 * 1024,
};

const VALUE_TYPES = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64', 'FLOAT64'] as const;
const SCALAR_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

/** ggml types: [name, elements per block, bytes per block] (ggml.h / ggml.c type traits) */
const GGML_TYPES: Record<number, [string, number, number]> = {
  0: ['F32', 1, 4],
  1: ['F16', 1, 2],
  2: ['Q4_0', 32, 18],
  3: ['Q4_1', 32, 20],
  6: ['Q5_0', 32, 22],
  7: ['Q5_1', 32, 24],
  8: ['Q8_0', 32, 34],
  9: ['Q8_1', 32, 36],
  10: ['Q2_K', 256, 84],
  11: ['Q3_K', 256, 110],
  12: ['Q4_K', 256, 144],
  13: ['Q5_K', 256, 176],
  14: ['Q6_K', 256, 210],
  15: ['Q8_K', 256, 292],
  16: ['IQ2_XXS', 256, 66],
  17: ['IQ2_XS', 256, 74],
  18: ['IQ3_XXS', 256, 98],
  19: ['IQ1_S', 256, 50],
  20: ['IQ4_NL', 32, 18],
  21: ['IQ3_S', 256, 110],
  22: ['IQ2_S', 256, 82],
  23: ['IQ4_XS', 256, 136],
  24: ['I8', 1, 1],
  25: ['I16', 1, 2],
  26: ['I32', 1, 4],
  27: ['I64', 1, 8],
  28: ['F64', 1, 8],
  29: ['IQ1_M', 256, 56],
  30: ['BF16', 1, 2],
  34: ['TQ1_0', 256, 54],
  35: ['TQ2_0', 256, 66],
};

/** general.file_type (llama.cpp's llama_ftype) */
const FILE_TYPES: Record<number, string> = {
  0: 'ALL_F32',
  1: 'MOSTLY_F16',
  2: 'MOSTLY_Q4_0',
  3: 'MOSTLY_Q4_1',
  4: 'MOSTLY_Q4_1_SOME_F16',
  7: 'MOSTLY_Q8_0',
  8: 'MOSTLY_Q5_0',
  9: 'MOSTLY_Q5_1',
  10: 'MOSTLY_Q2_K',
  11: 'MOSTLY_Q3_K_S',
  12: 'MOSTLY_Q3_K_M',
  13: 'MOSTLY_Q3_K_L',
  14: 'MOSTLY_Q4_K_S',
  15: 'MOSTLY_Q4_K_M',
  16: 'MOSTLY_Q5_K_S',
  17: 'MOSTLY_Q5_K_M',
  18: 'MOSTLY_Q6_K',
  19: 'MOSTLY_IQ2_XXS',
  20: 'MOSTLY_IQ2_XS',
  21: 'MOSTLY_Q2_K_S',
  22: 'MOSTLY_IQ3_XS',
  23: 'MOSTLY_IQ3_XXS',
  24: 'MOSTLY_IQ1_S',
  25: 'MOSTLY_IQ4_NL',
  26: 'MOSTLY_IQ3_S',
  27: 'MOSTLY_IQ3_M',
  28: 'MOSTLY_IQ2_S',
  29: 'MOSTLY_IQ2_M',
  30: 'MOSTLY_IQ4_XS',
  31: 'MOSTLY_IQ1_M',
  32: 'MOSTLY_BF16',
  36: 'MOSTLY_TQ1_0',
  37: 'MOSTLY_TQ2_0',
};

const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_KEPT_STRING = 1024;

/** Reads from a prefix of the file; past the prefix it asks for more, past the file it is truncated. */
class Cursor {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly fileSize: number,
    private readonly limits: GgufLimits,
  ) {}

  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end > this.fileSize) throw new ModelFileError(`gguf: the file ends inside ${what} (at byte ${this.pos}, ${n} more needed)`);
    if (end > this.limits.maxHeaderBytes) throw new ModelFileError(`gguf: the header is longer than the limit of ${this.limits.maxHeaderBytes} bytes`);
    if (end > this.buf.length) throw new NeedMoreBytes(Math.min(this.fileSize, Math.max(end, this.buf.length * 2)));
  }

  remaining(): number {
    return this.fileSize - this.pos;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** a uint64 that must be a safe integer no larger than `max` */
  count(what: string, max: number): number {
    const v = this.u64(what);
    if (v > BigInt(max)) throw new ModelFileError(`gguf: ${what} ${v} is absurd (at most ${max} fit the file and the limits)`);
    return Number(v);
  }

  string(what: string): string {
    const length = this.u64(`the length of ${what}`);
    if (length > BigInt(this.remaining())) throw new ModelFileError(`gguf: the file ends inside ${what} (its length ${length} runs past the end)`);
    if (length > BigInt(this.limits.maxStringBytes)) throw new ModelFileError(`gguf: the length of ${what} ${length} is absurd (over ${this.limits.maxStringBytes} bytes)`);
    const n = Number(length);
    this.need(n, what);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  scalar(type: number, what: string): GgufScalar {
    const size = SCALAR_BYTES[type]!;
    this.need(size, what);
    const b = this.buf;
    const p = this.pos;
    this.pos += size;
    switch (type) {
      case 0: return b.readUInt8(p);
      case 1: return b.readInt8(p);
      case 2: return b.readUInt16LE(p);
      case 3: return b.readInt16LE(p);
      case 4: return b.readUInt32LE(p);
      case 5: return b.readInt32LE(p);
      case 6: return b.readFloatLE(p);
      case 7: return b.readUInt8(p) !== 0;
      case 10: return narrow(b.readBigUInt64LE(p));
      case 11: return narrow(b.readBigInt64LE(p));
      default: return b.readDoubleLE(p);
    }
  }
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function valueType(t: number, where: string): number {
  if (t >= VALUE_TYPES.length) throw new ModelFileError(`gguf: ${where} has an unknown value type ${t}`);
  return t;
}

function readValue(c: Cursor, type: number, key: string, depth: number): GgufValue {
  if (type === 8) {
    const s = c.string(`the value of ${key}`);
    return s.length > MAX_KEPT_STRING ? `${s.slice(0, MAX_KEPT_STRING)}…` : s;
  }
  if (type !== 9) return c.scalar(type, `the value of ${key}`);
  if (depth > 2) throw new ModelFileError(`gguf: ${key} nests arrays too deeply`);
  const itemType = valueType(c.u32(`the item type of ${key}`), key);
  // every item takes at least a byte (a string at least its 8-byte length): the count must fit the file
  const minItem = itemType === 8 ? 8 : itemType === 9 ? 12 : SCALAR_BYTES[itemType]!;
  const length = c.count(`the item count of ${key}`, Math.floor(c.remaining() / minItem));
  const keep = length <= 16 && itemType !== 9;
  const values: GgufScalar[] = [];
  if (itemType !== 8 && itemType !== 9) {
    if (keep) for (let i = 0; i < length; i++) values.push(c.scalar(itemType, `an item of ${key}`));
    else c.skip(length * minItem, `the items of ${key}`);
  } else {
    for (let i = 0; i < length; i++) {
      const v = readValue(c, itemType, key, depth + 1);
      if (keep) values.push(v as GgufScalar);
    }
  }
  return { type: 'array', itemType: VALUE_TYPES[itemType]!, length, ...(keep ? { values } : {}) };
}

/**
 * Parses the header from `prefix`, the first bytes of a file of `fileSize` bytes. Throws
 * NeedMoreBytes(n) when the first n bytes are needed, ModelFileError when the file is not a
 * well-formed GGUF v2/v3 file within the limits.
 */
export function parseGgufHeader(prefix: Buffer, fileSize: number, limits: GgufLimits = DEFAULT_GGUF_LIMITS): GgufHeader {
  const c = new Cursor(prefix, fileSize, limits);
  if (c.u32('the magic') !== GGUF_MAGIC) throw new ModelFileError('gguf: the file does not start with the GGUF magic');
  const version = c.u32('the version');
  if (version === 1) throw new ModelFileError('gguf: version 1 (32-bit counts) is not supported');
  if (version !== 2 && version !== 3) {
    throw new ModelFileError(version > 0xffff ? `gguf: version ${version} looks big-endian, which is not supported` : `gguf: unknown version ${version}`);
  }
  // a tensor info takes at least 24 bytes, a key/value at least 13
  const tensorCount = c.count('the tensor count', Math.min(limits.maxTensors, Math.floor(fileSize / 24)));
  const kvCount = c.count('the key/value count', Math.min(limits.maxKeys, Math.floor(fileSize / 13)));
  const metadata: Record<string, GgufValue> = Object.create(null) as Record<string, GgufValue>;
  for (let i = 0; i < kvCount; i++) {
    const key = c.string('a key');
    const type = valueType(c.u32(`the type of ${key}`), key);
    metadata[key] = readValue(c, type, key, 0);
  }
  const tensors: GgufTensor[] = [];
  const spans: { t: GgufTensor; end: number }[] = [];
  const parametersByType: Record<string, number> = {};
  const bytesByType: Record<string, number> = {};
  let parameters = 0;
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string('a tensor name');
    const nDims = c.u32(`the dimension count of ${name}`);
    if (nDims > MAX_DIMS) throw new ModelFileError(`gguf: tensor ${JSON.stringify(name.slice(0, 80))} has ${nDims} dimensions (at most ${MAX_DIMS})`);
    const dims: number[] = [];
    let count = 1;
    for (let d = 0; d < nDims; d++) {
      const dim = c.count(`a dimension of ${name}`, Number.MAX_SAFE_INTEGER);
      dims.push(dim);
      count *= dim;
      if (!Number.isSafeInteger(count)) throw new ModelFileError(`gguf: tensor ${JSON.stringify(name.slice(0, 80))} has more elements than can be counted`);
    }
    const typeId = c.u32(`the type of ${name}`);
    const type = GGML_TYPES[typeId];
    if (!type) throw new ModelFileError(`gguf: tensor ${JSON.stringify(name.slice(0, 80))} has an unknown ggml type ${typeId}`);
    const offset = c.count(`the offset of ${name}`, fileSize);
    const [typeName, blockElements, blockBytes] = type;
    if (count % blockElements !== 0) throw new ModelFileError(`gguf: tensor ${JSON.stringify(name.slice(0, 80))} has ${count} elements, not a whole number of ${typeName} blocks`);
    const tensor = { name, dims, type: typeName, offset };
    const bytes = (count / blockElements) * blockBytes;
    tensors.push(tensor);
    spans.push({ t: tensor, end: offset + bytes });
    parameters += count;
    parametersByType[typeName] = (parametersByType[typeName] ?? 0) + count;
    bytesByType[typeName] = (bytesByType[typeName] ?? 0) + bytes;
  }
  const alignmentValue = metadata['general.alignment'];
  const alignment = alignmentValue === undefined ? 32 : alignmentValue;
  if (typeof alignment !== 'number' || alignment <= 0 || (alignment & (alignment - 1)) !== 0) throw new ModelFileError('gguf: general.alignment must be a power of two');
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const dataBytes = fileSize - dataOffset;
  // every tensor lies in the data area, aligned, and none overlaps another
  for (const { t, end } of spans) {
    if (t.offset % alignment !== 0) throw new ModelFileError(`gguf: tensor ${JSON.stringify(t.name.slice(0, 80))} is not aligned to ${alignment} bytes`);
    if (end > dataBytes) throw new ModelFileError(`gguf: tensor ${JSON.stringify(t.name.slice(0, 80))} runs past the end of the file`);
  }
  spans.sort((a, b) => a.t.offset - b.t.offset);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.t.offset < spans[i - 1]!.end) throw new ModelFileError(`gguf: tensor ${JSON.stringify(spans[i]!.t.name.slice(0, 80))} overlaps ${JSON.stringify(spans[i - 1]!.t.name.slice(0, 80))}`);
  }
  const str = (k: string): string | null => (typeof metadata[k] === 'string' ? (metadata[k] as string) : null);
  const int = (k: string): number | null => (typeof metadata[k] === 'number' && Number.isInteger(metadata[k]) ? (metadata[k] as number) : null);
  const architecture = str('general.architecture');
  const fileType = int('general.file_type');
  return {
    version,
    tensorCount,
    kvCount,
    metadata: { ...metadata },
    architecture,
    name: str('general.name'),
    fileType,
    fileTypeName: fileType === null ? null : (FILE_TYPES[fileType] ?? null),
    contextLength: architecture === null ? null : int(`${architecture}.context_length`),
    alignment,
    dataOffset,
    tensors,
    parameters,
    parametersByType,
    bytesByType,
  };
}

/** JSON-safe copy of GGUF metadata values (bigints as decimal strings). */
export function ggufMetadataJson(metadata: Record<string, GgufValue>): Record<string, unknown> {
  const fix = (v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : Array.isArray(v) ? v.map(fix) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fix(x)])) : v);
  return fix(metadata) as Record<string, unknown>;
}
