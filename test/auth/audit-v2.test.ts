/** The audit records of /v2 mutations: who pushed, mounted, moved or deleted what, where. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startHarness, pushImage, type Harness } from '../http/harness.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';

const ADMIN = basic('admin', TEST_ADMIN_PASSWORD);
let h: Harness;
before(async () => {
  h = await startHarness({ auth: {} });
});
after(async () => h?.close());

/** The app with the admin's credentials on every request (for helpers that inject without any). */
function asAdmin(): FastifyInstance {
  return { inject: (o: Record<string, unknown>) => h.app.inject({ ...o, headers: { ...(o.headers as object), authorization: ADMIN }, remoteAddress: '10.1.2.3' } as never) } as never;
}

test('push, tag move, mount, deletes: one audit event each, with digest, target and address', async () => {
  const app = asAdmin();
  const first = await pushImage(app, 'team/app', 'v1');
  const second = await pushImage(app, 'team/app', 'v1'); // moves the tag
  const mount = await app.inject({ method: 'POST', url: `/v2/team/copy/blobs/uploads/?mount=${first.layers[0]}&from=team/app` });
  assert.equal(mount.statusCode, 201);
  assert.equal((await app.inject({ method: 'DELETE', url: '/v2/team/app/manifests/v1' })).statusCode, 202);
  assert.equal((await app.inject({ method: 'DELETE', url: `/v2/team/app/manifests/${first.digest}` })).statusCode, 202);
  assert.equal((await app.inject({ method: 'DELETE', url: `/v2/team/app/blobs/${first.layers[0]}` })).statusCode, 202);
  assert.equal((await app.inject({ method: 'DELETE', url: `/v2/team/app/blobs/${first.layers[0]}` })).statusCode, 404);
  const res = await h.app.inject({ method: 'GET', url: '/api/v1/audit?repository=team/app&limit=100', headers: { authorization: ADMIN } });
  const events = (JSON.parse(res.body) as { items: { action: string; digest?: string; target?: string; address?: string; actor: string }[] }).items.reverse();
  const pushes = events.filter((e) => e.action === 'manifest.push');
  assert.deepEqual(pushes.map((e) => [e.digest, e.target]), [[first.digest, 'tag:v1'], [second.digest, 'tag:v1']]);
  assert.equal(events.filter((e) => e.action === 'blob.push').length, 4, 'config + layer, twice');
  assert.deepEqual(events.filter((e) => e.action.endsWith('.delete')).map((e) => [e.action, e.target ?? e.digest]), [
    ['tag.delete', 'tag:v1'],
    ['manifest.delete', first.digest],
    ['blob.delete', first.layers[0]],
  ]);
  assert.ok(events.every((e) => e.actor === 'admin' && e.address === '10.1.2.3'));
  const copy = JSON.parse((await h.app.inject({ method: 'GET', url: '/api/v1/audit?repository=team/copy', headers: { authorization: ADMIN } })).body) as { items: { action: string; detail?: { from?: string } }[] };
  assert.deepEqual(copy.items.map((e) => [e.action, e.detail?.from]), [['blob.mount', 'team/app']]);
});
