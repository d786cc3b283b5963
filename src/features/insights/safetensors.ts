/**
 * The header of a safetensors file (huggingface/safetensors format): 8 bytes, a little-endian
 * unsigned 64-bit length N, then N bytes of JSON mapping each tensor name to
 * `{"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}` (plus an optional
 * `__metadata__` of strings). Read from the first bytes of the stream only, bounded: a header
 * longer than the cap, longer than the file, or not that JSON is reported as an error, never
 * thrown. Pure.
 */
export interface SafetensorsInfo {
  tensors: number;
  /** parameters per dtype */
  dtypes: Record<string, number>;
  parameters: number;
  headerBytes: number;
  /** why the header could not be read (the file still counts as weights) */
  error?: string;
}

export function parseSafetensorsHeader(json: string, fileSize: number, headerBytes: number): SafetensorsInfo {
  const out: SafetensorsInfo = { tensors: 0, dtypes: {}, parameters: 0, headerBytes };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ...out, error: 'the header is not JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ...out, error: 'the header is not a JSON object' };
  const dataBytes = fileSize - 8 - headerBytes;
  for (const [name, t] of Object.entries(value as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const tensor = t as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof tensor !== 'object' || tensor === null || typeof tensor.dtype !== 'string' || !Array.isArray(tensor.shape) || !Array.isArray(tensor.data_offsets)) {
      return { ...out, error: `tensor ${JSON.stringify(name).slice(0, 80)} has no dtype, shape and data_offsets` };
    }
    if (!tensor.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) return { ...out, error: `tensor ${JSON.stringify(name).slice(0, 80)} has a bad shape` };
    const [begin, end] = tensor.data_offsets as unknown[];
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || (begin as number) < 0 || (end as number) < (begin as number) || (end as number) > dataBytes) {
      return { ...out, error: `tensor ${JSON.stringify(name).slice(0, 80)} has data offsets outside the file` };
    }
    const count = (tensor.shape as number[]).reduce((n, d) => n * d, 1);
    out.tensors++;
    out.parameters += count;
    out.dtypes[tensor.dtype] = (out.dtypes[tensor.dtype] ?? 0) + count;
  }
  return out;
}

/** Collects the header from a file's first chunks (the sink of one pass). */
export class SafetensorsHeaderReader {
  private readonly head: Buffer[] = [];
  private held = 0;
  private need = 8;
  private length?: number;
  private error?: string;

  constructor(
    private readonly fileSize: number,
    private readonly maxHeaderBytes: number,
  ) {
    if (fileSize < 8) this.error = 'shorter than the 8-byte header length';
  }

  write(chunk: Buffer): void {
    if (this.error !== undefined || this.held >= this.need) return;
    const take = chunk.subarray(0, this.need - this.held);
    this.head.push(Buffer.from(take));
    this.held += take.length;
    if (this.length === undefined && this.held >= 8) {
      const n = Buffer.concat(this.head).readBigUInt64LE(0);
      if (n > BigInt(this.maxHeaderBytes)) this.error = `the header length ${n} is over the ${this.maxHeaderBytes}-byte limit`;
      else if (n + 8n > BigInt(this.fileSize)) this.error = `the header length ${n} is past the end of the file`;
      else {
        this.length = Number(n);
        this.need = 8 + this.length;
        const rest = chunk.subarray(take.length);
        if (rest.length > 0) this.write(rest);
      }
    }
  }

  result(): SafetensorsInfo {
    const empty = { tensors: 0, dtypes: {}, parameters: 0, headerBytes: this.length ?? 0 };
    if (this.error !== undefined) return { ...empty, error: this.error };
    if (this.length === undefined || this.held < this.need) return { ...empty, error: 'the file ends inside its header' };
    return parseSafetensorsHeader(Buffer.concat(this.head).subarray(8, this.need).toString('utf8'), this.fileSize, this.length);
  }
}
