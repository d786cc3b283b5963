/**
 * Parsing of vulnerability records in the OSV schema (ossf/osv-schema, 1.x) into what matching
 * needs. Strict about structure (a malformed record is refused with a reason, never half-read),
 * lenient about what matching does not use. `GIT` ranges are dropped (an image has no commits);
 * severity is decided once here (severity.ts). Pure.
 */
import { normalizePackageName, splitEcosystem } from '../versions/ecosystems.js';
import { severityOf, type Severity } from './severity.js';

export type RangeEvent =
  | { introduced: string }
  | { fixed: string }
  | { last_affected: string }
  | { limit: string };

export interface AffectedRange {
  type: 'ECOSYSTEM' | 'SEMVER';
  events: RangeEvent[];
}

export interface AffectedPackage {
  /** base ecosystem, e.g. Debian, PyPI */
  ecosystem: string;
  /** release of the ecosystem (`12` of `Debian:12`); '' when the record names none */
  release: string;
  /** name as matching compares it (PyPI: PEP 503 normalized) */
  name: string;
  ranges: AffectedRange[];
  versions: string[];
  /** per-package severity, when the record gives one for this package */
  severity?: Severity;
}

export interface Advisory {
  id: string;
  /** ms since the epoch */
  modified: number;
  published?: number;
  withdrawn?: number;
  /** aliases and upstream ids (CVE ids among them), without duplicates */
  aliases: string[];
  summary: string;
  severity: Severity;
  affected: AffectedPackage[];
}

export class OsvRecordError extends Error {
  constructor(
    readonly recordId: string | undefined,
    message: string,
  ) {
    super(recordId ? `${recordId}: ${message}` : message);
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}$/;
const MAX_AFFECTED = 5000;
const MAX_EVENTS = 5000;
const MAX_VERSIONS = 50_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, what: string, id: string, max = 1000): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > max || v.some((x) => typeof x !== 'string')) throw new OsvRecordError(id, `${what} must be a list of at most ${max} strings`);
  return v as string[];
}

function time(v: unknown, what: string, id: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new OsvRecordError(id, `${what} is not an RFC 3339 time`);
  return t;
}

function parseEvent(v: unknown, id: string): RangeEvent | undefined {
  if (!isObject(v)) throw new OsvRecordError(id, 'a range event must be an object');
  const keys = Object.keys(v);
  if (keys.length !== 1) throw new OsvRecordError(id, 'a range event must have exactly one of introduced, fixed, last_affected, limit');
  const key = keys[0]!;
  const value = v[key];
  if (typeof value !== 'string' || value === '' || value.length > 256) throw new OsvRecordError(id, `range event ${key} must be a non-empty version string`);
  switch (key) {
    case 'introduced':
      return { introduced: value };
    case 'fixed':
      return { fixed: value };
    case 'last_affected':
      return { last_affected: value };
    case 'limit':
      return { limit: value };
    default:
      throw new OsvRecordError(id, `unknown range event ${key.slice(0, 40)}`);
  }
}

function parseAffected(v: unknown, id: string): AffectedPackage | undefined {
  if (!isObject(v)) throw new OsvRecordError(id, 'affected entries must be objects');
  const pkg = v.package;
  if (pkg === undefined) return undefined; // OSV allows affected without a package (e.g. only GIT ranges)
  if (!isObject(pkg) || typeof pkg.ecosystem !== 'string' || typeof pkg.name !== 'string' || pkg.name === '' || pkg.ecosystem === '') {
    throw new OsvRecordError(id, 'affected[].package needs string ecosystem and name');
  }
  if (pkg.name.length > 512 || pkg.ecosystem.length > 128) throw new OsvRecordError(id, 'affected[].package name or ecosystem too long');
  const { base, release } = splitEcosystem(pkg.ecosystem);
  const ranges: AffectedRange[] = [];
  if (v.ranges !== undefined) {
    if (!Array.isArray(v.ranges)) throw new OsvRecordError(id, 'affected[].ranges must be a list');
    for (const r of v.ranges) {
      if (!isObject(r) || typeof r.type !== 'string' || !Array.isArray(r.events)) throw new OsvRecordError(id, 'a range needs a type and a list of events');
      if (r.events.length > MAX_EVENTS) throw new OsvRecordError(id, `a range has more than ${MAX_EVENTS} events`);
      const events = r.events.map((e) => parseEvent(e, id)).filter((e): e is RangeEvent => e !== undefined);
      if (r.type === 'GIT') continue;
      if (r.type !== 'ECOSYSTEM' && r.type !== 'SEMVER') throw new OsvRecordError(id, `unknown range type ${r.type.slice(0, 40)}`);
      if (!events.some((e) => 'introduced' in e)) throw new OsvRecordError(id, 'a range needs at least one introduced event');
      ranges.push({ type: r.type, events });
    }
  }
  const versions = stringList(v.versions, 'affected[].versions', id, MAX_VERSIONS);
  const severity = Array.isArray(v.severity) || isObject(v.ecosystem_specific) || isObject(v.database_specific) ? severityOf(v) : undefined;
  return {
    ecosystem: base,
    release,
    name: normalizePackageName(base, pkg.name),
    ranges,
    versions,
    ...(severity && severity.level !== 'UNKNOWN' ? { severity } : {}),
  };
}

/** Parses one OSV record (already JSON-decoded). Throws OsvRecordError with the reason. */
export function parseOsvRecord(v: unknown): Advisory {
  if (!isObject(v)) throw new OsvRecordError(undefined, 'an OSV record must be a JSON object');
  const id = v.id;
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new OsvRecordError(undefined, 'id is missing or not a plausible OSV id');
  const modified = time(v.modified, 'modified', id) ?? time(v.published, 'published', id);
  if (modified === undefined) throw new OsvRecordError(id, 'modified is required');
  if (v.affected !== undefined && !Array.isArray(v.affected)) throw new OsvRecordError(id, 'affected must be a list');
  const rawAffected = (v.affected as unknown[] | undefined) ?? [];
  if (rawAffected.length > MAX_AFFECTED) throw new OsvRecordError(id, `more than ${MAX_AFFECTED} affected entries`);
  const aliases = [...new Set([...stringList(v.aliases, 'aliases', id), ...stringList(v.upstream, 'upstream', id)])].filter((a) => a !== id);
  if (v.summary !== undefined && typeof v.summary !== 'string') throw new OsvRecordError(id, 'summary must be a string');
  if (v.details !== undefined && typeof v.details !== 'string') throw new OsvRecordError(id, 'details must be a string');
  if (v.severity !== undefined && !Array.isArray(v.severity)) throw new OsvRecordError(id, 'severity must be a list');
  const summary = ((v.summary as string | undefined) || ((v.details as string | undefined) ?? '').split('\n')[0] || '').trim().slice(0, 500);
  return {
    id,
    modified,
    published: time(v.published, 'published', id),
    withdrawn: time(v.withdrawn, 'withdrawn', id),
    aliases,
    summary,
    severity: severityOf(v),
    affected: rawAffected.map((a) => parseAffected(a, id)).filter((a): a is AffectedPackage => a !== undefined),
  };
}
