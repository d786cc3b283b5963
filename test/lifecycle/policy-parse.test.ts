/**
 * The cleanup policy parsers (features/lifecycle/policy): both documented formats accepted with
 * the documentation's own examples, and every malformed document refused with POLICY_INVALID whose
 * problems point (RFC 6901) at the offending field of the body that was sent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCleanupPolicy } from '../../src/features/lifecycle/policy/cleanup-policy.js';
import { parseDuration } from '../../src/features/lifecycle/policy/artifact-registry-policy.js';
import { isWharfError } from '../../src/errors/wharf-error.js';
import type { PolicyProblem } from '../../src/features/lifecycle/policy/problems.js';

/** The problems of an invalid document (fails when it parses). */
function problemsOf(doc: unknown): PolicyProblem[] {
  try {
    parseCleanupPolicy(doc);
  } catch (e) {
    assert.ok(isWharfError(e, 'POLICY_INVALID'), String(e));
    return (e as { detail: PolicyProblem[] }).detail;
  }
  assert.fail(`expected POLICY_INVALID for ${JSON.stringify(doc).slice(0, 300)}`);
}

/** Asserts that `pointer` is among the problems (and returns its message). */
function expectProblem(doc: unknown, pointer: string, message?: RegExp): string {
  const list = problemsOf(doc);
  const p = list.find((x) => x.pointer === pointer);
  assert.ok(p, `no problem at ${pointer}; got ${JSON.stringify(list)}`);
  if (message) assert.match(p.message, message);
  return p.message;
}

const gar = (policy: unknown, extra: Record<string, unknown> = {}) => ({ format: 'artifact-registry', policy, ...extra });
const ecr = (policy: unknown, extra: Record<string, unknown> = {}) => ({ format: 'ecr', policy, ...extra });
const del = (condition: Record<string, unknown>, name = 'p') => ({ name, action: { type: 'Delete' }, condition });
const rule = (rulePriority: unknown, selection: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  rulePriority,
  selection,
  action: { type: 'expire' },
  ...extra,
});
const rules = (...r: unknown[]) => ecr({ rules: r });

// https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy: the policy file example
const GAR_DOC_EXAMPLE = [
  { name: 'delete-prerelease', action: { type: 'Delete' }, condition: { tagState: 'tagged', tagPrefixes: ['alpha', 'v0'], olderThan: '30d' } },
  { name: 'keep-tagged-release', action: { type: 'Keep' }, condition: { tagState: 'tagged', tagPrefixes: ['release'], packageNamePrefixes: ['webapp', 'mobile'] } },
  { name: 'keep-minimum-versions', action: { type: 'Keep' }, mostRecentVersions: { packageNamePrefixes: ['webapp', 'mobile', 'sandbox'], keepCount: 5 } },
];

// https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html
const ECR_DOC_EXAMPLES: Record<string, unknown> = {
  'filtering on image age': {
    rules: [
      {
        rulePriority: 1,
        description: 'Expire images older than 14 days',
        selection: { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 },
        action: { type: 'expire' },
      },
    ],
  },
  'filtering on image count': {
    rules: [
      {
        rulePriority: 1,
        description: 'Keep only one untagged image, expire all others',
        selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 },
        action: { type: 'expire' },
      },
    ],
  },
  'filtering on multiple rules': {
    rules: [
      { rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
      { rulePriority: 2, description: 'Rule 2', selection: { tagStatus: 'tagged', tagPrefixList: ['beta'], countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
    ],
  },
  'filtering on multiple tags in a single rule': {
    rules: [
      { rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'tagged', tagPatternList: ['alpha*', 'beta*'], countType: 'sinceImagePushed', countNumber: 5, countUnit: 'days' }, action: { type: 'expire' } },
    ],
  },
  'filtering on all images': {
    rules: [
      { rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: { type: 'expire' } },
      { rulePriority: 2, description: 'Rule 2', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
    ],
  },
  'sinceImagePulled, storageClass standard': {
    rules: [
      {
        rulePriority: 1,
        selection: { tagStatus: 'any', storageClass: 'standard', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 90 },
        action: { type: 'expire' },
      },
    ],
  },
};

describe('Artifact Registry format', () => {
  test("the documentation's example parses, with its semantics", () => {
    const { policy, document } = parseCleanupPolicy(gar(GAR_DOC_EXAMPLE));
    assert.equal(policy.format, 'artifact-registry');
    assert.deepEqual(
      policy.gar!.map((p) => [p.name, p.action]),
      [
        ['delete-prerelease', 'delete'],
        ['keep-tagged-release', 'keep'],
        ['keep-minimum-versions', 'keep'],
      ],
    );
    assert.deepEqual(policy.gar![0]!.condition, { tagState: 'tagged', tagPrefixes: ['alpha', 'v0'], olderThan: 30 * 86_400_000 });
    assert.deepEqual(policy.gar![2]!.mostRecentVersions, { packageNamePrefixes: ['webapp', 'mobile', 'sandbox'], keepCount: 5 });
    // stored as sent, with the defaults of the extras made explicit
    assert.deepEqual(document, { format: 'artifact-registry', policy: GAR_DOC_EXAMPLE, keepProtectedTags: true, dryRun: false });
  });

  test("the REST API's form: enum actions, TAGGED/UNTAGGED, protobuf durations, id, and the map by id", () => {
    const { policy } = parseCleanupPolicy(gar([{ id: 'delete-untagged', action: 'DELETE', condition: { tagState: 'UNTAGGED', olderThan: '2592000s' } }]));
    assert.deepEqual(policy.gar, [{ name: 'delete-untagged', action: 'delete', condition: { tagState: 'untagged', olderThan: 30 * 86_400_000 } }]);
    const map = parseCleanupPolicy(
      gar({
        'delete-old': { id: 'delete-old', action: 'DELETE', condition: { tagState: 'ANY', olderThan: '86400s' } },
        'keep-5': { action: 'KEEP', mostRecentVersions: { keepCount: 5 } },
      }),
    ).policy;
    assert.deepEqual(
      map.gar!.map((p) => p.name),
      ['delete-old', 'keep-5'],
    );
    expectProblem(gar({ a: { id: 'b', action: 'DELETE', condition: {} } }), '/policy/a/id', /differs from the key/);
    assert.equal(parseCleanupPolicy(gar([del({ tagState: 'TAG_STATE_UNSPECIFIED' })])).policy.gar![0]!.condition!.tagState, 'any');
  });

  test('durations: days, hours, minutes, seconds and fractions of seconds; anything else is refused', () => {
    assert.equal(parseDuration('30d'), 30 * 86_400_000);
    assert.equal(parseDuration('12h'), 12 * 3_600_000);
    assert.equal(parseDuration('90m'), 90 * 60_000);
    assert.equal(parseDuration('2592000s'), 2_592_000_000);
    assert.equal(parseDuration('1.5s'), 1500);
    for (const bad of ['30', '30 days', 'P30D', '-1d', '1.5d', '1e3s', '', 'd', '36501000d', 30, null]) {
      assert.equal(parseDuration(bad), undefined, String(bad));
      expectProblem(gar([del({ olderThan: bad })]), '/policy/0/condition/olderThan', /duration/);
    }
    expectProblem(gar([del({ newerThan: '7 days' })]), '/policy/0/condition/newerThan');
  });

  test('each malformed field is named by its pointer', () => {
    const cases: [unknown, string, RegExp?][] = [
      // a single policy instead of a list reads as the REST map: its fields are no policies
      [gar({ name: 'x' }), '/policy/name', /must be an object/],
      [gar('delete everything'), '/policy', /list of policies/],
      [gar([]), '/policy', /no policy/],
      [gar(Array.from({ length: 11 }, (_, i) => del({}, `p${i}`))), '/policy', /at most 10/],
      [gar([42]), '/policy/0', /must be an object/],
      [gar([{ ...del({}), conditon: {} }]), '/policy/0/conditon', /unknown field "conditon"/],
      [gar([del({}, '-bad name')]), '/policy/0/name'],
      [gar([del({}, 'a'), del({}, 'a')]), '/policy/1/name', /unique/],
      [gar([{ name: 'p', condition: {} }]), '/policy/0/action'],
      [gar([{ name: 'p', action: { type: 'Purge' }, condition: {} }]), '/policy/0/action/type', /Delete or Keep/],
      [gar([{ name: 'p', action: 'PURGE', condition: {} }]), '/policy/0/action'],
      [gar([{ name: 'p', action: { type: 'Delete', when: 'now' }, condition: {} }]), '/policy/0/action/when'],
      [gar([{ name: 'p', action: { type: 'Delete' } }]), '/policy/0/condition', /needs a condition/],
      [gar([{ name: 'p', action: { type: 'Delete' }, condition: {}, mostRecentVersions: { keepCount: 1 } }]), '/policy/0/mostRecentVersions', /only a Keep/],
      [gar([{ name: 'p', action: { type: 'Keep' }, condition: {}, mostRecentVersions: { keepCount: 1 } }]), '/policy/0/mostRecentVersions', /not both/],
      [gar([{ name: 'p', action: { type: 'Keep' } }]), '/policy/0', /condition or mostRecentVersions/],
      [gar([del({ tagState: 'labelled' })]), '/policy/0/condition/tagState'],
      [gar([del({ tagState: 3 })]), '/policy/0/condition/tagState'],
      [gar([del([] as never)]), '/policy/0/condition', /must be an object/],
      [gar([del({ tagPrefixes: 'v1' })]), '/policy/0/condition/tagPrefixes', /list of strings/],
      [gar([del({ tagPrefixes: [] })]), '/policy/0/condition/tagPrefixes', /not be empty/],
      [gar([del({ tagPrefixes: ['v1', 7] })]), '/policy/0/condition/tagPrefixes/1', /non-empty string/],
      [gar([del({ tagPrefixes: ['v1', ''] })]), '/policy/0/condition/tagPrefixes/1'],
      [gar([del({ tagState: 'untagged', tagPrefixes: ['v1'] })]), '/policy/0/condition/tagPrefixes', /untagged/],
      [gar([del({ versionNamePrefixes: [{}] })]), '/policy/0/condition/versionNamePrefixes/0'],
      [gar([del({ packageNamePrefixes: 'ml' })]), '/policy/0/condition/packageNamePrefixes'],
      [gar([{ name: 'p', action: { type: 'Keep' }, mostRecentVersions: { keepCount: 0 } }]), '/policy/0/mostRecentVersions/keepCount'],
      [gar([{ name: 'p', action: { type: 'Keep' }, mostRecentVersions: { keepCount: '5' } }]), '/policy/0/mostRecentVersions/keepCount'],
      [gar([{ name: 'p', action: { type: 'Keep' }, mostRecentVersions: { keepCount: 2.5 } }]), '/policy/0/mostRecentVersions/keepCount'],
      [gar([{ name: 'p', action: { type: 'Keep' }, mostRecentVersions: {} }]), '/policy/0/mostRecentVersions/keepCount'],
      [gar([{ name: 'p', action: { type: 'Keep' }, mostRecentVersions: { keepCount: 1, newest: true } }]), '/policy/0/mostRecentVersions/newest'],
      [gar([{ name: 'p', action: { type: 'Keep' }, mostRecentVersions: 5 }]), '/policy/0/mostRecentVersions'],
    ];
    for (const [doc, pointer, message] of cases) expectProblem(doc, pointer, message);
  });

  test('oversized lists and strings are refused, pointing at them', () => {
    expectProblem(gar([del({ tagPrefixes: Array.from({ length: 101 }, (_, i) => `v${i}`) })]), '/policy/0/condition/tagPrefixes', /at most 100/);
    expectProblem(gar([del({ tagPrefixes: ['x'.repeat(257)] })]), '/policy/0/condition/tagPrefixes/0', /longer than 256/);
    expectProblem(gar([del({}, 'n'.repeat(64))]), '/policy/0/name');
  });
});

describe('ECR format', () => {
  for (const [name, doc] of Object.entries(ECR_DOC_EXAMPLES)) {
    test(`the documentation's example "${name}" parses`, () => {
      const { policy, document } = parseCleanupPolicy(ecr(doc));
      assert.equal(policy.format, 'ecr');
      assert.equal(policy.ecr!.rules.length, (doc as { rules: unknown[] }).rules.length);
      assert.deepEqual(document.policy, doc);
    });
  }

  test('the policy as JSON text (aws ecr put-lifecycle-policy --lifecycle-policy-text) is kept as the object it parses to', () => {
    const doc = ECR_DOC_EXAMPLES['filtering on multiple rules'];
    const { document, policy } = parseCleanupPolicy(ecr(JSON.stringify(doc)));
    assert.deepEqual(document.policy, doc);
    assert.equal(policy.ecr!.rules[1]!.description, 'Rule 2');
    expectProblem(ecr('{"rules": ['), '/policy', /not JSON/);
  });

  test('rules are sorted by rulePriority; priorities need not be sequential', () => {
    const { policy } = parseCleanupPolicy(
      rules(
        rule(20, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }),
        rule(3, { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 5 }),
      ),
    );
    assert.deepEqual(
      policy.ecr!.rules.map((r) => r.rulePriority),
      [3, 20],
    );
  });

  test('tag patterns: up to four wildcards (the documentation: "*test*1*2*3" and "test*1*2*3*" valid, "test*1*2*3*4*5*6" invalid)', () => {
    parseCleanupPolicy(rules(rule(1, { tagStatus: 'tagged', tagPatternList: ['*test*1*2*3', 'test*1*2*3*'], countType: 'imageCountMoreThan', countNumber: 1 })));
    expectProblem(
      rules(rule(1, { tagStatus: 'tagged', tagPatternList: ['prod*', 'test*1*2*3*4*5*6'], countType: 'imageCountMoreThan', countNumber: 1 })),
      '/policy/rules/0/selection/tagPatternList/1',
      /more than four/,
    );
    expectProblem(rules(rule(1, { tagStatus: 'tagged', tagPatternList: ['prod/*'], countType: 'imageCountMoreThan', countNumber: 1 })), '/policy/rules/0/selection/tagPatternList/0', /not a tag pattern/);
    expectProblem(rules(rule(1, { tagStatus: 'tagged', tagPrefixList: ['v*'], countType: 'imageCountMoreThan', countNumber: 1 })), '/policy/rules/0/selection/tagPrefixList/0', /not a tag prefix/);
  });

  test('the documented constraints between rules', () => {
    const untagged = { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 };
    const any = { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 };
    const tagged = (p: string[]) => ({ tagStatus: 'tagged', tagPrefixList: p, countType: 'imageCountMoreThan', countNumber: 1 });
    expectProblem(rules(rule(1, tagged(['a'])), rule(1, tagged(['b']))), '/policy/rules/1/rulePriority', /unique/);
    expectProblem(rules(rule(2, any), rule(5, tagged(['a']))), '/policy/rules/0/rulePriority', /tagStatus any must have the highest rulePriority/);
    parseCleanupPolicy(rules(rule(5, any), rule(2, tagged(['a']))));
    expectProblem(rules(rule(1, untagged), rule(2, untagged)), '/policy/rules/1/selection/tagStatus', /only one rule may select untagged/);
    expectProblem(rules(rule(1, tagged(['a', 'b'])), rule(2, tagged(['b', 'a']))), '/policy/rules/1/selection/tagPrefixList', /same tag prefixes/);
  });

  test('each malformed field is named by its pointer', () => {
    const sel = { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 };
    const cases: [unknown, string, RegExp?][] = [
      [ecr(42), '/policy', /object with a "rules" list/],
      [ecr({}), '/policy/rules', /list of rules/],
      [ecr({ rules: [] }), '/policy/rules', /no rule/],
      [ecr({ rules: [], version: 2 }), '/policy/version', /unknown field/],
      [ecr({ rules: Array.from({ length: 51 }, (_, i) => rule(i + 1, sel)) }), '/policy/rules', /at most 50/],
      [rules('rule'), '/policy/rules/0', /must be an object/],
      [rules(rule('1', sel)), '/policy/rules/0/rulePriority'],
      [rules(rule(0, sel)), '/policy/rules/0/rulePriority'],
      [rules(rule(1.5, sel)), '/policy/rules/0/rulePriority'],
      [rules(rule(1, sel, { description: 7 })), '/policy/rules/0/description'],
      [rules(rule(1, sel, { description: 'd'.repeat(257) })), '/policy/rules/0/description'],
      [rules(rule(1, sel, { priority: 1 })), '/policy/rules/0/priority', /unknown field/],
      [rules(rule(1, sel, { 'a/b~c': 1 })), '/policy/rules/0/a~1b~0c', /unknown field/],
      [rules({ rulePriority: 1, selection: sel }), '/policy/rules/0/action', /expire/],
      [rules(rule(1, sel, { action: { type: 'delete' } })), '/policy/rules/0/action/type', /expire/],
      [rules(rule(1, sel, { action: { type: 'transition', targetStorageClass: 'archive' } })), '/policy/rules/0/action/type', /not supported/],
      [rules({ rulePriority: 1, action: { type: 'expire' } }), '/policy/rules/0/selection'],
      [rules(rule(1, { ...sel, tagStatus: 'TAGGED' })), '/policy/rules/0/selection/tagStatus'],
      [rules(rule(1, { ...sel, tagStatus: 'tagged' })), '/policy/rules/0/selection/tagStatus', /needs tagPrefixList or tagPatternList/],
      [rules(rule(1, { ...sel, tagStatus: 'tagged', tagPrefixList: ['a'], tagPatternList: ['b*'] })), '/policy/rules/0/selection/tagPatternList', /not both/],
      [rules(rule(1, { ...sel, tagPrefixList: ['a'] })), '/policy/rules/0/selection/tagPrefixList', /only to tagStatus tagged/],
      [rules(rule(1, { ...sel, tagStatus: 'any', tagPatternList: ['a*'] })), '/policy/rules/0/selection/tagPatternList'],
      [rules(rule(1, { ...sel, tagPrefix: ['a'] })), '/policy/rules/0/selection/tagPrefix', /unknown field/],
      [rules(rule(1, { ...sel, countType: 'imageCountLessThan' })), '/policy/rules/0/selection/countType'],
      [rules(rule(1, { ...sel, countType: 'sinceImageTransitioned', countUnit: 'days' })), '/policy/rules/0/selection/countType', /not supported/],
      [rules(rule(1, { ...sel, countUnit: 'days' })), '/policy/rules/0/selection/countUnit', /omitted with imageCountMoreThan/],
      [rules(rule(1, { ...sel, countType: 'sinceImagePushed' })), '/policy/rules/0/selection/countUnit', /"days"/],
      [rules(rule(1, { ...sel, countType: 'sinceImagePushed', countUnit: 'hours' })), '/policy/rules/0/selection/countUnit'],
      [rules(rule(1, { ...sel, countNumber: 0 })), '/policy/rules/0/selection/countNumber'],
      [rules(rule(1, { ...sel, countNumber: '1' })), '/policy/rules/0/selection/countNumber'],
      [rules(rule(1, { ...sel, countNumber: 2.5 })), '/policy/rules/0/selection/countNumber'],
      [rules(rule(1, { ...sel, countNumber: undefined })), '/policy/rules/0/selection/countNumber'],
      [rules(rule(1, { ...sel, storageClass: 'archive' })), '/policy/rules/0/selection/storageClass'],
    ];
    for (const [doc, pointer, message] of cases) expectProblem(doc, pointer, message);
  });
});

describe('the envelope', () => {
  test("Wharf's extras are parsed and kept; defaults: keep protected tags, not dry run", () => {
    const { policy, document } = parseCleanupPolicy(gar(GAR_DOC_EXAMPLE, { keepPulledWithinDays: 30, keepProtectedTags: false, dryRun: true }));
    assert.equal(policy.keepPulledWithinDays, 30);
    assert.equal(policy.keepProtectedTags, false);
    assert.equal(policy.dryRun, true);
    assert.deepEqual({ ...document, policy: undefined }, { format: 'artifact-registry', policy: undefined, keepPulledWithinDays: 30, keepProtectedTags: false, dryRun: true });
  });

  test('envelope problems point at their keys', () => {
    const cases: [unknown, string, RegExp?][] = [
      [null, '', /is an object/],
      [[GAR_DOC_EXAMPLE], '', /is an object/],
      [{ policy: GAR_DOC_EXAMPLE }, '/format', /artifact-registry" or "ecr/],
      [{ format: 'harbor', policy: {} }, '/format'],
      [{ format: 'ecr' }, '/policy', /required/],
      [gar(GAR_DOC_EXAMPLE, { keepPulledWithinDays: 0 }), '/keepPulledWithinDays'],
      [gar(GAR_DOC_EXAMPLE, { keepPulledWithinDays: 1.5 }), '/keepPulledWithinDays'],
      [gar(GAR_DOC_EXAMPLE, { keepPulledWithinDays: '30' }), '/keepPulledWithinDays'],
      [gar(GAR_DOC_EXAMPLE, { keepPulledWithinDays: 36_501 }), '/keepPulledWithinDays'],
      [gar(GAR_DOC_EXAMPLE, { keepProtectedTags: 'yes' }), '/keepProtectedTags'],
      [gar(GAR_DOC_EXAMPLE, { dryRun: 1 }), '/dryRun'],
      [gar(GAR_DOC_EXAMPLE, { schedule: 'daily' }), '/schedule', /unknown field/],
      // an ECR document under the GAR format is no list of policies
      [gar(ECR_DOC_EXAMPLES['filtering on image count']), '/policy/rules', /must be an object/],
      [ecr(GAR_DOC_EXAMPLE), '/policy', /object with a "rules" list/],
    ];
    for (const [doc, pointer, message] of cases) expectProblem(doc, pointer, message);
  });

  test('every problem is reported at once, up to 50; the message names the first ones', () => {
    const list = problemsOf(gar([del({ tagState: 'x', olderThan: 'y', newerThan: 'z' }, '-')], { dryRun: 'no' }));
    assert.deepEqual(
      list.map((p) => p.pointer).sort(),
      ['/dryRun', '/policy/0/condition/newerThan', '/policy/0/condition/olderThan', '/policy/0/condition/tagState', '/policy/0/name'].sort(),
    );
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
    assert.equal(problemsOf({ ...many, format: 'ecr', policy: { rules: [] } }).length, 50);
    try {
      parseCleanupPolicy(gar([del({ tagState: 'x', olderThan: 'y', newerThan: 'z' }, '-')]));
    } catch (e) {
      assert.match((e as Error).message, /^cleanup policy invalid: \/policy\/0\/name: .*; and 1 more$/);
    }
  });
});
