/**
 * What the authentication fast paths may remember, and what they must not (issue 10, speed with
 * auth on): verified tokens are remembered by their exact string, never past their expiry;
 * principals (disabled? password hash, role bindings) briefly, forgotten at once when this
 * process changes any of them; identical Basic credentials checked at the same time share one
 * scrypt. Each test drives the HTTP app (app.inject) with an injected clock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { startHarness, pushImage, type Harness } from '../http/harness.js';
import { assertError } from '../http/support.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';
import { SqlIdentityStore } from '../../src/storage/metadata/sql-identity-store.js';

const ADMIN = basic('admin', TEST_ADMIN_PASSWORD);
let clock = Date.UTC(2026, 0, 1);
let h: Harness;

async function api(method: string, url: string, body?: unknown, auth = ADMIN) {
  return h.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** A user with a role; returns its Basic header and the id of the role binding. */
async function user(name: string, role = 'reader', scope = 'ml/train'): Promise<{ auth: string; binding: number }> {
  const r = await api('POST', '/api/v1/users', { name, password: `${name}-password` });
  assert.equal(r.statusCode, 201, r.body);
  const b = await api('POST', '/api/v1/role-bindings', { principal: name, role, scope });
  assert.equal(b.statusCode, 201, b.body);
  return { auth: basic(name, `${name}-password`), binding: (JSON.parse(b.body) as { id: number }).id };
}

async function token(auth: string, scope = 'repository:ml/train:pull'): Promise<string> {
  const r = await h.app.inject({ method: 'GET', url: `/auth/token?service=wharf&scope=${encodeURIComponent(scope)}`, headers: { authorization: auth } });
  assert.equal(r.statusCode, 200, r.body);
  return (JSON.parse(r.body) as { token: string }).token;
}

const pull = (authorization: string) =>
  h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: { authorization, accept: 'application/vnd.oci.image.manifest.v1+json' } });

before(async () => {
  // the remembered password successes are on (10 minutes), as in production; no back-off here
  h = await startHarness({ auth: { now: () => clock, lifetimeSeconds: 300, cacheTtlMs: 600_000, throttle: { freeFailures: 1000, baseDelayMs: 1000, maxDelayMs: 1000 } } });
  const app = { inject: (o: Record<string, unknown>) => h.app.inject({ ...o, headers: { ...(o.headers as object), authorization: ADMIN } } as never) };
  await pushImage(app as never, 'ml/train', 'v1');
});
after(async () => h?.close());

describe('verified tokens', () => {
  test('a remembered token is refused once it has expired (and the clock tolerance has passed)', async () => {
    const { auth } = await user('tina');
    const t = await token(auth);
    assert.equal((await pull(`Bearer ${t}`)).statusCode, 200);
    assert.equal((await pull(`Bearer ${t}`)).statusCode, 200); // remembered now
    const saved = clock;
    try {
      clock = decodeJwt(t).exp! * 1000 + 31_000; // past exp and the 30 s leeway
      const r = await pull(`Bearer ${t}`);
      assertError(r, 401, 'UNAUTHORIZED');
      assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
    } finally {
      clock = saved;
    }
    assert.equal((await pull(`Bearer ${await token(auth)}`)).statusCode, 200);
  });

  test('a token that differs from a remembered one by one character is verified, and refused', async () => {
    const { auth } = await user('tom');
    const t = await token(auth);
    assert.equal((await pull(`Bearer ${t}`)).statusCode, 200);
    const [head, payload, sig] = t.split('.') as [string, string, string];
    const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    assertError(await pull(`Bearer ${head}.${payload}.${flipped}`), 401, 'UNAUTHORIZED');
    // the same payload under another (valid-looking) header is not the remembered string either
    const otherHead = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    assertError(await pull(`Bearer ${otherHead}.${payload}.${sig}`), 401, 'UNAUTHORIZED');
    assert.equal((await pull(`Bearer ${t}`)).statusCode, 200);
  });

  test('a remembered token of a user disabled, or whose role is revoked, is refused at once', async () => {
    const a = await user('dora');
    const ta = await token(a.auth);
    assert.equal((await pull(`Bearer ${ta}`)).statusCode, 200);
    assert.equal((await api('PATCH', '/api/v1/users/dora', { disabled: true })).statusCode, 200);
    assertError(await pull(`Bearer ${ta}`), 401, 'UNAUTHORIZED');
    assert.equal((await api('PATCH', '/api/v1/users/dora', { disabled: false })).statusCode, 200);
    assert.equal((await pull(`Bearer ${ta}`)).statusCode, 200);

    const b = await user('rick');
    const tb = await token(b.auth);
    assert.equal((await pull(`Bearer ${tb}`)).statusCode, 200);
    assert.equal((await api('DELETE', `/api/v1/role-bindings/${b.binding}`)).statusCode, 204);
    const r = await pull(`Bearer ${tb}`);
    assert.ok(r.statusCode === 401 || r.statusCode === 403, `expected a refusal, got ${r.statusCode}`);

    const c = await user('dave');
    const tc = await token(c.auth);
    assert.equal((await pull(`Bearer ${tc}`)).statusCode, 200);
    assert.equal((await api('DELETE', '/api/v1/users/dave')).statusCode, 204);
    assertError(await pull(`Bearer ${tc}`), 401, 'UNAUTHORIZED');
  });

  test('a change made elsewhere (another replica, through its own store) is seen within a second', async () => {
    const { auth } = await user('remy');
    const t = await token(auth);
    assert.equal((await pull(`Bearer ${t}`)).statusCode, 200);
    const elsewhere = new SqlIdentityStore(h.metadata.database, () => clock);
    await elsewhere.updatePrincipal('remy', { disabled: true });
    const saved = clock;
    try {
      clock += 1001;
      assertError(await pull(`Bearer ${t}`), 401, 'UNAUTHORIZED');
      assertError(await pull(auth), 401, 'UNAUTHORIZED');
    } finally {
      clock = saved;
    }
  });
});

describe('remembered Basic logins', () => {
  test('a changed password, a disabled account and a revoked role end a remembered success at once', async () => {
    const a = await user('pam');
    assert.equal((await pull(a.auth)).statusCode, 200);
    assert.equal((await pull(a.auth)).statusCode, 200); // the success and the principal are remembered now
    assert.equal((await api('PUT', '/api/v1/users/pam/password', { password: 'pam-new-password' })).statusCode, 204);
    assertError(await pull(a.auth), 401, 'UNAUTHORIZED');
    assert.equal((await pull(basic('pam', 'pam-new-password'))).statusCode, 200);

    const b = await user('dina');
    assert.equal((await pull(b.auth)).statusCode, 200);
    assert.equal((await pull(b.auth)).statusCode, 200); // the success and the principal are remembered now
    assert.equal((await api('PATCH', '/api/v1/users/dina', { disabled: true })).statusCode, 200);
    assertError(await pull(b.auth), 401, 'UNAUTHORIZED');

    const c = await user('ray');
    assert.equal((await pull(c.auth)).statusCode, 200);
    assert.equal((await pull(c.auth)).statusCode, 200); // the success and the principal are remembered now
    assert.equal((await api('DELETE', `/api/v1/role-bindings/${c.binding}`)).statusCode, 204);
    assertError(await pull(c.auth), 403, 'DENIED');
  });

  test('identical credentials checked at the same time share one scrypt; other passwords are checked on their own', async () => {
    const { auth } = await user('connie');
    const hasher = h.auth!.hasher;
    const original = hasher.verify.bind(hasher);
    let checks = 0;
    hasher.verify = async (password: string, stored: string) => {
      checks++;
      return original(password, stored);
    };
    try {
      const wrong = basic('connie', 'not-her-password');
      const answers = await Promise.all([...Array.from({ length: 16 }, () => pull(auth)), ...Array.from({ length: 4 }, () => pull(wrong))]);
      assert.deepEqual(
        answers.map((r) => r.statusCode),
        [...Array<number>(16).fill(200), ...Array<number>(4).fill(401)],
      );
      assert.equal(checks, 2, 'one scrypt for the 16 right answers, one for the 4 wrong ones');
      assert.equal((await pull(auth)).statusCode, 200);
      assert.equal(checks, 2, 'the success is remembered');
    } finally {
      hasher.verify = original;
    }
  });

  test('an API key revoked while its service account is remembered is refused at once', async () => {
    assert.equal((await api('POST', '/api/v1/service-accounts', { name: 'ci' })).statusCode, 201);
    assert.equal((await api('POST', '/api/v1/role-bindings', { principal: 'ci', role: 'reader', scope: 'ml/train' })).statusCode, 201);
    const k1 = JSON.parse((await api('POST', '/api/v1/service-accounts/ci/keys', {})).body) as { id: string; key: string };
    const k2 = JSON.parse((await api('POST', '/api/v1/service-accounts/ci/keys', {})).body) as { id: string; key: string };
    assert.equal((await pull(basic('ci', k1.key))).statusCode, 200);
    assert.equal((await pull(basic('ci', k2.key))).statusCode, 200);
    assert.equal((await api('DELETE', `/api/v1/service-accounts/ci/keys/${k1.id}`)).statusCode, 204);
    assertError(await pull(basic('ci', k1.key)), 401, 'UNAUTHORIZED');
    assert.equal((await pull(basic('ci', k2.key))).statusCode, 200);
  });
});
