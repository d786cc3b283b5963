import { WharfError } from '../../errors/wharf-error.js';

/**
 * A streaming tar reader that keeps only the table of contents: for every entry its header
 * fields and the offset of its data in the uncompressed archive (what a random-access index
 * needs, and what tar-stream does not report). It is fed the decompressed bytes in order and
 * holds at most one header block and one extended header (bounded) at a time; file data is
 * counted and skipped, never kept.
 *
 * Formats: ustar (with its name prefix), pax extended headers (`x`: path, linkpath, size, uid,
 * gid, uname, gname, mtime; `g` global headers are read and ignored), GNU long names and long
 * link names (`L`, `K`), base-256 numbers. Entry types as the SOCI zTOC names them: reg, hardlink,
 * symlink, dir, char, block, fifo; anything else (sparse files, volume headers) is refused, as
 * soci-snapshotter does. A header whose checksum is wrong, a truncated archive and more entries
 * than `maxEntries` end the read with LAYER_INVALID.
 */
export type TarEntryType = 'reg' | 'hardlink' | 'symlink' | 'dir' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** offset of the entry's data in the uncompressed archive */
  offset: number;
  size: number;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** RFC 3339, UTC, with sub-second digits when the archive has them */
  modTime: string;
  devmajor: number;
  devminor: number;
  /** the entry's raw pax records */
  pax: Record<string, string>;
}

export interface TarIndexLimits {
  maxEntries: number;
  /** the most a pax header or GNU long name may hold */
  maxExtendedHeaderBytes: number;
}

export const DEFAULT_TAR_LIMITS: TarIndexLimits = { maxEntries: 1_000_000, maxExtendedHeaderBytes: 1024 * 1024 };

const BLOCK = 512;
const TYPES: Record<string, TarEntryType> = {
  '0': 'reg',
  '\0': 'reg',
  '7': 'reg',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};
/** types whose size field says nothing about data following the header (as Go's archive/tar) */
const HEADER_ONLY = new Set<TarEntryType>(['hardlink', 'symlink', 'char', 'block', 'dir', 'fifo']);

type Mode =
  | { kind: 'header' }
  | { kind: 'skip'; left: number }
  | { kind: 'extended'; flag: string; size: number; padded: number; parts: Buffer[]; have: number }
  | { kind: 'ended' };

function invalid(message: string): WharfError {
  return new WharfError('LAYER_INVALID', message);
}

export class TarIndexer {
  readonly entries: TarEntry[] = [];
  /** bytes consumed so far */
  position = 0;
  private mode: Mode = { kind: 'header' };
  private readonly header = Buffer.alloc(BLOCK);
  private headerHave = 0;
  private zeroBlocks = 0;
  private pax: Record<string, string> = {};
  private longName?: string;
  private longLink?: string;
  private archiveEnd?: number;
  private readonly limits: TarIndexLimits;

  constructor(limits: Partial<TarIndexLimits> = {}) {
    this.limits = { ...DEFAULT_TAR_LIMITS, ...limits };
  }

  /** Feeds the next decompressed bytes (not kept after the call returns). */
  write(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const mode = this.mode;
      if (mode.kind === 'ended') {
        this.position += n - i;
        return;
      }
      if (mode.kind === 'skip') {
        const take = Math.min(mode.left, n - i);
        mode.left -= take;
        i += take;
        this.position += take;
        if (mode.left === 0) this.mode = { kind: 'header' };
        continue;
      }
      if (mode.kind === 'extended') {
        const take = Math.min(mode.padded - mode.have, n - i);
        const keep = Math.max(0, Math.min(mode.size - mode.have, take));
        if (keep > 0) mode.parts.push(Buffer.from(chunk.subarray(i, i + keep)));
        mode.have += take;
        i += take;
        this.position += take;
        if (mode.have === mode.padded) this.finishExtended(mode.flag, Buffer.concat(mode.parts, mode.size));
        continue;
      }
      const take = Math.min(BLOCK - this.headerHave, n - i);
      this.header.set(chunk.subarray(i, i + take), this.headerHave);
      this.headerHave += take;
      i += take;
      this.position += take;
      if (this.headerHave === BLOCK) {
        this.headerHave = 0;
        this.onHeader();
      }
    }
  }

  /** Ends the read: the entries, and the archive's size (up to its end-of-archive marker). */
  finish(): { entries: TarEntry[]; archiveSize: number } {
    const mode = this.mode;
    if (mode.kind !== 'ended') {
      if (mode.kind !== 'header' || this.headerHave !== 0) {
        throw invalid(`the tar archive is truncated (it ends at byte ${this.position}, inside an entry)`);
      }
      if (this.longName !== undefined || this.longLink !== undefined || Object.keys(this.pax).length > 0) {
        throw invalid('the tar archive ends after an extended header without its entry');
      }
    }
    return { entries: this.entries, archiveSize: this.archiveEnd ?? this.position };
  }

  private onHeader(): void {
    const h = this.header;
    const at = this.position - BLOCK;
    if (isZero(h)) {
      this.zeroBlocks += 1;
      if (this.zeroBlocks === 2) {
        this.archiveEnd = this.position;
        this.mode = { kind: 'ended' };
      }
      return;
    }
    if (this.zeroBlocks > 0) throw invalid(`tar: a lone zero block before the header at byte ${at}`);
    if (!checksumOk(h)) throw invalid(`tar: the header at byte ${at} has a wrong checksum (not a tar archive, or corrupt)`);
    const flag = String.fromCharCode(h[156]!);
    const size = readNumber(h, 124, 12, at);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > this.limits.maxExtendedHeaderBytes) {
        throw invalid(`tar: an extended header of ${size} bytes at byte ${at} (limit ${this.limits.maxExtendedHeaderBytes})`);
      }
      const padded = roundUp(size);
      if (padded === 0) this.finishExtended(flag, Buffer.alloc(0));
      else this.mode = { kind: 'extended', flag, size, padded, parts: [], have: 0 };
      return;
    }
    const type = TYPES[flag];
    if (type === undefined) throw invalid(`tar: unsupported entry type ${JSON.stringify(flag)} at byte ${at}`);
    if (this.entries.length >= this.limits.maxEntries) throw invalid(`tar: more than ${this.limits.maxEntries} entries`);
    const ustar = h.toString('latin1', 257, 263) === 'ustar\0';
    const pax = this.pax;
    let name = this.longName ?? cString(h, 0, 100);
    if (this.longName === undefined && ustar) {
      const prefix = cString(h, 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    if (pax.path !== undefined) name = pax.path;
    let linkname = this.longLink ?? cString(h, 157, 100);
    if (pax.linkpath !== undefined) linkname = pax.linkpath;
    const entrySize = pax.size !== undefined ? paxNumber(pax.size, 'size', at) : size;
    let modTime = unixTime(readNumber(h, 136, 12, at));
    if (pax.mtime !== undefined) modTime = paxTime(pax.mtime, at);
    const entry: TarEntry = {
      name,
      type,
      offset: this.position,
      size: entrySize,
      linkname,
      mode: readNumber(h, 100, 8, at),
      uid: pax.uid !== undefined ? paxNumber(pax.uid, 'uid', at) : readNumber(h, 108, 8, at),
      gid: pax.gid !== undefined ? paxNumber(pax.gid, 'gid', at) : readNumber(h, 116, 8, at),
      uname: pax.uname ?? cString(h, 265, 32),
      gname: pax.gname ?? cString(h, 297, 32),
      modTime,
      devmajor: type === 'char' || type === 'block' ? readNumber(h, 329, 8, at) : 0,
      devminor: type === 'char' || type === 'block' ? readNumber(h, 337, 8, at) : 0,
      pax,
    };
    this.entries.push(entry);
    this.pax = {};
    this.longName = undefined;
    this.longLink = undefined;
    const data = HEADER_ONLY.has(type) ? 0 : roundUp(entrySize);
    if (data > 0) this.mode = { kind: 'skip', left: data };
  }

  private finishExtended(flag: string, body: Buffer): void {
    this.mode = { kind: 'header' };
    if (flag === 'L') this.longName = cString(body, 0, body.length);
    else if (flag === 'K') this.longLink = cString(body, 0, body.length);
    else if (flag === 'x') Object.assign(this.pax, parsePax(body, this.position));
    else parsePax(body, this.position); // 'g': checked, not applied (as soci-snapshotter ignores them too)
  }
}

function roundUp(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i += 1) if (b[i] !== 0) return false;
  return true;
}

function checksumOk(h: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i += 1) {
    const v = i >= 148 && i < 156 ? 32 : h[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  const text = h.toString('latin1', 148, 156).replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (!/^[0-7]{1,8}$/.test(text)) return false;
  const want = parseInt(text, 8);
  return want === unsigned || want === signed;
}

function cString(b: Buffer, start: number, length: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end === -1 || end > start + length ? start + length : end);
}

function readNumber(h: Buffer, start: number, length: number, at: number): number {
  const first = h[start]!;
  if (first & 0x80) {
    // base-256 (GNU): big-endian two's complement in the remaining bits
    if (first === 0xff) throw invalid(`tar: a negative number in the header at byte ${at}`);
    let v = first & 0x7f;
    for (let i = start + 1; i < start + length; i += 1) {
      v = v * 256 + h[i]!;
      if (!Number.isSafeInteger(v)) throw invalid(`tar: a number too large in the header at byte ${at}`);
    }
    return v;
  }
  const text = h.toString('latin1', start, start + length).replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalid(`tar: a malformed number ${JSON.stringify(text)} in the header at byte ${at}`);
  return parseInt(text, 8);
}

function paxNumber(value: string, key: string, at: number): number {
  if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) throw invalid(`tar: pax ${key} ${JSON.stringify(value.slice(0, 40))} before byte ${at}`);
  return Number(value);
}

function unixTime(seconds: number, nanos = 0): string {
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  return `${base}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}Z`;
}

function paxTime(value: string, at: number): string {
  const m = /^(-?[0-9]{1,15})(?:\.([0-9]{1,9})[0-9]*)?$/.exec(value);
  if (!m) throw invalid(`tar: pax mtime ${JSON.stringify(value.slice(0, 40))} before byte ${at}`);
  const seconds = Number(m[1]);
  if (Math.abs(seconds) > 8.64e12) throw invalid(`tar: pax mtime out of range before byte ${at}`);
  return unixTime(seconds, m[2] === undefined ? 0 : Number(m[2].padEnd(9, '0')));
}

/** pax records: "<length> <key>=<value>\n", the length counting the whole record. */
function parsePax(body: Buffer, at: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    if (body[i] === 0) break; // some writers pad with NULs
    const space = body.indexOf(0x20, i);
    if (space === -1 || space - i > 20) throw invalid(`tar: a malformed pax record before byte ${at}`);
    const length = Number(body.toString('latin1', i, space));
    if (!Number.isSafeInteger(length) || length <= space - i + 1 || i + length > body.length || body[i + length - 1] !== 0x0a) {
      throw invalid(`tar: a malformed pax record before byte ${at}`);
    }
    const record = body.toString('utf8', space + 1, i + length - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw invalid(`tar: a pax record without a key before byte ${at}`);
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += length;
  }
  return out;
}
