/**
 * Storage quotas per repository and per namespace, counted once per distinct blob: a push that
 * would exceed one is refused (QUOTA_EXCEEDED) before its bytes are published; a blob already
 * there adds nothing; usage is shown against the limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { pushBlob, type Harness } from '../http/harness.js';
import { apiError, caller, json, lifecycleHarness, type Call } from './support.js';

function upload(h: Harness, repo: string, bytes: Buffer) {
  return h.app.inject({
    method: 'POST',
    url: `/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: bytes,
  });
}

describe('quotas', () => {
  let h: Harness;
  let api: Call;
  before(async () => {
    h = await lifecycleHarness();
    api = caller(h.app);
  });
  after(async () => h?.close());

  test('repository quota: refused before the bytes land, dedup-aware, shown against the limit', async () => {
    json(await api('POST', '/api/v1/repositories', { name: 'q/repo', quotaBytes: 10_000 }), 201);
    const first = randomBytes(6000);
    await pushBlob(h.app, 'q/repo', first);
    const second = randomBytes(6000);
    const refused = await upload(h, 'q/repo', second);
    const e = apiError(refused, 403, 'QUOTA_EXCEEDED');
    assert.match(e.message, /repository q\/repo/);
    assert.deepEqual(e.detail, { quota: 'repository', name: 'q/repo', limitBytes: 10_000, usedBytes: 6000, pushBytes: 6000 });
    assert.equal(await h.blobs.stat(digestOf(second) as Digest), undefined, 'refused bytes must not be published');
    assert.equal((await h.app.inject({ method: 'HEAD', url: `/v2/q/repo/blobs/${digestOf(second)}` })).statusCode, 404);

    // the same blob again adds nothing
    assert.equal((await upload(h, 'q/repo', first)).statusCode, 201);
    const view = json(await api('GET', '/api/v1/repositories/q/repo'));
    assert.equal(view.usage.storedBytes, 6000);
    assert.equal(view.usage.quotaBytes, 10_000);

    // a mount of a big blob from elsewhere counts too
    const big = randomBytes(5000);
    await pushBlob(h.app, 'elsewhere/repo', big);
    const mount = await h.app.inject({ method: 'POST', url: `/v2/q/repo/blobs/uploads/?mount=${digestOf(big)}&from=elsewhere/repo` });
    apiError(mount, 403, 'QUOTA_EXCEEDED');

    // over the limit already (lowered by an admin): even starting an upload is refused
    json(await api('PATCH', '/api/v1/repositories/q/repo', { quotaBytes: 5000 }));
    apiError(await h.app.inject({ method: 'POST', url: '/v2/q/repo/blobs/uploads/' }), 403, 'QUOTA_EXCEEDED');
    json(await api('PATCH', '/api/v1/repositories/q/repo', { quotaBytes: null }));
    assert.equal((await upload(h, 'q/repo', second)).statusCode, 201);
  });

  test('namespace quota counts a blob shared by two of its repositories once', async () => {
    json(await api('PUT', '/api/v1/namespaces/team', { quotaBytes: 10_000 }));
    const shared = randomBytes(6000);
    await pushBlob(h.app, 'team/a', shared);
    await pushBlob(h.app, 'team/b', shared); // already in the namespace: adds nothing
    const e = apiError(await upload(h, 'team/b', randomBytes(6000)), 403, 'QUOTA_EXCEEDED');
    assert.equal(e.detail.quota, 'namespace');
    assert.equal(e.detail.name, 'team');
    assert.equal(e.detail.usedBytes, 6000);
    const ns = json(await api('GET', '/api/v1/namespaces/team'));
    assert.equal(ns.usedBytes, 6000);
    assert.equal(ns.quotaBytes, 10_000);
    const repo = json(await api('GET', '/api/v1/repositories/team/a'));
    assert.deepEqual(repo.usage.namespaces, [{ namespace: 'team', quotaBytes: 10_000, usedBytes: 6000 }]);
    // a repository outside the namespace whose name shares the prefix is not counted
    await pushBlob(h.app, 'team-other/x', randomBytes(9000));
    assert.equal(json(await api('GET', '/api/v1/namespaces/team')).usedBytes, 6000);
    json(await api('PUT', '/api/v1/namespaces/team', { quotaBytes: null }));
    assert.equal((await upload(h, 'team/b', randomBytes(6000))).statusCode, 201);
  });

  test('namespace settings: bad input', async () => {
    apiError(await api('PUT', '/api/v1/namespaces/Team', { quotaBytes: 1 }), 400, 'NAME_INVALID');
    apiError(await api('PUT', '/api/v1/namespaces/team', { quotaBytes: 'lots' }), 400, 'BODY_INVALID');
    apiError(await api('PUT', '/api/v1/namespaces/team', { quota: 1 }), 400, 'BODY_INVALID');
    apiError(await api('GET', '/api/v1/namespaces/nobody'), 404, 'RESOURCE_UNKNOWN');
    apiError(await api('DELETE', '/api/v1/namespaces/nobody'), 404, 'RESOURCE_UNKNOWN');
    assert.ok(json(await api('GET', '/api/v1/namespaces')).items.some((n: { namespace: string }) => n.namespace === 'team'));
  });
});
