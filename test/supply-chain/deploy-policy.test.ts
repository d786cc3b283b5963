/**
 * Deploy policies, pure: the YAML format (every problem with its JSON pointer), every rule kind
 * evaluated over facts, Binary Authorization name patterns, AdmissionReview v1 parsing of every
 * workload kind, and image reference splitting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDeployPolicy, namePatternMatches, parseScope } from '../../src/features/deploy-policy/policy.js';
import { evaluate, type ImageFacts } from '../../src/features/deploy-policy/evaluate.js';
import { parseAdmissionReview, splitImage } from '../../src/features/deploy-policy/admission-review.js';
import { isWharfError, type WharfError } from '../../src/errors/wharf-error.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);
const D = `sha256:${'a'.repeat(64)}`;

function problems(yaml: string): string[] {
  try {
    parseDeployPolicy(yaml);
  } catch (e) {
    assert.ok(isWharfError(e, 'DEPLOY_POLICY_INVALID'), String(e));
    return ((e as WharfError).detail as { pointer: string }[]).map((p) => p.pointer);
  }
  return [];
}

const facts = (o: Partial<ImageFacts> = {}): ImageFacts => ({ image: `reg.example/ml/app@${D}`, repository: 'ml/app', digest: D, attestors: [], attestations: [], ...o });

describe('deploy policy format', () => {
  it('accepts the documented example and defaults', () => {
    const p = parseDeployPolicy(
      [
        'admissionWhitelistPatterns:',
        '  - namePattern: registry.k8s.io/**',
        'defaultAdmissionRule:',
        '  evaluationMode: REQUIRE_ATTESTATION',
        '  enforcementMode: DRYRUN_AUDIT_LOG_ONLY',
        '  requireAttestationsBy: [ci, security]',
        'wharf:',
        '  maxSeverity: medium',
        '  onlyFixable: true',
        '  scannedWithinDays: 7',
        '  noMutableLatest: true',
        '  requireAttestations: [{attestor: ci, predicateType: "https://slsa.dev/provenance/v1"}]',
        '  enforceAtPull: true',
        '  breakGlassPrincipals: [oncall, sre@example.com]',
        '  cel:',
        '    - name: from-ml',
        '      expression: image.repository.startsWith("ml/")',
      ].join('\n'),
    );
    assert.equal(p.maxSeverity, 'MEDIUM');
    assert.deepEqual(p.requireAttestationsBy, ['ci', 'security']);
    assert.equal(p.enforcementMode, 'DRYRUN_AUDIT_LOG_ONLY');
    assert.equal(p.cel.length, 1);
    const d = parseDeployPolicy('defaultAdmissionRule: {evaluationMode: ALWAYS_ALLOW}');
    assert.equal(d.enforcementMode, 'ENFORCED_BLOCK_AND_AUDIT_LOG');
    assert.equal(d.enforceAtPull, false);
  });

  it('reports every problem with a JSON pointer', () => {
    assert.deepEqual(problems(''), ['']);
    assert.deepEqual(problems('- a\n- b'), ['']);
    assert.deepEqual(problems('defaultAdmissionRule: {evaluationMode: MAYBE}'), ['/defaultAdmissionRule/evaluationMode']);
    assert.deepEqual(problems('defaultAdmissionRule: {evaluationMode: REQUIRE_ATTESTATION}'), ['/defaultAdmissionRule/requireAttestationsBy']);
    assert.deepEqual(problems('defaultAdmissionRule: {evaluationMode: ALWAYS_ALLOW, requireAttestationsBy: [x]}'), ['/defaultAdmissionRule/requireAttestationsBy']);
    assert.deepEqual(
      problems(
        'defaultAdmissionRule: {evaluationMode: ALWAYS_ALLOW}\nadmissionWhitelistPatterns: [{namePattern: ""}, {name: x}]\nwharf: {scannedWithinDays: 0, onlyFixable: yes, cel: [{name: x, expression: "1 +"}, {name: y, expression: "1"}], "a/b": 1}',
      ).sort(),
      ['/admissionWhitelistPatterns/0', '/admissionWhitelistPatterns/1', '/wharf/a~1b', '/wharf/cel/0/expression', '/wharf/cel/1/expression', '/wharf/onlyFixable', '/wharf/scannedWithinDays'].sort(),
    );
    assert.deepEqual(problems('defaultAdmissionRule: {evaluationMode: ALWAYS_ALLOW}\nwharf: {onlyFixable: true}'), ['/wharf/onlyFixable']);
    assert.deepEqual(problems('a: 1\na: 2'), ['']); // duplicate keys
    assert.deepEqual(problems(`defaultAdmissionRule: {evaluationMode: ALWAYS_ALLOW}\n# ${'x'.repeat(70 * 1024)}`), ['']);
    assert.throws(() => parseScope('team/*/x'), (e) => isWharfError(e, 'DEPLOY_POLICY_INVALID'));
    assert.equal(parseScope('team-a/*'), 'team-a/*');
  });
});

describe('deploy policy evaluation', () => {
  it('allowlist, ALWAYS_ALLOW, ALWAYS_DENY and REQUIRE_ATTESTATION', () => {
    const allow = parseDeployPolicy('admissionWhitelistPatterns: [{namePattern: "gcr.io/distroless/*"}]\ndefaultAdmissionRule: {evaluationMode: ALWAYS_DENY}');
    assert.equal(evaluate(allow, '*', facts({ image: 'gcr.io/distroless/static:nonroot', repository: undefined }), NOW).allowed, true);
    assert.equal(evaluate(allow, '*', facts({ image: 'gcr.io/distroless/x/static:1', repository: undefined }), NOW).allowed, false);
    const deny = evaluate(allow, '*', facts(), NOW);
    assert.equal(deny.allowed, false);
    assert.equal(deny.rules[0]!.rule, 'evaluationMode');
    const req = parseDeployPolicy('defaultAdmissionRule: {evaluationMode: REQUIRE_ATTESTATION, requireAttestationsBy: [ci, sec]}');
    const half = evaluate(req, 'ml/*', facts({ attestors: ['ci'] }), NOW);
    assert.deepEqual(half.rules.map((r) => [r.rule, r.passed]), [['attestor:ci', true], ['attestor:sec', false]]);
    assert.equal(half.allowed, false);
    assert.equal(evaluate(req, 'ml/*', facts({ attestors: ['sec', 'ci'] }), NOW).allowed, true);
    // a foreign image cannot carry attestations Wharf verified
    assert.match(evaluate(req, '*', facts({ repository: undefined, attestors: [] }), NOW).rules[0]!.message, /not in this registry/);
  });

  it('vulnerabilities (max severity, only fixable), scan age, latest, attestations by predicate, CEL', () => {
    const p = parseDeployPolicy(
      'defaultAdmissionRule: {evaluationMode: ALWAYS_ALLOW}\nwharf:\n  maxSeverity: MEDIUM\n  onlyFixable: true\n  scannedWithinDays: 7\n  noMutableLatest: true\n  requireAttestations: [{attestor: ci, predicateType: "https://slsa.dev/provenance/v1"}]\n  cel: [{name: few-low, expression: "image.vulnerabilities.low < 3 && image.scanAgeDays < 30.0"}]',
    );
    const scan = { scannedAt: NOW - 2 * DAY, findings: [{ severity: 'HIGH', fixable: false }, { severity: 'MEDIUM', fixable: true }, { severity: 'LOW', fixable: true }] };
    const good = evaluate(p, 'ml/app', facts({ scan, attestations: [{ attestor: 'ci', predicateType: 'https://slsa.dev/provenance/v1' }] }), NOW);
    assert.equal(good.passed, true, JSON.stringify(good.rules));
    const r = (f: ImageFacts) => Object.fromEntries(evaluate(p, 'ml/app', f, NOW).rules.map((x) => [x.rule, x.passed]));
    assert.equal(r(facts({ scan: { ...scan, findings: [...scan.findings, { severity: 'CRITICAL', fixable: true }] } })).maxSeverity, false);
    assert.equal(r(facts({ scan: { ...scan, scannedAt: NOW - 8 * DAY } })).scannedWithinDays, false);
    assert.equal(r(facts()).scannedWithinDays, false);
    assert.equal(r(facts()).maxSeverity, false); // never scanned: unknown, not clean
    assert.equal(r(facts({ image: 'reg.example/ml/app:latest', tag: 'latest' })).noMutableLatest, false);
    assert.equal(r(facts({ image: `reg.example/ml/app:latest@${D}`, tag: 'latest' })).noMutableLatest, true);
    assert.equal(r(facts({ scan, attestations: [{ attestor: 'other', predicateType: 'https://slsa.dev/provenance/v1' }] }))['attestation:https://slsa.dev/provenance/v1'], false);
    const manyLow = { ...scan, findings: Array(3).fill({ severity: 'LOW', fixable: false }) };
    assert.equal(r(facts({ scan: manyLow }))['cel:few-low'], false);
    // a CEL runtime error fails the rule
    const bad = parseDeployPolicy('defaultAdmissionRule: {evaluationMode: ALWAYS_ALLOW}\nwharf: {cel: [{name: x, expression: "image.nope == 1"}]}');
    const e = evaluate(bad, 'x', facts(), NOW);
    assert.equal(e.allowed, false);
    assert.match(e.rules.find((x) => x.rule === 'cel:x')!.message, /error: No such key/);
  });

  it('dry run: failed rules are reported, the image allowed', () => {
    const p = parseDeployPolicy('defaultAdmissionRule: {evaluationMode: ALWAYS_DENY, enforcementMode: DRYRUN_AUDIT_LOG_ONLY}');
    const d = evaluate(p, '*', facts(), NOW);
    assert.deepEqual([d.passed, d.allowed, d.dryRun], [false, true, true]);
  });

  it('name patterns: * within a segment, ** across, a pattern without tag matches every tag', () => {
    assert.equal(namePatternMatches('docker.io/library/*', 'docker.io/library/nginx:1.25'), true);
    assert.equal(namePatternMatches('docker.io/library/*', 'docker.io/library/x/y:1'), false);
    assert.equal(namePatternMatches('quay.io/**', `quay.io/a/b/c@${D}`), true);
    assert.equal(namePatternMatches('quay.io/a', 'quay.io/a:2'), true);
    assert.equal(namePatternMatches('quay.io/a', 'quay.io/ab:2'), false);
    assert.equal(namePatternMatches('quay.io/a.b', 'quay.io/aXb'), false);
  });
});

describe('AdmissionReview v1', () => {
  const review = (kind: string, object: unknown, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u-1', kind: { group: 'apps', version: 'v1', kind }, operation: 'CREATE', namespace: 'ns', userInfo: { username: 'bob' }, object, ...extra },
  });
  const podSpec = { initContainers: [{ name: 'i', image: 'a/init:1' }], containers: [{ name: 'c', image: 'a/app:1' }, { name: 'd', image: 'a/app:1' }], ephemeralContainers: [{ name: 'e', image: 'busybox' }] };

  it('reads the images of every workload kind', () => {
    const cases: [string, unknown][] = [
      ['Pod', { spec: podSpec }],
      ['Deployment', { spec: { template: { spec: podSpec } } }],
      ['StatefulSet', { spec: { template: { spec: podSpec } } }],
      ['DaemonSet', { spec: { template: { spec: podSpec } } }],
      ['ReplicaSet', { spec: { template: { spec: podSpec } } }],
      ['Job', { spec: { template: { spec: podSpec } } }],
      ['CronJob', { spec: { jobTemplate: { spec: { template: { spec: podSpec } } } } }],
    ];
    for (const [kind, object] of cases) {
      const r = parseAdmissionReview(review(kind, object));
      assert.ok(r.ok, `${kind}: ${!r.ok && r.reason}`);
      assert.deepEqual(r.request.images, ['a/init:1', 'a/app:1', 'busybox']);
      assert.equal(r.request.user, 'bob');
    }
    const glass = parseAdmissionReview(review('Deployment', { spec: { template: { metadata: { annotations: { 'alpha.image-policy.k8s.io/break-glass': 'true' } }, spec: podSpec } } }));
    assert.ok(glass.ok && glass.request.breakGlass);
    const dry = parseAdmissionReview(review('Pod', { spec: podSpec }, { dryRun: true, operation: 'UPDATE' }));
    assert.ok(dry.ok && dry.request.dryRun && dry.request.operation === 'UPDATE');
  });

  it('refuses malformed reviews with a reason, keeping the uid when there is one', () => {
    const bad: unknown[] = [null, [], 'x', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }, review('Pod', null), review('Pod', { spec: { containers: [{ image: 7 }] } }), review('Pod', { spec: { containers: Array(300).fill(0).map((_, i) => ({ image: `a/b:${i}` })) } }), review('Service', { spec: {} }), { ...review('Pod', { spec: podSpec }), request: { ...review('Pod', {}).request, uid: '../../x' } }];
    for (const b of bad) assert.equal(parseAdmissionReview(b).ok, false, JSON.stringify(b)?.slice(0, 100));
    const r = parseAdmissionReview(review('Pod', { spec: {} }));
    assert.ok(!r.ok && r.uid === 'u-1');
  });

  it('splits image references as runtimes do', () => {
    assert.deepEqual(splitImage('nginx'), { host: 'docker.io', path: 'library/nginx', tag: 'latest' });
    assert.deepEqual(splitImage('reg.example:5000/ml/app:v1'), { host: 'reg.example:5000', path: 'ml/app', tag: 'v1' });
    assert.deepEqual(splitImage(`localhost/x@${D}`), { host: 'localhost', path: 'x', digest: D });
    assert.deepEqual(splitImage(`a/b:t@${D}`), { host: 'docker.io', path: 'a/b', tag: 't', digest: D });
    for (const bad of ['UPPER/x', 'a/b:@', 'a/b@sha256:xyz', '', 'reg.example/']) assert.equal(splitImage(bad), undefined, bad);
  });
});
