/**
 * Does an installed version fall in an OSV `affected` entry? The evaluation the OSV schema
 * specifies: the version is listed in `versions`, or some ECOSYSTEM/SEMVER range contains it —
 * events sorted by version ("0" first), each `introduced` at or below the version opens the range,
 * each `fixed` at or below it (or `last_affected` below it) closes it, and with `limit` events the
 * version must also be below one of them. Ranges whose versions the ecosystem's ordering cannot
 * read are skipped rather than guessed at. Pure.
 */
import { SEMVER, versionScheme, type VersionScheme } from '../versions/ecosystems.js';
import type { AffectedPackage, AffectedRange, RangeEvent } from './osv.js';

export interface MatchResult {
  affected: boolean;
  /** the lowest `fixed` version above the installed one in a range that contains it */
  fixed?: string;
}

function eventVersion(e: RangeEvent): string {
  return 'introduced' in e ? e.introduced : 'fixed' in e ? e.fixed : 'last_affected' in e ? e.last_affected : e.limit;
}

/** -1/0/1; "0" as introduced is below everything, "*" as limit above everything */
function compareEvent(scheme: VersionScheme, a: RangeEvent, b: RangeEvent): number {
  const rank = (e: RangeEvent): number => ('introduced' in e && e.introduced === '0' ? -1 : 'limit' in e && e.limit === '*' ? 1 : 0);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 0 || rb !== 0) return ra - rb;
  return scheme.compare(eventVersion(a), eventVersion(b));
}

function readable(scheme: VersionScheme, e: RangeEvent): boolean {
  if ('introduced' in e && e.introduced === '0') return true;
  if ('limit' in e && e.limit === '*') return true;
  return scheme.valid(eventVersion(e));
}

function evaluateRange(version: string, range: AffectedRange, scheme: VersionScheme): MatchResult {
  if (!range.events.every((e) => readable(scheme, e))) return { affected: false };
  const events = [...range.events].sort((a, b) => compareEvent(scheme, a, b));
  const limits = events.filter((e): e is { limit: string } => 'limit' in e);
  if (limits.length > 0 && !limits.some((l) => l.limit === '*' || scheme.compare(version, l.limit) < 0)) return { affected: false };
  let affected = false;
  for (const e of events) {
    if ('introduced' in e) {
      if (e.introduced === '0' || scheme.compare(version, e.introduced) >= 0) affected = true;
    } else if ('fixed' in e) {
      if (scheme.compare(version, e.fixed) >= 0) affected = false;
    } else if ('last_affected' in e) {
      if (scheme.compare(version, e.last_affected) > 0) affected = false;
    }
  }
  if (!affected) return { affected };
  const fixed = events.find((e): e is { fixed: string } => 'fixed' in e && scheme.compare(e.fixed, version) > 0);
  return fixed ? { affected, fixed: fixed.fixed } : { affected };
}

/** Matches `version` of a package against one affected entry (the package name was matched already). */
export function matchAffected(version: string, affected: AffectedPackage): MatchResult {
  const ecosystemScheme = versionScheme(affected.ecosystem);
  let result: MatchResult = { affected: false };
  const better = (r: MatchResult): void => {
    if (!r.affected) return;
    if (!result.affected || (r.fixed !== undefined && (result.fixed === undefined || lower(r.fixed, result.fixed)))) result = r;
  };
  const lower = (a: string, b: string): boolean => (ecosystemScheme && ecosystemScheme.valid(a) && ecosystemScheme.valid(b) ? ecosystemScheme.compare(a, b) < 0 : a < b);
  for (const range of affected.ranges) {
    const scheme = range.type === 'SEMVER' ? SEMVER : ecosystemScheme;
    if (!scheme || !scheme.valid(version)) continue;
    better(evaluateRange(version, range, scheme));
  }
  if (!result.affected && affected.versions.length > 0) {
    const listed = affected.versions.includes(version) || (ecosystemScheme?.valid(version) === true && affected.versions.some((v) => ecosystemScheme.valid(v) && ecosystemScheme.compare(v, version) === 0));
    if (listed) result = { affected: true };
  }
  return result;
}
