/**
 * Debian package version comparison, as dpkg does it (deb-version(7)): [epoch:]upstream[-revision].
 * Epochs compare as integers; upstream and revision are compared part by part, alternating a run
 * of non-digits (compared character by character, where `~` sorts before everything, even the end
 * of the string, and letters sort before other characters) and a run of digits (compared as
 * integers). Pure; also used for Ubuntu.
 */
export interface DebianVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

const ALLOWED = /^[A-Za-z0-9.+~:-]+$/;

/** undefined when the string is not a plausible Debian version (empty, spaces, a bad epoch). */
export function parseDebianVersion(input: string): DebianVersion | undefined {
  const s = input.trim();
  if (s === '' || !ALLOWED.test(s)) return undefined;
  let epoch = 0;
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    const e = s.slice(0, colon);
    if (!/^[0-9]{1,9}$/.test(e)) return undefined;
    epoch = Number(e);
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (upstream === '' || (dash >= 0 && revision === '')) return undefined;
  return { epoch, upstream, revision };
}

/** Weight of one character in a non-digit run: `~` < end of run < letters < everything else. */
function order(code: number | undefined): number {
  if (code === undefined) return 0;
  if (code === 0x7e) return -1; // '~'
  if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) return code;
  return code + 256;
}

function isDigit(code: number | undefined): boolean {
  return code !== undefined && code >= 0x30 && code <= 0x39;
}

/** dpkg's verrevcmp: compares one upstream or revision string. */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = i < a.length && !isDigit(a.charCodeAt(i)) ? order(a.charCodeAt(i)) : order(undefined);
      const bc = j < b.length && !isDigit(b.charCodeAt(j)) ? order(b.charCodeAt(j)) : order(undefined);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** -1, 0 or 1. Throws RangeError for an unparseable version (callers check with parse first). */
export function compareDebianVersions(a: string, b: string): -1 | 0 | 1 {
  const va = parseDebianVersion(a);
  const vb = parseDebianVersion(b);
  if (!va || !vb) throw new RangeError(`not a Debian version: ${JSON.stringify(va ? b : a).slice(0, 80)}`);
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  const up = compareFragment(va.upstream, vb.upstream);
  if (up !== 0) return sign(up);
  return sign(compareFragment(va.revision, vb.revision));
}
