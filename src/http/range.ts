import { WharfError } from '../errors/wharf-error.js';

/** Inclusive byte range. */
export interface Range {
  start: number;
  end: number;
}

const RANGE_RE = /^bytes=(\d*)-(\d*)$/i;
const UNIT_RE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)=/;

/**
 * Parses a `Range` request header against a blob of `size` bytes (RFC 9110 14.2). Returns
 * undefined for "serve the whole blob" (no header, or several ranges, which we may ignore);
 * throws RANGE_INVALID (416) when malformed or unsatisfiable.
 */
export function parseRangeHeader(header: string | undefined, size: number): Range | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value.includes(',')) return undefined;
  // RFC 9110 14.2: a range unit the server does not understand means "ignore the header".
  const unit = UNIT_RE.exec(value)?.[1];
  if (unit !== undefined && unit.toLowerCase() !== 'bytes') return undefined;
  const m = RANGE_RE.exec(value);
  if (!m) throw new WharfError('RANGE_INVALID', `Range ${JSON.stringify(value.slice(0, 60))} is malformed`);
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') throw new WharfError('RANGE_INVALID', 'Range has neither start nor end');
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) throw new WharfError('RANGE_INVALID', 'suffix Range is empty');
    // a suffix longer than the blob (however long) selects the whole blob (RFC 9110 14.1.1)
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw new WharfError('RANGE_INVALID', 'Range is too large');
    if (b !== '' && Number(b) < start) throw new WharfError('RANGE_INVALID', 'Range ends before it starts');
  }
  if (start >= size || size === 0) {
    throw new WharfError('RANGE_INVALID', `Range starts at ${start} but the blob has ${size} bytes`, { size });
  }
  return { start, end };
}

const CONTENT_RANGE_RE = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})$/;

/**
 * Parses the `Content-Range` of an upload chunk. The distribution spec's form is `start-end`
 * (inclusive); the RFC form `bytes start-end/total` is accepted too. Throws RANGE_INVALID.
 */
export function parseContentRange(header: string | undefined): Range | undefined {
  if (header === undefined) return undefined;
  const value = header.trim().replace(/\/(?:\d+|\*)$/, '');
  const m = CONTENT_RANGE_RE.exec(value);
  if (!m) throw new WharfError('RANGE_INVALID', `Content-Range ${JSON.stringify(header.slice(0, 60))} is malformed`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new WharfError('RANGE_INVALID', 'Content-Range ends before it starts');
  return { start, end };
}
