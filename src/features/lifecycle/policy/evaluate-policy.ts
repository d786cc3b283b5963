import type { GarCondition, GarPolicy } from './artifact-registry-policy.js';
import type { CleanupPolicy } from './cleanup-policy.js';
import { ecrPatternMatches, type EcrRule } from './ecr-policy.js';

/**
 * Decides which manifests of one repository a cleanup policy deletes. Pure: the caller passes the
 * repository's manifests (their tags, children, subject, push and pull times) and the clock.
 *
 * Which manifests are "images" the rules look at: every manifest except index children that
 * carry no tag of their own and referrers of a subject in the repository — those follow what
 * owns them. After the rules (and their Keep rules, which win), the kept set is closed: a kept
 * manifest keeps its children and its referrers; whatever is not kept goes. So an index's child
 * goes only when every index listing it goes, a referrer (signature, SBOM) goes with its subject,
 * and a manifest a kept index references is never deleted, whatever the rules said about it
 * (ECR documents the same for manifest lists: "If an image is referenced by a manifest list, it
 * cannot be expired without the manifest list being deleted first",
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html).
 *
 * Wharf's extras are Keep rules that win over every delete, in both formats: an image pulled
 * within keepPulledWithinDays, and (keepProtectedTags) any manifest an immutable tag points to —
 * also a tagged referrer or index child, which then keeps what it lists and what refers to it.
 *
 * The delete list is ordered so that applying it in order is safe: an index before the children
 * it lists, a subject before its referrers (cleanup-service.ts deletes a referrer only once its
 * subject is gone, so a subject left alone at delete time keeps its signatures).
 */
export interface PolicyImage {
  digest: string;
  tags: readonly string[];
  /** push time (ms) */
  createdAt: number;
  lastPulledAt: number | null;
  children: readonly string[];
  subjectDigest: string | null;
}

export interface EvaluationContext {
  repository: string;
  now: number;
  /** the immutable-tag rule protecting a tag, if one does */
  protectedTag?: (tag: string) => string | undefined;
}

export interface Decision {
  digest: string;
  tags: string[];
  pushedAt: number;
  lastPulledAt: number | null;
  /** the rule (policy name, or ECR rule) that selects it, or what it goes with */
  rule: string;
  /** for images kept despite a rule: why */
  keptBecause?: string;
}

export interface Evaluation {
  /** what goes, in an order that deletes parents before children */
  delete: Decision[];
  /** selected by a delete rule, but kept (a Keep rule, or something kept references it) */
  kept: Decision[];
  /** manifests in the repository */
  total: number;
}

const DAY = 86_400_000;

export function evaluatePolicy(images: readonly PolicyImage[], policy: CleanupPolicy, ctx: EvaluationContext): Evaluation {
  const byDigest = new Map(images.map((i) => [i.digest, i]));
  const parents = new Map<string, string[]>();
  for (const i of images) for (const c of i.children) if (byDigest.has(c)) (parents.get(c) ?? parents.set(c, []).get(c)!).push(i.digest);
  const referrers = new Map<string, string[]>();
  for (const i of images) {
    if (i.subjectDigest !== null && byDigest.has(i.subjectDigest) && i.subjectDigest !== i.digest) {
      (referrers.get(i.subjectDigest) ?? referrers.set(i.subjectDigest, []).get(i.subjectDigest)!).push(i.digest);
    }
  }
  const isReferrerOfPresent = (i: PolicyImage) => i.subjectDigest !== null && byDigest.has(i.subjectDigest) && i.subjectDigest !== i.digest;
  const evaluated = images.filter((i) => !isReferrerOfPresent(i) && (i.tags.length > 0 || !parents.has(i.digest)));

  // 1. the rules of the format: selected -> rule
  const selected = policy.format === 'ecr' ? selectEcr(evaluated, policy.ecr?.rules ?? [], ctx) : selectGar(evaluated, policy.gar ?? [], ctx);

  // 2. Keep rules of the format and Wharf's extras win over deletes
  const keptBy = new Map<string, string>();
  if (policy.format === 'artifact-registry') for (const [d, why] of keepGar(evaluated, policy.gar ?? [], ctx)) keptBy.set(d, why);
  for (const i of evaluated) {
    if (!selected.has(i.digest) || keptBy.has(i.digest)) continue;
    if (policy.keepPulledWithinDays !== undefined && i.lastPulledAt !== null && i.lastPulledAt >= ctx.now - policy.keepPulledWithinDays * DAY) {
      keptBy.set(i.digest, `pulled within ${policy.keepPulledWithinDays} days (keepPulledWithinDays)`);
    }
  }
  // what an immutable tag points to stays, whatever it is (an image, an index's child, a referrer)
  const protectedBy = new Map<string, string>();
  if (policy.keepProtectedTags && ctx.protectedTag) {
    for (const i of images) {
      const tag = i.tags.find((t) => ctx.protectedTag!(t) !== undefined);
      if (tag !== undefined) protectedBy.set(i.digest, `tag ${tag} is immutable (keepProtectedTags)`);
    }
  }
  for (const [d, why] of protectedBy) if (!keptBy.has(d)) keptBy.set(d, why);
  const isEvaluated = new Set(evaluated.map((i) => i.digest));

  // 3. close the kept set over children and referrers
  const kept = new Map<string, string | undefined>();
  const stack: [string, string | undefined][] = [
    ...evaluated.filter((i) => !selected.has(i.digest) || keptBy.has(i.digest)).map((i): [string, string | undefined] => [i.digest, keptBy.get(i.digest)]),
    ...[...protectedBy].filter(([d]) => !isEvaluated.has(d)),
  ];
  while (stack.length > 0) {
    const [d, why] = stack.pop()!;
    if (kept.has(d)) continue;
    kept.set(d, why);
    const i = byDigest.get(d)!;
    for (const c of i.children) if (byDigest.has(c) && !kept.has(c)) stack.push([c, `listed by kept index ${d}`]);
    for (const r of referrers.get(d) ?? []) if (!kept.has(r)) stack.push([r, `refers to kept ${d}`]);
  }

  const decision = (i: PolicyImage, rule: string, keptBecause?: string): Decision => ({
    digest: i.digest,
    tags: [...i.tags],
    pushedAt: i.createdAt,
    lastPulledAt: i.lastPulledAt,
    rule,
    ...(keptBecause !== undefined ? { keptBecause } : {}),
  });
  const doomed = images.filter((i) => !kept.has(i.digest));
  const doomedSet = new Set(doomed.map((i) => i.digest));
  const keptDespite: Decision[] = [];
  for (const i of evaluated) {
    const rule = selected.get(i.digest);
    if (rule !== undefined && kept.has(i.digest)) keptDespite.push(decision(i, rule, kept.get(i.digest) ?? 'kept'));
  }
  // a protected referrer or child whose owner goes: it stays, and the report says why
  for (const i of images) {
    if (isEvaluated.has(i.digest) || !protectedBy.has(i.digest)) continue;
    const owner = isReferrerOfPresent(i) ? i.subjectDigest! : (parents.get(i.digest) ?? []).find((p) => doomedSet.has(p));
    if (owner !== undefined && doomedSet.has(owner)) {
      keptDespite.push(decision(i, isReferrerOfPresent(i) ? `goes with its subject ${owner}` : `goes with index ${owner}`, protectedBy.get(i.digest)));
    }
  }
  // deletion order: a manifest after every manifest that lists it and after its subject
  const ordered: Decision[] = [];
  const placed = new Set<string>();
  const place = (i: PolicyImage, trail: Set<string>): void => {
    if (placed.has(i.digest) || trail.has(i.digest)) return;
    trail.add(i.digest);
    for (const p of parents.get(i.digest) ?? []) if (doomedSet.has(p)) place(byDigest.get(p)!, trail);
    if (isReferrerOfPresent(i) && doomedSet.has(i.subjectDigest!)) place(byDigest.get(i.subjectDigest!)!, trail);
    placed.add(i.digest);
    const rule =
      selected.get(i.digest) ??
      (isReferrerOfPresent(i)
        ? `goes with its subject ${i.subjectDigest}`
        : `goes with index ${(parents.get(i.digest) ?? []).find((p) => doomedSet.has(p)) ?? '?'}`);
    ordered.push(decision(i, rule));
  };
  for (const i of doomed) place(i, new Set());
  return { delete: ordered, kept: keptDespite, total: images.length };
}

// --- Artifact Registry ---

function packageMatches(repository: string, prefixes: readonly string[]): boolean {
  const base = repository.slice(repository.lastIndexOf('/') + 1);
  return prefixes.some((p) => repository.startsWith(p) || base.startsWith(p));
}

function garMatches(c: GarCondition, i: PolicyImage, ctx: EvaluationContext): boolean {
  if (c.tagState === 'tagged' && i.tags.length === 0) return false;
  if (c.tagState === 'untagged' && i.tags.length > 0) return false;
  if (c.tagPrefixes && !i.tags.some((t) => c.tagPrefixes!.some((p) => t.startsWith(p)))) return false;
  if (c.versionNamePrefixes) {
    const hex = i.digest.slice(i.digest.indexOf(':') + 1);
    if (!c.versionNamePrefixes.some((p) => i.digest.startsWith(p) || hex.startsWith(p))) return false;
  }
  if (c.packageNamePrefixes && !packageMatches(ctx.repository, c.packageNamePrefixes)) return false;
  const age = ctx.now - i.createdAt;
  if (c.olderThan !== undefined && !(age > c.olderThan)) return false;
  if (c.newerThan !== undefined && !(age < c.newerThan)) return false;
  return true;
}

function selectGar(images: readonly PolicyImage[], policies: readonly GarPolicy[], ctx: EvaluationContext): Map<string, string> {
  const out = new Map<string, string>();
  const deletes = policies.filter((p) => p.action === 'delete' && p.condition);
  for (const i of images) {
    const p = deletes.find((d) => garMatches(d.condition!, i, ctx));
    if (p) out.set(i.digest, p.name);
  }
  return out;
}

function keepGar(images: readonly PolicyImage[], policies: readonly GarPolicy[], ctx: EvaluationContext): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of policies) {
    if (p.action !== 'keep') continue;
    if (p.condition) {
      for (const i of images) if (!out.has(i.digest) && garMatches(p.condition, i, ctx)) out.set(i.digest, `Keep policy ${p.name}`);
    } else if (p.mostRecentVersions) {
      const prefixes = p.mostRecentVersions.packageNamePrefixes;
      if (prefixes && !packageMatches(ctx.repository, prefixes)) continue;
      const newest = [...images].sort(newestFirst).slice(0, p.mostRecentVersions.keepCount);
      for (const i of newest) if (!out.has(i.digest)) out.set(i.digest, `Keep policy ${p.name} (${p.mostRecentVersions.keepCount} most recent)`);
    }
  }
  return out;
}

// --- ECR ---

function ecrTagsMatch(r: EcrRule, i: PolicyImage): boolean {
  if (r.tagStatus === 'any') return true;
  if (r.tagStatus === 'untagged') return i.tags.length === 0;
  if (i.tags.length === 0) return false;
  // every prefix (pattern) of the list must match one of the image's tags
  if (r.tagPrefixList) return r.tagPrefixList.every((p) => i.tags.some((t) => t.startsWith(p)));
  if (r.tagPatternList) return r.tagPatternList.every((p) => i.tags.some((t) => ecrPatternMatches(p, t)));
  return false;
}

function ruleName(r: EcrRule): string {
  return `rule ${r.rulePriority}${r.description ? ` (${r.description})` : ''}`;
}

/**
 * ECR's evaluation: rules in rulePriority order; a rule counts (imageCountMoreThan) every image
 * its tag selection matches, including those a higher rule expires, but expires only images no
 * higher rule's tag selection matched; an image is expired by at most one rule; older images go
 * before newer ones (push time).
 */
function selectEcr(images: readonly PolicyImage[], rules: readonly EcrRule[], ctx: EvaluationContext): Map<string, string> {
  const out = new Map<string, string>();
  const claimed = new Set<string>();
  for (const r of rules) {
    const matching = images.filter((i) => ecrTagsMatch(r, i));
    let candidates: PolicyImage[];
    if (r.countType === 'imageCountMoreThan') candidates = [...matching].sort(newestFirst).slice(r.countNumber);
    else if (r.countType === 'sinceImagePushed') candidates = matching.filter((i) => i.createdAt < ctx.now - r.countNumber * DAY);
    else candidates = matching.filter((i) => (i.lastPulledAt ?? i.createdAt) < ctx.now - r.countNumber * DAY);
    for (const c of candidates) if (!claimed.has(c.digest) && !out.has(c.digest)) out.set(c.digest, ruleName(r));
    for (const m of matching) claimed.add(m.digest);
  }
  return out;
}

function newestFirst(a: PolicyImage, b: PolicyImage): number {
  return b.createdAt - a.createdAt || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
}
