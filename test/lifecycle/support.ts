/**
 * Helpers of the lifecycle tests: the HTTP harness with auth off (every request is an admin) or on,
 * and JSON calls to /api/v1.
 */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { startHarness, type Harness, type HarnessOptions } from '../http/harness.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';

export async function lifecycleHarness(options: HarnessOptions = {}): Promise<Harness> {
  return startHarness({ auth: { enabled: false }, ...options });
}

export type Call = (method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<LightMyRequestResponse>;

/** A JSON caller; with `user`, as that user (auth on), else anonymous / the auth-off admin. */
export function caller(app: FastifyInstance, user?: { name: string; password: string }): Call {
  return (method, url, body, headers = {}) =>
    app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(user ? { authorization: basic(user.name, user.password) } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
}

export const ADMIN = { name: 'admin', password: TEST_ADMIN_PASSWORD };

export function json<T = any>(res: LightMyRequestResponse, status = 200): T {
  assert.equal(res.statusCode, status, `expected ${status}, got ${res.statusCode}: ${res.body.slice(0, 500)}`);
  return (res.body === '' ? undefined : JSON.parse(res.body)) as T;
}

/** The error body's first entry, after checking status and code. */
export function apiError(res: LightMyRequestResponse, status: number, code: string): { code: string; message: string; detail?: any } {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body.slice(0, 500)}`);
  const e = (JSON.parse(res.body) as { errors: { code: string; message: string; detail?: unknown }[] }).errors[0]!;
  assert.equal(e.code, code, res.body);
  return e;
}
