/**
 * Semantic Versioning 2.0 comparison (npm packages, OSV `SEMVER` ranges) through npm's own `semver`
 * package. A leading `v` is accepted (OSV records for Go use it); build metadata is ignored for
 * ordering, as SemVer 2.0 says. Pure.
 */
import semver from 'semver';

function parse(v: string): semver.SemVer | null {
  return semver.parse(v.startsWith('v') ? v.slice(1) : v);
}

export function isSemver(v: string): boolean {
  return parse(v) !== null;
}

/** -1, 0 or 1. Throws RangeError for a string that is not a semantic version. */
export function compareSemver(a: string, b: string): -1 | 0 | 1 {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) throw new RangeError(`not a semantic version: ${JSON.stringify(pa ? b : a).slice(0, 80)}`);
  return pa.compare(pb);
}
