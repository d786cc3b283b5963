import { ByteBuffer } from 'flatbuffers';
import { WharfError } from '../../errors/wharf-error.js';
import { LayerIndex, type PointHeader, type PointSource } from './layer-reader.js';
import { WINDOW_SIZE } from './zinfo.js';

/** Reads the inclusive byte range of a stored zTOC. */
export type ReadRange = (start: number, end: number) => Promise<Buffer>;

const POINT = 8 + 8 + 1 + WINDOW_SIZE;
const HEAD = 64 * 1024;
/** zTOCs up to this size are read whole */
export const EAGER_ZTOC_BYTES = 2 * 1024 * 1024;

/**
 * Opens a stored zTOC reading only what a read needs. A zTOC is mostly its gzip checkpoints'
 * 32 KiB windows (8 MiB of a 1 GiB layer's 8.6 MiB); everything else — the root and compression
 * tables, span digests, the file table — lies before or after that one byte vector. So: the
 * buffer up to the vector (a 64 KiB head, more if needed), the buffer after it, and then, per
 * read, the 17-byte headers a binary search visits (about log2 of the checkpoint count) and the
 * one window the read starts from, each by a Range request, each kept once read.
 *
 * The layout is found through the FlatBuffers offsets, not assumed; a zTOC that does not have
 * the vector where it can be cut out (or any surprise) is read whole instead, and a damaged one
 * is LAYER_INVALID as before. Small zTOCs are read whole.
 */
export async function openLayerIndex(read: ReadRange, size: number): Promise<LayerIndex> {
  if (size <= EAGER_ZTOC_BYTES) return new LayerIndex(await read(0, size - 1));
  try {
    const lazy = await openLazy(read, size);
    if (lazy) return lazy;
  } catch (e) {
    if (e instanceof WharfError && e.code !== 'LAYER_INVALID') throw e;
    // anything unexpected: read it whole (which reports a damaged zTOC properly)
  }
  return new LayerIndex(await read(0, size - 1));
}

async function openLazy(read: ReadRange, size: number): Promise<LayerIndex | undefined> {
  const buf = new Uint8Array(size);
  let have = Math.min(size, HEAD);
  buf.set(await read(0, have - 1), 0);
  const bb = new ByteBuffer(buf);
  const inHead = (pos: number, n = 4): boolean => pos >= 0 && pos + n <= have;
  const table = (pos: number): boolean => inHead(pos) && inHead(pos - bb.readInt32(pos), 4) && inHead(pos - bb.readInt32(pos), bb.readInt16(pos - bb.readInt32(pos)));
  const root = bb.readInt32(0);
  if (!table(root)) return undefined;
  const oInfo = bb.__offset(root, 4 + 2 * 5);
  if (oInfo === 0 || !inHead(root + oInfo)) return undefined;
  const info = bb.__indirect(root + oInfo);
  if (!table(info)) return undefined;
  const oAlg = bb.__offset(info, 4);
  if (oAlg !== 0 && (!inHead(info + oAlg, 1) || bb.readInt8(info + oAlg) !== 1)) return undefined; // not gzip
  const oCp = bb.__offset(info, 4 + 2 * 3);
  if (oCp === 0 || !inHead(info + oCp)) return undefined;
  const vecAt = info + oCp + bb.readUint32(info + oCp);
  if (vecAt < 0 || vecAt + 4 > size) return undefined;
  if (vecAt + 4 + 12 > have) {
    const more = vecAt + 4 + 12;
    buf.set(await read(have, more - 1), have);
    have = more;
  }
  const start = vecAt + 4;
  const length = bb.readUint32(vecAt);
  if (start + length > size) return undefined;
  if (start + length < size) buf.set(await read(start + length, size - 1), start + length);
  const count = bb.readInt32(start);
  let v1: boolean;
  if (length === 12 + count * POINT) v1 = false;
  else if (count >= 1 && length === 12 + (count - 1) * POINT) v1 = true;
  else throw new WharfError('LAYER_INVALID', 'the zTOC is corrupt: its checkpoints do not match their count');
  const oSize = bb.__offset(root, 4 + 2 * 2);
  const layerSize = oSize === 0 ? 0 : Number(bb.readInt64(root + oSize));
  // decodeZtoc sees the whole buffer; only the windows' bytes are not there (zeros, never read)
  return new LayerIndex(buf, new LazyPoints(read, start + 12, count, v1, layerSize, buf.length));
}

class LazyPoints implements PointSource {
  private readonly headers = new Map<number, PointHeader>();
  private readonly windows = new Map<number, Uint8Array>();

  constructor(
    private readonly read: ReadRange,
    private readonly first: number,
    readonly count: number,
    private readonly v1: boolean,
    private readonly layerSize: number,
    private readonly held = 0,
  ) {}

  get footprint(): number {
    return this.held + this.headers.size * 40 + this.windows.size * WINDOW_SIZE;
  }

  private at(k: number): number {
    return this.first + (this.v1 ? k - 1 : k) * POINT;
  }

  async header(k: number): Promise<PointHeader> {
    if (k < 0 || k >= this.count) throw new WharfError('LAYER_INVALID', `the zTOC has no checkpoint ${k}`);
    if (this.v1 && k === 0) return { in: 10, out: 0, bits: 0 };
    const hit = this.headers.get(k);
    if (hit) return hit;
    const b = await this.read(this.at(k), this.at(k) + 16);
    const h = { in: Number(b.readBigInt64LE(0)), out: Number(b.readBigInt64LE(8)), bits: b.readUInt8(16) };
    if (h.bits > 7 || h.in < 1 || (this.layerSize > 0 && h.in > this.layerSize) || h.out < 0) {
      throw new WharfError('LAYER_INVALID', `the zTOC's checkpoint ${k} is out of range`);
    }
    this.headers.set(k, h);
    return h;
  }

  async window(k: number): Promise<Uint8Array> {
    if (this.v1 && k === 0) return new Uint8Array(WINDOW_SIZE);
    const hit = this.windows.get(k);
    if (hit) return hit;
    const w = await this.read(this.at(k) + 17, this.at(k) + 17 + WINDOW_SIZE - 1);
    if (this.windows.size >= 16) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(k, w);
    return w;
  }
}
