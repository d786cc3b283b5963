/**
 * The authorization matrix: every route of the /v2 table and of the /api/v1 table, for every
 * subject (each role at each binding scope, a user with no binding, anonymous, and both on a
 * public repository), is allowed or refused as a small spec below says. The spec is written
 * independently of the routes' own declarations; a route missing from it fails the test, so a
 * new route cannot slip past.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { V2_ROUTES } from '../../src/http/v2/routes.js';
import { API_ROUTES } from '../../src/http/api/routes.js';
import { startHarness, type Harness } from '../http/harness.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';

type Need = 'none' | 'authenticated' | 'admin' | 'self' | 'pull' | 'push' | 'delete' | 'settings' | 'pull+push';
const DIGEST = `sha256:${'a'.repeat(64)}`;

/** route id -> what it needs, and a sample request ({repo} is the target repository, also in a JSON body). */
const SPEC: Record<string, { need: Need; method: string; url: string; body?: Record<string, unknown> }> = {
  catalog: { need: 'authenticated', method: 'GET', url: '/v2/_catalog' },
  'manifest.get': { need: 'pull', method: 'GET', url: '/v2/{repo}/manifests/v1' },
  'manifest.head': { need: 'pull', method: 'HEAD', url: '/v2/{repo}/manifests/v1' },
  'manifest.put': { need: 'push', method: 'PUT', url: '/v2/{repo}/manifests/v9' },
  'manifest.delete': { need: 'delete', method: 'DELETE', url: `/v2/{repo}/manifests/${DIGEST}` },
  'upload.start': { need: 'pull+push', method: 'POST', url: '/v2/{repo}/blobs/uploads/' },
  'upload.status': { need: 'push', method: 'GET', url: '/v2/{repo}/blobs/uploads/nope' },
  'upload.patch': { need: 'push', method: 'PATCH', url: '/v2/{repo}/blobs/uploads/nope' },
  'upload.put': { need: 'push', method: 'PUT', url: `/v2/{repo}/blobs/uploads/nope?digest=${DIGEST}` },
  'upload.cancel': { need: 'push', method: 'DELETE', url: '/v2/{repo}/blobs/uploads/nope' },
  'blob.get': { need: 'pull', method: 'GET', url: `/v2/{repo}/blobs/${DIGEST}` },
  'blob.head': { need: 'pull', method: 'HEAD', url: `/v2/{repo}/blobs/${DIGEST}` },
  'blob.delete': { need: 'delete', method: 'DELETE', url: `/v2/{repo}/blobs/${DIGEST}` },
  'tags.list': { need: 'pull', method: 'GET', url: '/v2/{repo}/tags/list' },
  referrers: { need: 'pull', method: 'GET', url: `/v2/{repo}/referrers/${DIGEST}` },
  'api.openapi': { need: 'none', method: 'GET', url: '/api/v1/openapi.json' },
  'api.whoami': { need: 'authenticated', method: 'GET', url: '/api/v1/whoami' },
  'api.users.list': { need: 'admin', method: 'GET', url: '/api/v1/users' },
  'api.users.create': { need: 'admin', method: 'POST', url: '/api/v1/users' },
  'api.users.get': { need: 'self', method: 'GET', url: '/api/v1/users/someone-else' },
  'api.users.update': { need: 'admin', method: 'PATCH', url: '/api/v1/users/someone-else' },
  'api.users.password': { need: 'self', method: 'PUT', url: '/api/v1/users/someone-else/password' },
  'api.users.delete': { need: 'admin', method: 'DELETE', url: '/api/v1/users/someone-else' },
  'api.sa.list': { need: 'admin', method: 'GET', url: '/api/v1/service-accounts' },
  'api.sa.create': { need: 'admin', method: 'POST', url: '/api/v1/service-accounts' },
  'api.sa.get': { need: 'admin', method: 'GET', url: '/api/v1/service-accounts/ci' },
  'api.sa.update': { need: 'admin', method: 'PATCH', url: '/api/v1/service-accounts/ci' },
  'api.sa.delete': { need: 'admin', method: 'DELETE', url: '/api/v1/service-accounts/ci' },
  'api.sa.keys.list': { need: 'admin', method: 'GET', url: '/api/v1/service-accounts/ci/keys' },
  'api.sa.keys.create': { need: 'admin', method: 'POST', url: '/api/v1/service-accounts/ci/keys' },
  'api.sa.keys.revoke': { need: 'admin', method: 'DELETE', url: '/api/v1/service-accounts/ci/keys/nope' },
  'api.roles.list': { need: 'admin', method: 'GET', url: '/api/v1/role-bindings' },
  'api.roles.grant': { need: 'admin', method: 'POST', url: '/api/v1/role-bindings' },
  'api.roles.revoke': { need: 'admin', method: 'DELETE', url: '/api/v1/role-bindings/999999' },
  'api.audit': { need: 'admin', method: 'GET', url: '/api/v1/audit' },
  'api.repos.list': { need: 'authenticated', method: 'GET', url: '/api/v1/repositories' },
  'api.repos.get': { need: 'pull', method: 'GET', url: '/api/v1/repositories/{repo}' },
  'api.repos.update': { need: 'settings', method: 'PATCH', url: '/api/v1/repositories/{repo}' },
  'api.keys.rotate': { need: 'admin', method: 'POST', url: '/api/v1/signing-keys/rotate' },
  'api.scan.run': { need: 'pull', method: 'POST', url: '/api/v1/scans/{repo}' },
  'api.scan.get': { need: 'pull', method: 'GET', url: '/api/v1/scans/{repo}?reference=v1' },
  'api.insights.get': { need: 'pull', method: 'GET', url: '/api/v1/insights/{repo}?reference=v1' },
  'api.insights.run': { need: 'pull', method: 'POST', url: '/api/v1/insights/{repo}' },
  'api.insights.diff': { need: 'pull', method: 'POST', url: '/api/v1/insights-diff', body: { from: { repository: '{repo}', reference: 'v1' }, to: { repository: '{repo}', reference: 'v1' } } },
  'api.models.list': { need: 'authenticated', method: 'GET', url: '/api/v1/models' },
  'api.models.files': { need: 'authenticated', method: 'GET', url: `/api/v1/model-files?digest=${DIGEST}` },
  'api.models.get': { need: 'pull', method: 'GET', url: '/api/v1/models/{repo}?reference=v1' },
  'api.models.extract': { need: 'pull', method: 'POST', url: '/api/v1/models/{repo}', body: { reference: 'v1' } },
  'api.pypi.files': { need: 'pull', method: 'GET', url: '/api/v1/pypi/files/{repo}' },
  'api.pypi.findings': { need: 'pull', method: 'GET', url: '/api/v1/pypi/findings/{repo}' },
  'api.pypi.yank': { need: 'push', method: 'POST', url: '/api/v1/pypi/yank/{repo}', body: { project: 'lib', version: '1.0' } },
  'api.pypi.delete': { need: 'delete', method: 'DELETE', url: '/api/v1/pypi/files/{repo}?project=lib' },
  'api.sbom.get': { need: 'pull', method: 'GET', url: '/api/v1/sbom/{repo}?reference=v1' },
  'api.sbom.attach': { need: 'pull+push', method: 'POST', url: '/api/v1/sbom/{repo}' },
  'api.files.get': { need: 'pull', method: 'GET', url: '/api/v1/files/{repo}:v1/etc/hostname' },
  'api.files.head': { need: 'pull', method: 'HEAD', url: '/api/v1/files/{repo}:v1/etc/hostname' },
  'api.fileindex.build': { need: 'pull+push', method: 'POST', url: '/api/v1/file-indexes/{repo}', body: { reference: 'v1' } },
  'api.fileindex.get': { need: 'pull', method: 'GET', url: '/api/v1/file-indexes/{repo}?reference=v1' },
  'api.signatures.list': { need: 'pull', method: 'GET', url: '/api/v1/signatures/{repo}?reference=v1' },
  'api.signatures.verify': { need: 'pull', method: 'POST', url: '/api/v1/verifications/{repo}', body: { reference: 'v1' } },
  'api.attestors.list': { need: 'authenticated', method: 'GET', url: '/api/v1/attestors' },
  'api.attestors.get': { need: 'authenticated', method: 'GET', url: '/api/v1/attestors/nope' },
  'api.attestors.put': { need: 'admin', method: 'PUT', url: '/api/v1/attestors/nope' },
  'api.attestors.delete': { need: 'admin', method: 'DELETE', url: '/api/v1/attestors/nope' },
  'api.deploy-policies.list': { need: 'authenticated', method: 'GET', url: '/api/v1/deploy-policies' },
  'api.deploy-policies.get': { need: 'authenticated', method: 'GET', url: '/api/v1/deploy-policy?scope=nope/*' },
  'api.deploy-policies.put': { need: 'admin', method: 'PUT', url: '/api/v1/deploy-policy?scope=nope/*' },
  'api.deploy-policies.delete': { need: 'admin', method: 'DELETE', url: '/api/v1/deploy-policy?scope=nope/*' },
  'api.deploy-policies.check': { need: 'pull', method: 'POST', url: '/api/v1/deploy-policy-checks/{repo}', body: { reference: 'v1' } },
  'api.vulndb.status': { need: 'authenticated', method: 'GET', url: '/api/v1/vulndb' },
  'api.vulndb.import': { need: 'admin', method: 'POST', url: '/api/v1/vulndb/imports?source=x' },
  'api.repos.create': { need: 'settings', method: 'POST', url: '/api/v1/repositories', body: { name: '{repo}' } },
  'api.tags.history': { need: 'pull', method: 'GET', url: '/api/v1/tag-history/{repo}' },
  'api.images.list': { need: 'pull', method: 'GET', url: '/api/v1/images/{repo}' },
  'api.policy.get': { need: 'pull', method: 'GET', url: '/api/v1/cleanup-policies/{repo}' },
  'api.policy.put': { need: 'settings', method: 'PUT', url: '/api/v1/cleanup-policies/{repo}' },
  'api.policy.delete': { need: 'settings', method: 'DELETE', url: '/api/v1/cleanup-policies/{repo}' },
  'api.policy.dry-run': { need: 'settings', method: 'POST', url: '/api/v1/cleanup-dry-runs/{repo}' },
  'api.policy.run': { need: 'delete', method: 'POST', url: '/api/v1/cleanup-runs/{repo}' },
  'api.usage': { need: 'authenticated', method: 'GET', url: '/api/v1/usage' },
  'api.namespaces.list': { need: 'admin', method: 'GET', url: '/api/v1/namespaces' },
  'api.namespaces.get': { need: 'admin', method: 'GET', url: '/api/v1/namespaces/team' },
  'api.namespaces.put': { need: 'admin', method: 'PUT', url: '/api/v1/namespaces/team' },
  'api.namespaces.delete': { need: 'admin', method: 'DELETE', url: '/api/v1/namespaces/team' },
  'api.gc.run': { need: 'admin', method: 'POST', url: '/api/v1/gc' },
  'api.gc.runs': { need: 'admin', method: 'GET', url: '/api/v1/gc/runs' },
  // last: it deletes the target repository for whoever may
  'api.repos.delete': { need: 'delete', method: 'DELETE', url: '/api/v1/repositories/{repo}' },
  'api.jobs.list': { need: 'admin', method: 'GET', url: '/api/v1/jobs' },
  'api.jobs.get': { need: 'admin', method: 'GET', url: '/api/v1/jobs/1' },
};

const ROLE_ACTIONS: Record<string, string[]> = {
  reader: ['pull'],
  writer: ['pull', 'push'],
  repoAdmin: ['pull', 'push', 'delete', 'settings'],
  admin: ['pull', 'push', 'delete', 'settings'],
};

interface Subject {
  label: string;
  /** undefined = anonymous */
  user?: string;
  role?: string;
  scope?: string;
  /** the repository the requests target */
  repo: string;
}

const SUBJECTS: Subject[] = [
  ...['reader', 'writer', 'repoAdmin'].flatMap((role) => [
    { label: `${role}@registry`, user: `m-${role.toLowerCase()}-r`, role, scope: '*', repo: 'team/app' },
    { label: `${role}@namespace`, user: `m-${role.toLowerCase()}-n`, role, scope: 'team/*', repo: 'team/app' },
    { label: `${role}@repository`, user: `m-${role.toLowerCase()}-p`, role, scope: 'team/app', repo: 'team/app' },
    { label: `${role}@other-namespace`, user: `m-${role.toLowerCase()}-o`, role, scope: 'other/*', repo: 'team/app' },
  ]),
  { label: 'admin@registry', user: 'm-admin', role: 'admin', scope: '*', repo: 'team/app' },
  { label: 'no binding', user: 'm-none', repo: 'team/app' },
  { label: 'anonymous', repo: 'team/app' },
  { label: 'no binding, public repo', user: 'm-none', repo: 'pub/app' },
  { label: 'anonymous, public repo', repo: 'pub/app' },
];

function expected(s: Subject, need: Need): boolean {
  const covers = s.scope === '*' || (s.scope === 'team/*' && s.repo.startsWith('team/')) || s.scope === s.repo;
  const actions = new Set(s.role && covers ? ROLE_ACTIONS[s.role] : []);
  if (s.repo === 'pub/app') actions.add('pull');
  switch (need) {
    case 'none':
      return true;
    case 'authenticated':
      return s.user !== undefined;
    case 'admin':
    case 'self': // the sample names someone else: only an admin
      return s.role === 'admin';
    case 'pull+push':
      return actions.has('pull') && actions.has('push');
    default:
      return actions.has(need);
  }
}

let h: Harness;
before(async () => {
  h = await startHarness({ auth: {} });
  const admin = basic('admin', TEST_ADMIN_PASSWORD);
  const call = (method: string, url: string, body: unknown) =>
    h.app.inject({ method: method as 'POST', url, headers: { authorization: admin, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  for (const s of SUBJECTS) {
    if (!s.user) continue;
    const created = await call('POST', '/api/v1/users', { name: s.user, password: `${s.user}-pw-1234` });
    assert.ok(created.statusCode === 201 || created.statusCode === 409, created.body);
    if (s.role) assert.equal((await call('POST', '/api/v1/role-bindings', { principal: s.user, role: s.role, scope: s.scope })).statusCode, 201);
  }
  await h.app.inject({ method: 'POST', url: `/v2/pub/app/blobs/uploads/?digest=sha256:${'0'.repeat(64)}`, headers: { authorization: admin } });
  const blob = Buffer.from('x');
  const { digestOf } = await import('../../src/domain/digest.js');
  await h.app.inject({ method: 'POST', url: `/v2/pub/app/blobs/uploads/?digest=${digestOf(blob)}`, headers: { authorization: admin }, payload: blob });
  assert.equal((await call('PATCH', '/api/v1/repositories/pub/app', { public: true })).statusCode, 200);
});
after(async () => h?.close());

describe('authorization matrix', () => {
  test('every route of both tables has a spec entry (and no entry names a route that is gone)', () => {
    const ids = [...V2_ROUTES.map((r) => r.id), ...API_ROUTES.map((r) => r.id)];
    for (const id of ids) assert.ok(SPEC[id], `route ${id} has no entry in the authorization matrix spec`);
    for (const id of Object.keys(SPEC)) assert.ok(ids.includes(id), `spec entry ${id} names no route`);
  });

  for (const s of SUBJECTS) {
    test(s.label, async () => {
      const failures: string[] = [];
      for (const [id, spec] of Object.entries(SPEC)) {
        const url = spec.url.replace('{repo}', s.repo);
        const headers: Record<string, string> = s.user ? { authorization: basic(s.user, `${s.user}-pw-1234`) } : {};
        const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body).replaceAll('{repo}', s.repo);
        if (payload !== undefined) headers['content-type'] = 'application/json';
        const res = await h.app.inject({ method: spec.method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
        const allow = expected(s, spec.need);
        const got = res.statusCode;
        if (allow && (got === 401 || got === 403)) failures.push(`${id}: expected allowed, got ${got} ${res.body.slice(0, 120)}`);
        if (!allow) {
          const want = s.user ? 403 : 401;
          if (got !== want) failures.push(`${id}: expected ${want}, got ${got} ${res.body.slice(0, 120)}`);
          if (got === 401 && !String(res.headers['www-authenticate'] ?? '').length) failures.push(`${id}: 401 without a challenge`);
        }
      }
      assert.deepEqual(failures, []);
    });
  }
});
