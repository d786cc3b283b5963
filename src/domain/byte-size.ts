import { WharfError } from '../errors/wharf-error.js';

/**
 * Byte sizes as people write them: `1073741824`, `500MB`, `50GiB`, `1.5TB`. Decimal units (kB,
 * MB, GB, TB, PB) are powers of 1000 and binary units (KiB ... PiB) powers of 1024, as IEC 80000-13
 * has it; `B` is bytes. Case-insensitive units, optional space. The result is a whole number of
 * bytes (rounded down) up to 2^53 - 1.
 */
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
};
const SIZE_RE = /^([0-9]{1,16}(?:\.[0-9]{1,6})?)\s?([a-zA-Z]{1,3})?$/;

export function parseByteSize(input: string): number {
  const m = SIZE_RE.exec(input.trim());
  const unit = m?.[2]?.toLowerCase() ?? 'b';
  const factor = UNITS[unit];
  if (!m || factor === undefined) {
    throw new WharfError('REQUEST_INVALID', `${JSON.stringify(input.slice(0, 40))} is not a size: use bytes or a unit, e.g. 500MB, 50GiB, 1.5TB`);
  }
  const bytes = Math.floor(Number(m[1]) * factor);
  if (!Number.isSafeInteger(bytes)) throw new WharfError('REQUEST_INVALID', `${input.slice(0, 40)} is too large`);
  return bytes;
}

/** 1536 -> "1.5 KiB"; binary units, as `du -h` and registries' UIs show them. */
export function formatByteSize(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const text = i === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${bytes < 0 ? '-' : ''}${text} ${units[i]}`;
}
