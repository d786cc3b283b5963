/**
 * /api/v1 over HTTP: API key lifecycle (shown once, hashed at rest, expiry, revocation,
 * last-used), role bindings, self-service password, the last-admin guard, audit queries, and bad
 * input on every endpoint that takes some.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, type Harness } from '../http/harness.js';
import { assertError } from '../http/support.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';

const ADMIN = basic('admin', TEST_ADMIN_PASSWORD);
let clock = Date.now();
let h: Harness;

function call(method: string, url: string, body?: unknown, auth: string | undefined = ADMIN, raw?: string) {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
  return h.app.inject({ method: method as 'GET', url, headers, payload: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
}
const json = <T>(r: { body: string }): T => JSON.parse(r.body) as T;

before(async () => {
  h = await startHarness({ auth: { now: () => clock } });
});
after(async () => h?.close());

describe('service accounts and API keys', () => {
  test('a key is shown once, stored hashed, works as a password, expires, is revocable, records last use', async () => {
    assert.equal((await call('POST', '/api/v1/service-accounts', { name: 'ci', description: 'CI pipeline' })).statusCode, 201);
    assert.equal((await call('POST', '/api/v1/role-bindings', { principal: 'ci', role: 'writer', scope: 'ml/*' })).statusCode, 201);
    const created = await call('POST', '/api/v1/service-accounts/ci/keys', { description: 'gha', expiresInDays: 1 });
    assert.equal(created.statusCode, 201, created.body);
    const key = json<{ id: string; key: string; expiresAt: string; lastUsedAt: null }>(created);
    assert.match(key.key, /^wharf_sa_/);
    assert.equal(key.lastUsedAt, null);
    const listed = json<{ items: Record<string, unknown>[] }>(await call('GET', '/api/v1/service-accounts/ci/keys'));
    assert.equal(listed.items.length, 1);
    assert.ok(!JSON.stringify(listed).includes(key.key.slice(26)), 'the key is never shown again');
    assert.equal(listed.items[0]!.key, undefined);

    // at rest: neither the key nor its secret part is in the database files
    await h.auth!.audit.flush();
    const secret = key.key.slice(26);
    for (const f of readdirSync(h.dir).filter((n) => n.startsWith('wharf.db'))) {
      const bytes = readFileSync(join(h.dir, f));
      assert.equal(bytes.indexOf(secret), -1, `secret found in ${f}`);
      assert.equal(bytes.indexOf(key.key), -1, `key found in ${f}`);
    }

    const sa = basic('ci', key.key);
    const push = await h.app.inject({ method: 'POST', url: '/v2/ml/app/blobs/uploads/', headers: { authorization: sa } });
    assert.equal(push.statusCode, 202, push.body);
    assertError(await h.app.inject({ method: 'POST', url: '/v2/other/app/blobs/uploads/', headers: { authorization: sa } }), 403, 'DENIED');
    assertError(await h.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: basic('not-ci', key.key) } }), 401, 'UNAUTHORIZED');
    const used = json<{ items: { lastUsedAt: string | null }[] }>(await call('GET', '/api/v1/service-accounts/ci/keys'));
    assert.ok(used.items[0]!.lastUsedAt !== null, 'last use recorded');

    const saved = clock;
    clock += 86_400_000 + 1000;
    assertError(await h.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: sa } }), 401, 'UNAUTHORIZED');
    clock = saved;

    assert.equal((await call('DELETE', `/api/v1/service-accounts/ci/keys/${key.id}`)).statusCode, 204);
    assertError(await h.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: sa } }), 401, 'UNAUTHORIZED');
    assertError(await call('DELETE', `/api/v1/service-accounts/ci/keys/${key.id}`), 404, 'RESOURCE_UNKNOWN');
    const revoked = json<{ items: { revokedAt: string | null }[] }>(await call('GET', '/api/v1/service-accounts/ci/keys'));
    assert.ok(revoked.items[0]!.revokedAt !== null);
  });
  test('a service account has no password login', async () => {
    assertError(await h.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: basic('ci', 'any-password') } }), 401, 'UNAUTHORIZED');
  });
});

describe('users, roles, self-service', () => {
  test('whoami; a user reads itself and changes its own password, not others\'', async () => {
    assert.equal((await call('POST', '/api/v1/users', { name: 'alice', password: 'alice-password' })).statusCode, 201);
    assert.equal((await call('POST', '/api/v1/users', { name: 'bob', password: 'bob-password' })).statusCode, 201);
    const alice = basic('alice', 'alice-password');
    assert.deepEqual(json(await call('GET', '/api/v1/whoami', undefined, alice)), { name: 'alice', kind: 'user', via: 'password', admin: false, roles: [] });
    assert.equal((await call('GET', '/api/v1/users/alice', undefined, alice)).statusCode, 200);
    assertError(await call('GET', '/api/v1/users/bob', undefined, alice), 403, 'DENIED');
    assertError(await call('PUT', '/api/v1/users/bob/password', { password: 'hijacked-pw' }, alice), 403, 'DENIED');
    assert.equal((await call('PUT', '/api/v1/users/alice/password', { password: 'alice-new-password' }, alice)).statusCode, 204);
    assertError(await call('GET', '/api/v1/whoami', undefined, alice), 401, 'UNAUTHORIZED');
    assert.equal((await call('GET', '/api/v1/whoami', undefined, basic('alice', 'alice-new-password'))).statusCode, 200);
  });
  test('/api/v1 challenges with Basic', async () => {
    const r = await call('GET', '/api/v1/whoami', undefined, '');
    assertError(r, 401, 'UNAUTHORIZED');
    assert.match(String(r.headers['www-authenticate']), /^Basic realm="wharf"/);
  });
  test('disable blocks login; the last enabled admin cannot be deleted, disabled or unbound', async () => {
    assert.equal((await call('PATCH', '/api/v1/users/bob', { disabled: true })).statusCode, 200);
    assertError(await call('GET', '/api/v1/whoami', undefined, basic('bob', 'bob-password')), 401, 'UNAUTHORIZED');
    assertError(await call('DELETE', '/api/v1/users/admin'), 409, 'CONFLICT');
    assertError(await call('PATCH', '/api/v1/users/admin', { disabled: true }), 409, 'CONFLICT');
    const bindings = json<{ items: { id: number; role: string; principal: string; scope: string }[] }>(await call('GET', '/api/v1/role-bindings?principal=admin'));
    assert.deepEqual(bindings.items.map((b) => [b.principal, b.role, b.scope]), [['admin', 'admin', '*']]);
    assertError(await call('DELETE', `/api/v1/role-bindings/${bindings.items[0]!.id}`), 409, 'CONFLICT');
  });
  test('role bindings: duplicates conflict; admin only at registry scope; unknown principal', async () => {
    assert.equal((await call('POST', '/api/v1/role-bindings', { principal: 'alice', role: 'reader', scope: 'team/*' })).statusCode, 201);
    assertError(await call('POST', '/api/v1/role-bindings', { principal: 'alice', role: 'reader', scope: 'team/*' }), 409, 'CONFLICT');
    assertError(await call('POST', '/api/v1/role-bindings', { principal: 'alice', role: 'admin', scope: 'team/*' }), 400, 'BODY_INVALID');
    assertError(await call('POST', '/api/v1/role-bindings', { principal: 'ghost', role: 'reader', scope: '*' }), 404, 'RESOURCE_UNKNOWN');
  });
  test('concurrent creation of one user: exactly one wins, the others conflict', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => call('POST', '/api/v1/users', { name: 'racer', password: 'racer-password' })));
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
  });
});

describe('audit', () => {
  test('mutations and denials are recorded with who, what, where; filters and paging', async () => {
    await h.auth!.audit.flush();
    const all = json<{ items: { action: string; actor: string; result: string; address?: string; target?: string; detail?: object }[]; more: boolean }>(
      await call('GET', '/api/v1/audit?limit=1000'),
    );
    const actions = new Set(all.items.map((e) => `${e.action}:${e.result}`));
    for (const a of ['user.create:ok', 'sa.create:ok', 'sa.key.create:ok', 'sa.key.revoke:ok', 'role.grant:ok', 'user.password:ok', 'api.users.get:denied', 'upload.start:denied']) {
      assert.ok(actions.has(a), `${a} missing from ${[...actions].join(' ')}`);
    }
    assert.ok(all.items.every((e) => e.address !== undefined));
    assert.ok(!JSON.stringify(all).includes('alice-new-password'), 'passwords never reach the audit log');
    const denied = json<{ items: { result: string }[] }>(await call('GET', '/api/v1/audit?result=denied&actor=alice'));
    assert.ok(denied.items.length >= 2 && denied.items.every((e) => e.result === 'denied'));
    const p1 = json<{ items: { id: number }[]; more: boolean; next: number }>(await call('GET', '/api/v1/audit?limit=2'));
    assert.equal(p1.items.length, 2);
    assert.equal(p1.more, true);
    const p2 = json<{ items: { id: number }[] }>(await call('GET', `/api/v1/audit?limit=2&before=${p1.next}`));
    assert.ok(p2.items[0]!.id < p1.items[1]!.id);
    assertError(await call('GET', '/api/v1/audit?since=yesterday'), 400, 'BODY_INVALID');
    assertError(await call('GET', '/api/v1/audit?result=maybe'), 400, 'BODY_INVALID');
  });
});

describe('bad input', () => {
  test('malformed JSON, wrong content type, empty body, oversized body, unknown fields, wrong types', async () => {
    assertError(await call('POST', '/api/v1/users', undefined, ADMIN, '{"name": "x",'), 400, 'BODY_INVALID');
    assertError(await call('POST', '/api/v1/users', undefined, ADMIN, ''), 400, 'BODY_INVALID');
    const form = await h.app.inject({ method: 'POST', url: '/api/v1/users', headers: { authorization: ADMIN, 'content-type': 'text/plain' }, payload: 'name=x' });
    assertError(form, 415, 'UNSUPPORTED');
    const big = JSON.stringify({ name: 'big', password: 'x'.repeat(70 * 1024) });
    assertError(await call('POST', '/api/v1/users', undefined, ADMIN, big), 413, 'BODY_TOO_LARGE');
    assertError(await call('POST', '/api/v1/users', { name: 'eve', password: 'eve-password', admin: true }), 400, 'BODY_INVALID');
    assertError(await call('POST', '/api/v1/users', { name: 'eve', password: 12345678 }), 400, 'BODY_INVALID');
    assertError(await call('POST', '/api/v1/users', { name: 'eve', password: 'short' }), 400, 'BODY_INVALID');
    assertError(await call('POST', '/api/v1/users', [{ name: 'eve' }]), 400, 'BODY_INVALID');
    assertError(await call('POST', '/api/v1/users', undefined, ADMIN, '{"name":"eve","password":"eve-password","__proto__":{"x":1}}'), 400, 'BODY_INVALID');
    assertError(await call('PATCH', '/api/v1/repositories/ml/app', { public: 'yes' }), 400, 'BODY_INVALID');
    assertError(await call('POST', '/api/v1/service-accounts/ci/keys', { expiresInDays: -1 }), 400, 'BODY_INVALID');
    assertError(await call('GET', '/api/v1/users?limit=abc'), 400, 'BODY_INVALID');
    assertError(await call('GET', '/api/v1/whoami?x=1'), 400, 'BODY_INVALID');
  });
  test('names with injection attempts are refused, and nothing is created', async () => {
    for (const name of ["x'; DROP TABLE principals; --", '../admin', 'Admin', 'a b', 'a:b', '<script>', '', 'x'.repeat(65), 'ünï']) {
      const r = await call('POST', '/api/v1/users', { name, password: 'valid-password' });
      assertError(r, 400, 'BODY_INVALID');
      assertError(await call('POST', '/api/v1/service-accounts', { name }), 400, 'BODY_INVALID');
    }
    for (const scope of ['*/*', 'team/**', "x' OR 1=1", '../../etc', 'TEAM/*']) {
      assertError(await call('POST', '/api/v1/role-bindings', { principal: 'alice', role: 'reader', scope }), 400, 'BODY_INVALID');
    }
    assertError(await call('GET', '/api/v1/repositories/..%2F..%2Fetc'), 400, 'NAME_INVALID');
    assertError(await call('GET', "/api/v1/users/x'%20OR%201=1"), 404, 'RESOURCE_UNKNOWN');
    const users = json<{ items: { name: string }[] }>(await call('GET', '/api/v1/users'));
    assert.deepEqual(users.items.map((u) => u.name), ['admin', 'alice', 'bob', 'racer']);
  });
  test('unknown resources answer 404; the OpenAPI document lists every route', async () => {
    assertError(await call('GET', '/api/v1/service-accounts/nope'), 404, 'RESOURCE_UNKNOWN');
    assertError(await call('DELETE', '/api/v1/role-bindings/abc'), 404, 'RESOURCE_UNKNOWN');
    assertError(await call('GET', '/api/v1/repositories/no/such'), 404, 'RESOURCE_UNKNOWN');
    const doc = json<{ openapi: string; paths: Record<string, Record<string, { operationId: string }>> }>(await call('GET', '/api/v1/openapi.json', undefined, ''));
    assert.equal(doc.openapi, '3.1.0');
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    assert.ok(ops.includes('api.users.create') && ops.includes('api.repos.update') && ops.length >= 24);
  });
});
