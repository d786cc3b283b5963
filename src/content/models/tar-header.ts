/**
 * One 512-byte tar header block (POSIX ustar, with the GNU and PAX long-name extensions the
 * callers resolve): enough to walk an uncompressed tar layer with Range reads — each entry's data
 * starts right after its header, and the next header after the data rounded up to 512 bytes —
 * without reading the file data in between. Pure.
 */
import { ModelFileError } from './model-file-error.js';

export interface TarHeader {
  /** name with the ustar prefix joined; a GNU 'L' or PAX 'x' record before it may replace it */
  name: string;
  size: number;
  /** '0' file, '5' directory, 'x' PAX record, 'L' GNU long name, ... */
  type: string;
}

function field(block: Uint8Array, start: number, length: number): string {
  const bytes = block.subarray(start, start + length);
  const nul = bytes.indexOf(0);
  return Buffer.from(nul === -1 ? bytes : bytes.subarray(0, nul)).toString('utf8');
}

function octal(block: Uint8Array, start: number, length: number, what: string): number {
  if ((block[start]! & 0x80) !== 0) {
    // base-256 (GNU): big-endian, the top bit of the first byte set
    let v = block[start]! & 0x7f;
    for (let i = 1; i < length; i++) {
      v = v * 256 + block[start + i]!;
      if (!Number.isSafeInteger(v)) throw new ModelFileError(`tar: the ${what} field is too large`);
    }
    return v;
  }
  const s = field(block, start, length).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new ModelFileError(`tar: the ${what} field is not octal`);
  return parseInt(s, 8);
}

/** The header in `block`, or null for an all-zero block (the end of the archive). Throws on a bad checksum. */
export function parseTarHeader(block: Uint8Array): TarHeader | null {
  if (block.length < 512) throw new ModelFileError('tar: the archive ends inside a header');
  if (block.subarray(0, 512).every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  if (octal(block, 148, 8, 'checksum') !== sum) throw new ModelFileError('tar: a header has a bad checksum (not a tar archive?)');
  const name = field(block, 0, 100);
  const magic = field(block, 257, 6);
  const prefix = magic.startsWith('ustar') ? field(block, 345, 155) : '';
  const type = String.fromCharCode(block[156] || 0x30);
  return { name: prefix ? `${prefix}/${name}` : name, size: octal(block, 124, 12, 'size'), type };
}

/** The `path` of a PAX extended header record set, if it has one. */
export function paxPath(records: Uint8Array): string | undefined {
  const text = Buffer.from(records).toString('utf8');
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(' ', at);
    if (space === -1) break;
    const len = Number(text.slice(at, space));
    if (!Number.isSafeInteger(len) || len <= 0) break;
    const record = text.slice(space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') return record.slice(eq + 1);
    at += len;
  }
  return undefined;
}
