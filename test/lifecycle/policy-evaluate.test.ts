/**
 * The cleanup policy evaluator (features/lifecycle/policy/evaluate-policy.ts), pure: Artifact
 * Registry conditions, Keep over Delete and mostRecentVersions; ECR's rule priority, counting and
 * ages, replaying the documentation's worked examples; Wharf's extras (pulled within N days,
 * immutable tags); and the manifest graph (an index keeps its children, referrers go with their
 * subject, the delete order is safe to apply).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCleanupPolicy } from '../../src/features/lifecycle/policy/cleanup-policy.js';
import { evaluatePolicy, type EvaluationContext, type PolicyImage } from '../../src/features/lifecycle/policy/evaluate-policy.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);

interface ImgOpts {
  tags?: string[];
  pulledDaysAgo?: number;
  children?: string[];
  subject?: string;
}
function img(digest: string, pushedDaysAgo: number, o: ImgOpts = {}): PolicyImage {
  return {
    digest,
    tags: o.tags ?? [],
    createdAt: NOW - pushedDaysAgo * DAY,
    lastPulledAt: o.pulledDaysAgo === undefined ? null : NOW - o.pulledDaysAgo * DAY,
    children: o.children ?? [],
    subjectDigest: o.subject ?? null,
  };
}

function run(images: PolicyImage[], doc: Record<string, unknown>, ctx: Partial<EvaluationContext> = {}) {
  const { policy } = parseCleanupPolicy(doc);
  const r = evaluatePolicy(images, policy, { repository: 'ml/webapp', now: NOW, ...ctx });
  return {
    ...r,
    deleted: r.delete.map((d) => d.digest).sort(),
    order: r.delete.map((d) => d.digest),
    rule: (digest: string) => r.delete.find((d) => d.digest === digest)?.rule,
    keptBecause: (digest: string) => r.kept.find((d) => d.digest === digest)?.keptBecause,
  };
}

const gar = (...policy: unknown[]) => ({ format: 'artifact-registry', policy });
const del = (name: string, condition: Record<string, unknown>) => ({ name, action: { type: 'Delete' }, condition });
const keep = (name: string, condition: Record<string, unknown>) => ({ name, action: { type: 'Keep' }, condition });
const ecr = (...rules: unknown[]) => ({ format: 'ecr', policy: { rules } });
const rule = (rulePriority: number, selection: Record<string, unknown>, description?: string) => ({
  rulePriority,
  ...(description ? { description } : {}),
  selection,
  action: { type: 'expire' },
});

describe('Artifact Registry: conditions', () => {
  test('tagState tagged / untagged / any', () => {
    const images = [img('t', 1, { tags: ['v1'] }), img('u', 1)];
    assert.deepEqual(run(images, gar(del('d', { tagState: 'tagged' }))).deleted, ['t']);
    assert.deepEqual(run(images, gar(del('d', { tagState: 'untagged' }))).deleted, ['u']);
    assert.deepEqual(run(images, gar(del('d', { tagState: 'any' }))).deleted, ['t', 'u']);
    assert.deepEqual(run(images, gar(del('d', {}))).deleted, ['t', 'u']);
  });

  test('tagPrefixes: any tag starting with any prefix', () => {
    const images = [img('a', 1, { tags: ['alpha-1', 'latest'] }), img('b', 1, { tags: ['v0.3'] }), img('c', 1, { tags: ['release-1'] }), img('u', 1)];
    assert.deepEqual(run(images, gar(del('d', { tagState: 'tagged', tagPrefixes: ['alpha', 'v0'] }))).deleted, ['a', 'b']);
    // a tag prefix never matches an untagged image
    assert.deepEqual(run(images, gar(del('d', { tagState: 'any', tagPrefixes: ['alpha'] }))).deleted, ['a']);
  });

  test('versionNamePrefixes: the version is the digest (with or without its algorithm)', () => {
    const images = [img('sha256:abc123', 1), img('sha256:def456', 1)];
    assert.deepEqual(run(images, gar(del('d', { versionNamePrefixes: ['sha256:ab'] }))).deleted, ['sha256:abc123']);
    assert.deepEqual(run(images, gar(del('d', { versionNamePrefixes: ['de'] }))).deleted, ['sha256:def456']);
  });

  test('packageNamePrefixes: the package is the repository (full name or last component)', () => {
    const images = [img('x', 1)];
    assert.deepEqual(run(images, gar(del('d', { packageNamePrefixes: ['web'] }))).deleted, ['x']);
    assert.deepEqual(run(images, gar(del('d', { packageNamePrefixes: ['ml/'] }))).deleted, ['x']);
    assert.deepEqual(run(images, gar(del('d', { packageNamePrefixes: ['mobile', 'ml/other'] }))).deleted, []);
  });

  test('olderThan and newerThan are ages since push; conditions combine with AND', () => {
    const images = [img('old', 40, { tags: ['alpha'] }), img('mid', 20, { tags: ['alpha'] }), img('new', 2, { tags: ['alpha'] }), img('oldbeta', 40, { tags: ['beta'] })];
    assert.deepEqual(run(images, gar(del('d', { olderThan: '30d' }))).deleted, ['old', 'oldbeta']);
    assert.deepEqual(run(images, gar(del('d', { newerThan: '7d' }))).deleted, ['new']);
    assert.deepEqual(run(images, gar(del('d', { olderThan: '10d', newerThan: '30d' }))).deleted, ['mid']);
    assert.deepEqual(run(images, gar(del('d', { olderThan: `${30 * 86_400}s`, tagPrefixes: ['alpha'], tagState: 'tagged' }))).deleted, ['old']);
  });
});

describe('Artifact Registry: Keep wins over Delete', () => {
  test("the documentation's example: delete > 100 days, keep version 2.0.6, delete tag default", () => {
    // https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview ("policy
    // application order"): A is deleted, B is kept by the keep policy although two delete
    // policies match it, C matches nothing. Versions are the digests here.
    const images = [img('2.0.1', 120, { tags: ['default'] }), img('2.0.6', 150, { tags: ['default'] }), img('1.9.2', 20, { tags: ['patch'] })];
    const r = run(images, gar(del('delete-old', { olderThan: '100d' }), keep('keep-2.0.6', { versionNamePrefixes: ['2.0.6'] }), del('delete-default', { tagState: 'tagged', tagPrefixes: ['default'] })));
    assert.deepEqual(r.deleted, ['2.0.1']);
    assert.equal(r.rule('2.0.1'), 'delete-old');
    assert.equal(r.keptBecause('2.0.6'), 'Keep policy keep-2.0.6');
    assert.equal(r.keptBecause('1.9.2'), undefined);
  });

  test('a Keep policy wins whatever its position in the list', () => {
    const images = [img('a', 50, { tags: ['release-1'] }), img('b', 50, { tags: ['dev-1'] })];
    for (const order of [
      [keep('k', { tagState: 'tagged', tagPrefixes: ['release'] }), del('d', { olderThan: '30d' })],
      [del('d', { olderThan: '30d' }), keep('k', { tagState: 'tagged', tagPrefixes: ['release'] })],
    ]) {
      const r = run(images, gar(...order));
      assert.deepEqual(r.deleted, ['b']);
      assert.match(r.keptBecause('a')!, /Keep policy k/);
    }
  });

  test('mostRecentVersions keeps the newest keepCount versions by push time', () => {
    const images = [1, 2, 3, 4, 5, 6].map((d) => img(`v${d}`, d * 10));
    const keep3 = { name: 'keep-3', action: { type: 'Keep' }, mostRecentVersions: { keepCount: 3 } };
    const r = run(images, gar(del('all', { tagState: 'any' }), keep3));
    assert.deepEqual(r.deleted, ['v4', 'v5', 'v6']);
    assert.match(r.keptBecause('v1')!, /3 most recent/);
    // for another package, nothing is kept
    const other = { ...keep3, mostRecentVersions: { keepCount: 3, packageNamePrefixes: ['mobile'] } };
    assert.equal(run(images, gar(del('all', {}), other)).deleted.length, 6);
    const mine = { ...keep3, mostRecentVersions: { keepCount: 3, packageNamePrefixes: ['webapp'] } };
    assert.equal(run(images, gar(del('all', {}), mine)).deleted.length, 3);
  });

  test('a policy with only Keep rules deletes nothing', () => {
    assert.deepEqual(run([img('a', 400), img('b', 1, { tags: ['x'] })], gar(keep('k', { tagState: 'tagged' }))).deleted, []);
  });
});

describe('ECR: rule priority, counting, ages', () => {
  const prod1 = rule(1, { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 1 }, 'Rule 1');
  const beta2 = rule(2, { tagStatus: 'tagged', tagPrefixList: ['beta'], countType: 'imageCountMoreThan', countNumber: 1 }, 'Rule 2');

  test('the documentation\'s "filtering on multiple rules", example A: only Image A expires', () => {
    // https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html
    const images = [img('A', 10, { tags: ['beta-1', 'prod-1'] }), img('B', 9, { tags: ['beta-2', 'prod-2'] }), img('C', 8, { tags: ['beta-3'] })];
    const r = run(images, ecr(prod1, beta2));
    assert.deepEqual(r.deleted, ['A']);
    assert.equal(r.rule('A'), 'rule 1 (Rule 1)');
  });

  test('the documentation\'s "filtering on multiple rules", example B: Images A and B expire, by rule 1', () => {
    const images = [img('A', 10, { tags: ['beta-1', 'prod-1'] }), img('B', 9, { tags: ['beta-2', 'prod-2'] }), img('C', 8, { tags: ['beta-3', 'prod-3'] })];
    const r = run(images, ecr(prod1, beta2));
    assert.deepEqual(r.deleted, ['A', 'B']);
    assert.equal(r.rule('B'), 'rule 1 (Rule 1)');
  });

  test('rules run by ascending rulePriority whatever their order in the list', () => {
    const images = [img('A', 10, { tags: ['beta-1', 'prod-1'] }), img('B', 9, { tags: ['beta-2', 'prod-2'] }), img('C', 8, { tags: ['beta-3'] })];
    assert.deepEqual(run(images, ecr(beta2, prod1)).deleted, ['A']);
    // with beta first, rule 1 (beta) expires A and B, and prod images are its own
    const betaFirst = rule(1, { tagStatus: 'tagged', tagPrefixList: ['beta'], countType: 'imageCountMoreThan', countNumber: 1 });
    const prodSecond = rule(2, { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 1 });
    assert.deepEqual(run(images, ecr(prodSecond, betaFirst)).deleted, ['A', 'B']);
  });

  test('an image whose tags a higher rule selects is never expired by a lower rule, even an "any" rule', () => {
    // "keep the 2 newest release images forever": rule 1 selects them; rule 2 expires everything older than 7 days
    const images = [img('r1', 30, { tags: ['release-1'] }), img('r2', 20, { tags: ['release-2'] }), img('r3', 10, { tags: ['release-3'] }), img('d1', 30, { tags: ['dev-1'] }), img('u', 30)];
    const r = run(images, ecr(rule(1, { tagStatus: 'tagged', tagPatternList: ['release-*'], countType: 'imageCountMoreThan', countNumber: 2 }), rule(2, { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 })));
    assert.deepEqual(r.deleted, ['d1', 'r1', 'u']);
    assert.equal(r.rule('r1'), 'rule 1');
    assert.equal(r.rule('d1'), 'rule 2');
  });

  test('several prefixes or patterns in one rule select only images having all of them', () => {
    const images = [img('ab', 30, { tags: ['alpha-1', 'beta-1'] }), img('a', 30, { tags: ['alpha-2'] }), img('b', 30, { tags: ['beta-3'] })];
    const since = { countType: 'sinceImagePushed', countUnit: 'days', countNumber: 5 };
    assert.deepEqual(run(images, ecr(rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha', 'beta'], ...since }))).deleted, ['ab']);
    assert.deepEqual(run(images, ecr(rule(1, { tagStatus: 'tagged', tagPatternList: ['alpha*', 'beta*'], ...since }))).deleted, ['ab']);
  });

  test('tag patterns: * matches any run of characters; without * the tag must be equal', () => {
    const images = ['prod', 'prod1', 'prod-2024-01', 'preprod', 'v1.2.3-rc1'].map((t, i) => img(`i${i}`, 30, { tags: [t] }));
    const sel = (p: string[]) => ecr(rule(1, { tagStatus: 'tagged', tagPatternList: p, countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }));
    assert.deepEqual(run(images, sel(['prod*'])).deleted, ['i0', 'i1', 'i2']);
    assert.deepEqual(run(images, sel(['prod'])).deleted, ['i0']);
    assert.deepEqual(run(images, sel(['*prod'])).deleted, ['i0', 'i3']);
    assert.deepEqual(run(images, sel(['v*.*.*-rc*'])).deleted, ['i4']);
  });

  test('imageCountMoreThan keeps the newest N by push time and expires the older ones', () => {
    const images = [5, 1, 4, 2, 3].map((d) => img(`d${d}`, d, { tags: [`v${d}`] }));
    const r = run(images, ecr(rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 2 })));
    assert.deepEqual(r.deleted, ['d3', 'd4', 'd5']);
    assert.deepEqual(run(images, ecr(rule(1, { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 5 }))).deleted, []);
  });

  test('sinceImagePushed expires images pushed more than N days ago', () => {
    const images = [img('old', 15, { tags: ['prod-1'] }), img('new', 13, { tags: ['prod-2'] }), img('dev', 30, { tags: ['dev'] })];
    assert.deepEqual(run(images, ecr(rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }))).deleted, ['old']);
  });

  test('untagged rules see only untagged images ("keep only one untagged image")', () => {
    const images = [img('u1', 3), img('u2', 2), img('u3', 1), img('t', 9, { tags: ['v1'] })];
    assert.deepEqual(run(images, ecr(rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }))).deleted, ['u1', 'u2']);
  });

  test('sinceImagePulled: days since the last pull, or since the push when never pulled', () => {
    const images = [img('pulled-recently', 100, { tags: ['a'], pulledDaysAgo: 2 }), img('pulled-long-ago', 100, { tags: ['b'], pulledDaysAgo: 60 }), img('never', 40, { tags: ['c'] }), img('never-new', 5, { tags: ['d'] })];
    assert.deepEqual(run(images, ecr(rule(1, { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 30 }))).deleted, ['never', 'pulled-long-ago']);
  });
});

describe("Wharf's extras", () => {
  const deleteAll = gar(del('all', { tagState: 'any' }));

  test('keepPulledWithinDays keeps what was pulled recently, in both formats', () => {
    const images = [img('hot', 90, { tags: ['a'], pulledDaysAgo: 3 }), img('cold', 90, { tags: ['b'], pulledDaysAgo: 45 }), img('never', 90, { tags: ['c'] })];
    const r = run(images, { ...deleteAll, keepPulledWithinDays: 30 });
    assert.deepEqual(r.deleted, ['cold', 'never']);
    assert.match(r.keptBecause('hot')!, /pulled within 30 days/);
    const e = run(images, { ...ecr(rule(1, { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 })), keepPulledWithinDays: 30 });
    assert.deepEqual(e.deleted, ['cold', 'never']);
  });

  test('keepProtectedTags (the default) keeps what an immutable tag points to; off, it goes too', () => {
    const images = [img('rel', 90, { tags: ['v1.0', 'latest'] }), img('dev', 90, { tags: ['dev-1'] })];
    const protectedTag = (t: string) => (t.startsWith('dev-') || t === 'latest' ? undefined : 'immutableTags');
    const r = run(images, deleteAll, { protectedTag });
    assert.deepEqual(r.deleted, ['dev']);
    assert.equal(r.keptBecause('rel'), 'tag v1.0 is immutable (keepProtectedTags)');
    assert.deepEqual(run(images, { ...deleteAll, keepProtectedTags: false }, { protectedTag }).deleted, ['dev', 'rel']);
    // ECR rules yield to it as well
    const e = run(images, ecr(rule(1, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 0 + 1 })), { protectedTag });
    assert.ok(!e.deleted.includes('rel'));
  });
});

describe('the manifest graph', () => {
  const deleteOld = gar(del('old', { olderThan: '30d' }));

  test('a kept index keeps its children, tagged or not, whatever the rules say of them', () => {
    const images = [img('idx', 1, { tags: ['v2'], children: ['amd64', 'arm64'] }), img('amd64', 40), img('arm64', 40, { tags: ['arm-only'] })];
    const r = run(images, deleteOld);
    assert.deepEqual(r.deleted, []);
    assert.equal(r.keptBecause('arm64'), 'listed by kept index idx');
    // the untagged child is no image of its own: it is not even selected
    assert.equal(r.kept.find((k) => k.digest === 'amd64'), undefined);
  });

  test('an index that goes takes its children, deleted after it; a child another kept index lists stays', () => {
    const images = [
      img('old-idx', 40, { tags: ['v1'], children: ['c1', 'shared'] }),
      img('new-idx', 1, { tags: ['v2'], children: ['shared', 'c3'] }),
      img('c1', 40),
      img('shared', 40),
      img('c3', 1),
    ];
    const r = run(images, deleteOld);
    assert.deepEqual(r.deleted, ['c1', 'old-idx']);
    assert.ok(r.order.indexOf('old-idx') < r.order.indexOf('c1'));
    assert.equal(r.rule('c1'), 'goes with index old-idx');
  });

  test('referrers (signatures, SBOMs) go with their subject, after it, and stay while it stays', () => {
    const images = [
      img('old', 40, { tags: ['v1'] }),
      img('sig-old', 1, { subject: 'old' }),
      img('sbom-old', 1, { subject: 'old', tags: ['sbom'] }),
      img('sig-of-sbom', 1, { subject: 'sbom-old' }),
      img('new', 1, { tags: ['v2'] }),
      img('sig-new', 90, { subject: 'new' }),
    ];
    const r = run(images, deleteOld);
    assert.deepEqual(r.deleted, ['old', 'sbom-old', 'sig-of-sbom', 'sig-old']);
    assert.equal(r.order[0], 'old');
    assert.ok(r.order.indexOf('sbom-old') < r.order.indexOf('sig-of-sbom'));
    assert.equal(r.rule('sig-old'), 'goes with its subject old');
    // an old referrer of a kept subject is never judged by the rules
    assert.equal(run(images, gar(del('untagged', { tagState: 'untagged' }))).deleted.includes('sig-new'), false);
  });

  test('a referrer whose subject is not in the repository is judged as an image', () => {
    const r = run([img('dangling', 40, { subject: 'sha256:elsewhere' })], deleteOld);
    assert.deepEqual(r.deleted, ['dangling']);
    assert.equal(r.rule('dangling'), 'old');
  });

  test('a referrer or child carrying an immutable tag stays (reported) although its owner goes', () => {
    const images = [img('subj', 40, { tags: ['dev-1'] }), img('att', 40, { subject: 'subj', tags: ['attestation-v1'] }), img('idx', 40, { tags: ['dev-2'], children: ['child'] }), img('child', 40, { tags: ['pinned'] })];
    const protectedTag = (t: string) => (t.startsWith('dev-') ? undefined : 'immutableTags');
    const r = run(images, deleteOld, { protectedTag });
    assert.deepEqual(r.deleted, ['idx', 'subj']);
    assert.equal(r.keptBecause('att'), 'tag attestation-v1 is immutable (keepProtectedTags)');
    assert.equal(r.keptBecause('child'), 'tag pinned is immutable (keepProtectedTags)');
  });

  test('counts: total is every manifest; an empty repository evaluates to nothing', () => {
    assert.equal(run([img('a', 1), img('b', 1, { subject: 'a' })], deleteOld).total, 2);
    assert.deepEqual(run([], deleteOld).delete, []);
  });
});
