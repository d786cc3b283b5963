// Minimal HTTP client for the benchmark: Node's http module, keep-alive agents, no retries.
// The same code talks to every target, so client overhead is identical on both sides.
import http from 'node:http';
import { createHash } from 'node:crypto';

export function makeAgent(maxSockets = 64) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
}

/**
 * One request. body: undefined | Buffer | string | Readable (piped; set content-length yourself).
 * consume: 'buffer' (collect body), 'discard' (count bytes only), 'hash' (count + sha256).
 * Resolves { status, headers, body?, bytes, sha256? } once the response body has been read.
 */
export function request(agent, url, { method = 'GET', headers = {}, body, consume = 'buffer', timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = typeof url === 'string' ? new URL(url) : url;
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent },
      (res) => {
        let bytes = 0;
        const chunks = [];
        const hash = consume === 'hash' ? createHash('sha256') : undefined;
        res.on('data', (c) => {
          bytes += c.length;
          if (consume === 'buffer') chunks.push(c);
          else if (hash) hash.update(c);
        });
        res.on('end', () => {
          // an upload the server answered before it was fully sent: drop the connection
          if (!req.writableFinished) req.destroy();
          resolve({
            status: res.statusCode,
            headers: res.headers,
            bytes,
            body: consume === 'buffer' ? Buffer.concat(chunks) : undefined,
            sha256: hash ? `sha256:${hash.digest('hex')}` : undefined,
          });
        });
        res.on('error', reject);
        // the server answered: stop feeding an upload it no longer wants (e.g. an early 4xx)
        if (body && typeof body.pipe === 'function' && res.statusCode >= 300) body.unpipe?.(req);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${u.pathname}: timed out after ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`${method} ${u.pathname}${u.search}: ${err.message}`)));
    if (body === undefined) req.end();
    else if (typeof body.pipe === 'function') {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else req.end(body);
  });
}

export class CheckError extends Error {}

/** Throws a CheckError with a useful message when a response is not what the protocol demands. */
export function expectStatus(res, expected, what) {
  const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
  if (!ok) {
    const body = res.body ? ` body=${res.body.toString('utf8', 0, Math.min(res.body.length, 300))}` : '';
    throw new CheckError(`${what}: expected HTTP ${expected}, got ${res.status}${body}`);
  }
}

export function expectHeader(res, name, value, what) {
  const got = res.headers[name];
  if (value === undefined ? got === undefined : got !== value) {
    throw new CheckError(`${what}: expected header ${name}: ${value ?? '(present)'}, got ${got === undefined ? '(absent)' : JSON.stringify(got)}`);
  }
}

/** Resolves an upload Location (absolute or relative) against the target's base URL and adds query params. */
export function withQuery(base, location, params) {
  const u = new URL(location, base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u;
}

/** Runs fn(i) for i in [0, n) with at most `concurrency` in flight. Rejects on the first failure. */
export async function pool(n, concurrency, fn) {
  let next = 0;
  let failed;
  const worker = async () => {
    while (failed === undefined && next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (failed !== undefined) throw failed;
}

// ---------------------------------------------------------------------------------------------
// Authentication, as real clients do it (target.auth, see servers.mjs):
//   'none'             no Authorization header
//   'basic', 'htpasswd' HTTP Basic on every request (scripts, curl -u; Distribution's htpasswd)
//   'bearer'           the Docker token protocol as docker, podman and containerd use it: the
//                      challenge of GET /v2/ names the realm and service; a token is fetched per
//                      scope (repository:<name>:pull for GET/HEAD, :pull,push otherwise) with Basic
//                      credentials, reused until it expires, and fetched again on a 401.

const basicOf = (user) => `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;

/** The scope a /v2 request needs, as a client derives it (undefined for /v2/ itself). */
export function scopeOf(url, method = 'GET') {
  const u = typeof url === 'string' ? new URL(url) : url;
  const m = /^\/v2\/(.+?)\/(blobs|manifests|tags)\//.exec(u.pathname);
  if (!m) return undefined;
  const from = u.searchParams.get('from');
  const own = `repository:${m[1]}:${method === 'GET' || method === 'HEAD' ? 'pull' : 'pull,push'}`;
  return from ? `${own} repository:${from}:pull` : own;
}

async function challengeOf(t) {
  if (t.challenge) return t.challenge;
  const res = await request(t.agent, `${t.base}/v2/`);
  const h = String(res.headers['www-authenticate'] ?? '');
  const realm = /realm="([^"]*)"/.exec(h)?.[1];
  const service = /service="([^"]*)"/.exec(h)?.[1];
  if (res.status !== 401 || !h.startsWith('Bearer ') || !realm) throw new CheckError(`GET /v2/: expected a 401 Bearer challenge, got ${res.status} ${h}`);
  t.challenge = { realm, service };
  return t.challenge;
}

/** A token for `scope` (cached until 10 s before it expires unless `fresh`). Counts fetches in t.tokenFetches. */
export async function bearerToken(t, scope, fresh = false) {
  t.tokens ??= new Map();
  const hit = t.tokens.get(scope ?? '');
  if (hit && !fresh && hit.until > Date.now()) return hit.token;
  const { realm, service } = await challengeOf(t);
  const u = new URL(realm);
  if (service) u.searchParams.set('service', service);
  for (const s of (scope ?? '').split(' ').filter(Boolean)) u.searchParams.append('scope', s);
  const res = await request(t.agent, u, { headers: { authorization: basicOf(t.user) } });
  expectStatus(res, 200, `GET ${u.pathname} (token for ${scope})`);
  const body = JSON.parse(res.body.toString('utf8'));
  const token = body.token ?? body.access_token;
  if (typeof token !== 'string') throw new CheckError(`GET ${u.pathname}: no token in the answer`);
  const lifetime = Number(body.expires_in) > 0 ? Number(body.expires_in) : 60;
  t.tokens.set(scope ?? '', { token, until: Date.now() + Math.max(1, lifetime - 10) * 1000 });
  t.tokenFetches = (t.tokenFetches ?? 0) + 1;
  return token;
}

/** The Authorization header a client of target t sends for this request (undefined: none). */
export async function authorizationFor(t, url, method = 'GET', fresh = false) {
  if (!t.auth || t.auth === 'none') return undefined;
  if (t.auth === 'basic' || t.auth === 'htpasswd') return basicOf(t.user);
  if (t.auth === 'bearer') return `Bearer ${await bearerToken(t, scopeOf(url, method), fresh)}`;
  throw new Error(`unknown auth mode ${t.auth}`);
}

/**
 * request() against a target, authenticated the way its clients do. A 401 with a Bearer token
 * fetches a new token and retries once (only when the body can be sent again, i.e. not a stream).
 */
export async function treq(t, url, options = {}) {
  const method = options.method ?? 'GET';
  const authorization = await authorizationFor(t, url, method);
  const withAuth = (a) => (a ? { ...options, headers: { ...options.headers, authorization: a } } : options);
  const res = await request(t.agent, url, withAuth(authorization));
  if (res.status === 401 && t.auth === 'bearer' && !(options.body && typeof options.body.pipe === 'function')) {
    return request(t.agent, url, withAuth(await authorizationFor(t, url, method, true)));
  }
  return res;
}
