import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * pako's low-level inflate (a line-by-line port of zlib's inflate.c), which the index build needs
 * and Node's zlib does not offer: `inflate(strm, Z_BLOCK)` returns at every deflate block
 * boundary and `strm.data_type` then says how many bits of the last byte are still unread (the
 * zran technique; docs/dependencies.md). Reading from a checkpoint needs zlib's inflatePrime
 * (feed the bits of the byte before the point into the bit accumulator) and inflateSetDictionary
 * (the point's window); pako has the second, and the first is two assignments to its state,
 * written here the way zlib's inflatePrime does them. pako 2 exports only its high-level API, whose `push`
 * loops past block boundaries, so the module is loaded by its path inside the installed package
 * (pinned to ~2.1.0 in package.json, so the file cannot move under us).
 */
export interface PakoStream {
  /** the inflater's internal state (hold and bits: its bit accumulator) */
  state: { hold: number; bits: number } | null;
  input: Uint8Array | null;
  next_in: number;
  avail_in: number;
  total_in: number;
  output: Uint8Array | null;
  next_out: number;
  avail_out: number;
  total_out: number;
  msg: string;
  data_type: number;
}

interface PakoInflateModule {
  inflateInit2(strm: PakoStream, windowBits: number): number;
  inflateSetDictionary(strm: PakoStream, dictionary: Uint8Array): number;
  inflate(strm: PakoStream, flush: number): number;
  inflateEnd(strm: PakoStream): number;
}

export const Z_OK = 0;
export const Z_STREAM_END = 1;
export const Z_NEED_DICT = 2;
export const Z_BUF_ERROR = -5;
export const Z_BLOCK = 5;
export const Z_NO_FLUSH = 0;

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('pako'));
const inflateModule = require(join(root, 'lib/zlib/inflate.js')) as PakoInflateModule;
const ZStream = require(join(root, 'lib/zlib/zstream.js')) as new () => PakoStream;

/** A zlib stream set up for gzip decoding (windowBits 15 + 16: gzip only, as OCI layers are). */
export function createGzipInflate(): { strm: PakoStream; inflate(flush: number): number; end(): void } {
  const strm = new ZStream();
  const ret = inflateModule.inflateInit2(strm, 15 + 16);
  if (ret !== Z_OK) throw new Error(`inflateInit2 failed (${ret})`);
  return {
    strm,
    inflate: (flush) => inflateModule.inflate(strm, flush),
    end: () => void inflateModule.inflateEnd(strm),
  };
}

/** A raw inflater resumed at a checkpoint: `bits` bits of `value` primed, `window` as history. */
export function createRawInflateAt(bits: number, value: number, window: Uint8Array): { strm: PakoStream; inflate(flush: number): number; end(): void } {
  const strm = new ZStream();
  let ret = inflateModule.inflateInit2(strm, -15);
  if (ret !== Z_OK || !strm.state) throw new Error(`inflateInit2 failed (${ret})`);
  if (bits > 0) {
    // zlib inflatePrime: value &= (1 << bits) - 1; hold += value << bits_before; bits += bits
    strm.state.hold = (value & ((1 << bits) - 1)) >>> 0;
    strm.state.bits = bits;
  }
  ret = inflateModule.inflateSetDictionary(strm, window);
  if (ret !== Z_OK) throw new Error(`inflateSetDictionary failed (${ret})`);
  return {
    strm,
    inflate: (flush) => inflateModule.inflate(strm, flush),
    end: () => void inflateModule.inflateEnd(strm),
  };
}
