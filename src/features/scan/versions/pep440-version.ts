/**
 * PEP 440 (Python) version comparison through @renovatebot/pep440, a port of pypa/packaging's
 * version ordering (epochs, pre/post/dev releases, local versions such as torch's `2.1.0+cu121`).
 * Pure. (Names are normalized per PEP 503 by content/inventory/python.ts.)
 */
import pep440 from '@renovatebot/pep440';

export function isPep440Version(v: string): boolean {
  return pep440.valid(v) !== null;
}

/** -1, 0 or 1. Throws RangeError for a string that is not a PEP 440 version. */
export function comparePep440Versions(a: string, b: string): -1 | 0 | 1 {
  if (!isPep440Version(a) || !isPep440Version(b)) throw new RangeError(`not a PEP 440 version: ${JSON.stringify(isPep440Version(a) ? b : a).slice(0, 80)}`);
  const c = pep440.compare(a, b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}
