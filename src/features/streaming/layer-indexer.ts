import { createHash, type Hash } from 'node:crypto';
import { WharfError } from '../../errors/wharf-error.js';
import { createGzipInflate, Z_BLOCK, Z_BUF_ERROR, Z_OK, Z_STREAM_END } from './pako-inflate.js';
import { TarIndexer, type TarIndexLimits } from './tar-indexer.js';
import { encodeGzipZinfo, encodeTarZinfo, WINDOW_SIZE, type GzipCheckpoint } from './zinfo.js';
import { ZTOC_VERSION, type Ztoc } from './ztoc.js';

/**
 * Builds a layer's random-access index (a SOCI zTOC) in one pass over its bytes, holding no more
 * than the 32 KiB window, the current tar header and the checkpoints made so far.
 *
 * gzip: the zran technique (zlib's examples/zran.c, as soci-snapshotter's gzip_zinfo.c does it):
 * inflate with Z_BLOCK stops at every deflate block boundary; at the first boundary (just after
 * the gzip header) and then at the first byte-aligned boundary more than `spanSize` uncompressed
 * bytes after the previous checkpoint (any boundary past two spans), a checkpoint records the compressed offset, the bits of the previous byte
 * still unread, the uncompressed offset and the 32 KiB of output before it, which is all a raw
 * inflater needs to start there. No checkpoint after the last block. Each span's digest is the
 * sha256 of its compressed bytes, from the point's first byte (in - 1 when it has bits) to the
 * next point's `in` (the last span: to the end of the blob), as soci-snapshotter computes them.
 *
 * Uncompressed tar: spans are every `spanSize` bytes (nothing to record but the size).
 *
 * Limits: entries, uncompressed bytes, compression ratio (past 16 MiB). A malformed stream,
 * a truncated blob or a limit ends the build with LAYER_INVALID and no index.
 */
export interface LayerIndexLimits extends TarIndexLimits {
  maxUncompressedBytes: number;
  maxCompressionRatio: number;
}

export const DEFAULT_LAYER_LIMITS: LayerIndexLimits = {
  maxEntries: 1_000_000,
  maxExtendedHeaderBytes: 1024 * 1024,
  maxUncompressedBytes: 256 * 1024 ** 3,
  maxCompressionRatio: 1100,
};

export const DEFAULT_SPAN_SIZE = 4 * 1024 * 1024;
export const BUILD_TOOL = 'wharf';

export interface BuildOptions {
  spanSize?: number;
  limits?: Partial<LayerIndexLimits>;
  buildTool?: string;
  signal?: AbortSignal;
  /** wait (up to another span) for byte-aligned block boundaries (default true; false: zran's plain rule) */
  byteAligned?: boolean;
}

export type LayerCompression = 'gzip' | 'zstd' | 'uncompressed';

function invalid(message: string): WharfError {
  return new WharfError('LAYER_INVALID', message);
}

const afterEnd = () => invalid('the layer has data after its gzip stream (concatenated gzip members are not supported yet)');

export function sniffCompression(head: Uint8Array): LayerCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'uncompressed';
}

export async function buildLayerIndex(source: AsyncIterable<Uint8Array>, options: BuildOptions = {}): Promise<Ztoc> {
  const spanSize = options.spanSize ?? DEFAULT_SPAN_SIZE;
  const limits = { ...DEFAULT_LAYER_LIMITS, ...options.limits };
  const it = source[Symbol.asyncIterator]();
  try {
    let first = await it.next();
    while (!first.done && first.value.length === 0) first = await it.next();
    if (first.done) throw invalid('the layer is empty');
    const chunks = prepend(first.value, it);
    const kind = sniffCompression(first.value);
    if (kind === 'zstd') throw new WharfError('LAYER_INVALID', 'zstd layers cannot be indexed yet (gzip and uncompressed tar can)');
    const build = kind === 'gzip' ? indexGzip : indexTar;
    return await build(chunks, spanSize, limits, options.buildTool ?? BUILD_TOOL, options.signal, options.byteAligned ?? true);
  } finally {
    // an error (or an early end) must not leave the blob's stream open
    await it.return?.();
  }
}

async function* prepend(head: Uint8Array, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield head;
  for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
}

class Budget {
  private compressed = 0;
  constructor(private readonly limits: LayerIndexLimits) {}
  addCompressed(n: number): void {
    this.compressed += n;
  }
  check(uncompressed: number): void {
    if (uncompressed > this.limits.maxUncompressedBytes) throw invalid(`the layer decompresses to more than ${this.limits.maxUncompressedBytes} bytes`);
    if (uncompressed > 16 * 1024 * 1024 && uncompressed > this.compressed * this.limits.maxCompressionRatio) {
      throw invalid(`the layer decompresses more than ${this.limits.maxCompressionRatio} times its size (a decompression bomb?)`);
    }
  }
}

async function indexGzip(chunks: AsyncIterable<Uint8Array>, spanSize: number, limits: LayerIndexLimits, tool: string, signal: AbortSignal | undefined, byteAligned: boolean): Promise<Ztoc> {
  const tar = new TarIndexer(limits);
  const budget = new Budget(limits);
  const z = createGzipInflate();
  const strm = z.strm;
  const window = new Uint8Array(WINDOW_SIZE);
  strm.output = window;
  strm.next_out = 0;
  strm.avail_out = 0;
  const checkpoints: GzipCheckpoint[] = [];
  const spanDigests: string[] = [];
  let span: Hash | undefined;
  let totin = 0;
  let totout = 0;
  let last = 0;
  let ended = false;
  let compressedSize = 0;
  let lastByte = 0;
  try {
    for await (const chunk of chunks) {
      signal?.throwIfAborted();
      compressedSize += chunk.length;
      budget.addCompressed(chunk.length);
      if (ended) {
        // bytes after the end of the gzip member: concatenated members are not indexed (yet)
        if (chunk.some((b) => b !== 0)) throw afterEnd();
        span?.update(chunk);
        continue;
      }
      strm.input = chunk;
      strm.next_in = 0;
      strm.avail_in = chunk.length;
      let hashedFrom = 0;
      do {
        if (strm.avail_out === 0) {
          strm.next_out = 0;
          strm.avail_out = WINDOW_SIZE;
        }
        const outBefore = strm.next_out;
        const inBefore = strm.avail_in;
        const ret = z.inflate(Z_BLOCK);
        totin += inBefore - strm.avail_in;
        const produced = strm.next_out - outBefore;
        if (produced > 0) {
          totout += produced;
          tar.write(window.subarray(outBefore, strm.next_out));
          budget.check(totout);
        }
        if (ret === Z_STREAM_END) {
          ended = true;
          if (chunk.subarray(strm.next_in).some((b) => b !== 0)) throw afterEnd();
          break;
        }
        if (ret !== Z_OK && ret !== Z_BUF_ERROR) throw invalid(`the layer is not valid gzip: ${strm.msg || `inflate error ${ret}`}`);
        if (ret === Z_BUF_ERROR && strm.avail_in > 0 && strm.avail_out > 0) throw invalid('the gzip stream makes no progress');
        const dt = strm.data_type;
        // Wharf waits (up to another span) for a boundary that falls on a byte, so most reads can
        // resume with Node's native zlib (layer-reader.ts); soci's rule "more than a span apart" holds
        const due = totout - last > spanSize && (!byteAligned || (dt & 7) === 0 || totout - last > 2 * spanSize);
        if (dt & 128 && !(dt & 64) && (totout === 0 || due)) {
          const bits = dt & 7;
          const consumed = strm.next_in;
          // finish the previous span at this point's `in`; start the next one at in - 1 when it has bits
          if (span) {
            span.update(chunk.subarray(hashedFrom, consumed));
            spanDigests.push(`sha256:${span.digest('hex')}`);
          }
          span = createHash('sha256');
          if (bits > 0) span.update(consumed > 0 ? chunk.subarray(consumed - 1, consumed) : Uint8Array.of(lastByte));
          hashedFrom = consumed;
          const left = strm.avail_out;
          const copy = new Uint8Array(WINDOW_SIZE);
          // the circular window: the oldest bytes start at next_out (zran's add_point)
          copy.set(window.subarray(WINDOW_SIZE - left), 0);
          copy.set(window.subarray(0, WINDOW_SIZE - left), left);
          checkpoints.push({ in: totin, out: totout, bits, window: copy });
          last = totout;
        }
      } while (strm.avail_in !== 0);
      span?.update(chunk.subarray(hashedFrom));
      lastByte = chunk[chunk.length - 1] ?? lastByte;
    }
  } finally {
    z.end();
  }
  if (!ended) throw invalid(`the gzip stream is truncated (it ends after ${compressedSize} bytes without its last block)`);
  if (checkpoints.length === 0 || !span) throw invalid('the gzip stream has no deflate block');
  spanDigests.push(`sha256:${span.digest('hex')}`);
  const { entries, archiveSize } = tar.finish();
  return {
    version: ZTOC_VERSION,
    buildToolIdentifier: tool,
    compressedArchiveSize: compressedSize,
    uncompressedArchiveSize: archiveSize,
    entries,
    algorithm: 'gzip',
    maxSpanId: checkpoints.length - 1,
    spanDigests,
    checkpoints: encodeGzipZinfo({ spanSize, checkpoints }),
  };
}

async function indexTar(chunks: AsyncIterable<Uint8Array>, spanSize: number, limits: LayerIndexLimits, tool: string, signal?: AbortSignal): Promise<Ztoc> {
  const tar = new TarIndexer(limits);
  const spanDigests: string[] = [];
  let span = createHash('sha256');
  let inSpan = 0;
  let size = 0;
  for await (const chunk of chunks) {
    signal?.throwIfAborted();
    tar.write(chunk);
    size += chunk.length;
    if (size > limits.maxUncompressedBytes) throw invalid(`the layer is larger than ${limits.maxUncompressedBytes} bytes`);
    let i = 0;
    while (i < chunk.length) {
      const take = Math.min(spanSize - inSpan, chunk.length - i);
      span.update(chunk.subarray(i, i + take));
      inSpan += take;
      i += take;
      if (inSpan === spanSize) {
        spanDigests.push(`sha256:${span.digest('hex')}`);
        span = createHash('sha256');
        inSpan = 0;
      }
    }
  }
  if (inSpan > 0 || spanDigests.length === 0) spanDigests.push(`sha256:${span.digest('hex')}`);
  const { entries, archiveSize } = tar.finish();
  return {
    version: ZTOC_VERSION,
    buildToolIdentifier: tool,
    compressedArchiveSize: size,
    uncompressedArchiveSize: archiveSize,
    entries,
    algorithm: 'uncompressed',
    maxSpanId: spanDigests.length - 1,
    spanDigests,
    checkpoints: encodeTarZinfo({ version: 2, spanSize, size }),
  };
}
