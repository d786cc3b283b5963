import { isObject, onlyKeys, ptr, stringList, type Problems } from './problems.js';

/**
 * Google Artifact Registry cleanup policies, as `gcloud artifacts repositories
 * set-cleanup-policies --policy=FILE` takes them: a JSON list of up to 10 policies, each
 *
 *   { "name": "delete-prerelease", "action": {"type": "Delete"},
 *     "condition": { "tagState": "tagged", "tagPrefixes": ["alpha", "v0"], "olderThan": "30d" } }
 *   { "name": "keep-minimum-versions", "action": {"type": "Keep"},
 *     "mostRecentVersions": { "packageNamePrefixes": ["webapp"], "keepCount": 5 } }
 *
 * Semantics (Artifact Registry's documentation): the entries of a condition must all hold; a
 * list of prefixes holds when any prefix matches; a version that matches both a Delete and a Keep
 * policy is kept; a Keep policy has a condition or mostRecentVersions, never both; Delete policies
 * need a condition. The action is also accepted in the API's enum form ("DELETE", "KEEP").
 *
 * In Wharf a policy belongs to one repository: a "version" is a manifest (its name is its
 * digest), and the "package" is the repository — packageNamePrefixes match its full name or its
 * last path component.
 */
export type TagState = 'tagged' | 'untagged' | 'any';

export interface GarCondition {
  tagState: TagState;
  tagPrefixes?: string[];
  versionNamePrefixes?: string[];
  packageNamePrefixes?: string[];
  /** ms */
  olderThan?: number;
  /** ms */
  newerThan?: number;
}

export interface GarPolicy {
  name: string;
  action: 'delete' | 'keep';
  condition?: GarCondition;
  mostRecentVersions?: { packageNamePrefixes?: string[]; keepCount: number };
}

export const GAR_MAX_POLICIES = 10;
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const LIST = { maxItems: 100, maxLength: 256 };
const DURATION_RE = /^([0-9]{1,12})(?:\.([0-9]{1,9}))?(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** 100 years: longer is surely a mistake (and would overflow nothing, but means "never") */
const MAX_DURATION_MS = 100 * 365 * 86_400_000;

/** "30d", "12h", "90m", "2592000s", "1.5s" (protobuf JSON Duration) -> ms; undefined when malformed. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = DURATION_RE.exec(v);
  if (!m) return undefined;
  if (m[2] !== undefined && m[3] !== 's') return undefined; // fractions only of seconds, as protobuf writes them
  const ms = (Number(m[1]) + (m[2] ? Number(`0.${m[2]}`) : 0)) * UNIT_MS[m[3] as keyof typeof UNIT_MS];
  return ms <= MAX_DURATION_MS ? Math.round(ms) : undefined;
}

export function parseArtifactRegistryPolicies(v: unknown, base: string, problems: Problems): GarPolicy[] {
  if (!Array.isArray(v)) {
    problems.add(base, 'an Artifact Registry cleanup policy is a list of policies (the JSON file gcloud takes)');
    return [];
  }
  if (v.length === 0) problems.add(base, 'lists no policy');
  if (v.length > GAR_MAX_POLICIES) {
    problems.add(base, `has ${v.length} policies; a repository takes at most ${GAR_MAX_POLICIES}`);
    return [];
  }
  const names = new Map<string, number>();
  const out: GarPolicy[] = [];
  v.forEach((item, i) => {
    const at = ptr(base, i);
    const p = parsePolicy(item, at, problems);
    if (!p) return;
    const seen = names.get(p.name);
    if (seen !== undefined) problems.add(ptr(at, 'name'), `${JSON.stringify(p.name)} is also the name of policy ${seen}; names must be unique`);
    else names.set(p.name, i);
    out.push(p);
  });
  return out;
}

function parsePolicy(v: unknown, at: string, problems: Problems): GarPolicy | undefined {
  if (!isObject(v)) {
    problems.add(at, 'must be an object with name, action and condition or mostRecentVersions');
    return undefined;
  }
  onlyKeys(v, ['name', 'action', 'condition', 'mostRecentVersions'], at, problems);
  const before = problems.list.length;
  const name = v.name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    problems.add(ptr(at, 'name'), 'is required: 1-63 letters, digits, -, _ or ., starting with a letter or digit');
  }
  const action = parseAction(v.action, ptr(at, 'action'), problems);
  const hasCondition = v.condition !== undefined;
  const hasRecent = v.mostRecentVersions !== undefined;
  if (action === 'delete' && !hasCondition) problems.add(ptr(at, 'condition'), 'a Delete policy needs a condition');
  if (action === 'delete' && hasRecent) problems.add(ptr(at, 'mostRecentVersions'), 'only a Keep policy can keep the most recent versions');
  if (action === 'keep' && hasCondition && hasRecent) {
    problems.add(ptr(at, 'mostRecentVersions'), 'a Keep policy has a condition or mostRecentVersions, not both');
  }
  if (action === 'keep' && !hasCondition && !hasRecent) problems.add(at, 'a Keep policy needs a condition or mostRecentVersions');
  const condition = hasCondition ? parseCondition(v.condition, ptr(at, 'condition'), problems) : undefined;
  const mostRecentVersions = hasRecent ? parseMostRecent(v.mostRecentVersions, ptr(at, 'mostRecentVersions'), problems) : undefined;
  if (problems.list.length > before || action === undefined || typeof name !== 'string') return undefined;
  return { name, action, ...(condition ? { condition } : {}), ...(mostRecentVersions ? { mostRecentVersions } : {}) };
}

function parseAction(v: unknown, at: string, problems: Problems): 'delete' | 'keep' | undefined {
  // gcloud's file: {"type": "Delete"}; the REST API: "DELETE"
  const raw = isObject(v) ? v.type : v;
  if (isObject(v)) onlyKeys(v, ['type'], at, problems);
  if (typeof raw === 'string') {
    const t = raw.toLowerCase();
    if (t === 'delete' || t === 'keep') return t;
  }
  problems.add(isObject(v) ? ptr(at, 'type') : at, 'must be Delete or Keep ({"type": "Delete"} or "DELETE")');
  return undefined;
}

function parseCondition(v: unknown, at: string, problems: Problems): GarCondition | undefined {
  if (!isObject(v)) {
    problems.add(at, 'must be an object');
    return undefined;
  }
  onlyKeys(v, ['tagState', 'tagPrefixes', 'versionNamePrefixes', 'packageNamePrefixes', 'olderThan', 'newerThan'], at, problems);
  let tagState: TagState = 'any';
  if (v.tagState !== undefined) {
    const t = typeof v.tagState === 'string' ? v.tagState.toLowerCase() : undefined;
    if (t === 'tagged' || t === 'untagged' || t === 'any') tagState = t;
    else if (t === 'tag_state_unspecified') tagState = 'any';
    else problems.add(ptr(at, 'tagState'), 'must be tagged, untagged or any');
  }
  const c: GarCondition = { tagState };
  if (v.tagPrefixes !== undefined) {
    c.tagPrefixes = stringList(v.tagPrefixes, ptr(at, 'tagPrefixes'), problems, LIST);
    if (tagState === 'untagged') problems.add(ptr(at, 'tagPrefixes'), 'untagged versions have no tags to match: drop tagPrefixes or use tagState tagged');
  }
  if (v.versionNamePrefixes !== undefined) c.versionNamePrefixes = stringList(v.versionNamePrefixes, ptr(at, 'versionNamePrefixes'), problems, LIST);
  if (v.packageNamePrefixes !== undefined) c.packageNamePrefixes = stringList(v.packageNamePrefixes, ptr(at, 'packageNamePrefixes'), problems, LIST);
  for (const key of ['olderThan', 'newerThan'] as const) {
    if (v[key] === undefined) continue;
    const ms = parseDuration(v[key]);
    if (ms === undefined) problems.add(ptr(at, key), 'must be a duration such as "30d", "12h", "90m" or "2592000s" (at most 100 years)');
    else c[key] = ms;
  }
  return c;
}

function parseMostRecent(v: unknown, at: string, problems: Problems): GarPolicy['mostRecentVersions'] {
  if (!isObject(v)) {
    problems.add(at, 'must be an object with keepCount');
    return undefined;
  }
  onlyKeys(v, ['packageNamePrefixes', 'keepCount'], at, problems);
  const keepCount = v.keepCount;
  if (typeof keepCount !== 'number' || !Number.isInteger(keepCount) || keepCount < 1 || keepCount > 1_000_000) {
    problems.add(ptr(at, 'keepCount'), 'is required: a whole number from 1 to 1000000');
    return undefined;
  }
  const out: NonNullable<GarPolicy['mostRecentVersions']> = { keepCount };
  if (v.packageNamePrefixes !== undefined) out.packageNamePrefixes = stringList(v.packageNamePrefixes, ptr(at, 'packageNamePrefixes'), problems, LIST);
  return out;
}
