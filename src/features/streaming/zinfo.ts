import { Builder, ByteBuffer } from 'flatbuffers';
import { WharfError } from '../../errors/wharf-error.js';

/**
 * The `checkpoints` bytes of a zTOC, in soci-snapshotter's layouts:
 *
 * gzip (zinfo v2, ztoc/compression/gzip_zinfo.h): little-endian, tightly packed
 *   int32 checkpoint count | int64 span size | per checkpoint: int64 in (offset of the first full
 *   compressed byte), int64 out (uncompressed offset), uint8 bits (bits of the byte at in - 1 that
 *   belong to this point, 0..7), 32768 bytes window (the uncompressed bytes before out).
 *   v1 (older SOCI) omitted checkpoint 0, which was then implied (in 10, out 0, no window); it is
 *   read, never written.
 * uncompressed (TarZinfo, ztoc/compression/fbs/zinfo.fbs): a FlatBuffers table
 *   0 version:int32  1 span_size:int64  2 size:int64.
 */
export const WINDOW_SIZE = 32768;
const HEADER = 4 + 8;
const POINT = 8 + 8 + 1 + WINDOW_SIZE;

export interface GzipCheckpoint {
  /** offset of the first full compressed byte of the point */
  in: number;
  /** uncompressed offset */
  out: number;
  /** bits (1-7) of the byte at in - 1 that belong to the point, or 0 */
  bits: number;
  /** the 32 KiB of uncompressed data before `out` (zeros before the start) */
  window: Uint8Array;
}

export interface GzipZinfo {
  spanSize: number;
  checkpoints: GzipCheckpoint[];
}

function corrupt(why: string): WharfError {
  return new WharfError('LAYER_INVALID', `the zTOC's gzip checkpoints are corrupt: ${why}`);
}

export function encodeGzipZinfo(z: GzipZinfo): Buffer {
  const out = Buffer.alloc(HEADER + z.checkpoints.length * POINT);
  out.writeInt32LE(z.checkpoints.length, 0);
  out.writeBigInt64LE(BigInt(z.spanSize), 4);
  let at = HEADER;
  for (const c of z.checkpoints) {
    out.writeBigInt64LE(BigInt(c.in), at);
    out.writeBigInt64LE(BigInt(c.out), at + 8);
    out.writeUInt8(c.bits, at + 16);
    out.set(c.window.subarray(0, WINDOW_SIZE), at + 17);
    at += POINT;
  }
  return out;
}

/** Decodes (without copying the windows) and checks the points are ordered and in range. */
export function decodeGzipZinfo(bytes: Uint8Array, compressedSize: number): GzipZinfo {
  if (bytes.length < HEADER) throw corrupt('too short');
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = b.readInt32LE(0);
  const spanSize = Number(b.readBigInt64LE(4));
  if (count < 1) throw corrupt(`${count} checkpoints`);
  let stored: number;
  const checkpoints: GzipCheckpoint[] = [];
  if (b.length === HEADER + count * POINT) stored = count;
  else if (b.length === HEADER + (count - 1) * POINT) {
    stored = count - 1;
    checkpoints.push({ in: 10, out: 0, bits: 0, window: new Uint8Array(WINDOW_SIZE) });
  } else throw corrupt(`${b.length} bytes for ${count} checkpoints`);
  let at = HEADER;
  for (let i = 0; i < stored; i += 1) {
    const point = {
      in: Number(b.readBigInt64LE(at)),
      out: Number(b.readBigInt64LE(at + 8)),
      bits: b.readUInt8(at + 16),
      window: bytes.subarray(at + 17, at + 17 + WINDOW_SIZE),
    };
    const prev = checkpoints[checkpoints.length - 1];
    if (point.bits > 7 || point.in < 1 || point.in > compressedSize || point.out < 0 || (prev && (point.in <= prev.in || point.out <= prev.out))) {
      throw corrupt(`checkpoint ${checkpoints.length} is out of order or range`);
    }
    checkpoints.push(point);
    at += POINT;
  }
  return { spanSize, checkpoints };
}

export interface TarZinfo {
  version: number;
  spanSize: number;
  size: number;
}

export function encodeTarZinfo(z: TarZinfo): Uint8Array {
  const b = new Builder(64);
  b.startObject(3);
  b.addFieldInt32(0, z.version, 0);
  b.addFieldInt64(1, BigInt(z.spanSize), 0n);
  b.addFieldInt64(2, BigInt(z.size), 0n);
  b.finish(b.endObject());
  return b.asUint8Array();
}

export function decodeTarZinfo(bytes: Uint8Array): TarZinfo {
  try {
    const bb = new ByteBuffer(bytes);
    const pos = bb.readInt32(0);
    const field = (slot: number) => bb.__offset(pos, 4 + 2 * slot);
    const version = field(0) ? bb.readInt32(pos + field(0)) : 0;
    const spanSize = field(1) ? Number(bb.readInt64(pos + field(1))) : 0;
    const size = field(2) ? Number(bb.readInt64(pos + field(2))) : 0;
    if (spanSize <= 0 || size < 0) throw new Error('span size or size out of range');
    return { version, spanSize, size };
  } catch (e) {
    throw new WharfError('LAYER_INVALID', `the zTOC's tar checkpoints are corrupt: ${(e as Error).message}`);
  }
}
