/**
 * Alpine apk version comparison, following the rules apk-tools applies (apk-package(5), version.c):
 * `digits{.digits}[letter]{_suffix[number]}[-r#]`. Numbers compare as integers, except that a
 * component after a dot with leading zeros compares as a fraction (1.01 < 1.1); pre-release suffixes
 * (_alpha < _beta < _pre < _rc) sort before the bare version, post-release ones
 * (_cvs < _svn < _git < _hg < _p) after it; `-rN` is the package revision. Pure.
 */
const enum Token {
  Invalid = -1,
  DigitOrZero = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  RevisionNo = 5,
  End = 6,
}

const PRE_SUFFIXES = ['alpha', 'beta', 'pre', 'rc'];
const POST_SUFFIXES = ['cvs', 'svn', 'git', 'hg', 'p'];

interface Cursor {
  s: string;
  i: number;
  type: Token;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';

/** Decides the type of the token starting at the cursor (consuming its separator). */
function nextToken(cur: Cursor): void {
  const c = cur.s[cur.i];
  if (c === undefined) {
    cur.type = Token.End;
  } else if ((cur.type === Token.Digit || cur.type === Token.DigitOrZero) && isLower(c)) {
    cur.type = Token.Letter;
  } else if (cur.type === Token.Letter && isDigit(c)) {
    cur.type = Token.Digit;
  } else if (cur.type === Token.Suffix && isDigit(c)) {
    cur.type = Token.SuffixNo;
  } else if (c === '.') {
    cur.type = Token.DigitOrZero;
    cur.i++;
  } else if (c === '_') {
    cur.type = Token.Suffix;
    cur.i++;
  } else if (c === '-' && cur.s[cur.i + 1] === 'r') {
    cur.type = Token.RevisionNo;
    cur.i += 2;
  } else {
    cur.type = Token.Invalid;
  }
}

/** Reads the value of the current token and advances to the next one. */
function takeToken(cur: Cursor): number {
  let v = 0;
  let forced: Token | undefined;
  const { s } = cur;
  switch (cur.type) {
    case Token.DigitOrZero:
      if (s[cur.i] === '0') {
        const start = cur.i;
        while (s[cur.i] === '0') cur.i++;
        v = -(cur.i - start);
        // digits after the zeros are the rest of this component (1.01 is -1 then 1); a lone 0 is done
        if (isDigit(s[cur.i])) forced = Token.Digit;
        break;
      }
    // falls through: no leading zero, an ordinary number
    case Token.Digit:
    case Token.SuffixNo:
    case Token.RevisionNo:
      while (isDigit(s[cur.i])) {
        v = v * 10 + (s.charCodeAt(cur.i) - 48);
        if (v > Number.MAX_SAFE_INTEGER / 10) v = Number.MAX_SAFE_INTEGER / 10;
        cur.i++;
      }
      break;
    case Token.Letter:
      v = s.charCodeAt(cur.i);
      cur.i++;
      break;
    case Token.Suffix: {
      const pre = PRE_SUFFIXES.findIndex((p) => s.startsWith(p, cur.i));
      if (pre >= 0) {
        cur.i += PRE_SUFFIXES[pre]!.length;
        v = pre - PRE_SUFFIXES.length;
        break;
      }
      const post = POST_SUFFIXES.findIndex((p) => s.startsWith(p, cur.i));
      if (post >= 0) {
        cur.i += POST_SUFFIXES[post]!.length;
        v = post;
        break;
      }
      cur.type = Token.Invalid;
      return -1;
    }
    default:
      cur.type = Token.Invalid;
      return -1;
  }
  if (cur.i >= s.length) cur.type = Token.End;
  else if (forced !== undefined) cur.type = forced;
  else nextToken(cur);
  return v;
}

/** true when the whole string tokenizes (apk accepts nothing else). */
export function isApkVersion(s: string): boolean {
  if (s === '' || !isDigit(s[0])) return false;
  const cur: Cursor = { s, i: 0, type: Token.Digit };
  while (cur.type !== Token.End && cur.type !== Token.Invalid) takeToken(cur);
  return cur.type === Token.End;
}

/** -1, 0 or 1. Throws RangeError for a string that is not an apk version. */
export function compareApkVersions(a: string, b: string): -1 | 0 | 1 {
  if (!isApkVersion(a) || !isApkVersion(b)) throw new RangeError(`not an apk version: ${JSON.stringify(isApkVersion(a) ? b : a).slice(0, 80)}`);
  const ca: Cursor = { s: a, i: 0, type: Token.Digit };
  const cb: Cursor = { s: b, i: 0, type: Token.Digit };
  let av = 0;
  let bv = 0;
  while (ca.type === cb.type && ca.type !== Token.End && ca.type !== Token.Invalid && av === bv) {
    av = takeToken(ca);
    bv = takeToken(cb);
  }
  if (av < bv) return -1;
  if (av > bv) return 1;
  if (ca.type === cb.type) return 0;
  // equal so far: the longer version is greater, unless what follows is a pre-release suffix
  if (ca.type === Token.Suffix && takeToken({ ...ca }) < 0) return -1;
  if (cb.type === Token.Suffix && takeToken({ ...cb }) < 0) return 1;
  if (ca.type > cb.type) return -1;
  if (cb.type > ca.type) return 1;
  return 0;
}
