import { once } from 'node:events';
import { Readable } from 'node:stream';
import { constants as zc, createInflateRaw } from 'node:zlib';
import { WharfError } from '../../errors/wharf-error.js';
import { createRawInflateAt, Z_BUF_ERROR, Z_NO_FLUSH, Z_OK, Z_STREAM_END } from './pako-inflate.js';
import { decodeGzipZinfo, decodeTarZinfo, type GzipCheckpoint } from './zinfo.js';
import { decodeZtoc, type Ztoc } from './ztoc.js';

/** Opens an inclusive byte range of the layer blob (a Range request on the blob store). */
export type OpenRange = (range: { start: number; end: number }) => Promise<Readable>;

/**
 * A decoded zTOC, ready for random reads of the layer's uncompressed bytes. Reading from the
 * middle of a gzip layer starts at the checkpoint at or before the wanted offset and asks the
 * blob store only for the compressed bytes from that checkpoint to the one after the wanted end
 * (plus one byte): at most about two spans (spanSize, 4 MiB by default) more than the data.
 *
 * Resuming at a byte-aligned checkpoint uses Node's zlib (nativeFrom); at one inside a byte, it is zlib's inflatePrime + inflateSetDictionary on a raw inflater (pako's port of
 * zlib; see pako-inflate.ts): the bits of the byte before the point go into the bit accumulator,
 * the point's 32 KiB window becomes the history. (Shifting the compressed bits onto a byte
 * boundary for Node's own zlib does not work: stored blocks align to the original stream's bytes.)
 * Only the wanted bytes are produced past the skip; the source is closed as soon as they are.
 */
/** A checkpoint's position (its window is fetched separately: see PointSource). */
export interface PointHeader {
  in: number;
  out: number;
  bits: number;
}

/**
 * The gzip checkpoints of a zTOC: all decoded (EagerPoints), or read by range when needed
 * (ztoc-loader.ts), so the first read of a large layer does not load every 32 KiB window.
 */
export interface PointSource {
  readonly count: number;
  header(k: number): Promise<PointHeader>;
  window(k: number): Promise<Uint8Array>;
  /** bytes held in memory */
  readonly footprint: number;
}

export class EagerPoints implements PointSource {
  constructor(private readonly points: GzipCheckpoint[]) {}
  get count(): number {
    return this.points.length;
  }
  get footprint(): number {
    return this.points.length * (32768 + 24);
  }
  async header(k: number): Promise<PointHeader> {
    return this.points[k]!;
  }
  async window(k: number): Promise<Uint8Array> {
    return this.points[k]!.window;
  }
}

export class LayerIndex {
  readonly ztoc: Ztoc;
  private readonly points: PointSource | undefined;
  private readonly size: number;
  private readonly bytes: number;

  /** `points`: the checkpoints when they are read lazily (bytes then holds no windows). */
  constructor(bytes: Uint8Array, points?: PointSource) {
    this.ztoc = decodeZtoc(bytes);
    this.size = this.ztoc.compressedArchiveSize;
    this.bytes = points ? 0 : bytes.length;
    if (this.ztoc.algorithm === 'gzip') {
      this.points = points ?? new EagerPoints(decodeGzipZinfo(this.ztoc.checkpoints, this.size).checkpoints);
      if (this.points.count !== this.ztoc.maxSpanId + 1) throw new WharfError('LAYER_INVALID', 'the zTOC is corrupt: max_span_id does not match its checkpoints');
    } else {
      const tar = decodeTarZinfo(this.ztoc.checkpoints);
      if (tar.size !== this.size) throw new WharfError('LAYER_INVALID', 'the zTOC is corrupt: its tar size does not match');
    }
  }

  /** bytes this index keeps in memory (for a cache's accounting) */
  get footprint(): number {
    return this.bytes + (this.points?.footprint ?? 0) + this.ztoc.entries.length * 200;
  }

  /** The uncompressed bytes [start, start + length) of the layer, streamed. */
  read(open: OpenRange, start: number, length: number): Readable {
    if (length <= 0) return Readable.from([]);
    if (this.ztoc.algorithm === 'uncompressed') {
      return Readable.from(takeExactly(open({ start, end: start + length - 1 }), length));
    }
    return Readable.from(this.readGzip(open, start, length));
  }

  /** index of the last checkpoint whose uncompressed offset is <= offset */
  async pointAt(offset: number): Promise<number> {
    const points = this.points!;
    let lo = 0;
    let hi = points.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((await points.header(mid)).out <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** index of the first checkpoint after `from` whose uncompressed offset is >= offset (count when none) */
  private async pointFrom(from: number, offset: number): Promise<number> {
    const points = this.points!;
    let lo = from;
    let hi = points.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((await points.header(mid)).out >= offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private async *readGzip(open: OpenRange, start: number, length: number): AsyncGenerator<Buffer> {
    const points = this.points!;
    const i = await this.pointAt(start);
    const point = await points.header(i);
    const window = await points.window(i);
    const endOffset = start + length;
    const j = await this.pointFrom(i + 1, endOffset);
    const from = point.in - (point.bits > 0 ? 1 : 0);
    // up to the next point's first full byte: every bit of the blocks before it
    const to = j < points.count ? (await points.header(j)).in - 1 : this.size - 1;
    if (to < from) throw new WharfError('LAYER_INVALID', 'the zTOC is corrupt: checkpoints out of order');
    const source = await open({ start: from, end: to });
    if (point.bits === 0) {
      yield* nativeFrom(source, window, start - point.out, length);
      return;
    }
    const z = createRawInflateAt(0, 0, window);
    const strm = z.strm;
    let skip = start - point.out;
    let want = length;
    let primed = point.bits === 0;
    let ended = false;
    const discard = new Uint8Array(skip > 0 ? Math.min(skip, 64 * 1024) : 0);
    try {
      for await (const raw of source as AsyncIterable<Buffer>) {
        let chunk: Uint8Array = raw;
        if (!primed && chunk.length > 0) {
          // zlib inflatePrime with the top `bits` bits of the byte before the point
          strm.state!.hold = chunk[0]! >> (8 - point.bits);
          strm.state!.bits = point.bits;
          chunk = chunk.subarray(1);
          primed = true;
        }
        strm.input = chunk;
        strm.next_in = 0;
        strm.avail_in = chunk.length;
        while (strm.avail_in > 0 && want > 0) {
          const target = skip > 0 ? discard : new Uint8Array(Math.min(want, 256 * 1024));
          strm.output = target;
          strm.next_out = 0;
          strm.avail_out = skip > 0 ? Math.min(skip, discard.length) : target.length;
          const ret = z.inflate(Z_NO_FLUSH);
          if (ret !== Z_OK && ret !== Z_STREAM_END && ret !== Z_BUF_ERROR) throw new Error(strm.msg || `inflate error ${ret}`);
          const produced = strm.next_out;
          if (skip > 0) skip -= produced;
          else if (produced > 0) {
            want -= produced;
            yield Buffer.from(target.buffer, target.byteOffset, produced);
          }
          if (ret === Z_STREAM_END) {
            ended = true;
            break;
          }
          if (ret === Z_BUF_ERROR && produced === 0) break;
        }
        if (want === 0 || ended) break;
      }
    } catch (e) {
      if (e instanceof WharfError) throw e;
      throw new WharfError('LAYER_INVALID', `reading the layer from its checkpoint failed: ${(e as Error).message}`);
    } finally {
      z.end();
      source.destroy();
    }
    if (want > 0) throw new WharfError('LAYER_INVALID', `the layer ended ${want} bytes short of what its index promised (truncated or replaced?)`);
  }
}

/**
 * From a byte-aligned checkpoint (bits 0, most of them: see layer-indexer.ts) Node's native zlib
 * resumes directly: a raw inflater with the window as its dictionary (inflateSetDictionary). With
 * Z_SYNC_FLUSH an input that stops inside the next block is no error. Several times faster than
 * pako.
 */
async function* nativeFrom(source: Readable, window: Uint8Array, skip: number, length: number): AsyncGenerator<Buffer> {
  const inflater = createInflateRaw({ dictionary: window, finishFlush: zc.Z_SYNC_FLUSH });
  const stop = new AbortController();
  const feeding = (async () => {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (!inflater.write(chunk)) await once(inflater, 'drain', { signal: stop.signal });
    }
    inflater.end();
  })().catch((err: unknown) => {
    if (!stop.signal.aborted) inflater.destroy(err as Error);
  });
  let want = length;
  try {
    for await (const out of inflater as AsyncIterable<Buffer>) {
      let piece = out;
      if (skip > 0) {
        if (piece.length <= skip) {
          skip -= piece.length;
          continue;
        }
        piece = piece.subarray(skip);
        skip = 0;
      }
      if (piece.length >= want) {
        yield piece.subarray(0, want);
        want = 0;
        break;
      }
      want -= piece.length;
      yield piece;
    }
  } catch (e) {
    throw new WharfError('LAYER_INVALID', `reading the layer from its checkpoint failed: ${(e as Error).message}`);
  } finally {
    stop.abort();
    source.destroy();
    inflater.destroy();
    await feeding;
  }
  if (want > 0) throw new WharfError('LAYER_INVALID', `the layer ended ${want} bytes short of what its index promised (truncated or replaced?)`);
}

async function* takeExactly(opening: Promise<Readable>, length: number): AsyncGenerator<Buffer> {
  const source = await opening;
  let got = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      got += chunk.length;
      yield chunk;
    }
  } finally {
    source.destroy();
  }
  if (got !== length) throw new WharfError('LAYER_INVALID', `the layer ended ${length - got} bytes short of what its index promised`);
}
