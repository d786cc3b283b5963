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
 * need a condition. The REST API's form is accepted too: the action as an enum ("DELETE",
 * "KEEP"), `id` for `name`, and Repository.cleanupPolicies' map from id to policy.
 *
 * In Wharf a policy belongs to one repository: a "version" is a manifest (its name is its
 * digest), and the "package" is the repository — packageNamePrefixes match its full name or its
 * last path component.
 *
 * Checked against Google's documentation:
 * - https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy (the policy
 *   file, its fields, "you can't use conditions and most recent versions in the same keep
 *   policy", dry run; at most 10 policies per repository)
 * - https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview ("If an
 *   artifact version matches criteria in both a delete policy and a keep policy, Artifact
 *   Registry applies the keep policy", with the worked example test/lifecycle/policy-evaluate.test.ts
 *   replays)
 * - the v1 API reference (CleanupPolicyCondition: tagState TAG_STATE_UNSPECIFIED | TAGGED |
 *   UNTAGGED | ANY, olderThan/newerThan as google.protobuf.Duration such as "2592000s";
 *   CleanupPolicyMostRecentVersions: packageNamePrefixes, keepCount)
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
  // the REST API's Repository.cleanupPolicies is a map from policy id to policy
  const entries: [string | number, unknown][] | undefined = Array.isArray(v) ? v.map((item, i) => [i, item]) : isObject(v) ? Object.entries(v) : undefined;
  if (entries === undefined) {
    problems.add(base, 'an Artifact Registry cleanup policy is a list of policies (the JSON file gcloud takes) or a map of them by id (the REST API)');
    return [];
  }
  if (entries.length === 0) problems.add(base, 'lists no policy');
  if (entries.length > GAR_MAX_POLICIES) {
    problems.add(base, `has ${entries.length} policies; a repository takes at most ${GAR_MAX_POLICIES}`);
    return [];
  }
  const names = new Map<string, string>();
  const out: GarPolicy[] = [];
  for (const [key, item] of entries) {
    const at = ptr(base, key);
    const p = parsePolicy(item, at, problems, typeof key === 'string' ? key : undefined);
    if (!p) continue;
    const seen = names.get(p.name);
    if (seen !== undefined) problems.add(ptr(at, 'name'), `${JSON.stringify(p.name)} is also the name of ${seen}; names must be unique`);
    else names.set(p.name, at);
    out.push(p);
  }
  return out;
}

function parsePolicy(v: unknown, at: string, problems: Problems, mapKey?: string): GarPolicy | undefined {
  if (!isObject(v)) {
    problems.add(at, 'must be an object with name, action and condition or mostRecentVersions');
    return undefined;
  }
  // gcloud's file names a policy with "name", the REST API with "id" (and the map key)
  onlyKeys(v, ['name', 'id', 'action', 'condition', 'mostRecentVersions'], at, problems);
  const before = problems.list.length;
  if (v.name !== undefined && v.id !== undefined && v.name !== v.id) problems.add(ptr(at, 'id'), 'differs from name; give one of them');
  if (mapKey !== undefined && (v.id ?? v.name) !== undefined && (v.id ?? v.name) !== mapKey) problems.add(ptr(at, v.id !== undefined ? 'id' : 'name'), `differs from the key ${JSON.stringify(mapKey.slice(0, 64))}`);
  const name = v.name ?? v.id ?? mapKey;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    problems.add(ptr(at, v.name === undefined && v.id !== undefined ? 'id' : 'name'), 'is required: 1-63 letters, digits, -, _ or ., starting with a letter or digit');
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
