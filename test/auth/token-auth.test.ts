/**
 * Docker token authentication over HTTP (app.inject): challenges, the token endpoint (GET with
 * Basic, OAuth2 POST form, refresh tokens), what a token is worth (expiry, signature, alg none,
 * HS256 with the public key, scope escalation, repository A vs B, key rotation), anonymous pull
 * of public repositories, login back-off and answers that do not tell which accounts exist.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { startHarness, pushImage, type Harness } from '../http/harness.js';
import { assertError } from '../http/support.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';

const ADMIN = basic('admin', TEST_ADMIN_PASSWORD);
let clock = Date.now();
let h: Harness;

async function api(method: string, url: string, body?: unknown, auth = ADMIN) {
  return h.app.inject({ method: method as 'GET', url, headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) }, payload: body === undefined ? undefined : JSON.stringify(body) });
}

async function user(name: string, role?: string, scope?: string): Promise<string> {
  const r = await api('POST', '/api/v1/users', { name, password: `${name}-password` });
  assert.equal(r.statusCode, 201, r.body);
  if (role) assert.equal((await api('POST', '/api/v1/role-bindings', { principal: name, role, scope })).statusCode, 201);
  return basic(name, `${name}-password`);
}

async function token(auth: string | undefined, ...scopes: string[]): Promise<string> {
  const qs = scopes.map((s) => `scope=${encodeURIComponent(s)}`).join('&');
  const r = await h.app.inject({ method: 'GET', url: `/auth/token?service=wharf&${qs}`, headers: auth ? { authorization: auth } : {} });
  assert.equal(r.statusCode, 200, r.body);
  const body = JSON.parse(r.body) as { token: string; access_token: string; expires_in: number };
  assert.equal(body.token, body.access_token);
  return body.token;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

before(async () => {
  // the cache of recent password successes is on, as in production: the back-off must hold in front of it
  h = await startHarness({ auth: { now: () => clock, lifetimeSeconds: 300, cacheTtlMs: 600_000, throttle: { freeFailures: 2, baseDelayMs: 10_000, maxDelayMs: 60_000 } } });
  await pushImageAs('ml/train', 'v1');
  await pushImageAs('ml/other', 'v1');
  await pushImageAs('pub/tool', 'v1');
});
after(async () => h?.close());

async function pushImageAs(repo: string, tag: string): Promise<void> {
  // pushImage drives the app without credentials: inject through a wrapper that adds the admin's
  const app = { inject: (o: Record<string, unknown>) => h.app.inject({ ...o, headers: { ...(o.headers as object), authorization: ADMIN } } as never) };
  await pushImage(app as never, repo, tag);
}

describe('challenges', () => {
  test('GET /v2/ without credentials: 401 with a Bearer challenge naming realm and service', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/v2/' });
    assertError(r, 401, 'UNAUTHORIZED');
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="http://localhost:80/auth/token",service="wharf"');
    const ok = await h.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: ADMIN } });
    assert.equal(ok.statusCode, 200);
  });
  test('the scope in the challenge comes from the route declaration', async () => {
    const pull = await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1' });
    assertError(pull, 401, 'UNAUTHORIZED');
    assert.match(String(pull.headers['www-authenticate']), /scope="repository:ml\/train:pull"/);
    const push = await h.app.inject({ method: 'POST', url: '/v2/ml/train/blobs/uploads/' });
    assert.match(String(push.headers['www-authenticate']), /scope="repository:ml\/train:pull,push"/);
    const cat = await h.app.inject({ method: 'GET', url: '/v2/_catalog' });
    assert.match(String(cat.headers['www-authenticate']), /scope="registry:catalog:\*"/);
  });
  test('the realm follows http.publicUrl when set', async () => {
    const other = await startHarness({ auth: { publicUrl: 'https://registry.example.com' } });
    try {
      const r = await other.app.inject({ method: 'GET', url: '/v2/' });
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm="https:\/\/registry\.example\.com\/auth\/token"/);
    } finally {
      await other.close();
    }
  });
  test('Basic credentials directly on /v2 work; wrong ones are 401', async () => {
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: { authorization: ADMIN } })).statusCode, 200);
    const bad = await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: { authorization: basic('admin', 'nope-nope') } });
    assertError(bad, 401, 'UNAUTHORIZED');
  });
});

describe('token endpoint and tokens', () => {
  test('GET with Basic: an ES256 JWT with iss/aud/sub/exp/nbf/iat/jti and the granted access', async () => {
    const t = await token(ADMIN, 'repository:ml/train:pull,push');
    const header = decodeProtectedHeader(t);
    assert.equal(header.alg, 'ES256');
    assert.equal(typeof header.kid, 'string');
    const claims = decodeJwt(t);
    assert.equal(claims.iss, 'wharf');
    assert.equal(claims.aud, 'wharf');
    assert.equal(claims.sub, 'admin');
    assert.equal(claims.exp! - claims.iat!, 300);
    assert.equal(claims.nbf, claims.iat);
    assert.equal(typeof claims.jti, 'string');
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'ml/train', actions: ['pull', 'push'] }]);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/ml/train/tags/list', headers: bearer(t) })).statusCode, 200);
  });
  test('scope escalation: a reader asking for push gets a token without push, and push is denied', async () => {
    const reader = await user('reader1', 'reader', 'ml/*');
    const t = await token(reader, 'repository:ml/train:pull,push,delete');
    assert.deepEqual(decodeJwt(t).access, [{ type: 'repository', name: 'ml/train', actions: ['pull'] }]);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: bearer(t) })).statusCode, 200);
    assertError(await h.app.inject({ method: 'POST', url: '/v2/ml/train/blobs/uploads/', headers: bearer(t) }), 403, 'DENIED');
    const none = await token(reader, 'repository:secret/x:pull', 'repository:ml/train:*');
    assert.deepEqual(decodeJwt(none).access, [{ type: 'repository', name: 'ml/train', actions: ['pull'] }]);
  });
  test('a token for repository A does not open repository B (insufficient_scope asks for a new one)', async () => {
    const t = await token(ADMIN, 'repository:ml/train:pull');
    const r = await h.app.inject({ method: 'GET', url: '/v2/ml/other/manifests/v1', headers: bearer(t) });
    assertError(r, 401, 'UNAUTHORIZED');
    assert.match(String(r.headers['www-authenticate']), /scope="repository:ml\/other:pull",error="insufficient_scope"/);
  });
  test('expired, tampered, alg none and HS256-with-the-public-key tokens are refused', async () => {
    const t = await token(ADMIN, 'repository:ml/train:pull');
    const get = (tok: string) => h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: bearer(tok) });
    const [head, payload, sig] = t.split('.') as [string, string, string];
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...decodeJwt(t), sub: 'someone' })).toString('base64url')}.${sig}`;
    assertError(await get(tampered), 401, 'UNAUTHORIZED');
    const flipped = `${head}.${payload}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
    assertError(await get(flipped), 401, 'UNAUTHORIZED');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: decodeProtectedHeader(t).kid })).toString('base64url')}.${payload}.`;
    const r = await get(none);
    assertError(r, 401, 'UNAUTHORIZED');
    assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
    const jwks = JSON.parse((await h.app.inject({ method: 'GET', url: '/auth/jwks.json' })).body) as { keys: object[] };
    const hs = await new SignJWT(decodeJwt(t) as Record<string, unknown>)
      .setProtectedHeader({ alg: 'HS256', kid: decodeProtectedHeader(t).kid! })
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    assertError(await get(hs), 401, 'UNAUTHORIZED');
    const saved = clock;
    clock += 331_000; // lifetime 300 s + 30 s leeway
    try {
      const expired = await get(t);
      assertError(expired, 401, 'UNAUTHORIZED');
      assert.match(expired.body, /expired/);
    } finally {
      clock = saved;
    }
  });
  test('key rotation: tokens of the old key work until they expire; new tokens carry the new kid', async () => {
    const old = await token(ADMIN, 'repository:ml/train:pull');
    const rotated = await api('POST', '/api/v1/signing-keys/rotate');
    assert.equal(rotated.statusCode, 200, rotated.body);
    const fresh = await token(ADMIN, 'repository:ml/train:pull');
    assert.notEqual(decodeProtectedHeader(fresh).kid, decodeProtectedHeader(old).kid);
    assert.equal(decodeProtectedHeader(fresh).kid, (JSON.parse(rotated.body) as { kid: string }).kid);
    for (const t of [old, fresh]) assert.equal((await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: bearer(t) })).statusCode, 200);
    const saved = clock;
    clock += 200_000;
    try {
      const again = await token(ADMIN, 'repository:ml/train:pull');
      assert.equal((await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: bearer(again) })).statusCode, 200);
    } finally {
      clock = saved;
    }
  });
  test('a token of a deleted user stops working at once', async () => {
    const auth = await user('leaver', 'reader', '*');
    const t = await token(auth, 'repository:ml/train:pull');
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: bearer(t) })).statusCode, 200);
    assert.equal((await api('DELETE', '/api/v1/users/leaver')).statusCode, 204);
    assertError(await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: bearer(t) }), 401, 'UNAUTHORIZED');
  });
  test('OAuth2 POST: password grant with offline access, then refresh_token grant (containerd)', async () => {
    const form = (o: Record<string, string>) => h.app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(o).toString() });
    const r = await form({ grant_type: 'password', username: 'admin', password: TEST_ADMIN_PASSWORD, service: 'wharf', client_id: 'test', access_type: 'offline', scope: 'repository:ml/train:pull repository:ml/other:pull' });
    assert.equal(r.statusCode, 200, r.body);
    const body = JSON.parse(r.body) as { access_token: string; refresh_token: string; scope: string; expires_in: number };
    assert.match(body.refresh_token, /^wharf_rt_/);
    assert.equal(body.scope, 'repository:ml/train:pull repository:ml/other:pull');
    const r2 = await form({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'wharf', client_id: 'test', scope: 'repository:ml/other:pull' });
    assert.equal(r2.statusCode, 200, r2.body);
    assert.deepEqual(decodeJwt((JSON.parse(r2.body) as { access_token: string }).access_token).access, [{ type: 'repository', name: 'ml/other', actions: ['pull'] }]);
    assertError(await form({ grant_type: 'refresh_token', refresh_token: `${body.refresh_token.slice(0, -1)}x`, client_id: 'test' }), 401, 'UNAUTHORIZED');
    assertError(await form({ grant_type: 'password', username: 'admin', password: 'wrong-password', client_id: 'test' }), 401, 'UNAUTHORIZED');
    assertError(await form({ grant_type: 'client_credentials', client_id: 'test' }), 400, 'REQUEST_INVALID');
  });
  test('GET offline_token=true (docker login) returns a refresh token', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/auth/token?service=wharf&offline_token=true&client_id=docker&account=admin', headers: { authorization: ADMIN } });
    assert.match((JSON.parse(r.body) as { refresh_token: string }).refresh_token, /^wharf_rt_/);
    const mismatch = await h.app.inject({ method: 'GET', url: '/auth/token?account=someone', headers: { authorization: ADMIN } });
    assertError(mismatch, 401, 'UNAUTHORIZED');
  });
});

describe('token endpoint bad input', () => {
  test('wrong content type, oversized form, malformed Basic, junk scopes, a token to get a token', async () => {
    const json = await h.app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/json' }, payload: '{"grant_type":"password"}' });
    assertError(json, 415, 'UNSUPPORTED');
    const big = await h.app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=password&scope=${'x'.repeat(20_000)}` });
    assertError(big, 413, 'BODY_TOO_LARGE');
    const noUser = await h.app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=password' });
    assertError(noUser, 401, 'UNAUTHORIZED');
    assertError(await h.app.inject({ method: 'GET', url: '/auth/token', headers: { authorization: 'Basic !!!' } }), 401, 'UNAUTHORIZED');
    const junk = await token(ADMIN, 'repository:../../etc:pull', 'repository:UPPER/case:pull', 'repository:a:b:c:fly', `repository:${'a'.repeat(700)}:pull`, 'registry:catalog:*');
    assert.deepEqual(decodeJwt(junk).access, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    const t = await token(ADMIN, 'repository:ml/train:pull');
    assertError(await h.app.inject({ method: 'GET', url: '/auth/token?scope=repository:ml/train:push', headers: bearer(t) }), 401, 'UNAUTHORIZED');
  });
});

describe('public repositories and listings', () => {
  test('anonymous pull only where the repository is public', async () => {
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/pub/tool/manifests/v1' })).statusCode, 401);
    const set = await api('PATCH', '/api/v1/repositories/pub/tool', { public: true });
    assert.equal(set.statusCode, 200, set.body);
    const view = JSON.parse(set.body) as { name: string; public: boolean };
    assert.deepEqual([view.name, view.public], ['pub/tool', true]);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/pub/tool/manifests/v1' })).statusCode, 200);
    assertError(await h.app.inject({ method: 'POST', url: '/v2/pub/tool/blobs/uploads/' }), 401, 'UNAUTHORIZED');
    const anon = await token(undefined, 'repository:pub/tool:pull,push', 'repository:ml/train:pull');
    assert.equal(decodeJwt(anon).sub, '');
    assert.deepEqual(decodeJwt(anon).access, [{ type: 'repository', name: 'pub/tool', actions: ['pull'] }]);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/pub/tool/manifests/v1', headers: bearer(anon) })).statusCode, 200);
  });
  test('_catalog lists only what the caller may pull', async () => {
    const auth = await user('cataloguer', 'reader', 'ml/train');
    const r = await h.app.inject({ method: 'GET', url: '/v2/_catalog', headers: { authorization: auth } });
    assert.deepEqual((JSON.parse(r.body) as { repositories: string[] }).repositories.filter((n) => !n.startsWith('pub/')), ['ml/train']);
    const paged = await h.app.inject({ method: 'GET', url: '/v2/_catalog?n=1', headers: { authorization: auth } });
    assert.equal((JSON.parse(paged.body) as { repositories: string[] }).repositories.length, 1);
    const all = await h.app.inject({ method: 'GET', url: '/v2/_catalog', headers: { authorization: ADMIN } });
    assert.deepEqual((JSON.parse(all.body) as { repositories: string[] }).repositories, ['ml/other', 'ml/train', 'pub/tool']);
  });
  test('mount without from does not hand a writer a blob of a repository it cannot pull', async () => {
    const writer = await user('mounter', 'writer', 'mine/*');
    const m = await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: { authorization: ADMIN } });
    const layer = (JSON.parse(m.body) as { layers: { digest: string }[] }).layers[0]!.digest;
    const r = await h.app.inject({ method: 'POST', url: `/v2/mine/app/blobs/uploads/?mount=${layer}`, headers: { authorization: writer } });
    assert.equal(r.statusCode, 202, 'an ordinary upload, not a mount');
    assert.equal((await h.app.inject({ method: 'HEAD', url: `/v2/mine/app/blobs/${layer}`, headers: { authorization: writer } })).statusCode, 404);
    const admin = await h.app.inject({ method: 'POST', url: `/v2/copy/app/blobs/uploads/?mount=${layer}`, headers: { authorization: ADMIN } });
    assert.equal(admin.statusCode, 201);
  });
});

describe('cross-repository mount under token auth', () => {
  const layerOf = async (repo: string) => {
    const m = await h.app.inject({ method: 'GET', url: `/v2/${repo}/manifests/v1`, headers: { authorization: ADMIN } });
    return (JSON.parse(m.body) as { layers: { digest: string }[] }).layers[0]!.digest;
  };
  /** What an attacker compares: status, headers but the session id, and the body. */
  const shape = (r: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
    const id = String(r.headers['docker-upload-uuid'] ?? '');
    const headers = Object.entries(r.headers)
      .filter(([k]) => !['date', 'x-request-id', 'connection', 'keep-alive'].includes(k))
      .map(([k, v]) => `${k}: ${String(v).replaceAll(id, '<id>')}`)
      .sort();
    return { status: r.statusCode, headers, body: r.body };
  };

  test('the 401 challenge carries the source pull scope beside the target; the token flow then mounts (201)', async () => {
    const layer = await layerOf('ml/train');
    const url = `/v2/ml/mounted/blobs/uploads/?mount=${layer}&from=ml/train`;
    const first = await h.app.inject({ method: 'POST', url });
    assertError(first, 401, 'UNAUTHORIZED');
    const challenge = String(first.headers['www-authenticate']);
    const scope = /scope="([^"]+)"/.exec(challenge)![1]!;
    assert.deepEqual(scope.split(' ').sort(), ['repository:ml/mounted:pull,push', 'repository:ml/train:pull']);
    // as docker, podman and containerd do: ask the realm for exactly the challenge's scopes
    const t = await token(ADMIN, ...scope.split(' '));
    const r = await h.app.inject({ method: 'POST', url, headers: bearer(t) });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.headers.location, `/v2/ml/mounted/blobs/${layer}`);
    assert.equal((await h.app.inject({ method: 'HEAD', url: `/v2/ml/mounted/blobs/${layer}`, headers: { authorization: ADMIN } })).statusCode, 200);
  });

  test('a token that covers the target but not the source: an upload session in the target, never a 401 or a mount', async () => {
    const layer = await layerOf('ml/train');
    const t = await token(ADMIN, 'repository:ml/partial:pull,push');
    const r = await h.app.inject({ method: 'POST', url: `/v2/ml/partial/blobs/uploads/?mount=${layer}&from=ml/train`, headers: bearer(t) });
    assert.equal(r.statusCode, 202, r.body);
    assert.match(String(r.headers.location), /^\/v2\/ml\/partial\/blobs\/uploads\/[^/]+$/);
    assert.equal((await h.app.inject({ method: 'HEAD', url: `/v2/ml/partial/blobs/${layer}`, headers: { authorization: ADMIN } })).statusCode, 404);
  });

  test('a writer of the target who may not read the source gets the same 202 for a blob the source has and one it lacks', async () => {
    const writer = await user('crossmounter', 'writer', 'team/*');
    const layer = await layerOf('ml/other');
    const absent = `sha256:${'e'.repeat(64)}`;
    for (const creds of ['basic', 'token'] as const) {
      const auth = creds === 'basic' ? { authorization: writer } : bearer(await token(writer, 'repository:team/app:pull,push', 'repository:ml/other:pull'));
      const has = await h.app.inject({ method: 'POST', url: `/v2/team/app/blobs/uploads/?mount=${layer}&from=ml/other`, headers: auth });
      const lacks = await h.app.inject({ method: 'POST', url: `/v2/team/app/blobs/uploads/?mount=${absent}&from=ml/other`, headers: auth });
      assert.equal(has.statusCode, 202, `${creds}: ${has.body}`);
      assert.match(String(has.headers.location), /^\/v2\/team\/app\/blobs\/uploads\//);
      assert.deepEqual(shape(has), shape(lacks), creds);
      assert.equal((await h.app.inject({ method: 'HEAD', url: `/v2/team/app/blobs/${layer}`, headers: { authorization: ADMIN } })).statusCode, 404);
    }
  });
});

describe('failed logins', () => {
  test('back-off per account: 429 with Retry-After, even for the right password; unknown users alike', async () => {
    const auth = await user('victim');
    const wrong = basic('victim', 'wrong-password');
    const ghost = basic('nobody-here', 'wrong-password');
    const get = (a: string, ip = '10.0.0.1') => h.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: a }, remoteAddress: ip });
    for (const a of [wrong, ghost]) {
      const first = await get(a, '10.0.0.2');
      const second = await get(a, '10.0.0.3');
      assertError(first, 401, 'UNAUTHORIZED');
      assert.equal(first.body, second.body.replace(second.headers['x-request-id'] as string, first.headers['x-request-id'] as string));
      assert.match(first.body, /invalid username or password/);
      await get(a, '10.0.0.4');
      const blocked = await get(a, '10.0.0.5');
      assertError(blocked, 429, 'TOOMANYREQUESTS');
      assert.ok(Number(blocked.headers['retry-after']) >= 1);
    }
    assertError(await get(auth, '10.0.0.6'), 429, 'TOOMANYREQUESTS');
    clock += 11_000;
    assert.equal((await get(auth, '10.0.0.7')).statusCode, 200);
    const audit = JSON.parse((await api('GET', '/api/v1/audit?action=login&actor=nobody-here')).body) as { items: { result: string; address: string }[] };
    assert.ok(audit.items.length >= 3);
    assert.equal(audit.items[0]!.result, 'failed');
  });
  test('during a block the right password (even one just used successfully and cached) and a wrong one get identical answers on every login path', async () => {
    const right = await user('oracle-target', 'reader', '*');
    const wrong = basic('oracle-target', 'not-the-password');
    const sa = await api('POST', '/api/v1/service-accounts', { name: 'oracle-sa' });
    assert.equal(sa.statusCode, 201, sa.body);
    assert.equal((await api('POST', '/api/v1/role-bindings', { principal: 'oracle-sa', role: 'reader', scope: '*' })).statusCode, 201);
    const key = (JSON.parse((await api('POST', '/api/v1/service-accounts/oracle-sa/keys', {})).body) as { key: string }).key;
    const keyRight = basic('oracle-sa', key);
    const keyWrong = basic('oracle-sa', `${key.slice(0, -4)}AAAA`);
    const ip = '10.20.0.1';
    type Path = (auth: string, from?: string) => Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>;
    const passwordOf = (auth: string) => Buffer.from(auth.slice('Basic '.length), 'base64').toString().split(':');
    const paths: Record<string, Path> = {
      'Basic on /v2': (auth, from = ip) => h.app.inject({ method: 'GET', url: '/v2/ml/train/tags/list', headers: { authorization: auth }, remoteAddress: from }),
      'Basic on /api/v1': (auth, from = ip) => h.app.inject({ method: 'GET', url: '/api/v1/whoami', headers: { authorization: auth }, remoteAddress: from }),
      'GET /auth/token': (auth, from = ip) =>
        h.app.inject({ method: 'GET', url: '/auth/token?service=wharf&scope=repository:ml/train:pull', headers: { authorization: auth }, remoteAddress: from }),
      'POST /auth/token password grant': (auth, from = ip) => {
        const [username, password] = passwordOf(auth);
        const form = new URLSearchParams({ grant_type: 'password', username: username!, password: password!, service: 'wharf', scope: 'repository:ml/train:pull' });
        return h.app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form.toString(), remoteAddress: from });
      },
    };
    const shape = (r: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
      const id = String(r.headers['x-request-id']);
      const headers = Object.entries(r.headers)
        .filter(([k]) => !['date', 'x-request-id', 'connection', 'keep-alive'].includes(k))
        .map(([k, v]) => `${k}: ${String(v)}`)
        .sort();
      return { status: r.statusCode, headers, body: r.body.replaceAll(id, '<request id>') };
    };
    // the right credentials work on every path first, so the password check is cached
    for (const [name, path] of Object.entries(paths)) {
      assert.equal((await path(right)).statusCode, 200, name);
      assert.equal((await path(keyRight)).statusCode, 200, name);
    }
    // the free failures (2 in this harness), then the account is blocked
    for (let i = 0; i < 3; i++) await paths['Basic on /v2']!(wrong, `10.20.1.${i}`);
    for (let i = 0; i < 3; i++) await paths['Basic on /v2']!(keyWrong, `10.20.2.${i}`);
    for (const [name, path] of Object.entries(paths)) {
      for (const [good, bad] of [[right, wrong], [keyRight, keyWrong]] as const) {
        const a = await path(good);
        const b = await path(bad);
        assert.equal(a.statusCode, 429, `${name}: the right credentials are refused during the block`);
        assert.deepEqual(shape(a), shape(b), `${name}: right and wrong credentials answer alike`);
      }
    }
    // an address blocked by guesses at other accounts: a valid account's right password from it is refused alike
    const victim = await user('oracle-neighbour', 'reader', '*');
    assert.equal((await paths['Basic on /v2']!(victim, '10.20.9.9')).statusCode, 200);
    for (const n of ['x1', 'x2', 'x3']) await paths['Basic on /v2']!(basic(n, 'guess'), '10.20.9.9');
    for (const [name, path] of Object.entries(paths)) {
      const a = await path(victim, '10.20.9.9');
      const b = await path(basic('oracle-neighbour', 'guess'), '10.20.9.9');
      assert.equal(a.statusCode, 429, name);
      assert.deepEqual(shape(a), shape(b), name);
    }
    clock += 61_000;
    assert.equal((await paths['Basic on /v2']!(right, '10.20.3.1')).statusCode, 200, 'the block ends');
  });
  test('back-off per client address, across accounts', async () => {
    const ip = '10.9.9.9';
    for (const name of ['a1', 'a2', 'a3']) await h.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: basic(name, 'bad-password') }, remoteAddress: ip });
    const r = await h.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: ADMIN }, remoteAddress: ip });
    assertError(r, 429, 'TOOMANYREQUESTS');
    clock += 11_000;
  });
});
