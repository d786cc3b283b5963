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
