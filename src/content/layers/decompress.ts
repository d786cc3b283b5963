/**
 * Turns a layer blob into its tar bytes, whatever the compression: gzip, zstd or none, told by the
 * first bytes (magic numbers), not by the media type, which pushers get wrong. Counts bytes in and
 * out and stops a decompression bomb: past `ratioFloorBytes` of output, output may not exceed
 * `maxRatio` times the input read so far, and the total is bounded by `maxBytes`. zstd frames are
 * checked by ZstdFrameGuard before fzstd sees them.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { ZstdFrameGuard, ZstdLimitError } from './zstd-frame-guard.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export class LayerLimitError extends Error {}

export interface DecompressLimits {
  /** uncompressed bytes this stream may still produce */
  maxBytes: number;
  maxRatio: number;
  /** the ratio is checked only past this much output (small layers compress very well) */
  ratioFloorBytes: number;
  maxZstdWindowBytes: number;
}

export interface ByteCounts {
  compressed: number;
  uncompressed: number;
}

export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  // a zstd stream may open with a skippable frame (0x184D2A5?, little-endian)
  if (head[3] === 0x18 && head[2] === 0x4d && head[1] === 0x2a && head[0] !== undefined && (head[0] & 0xf0) === 0x50) return 'zstd';
  return 'none';
}

function checkLimits(counts: ByteCounts, limits: DecompressLimits): void {
  if (counts.uncompressed > limits.maxBytes) throw new LayerLimitError(`layers expand past ${limits.maxBytes} bytes, the scanner's limit`);
  if (counts.uncompressed > limits.ratioFloorBytes && counts.uncompressed > limits.maxRatio * Math.max(counts.compressed, 1)) {
    throw new LayerLimitError(`a layer expands more than ${limits.maxRatio} times (a decompression bomb?)`);
  }
}

/** zstd through fzstd, with the frame guard and the limits checked per decoded block (a block can expand 32768x). */
class ZstdTransform extends Transform {
  private readonly guard: ZstdFrameGuard;
  private readonly decoder: ZstdDecompress;

  constructor(
    private readonly counts: ByteCounts,
    private readonly limits: DecompressLimits,
  ) {
    super();
    this.guard = new ZstdFrameGuard(limits.maxZstdWindowBytes);
    this.decoder = new ZstdDecompress((data) => {
      if (data.length === 0) return;
      this.counts.uncompressed += data.length;
      checkLimits(this.counts, this.limits);
      this.push(Buffer.from(data)); // a copy: the decoder keeps its own window
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.guard.check(chunk);
      this.decoder.push(chunk);
      callback();
    } catch (e) {
      callback(asLayerError(e));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.guard.end();
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (e) {
      callback(asLayerError(e));
    }
  }
}

function asLayerError(e: unknown): Error {
  if (e instanceof LayerLimitError || e instanceof ZstdLimitError) return e;
  return new Error(`malformed zstd data: ${(e as Error).message}`);
}

/** Counts and limits bytes after zlib (which pauses itself under back-pressure, so per-chunk checks suffice). */
class CountingTransform extends Transform {
  constructor(
    private readonly counts: ByteCounts,
    private readonly limits: DecompressLimits,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.counts.uncompressed += chunk.length;
    try {
      checkLimits(this.counts, this.limits);
    } catch (e) {
      callback(e as Error);
      return;
    }
    callback(null, chunk);
  }
}

/**
 * The tar stream of `blob`. Bytes read from `blob` are added to `counts.compressed` as they are
 * read; the caller pipes the result into the tar parser with `pipeline` (errors propagate both ways).
 */
export async function decompressLayer(blob: Readable, counts: ByteCounts, limits: DecompressLimits): Promise<{ compression: Compression; streams: NodeJS.ReadWriteStream[]; source: Readable }> {
  const iterator = blob[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  const buffered: Buffer[] = [];
  let done = false;
  while (head.length < 4 && !done) {
    const r = await iterator.next();
    if (r.done) done = true;
    else {
      buffered.push(r.value);
      head = Buffer.concat([head, r.value]);
    }
  }
  const compression = detectCompression(head);
  async function* counted(): AsyncGenerator<Buffer> {
    try {
      for (const b of buffered) {
        counts.compressed += b.length;
        yield b;
      }
      if (done) return;
      for (;;) {
        const r = await iterator.next();
        if (r.done) return;
        counts.compressed += r.value.length;
        yield r.value;
      }
    } finally {
      if (!done) await iterator.return?.();
    }
  }
  const source = Readable.from(counted(), { objectMode: false });
  if (compression === 'zstd') return { compression, source, streams: [new ZstdTransform(counts, limits)] };
  if (compression === 'gzip') return { compression, source, streams: [createGunzip({ chunkSize: 64 * 1024 }), new CountingTransform(counts, limits)] };
  return { compression, source, streams: [new CountingTransform(counts, limits)] };
}
