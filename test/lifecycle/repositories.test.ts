/**
 * Repositories over /api/v1: create, describe, list, update, delete with their settings; tag
 * history; image listings; implicit creation on push; bad input and concurrent updates.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pushImage, putManifest, type Harness } from '../http/harness.js';
import { ADMIN, apiError, caller, json, lifecycleHarness, type Call } from './support.js';
import { startHarness } from '../http/harness.js';

describe('repositories API', () => {
  let h: Harness;
  let api: Call;
  before(async () => {
    h = await lifecycleHarness();
    api = caller(h.app);
  });
  after(async () => h?.close());

  test('create with every setting, describe, list', async () => {
    const created = json(
      await api('POST', '/api/v1/repositories', {
        name: 'ml/train',
        description: 'training images',
        labels: { team: 'ml', 'cost-center': '42' },
        immutableTags: true,
        immutableTagExclusions: ['dev-*', 'latest'],
        public: false,
        scanOnPush: true,
        quotaBytes: 10 * 2 ** 30,
      }),
      201,
    );
    assert.equal(created.name, 'ml/train');
    assert.equal(created.description, 'training images');
    assert.deepEqual(created.labels, { team: 'ml', 'cost-center': '42' });
    assert.equal(created.immutableTags, true);
    assert.deepEqual(created.immutableTagExclusions, ['dev-*', 'latest']);
    assert.equal(created.scanOnPush, true);
    assert.deepEqual(created.usage, { storedBytes: 0, quotaBytes: 10 * 2 ** 30, images: 0, tags: 0, namespaces: [] });
    assert.equal(created.cleanupPolicy, null);

    // the scan feature reads scanOnPush through the settings store
    assert.equal((await h.lifecycle.service.describeMany(['ml/train']))[0]!.scanOnPush, true);

    const img = await pushImage(h.app, 'ml/train', 'v1', {}, [Buffer.alloc(1000, 1), Buffer.alloc(500, 2)]);
    const got = json(await api('GET', '/api/v1/repositories/ml/train'));
    assert.equal(got.usage.images, 1);
    assert.equal(got.usage.tags, 1);
    assert.ok(got.usage.storedBytes >= 1500, JSON.stringify(got.usage));
    assert.ok(img.digest);

    const list = json(await api('GET', '/api/v1/repositories'));
    const row = list.items.find((r: { name: string }) => r.name === 'ml/train');
    assert.equal(row.description, 'training images');
    assert.equal(row.immutableTags, true);
  });

  test('creating an existing repository is CONFLICT and changes nothing', async () => {
    json(await api('POST', '/api/v1/repositories', { name: 'dup/repo', description: 'first' }), 201);
    apiError(await api('POST', '/api/v1/repositories', { name: 'dup/repo', description: 'second' }), 409, 'CONFLICT');
    assert.equal(json(await api('GET', '/api/v1/repositories/dup/repo')).description, 'first');
  });

  test('bad input is refused with the field named, and creates nothing', async () => {
    apiError(await api('POST', '/api/v1/repositories', { name: 'Bad/Name' }), 400, 'NAME_INVALID');
    apiError(await api('POST', '/api/v1/repositories', { name: '../../etc' }), 400, 'NAME_INVALID');
    apiError(await api('POST', '/api/v1/repositories', { name: 'x'.repeat(300) }), 400, 'BODY_INVALID');
    const unknown = apiError(await api('POST', '/api/v1/repositories', { name: 'ok/one', immutable: true }), 400, 'BODY_INVALID');
    assert.match(unknown.message, /immutable/);
    apiError(await api('POST', '/api/v1/repositories', { name: 'ok/one', labels: { 'Bad Key': 'x' } }), 400, 'BODY_INVALID');
    apiError(await api('POST', '/api/v1/repositories', '{"name":"ok/one","labels":{"__proto__":{"polluted":"x"}}}'), 400, 'BODY_INVALID');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    apiError(await api('POST', '/api/v1/repositories', { name: 'ok/one', labels: many }), 400, 'BODY_INVALID');
    apiError(await api('POST', '/api/v1/repositories', { name: 'ok/one', immutableTagExclusions: ['dev/*'] }), 400, 'BODY_INVALID');
    apiError(await api('POST', '/api/v1/repositories', { name: 'ok/one', quotaBytes: -1 }), 400, 'BODY_INVALID');
    apiError(await api('POST', '/api/v1/repositories', { name: 'ok/one', quotaBytes: 1.5 }), 400, 'BODY_INVALID');
    apiError(await api('POST', '/api/v1/repositories', { name: 'ok/one', description: 'x'.repeat(1025) }), 400, 'BODY_INVALID');
    apiError(await api('POST', '/api/v1/repositories', '{"name": "ok/one",'), 400, 'BODY_INVALID');
    apiError(await api('POST', '/api/v1/repositories', '[]'), 400, 'BODY_INVALID');
    apiError(await api('PATCH', '/api/v1/repositories/ml/train', {}), 400, 'BODY_INVALID');
    apiError(await api('PATCH', '/api/v1/repositories/no/such', { description: 'x' }), 404, 'RESOURCE_UNKNOWN');
    apiError(await api('GET', '/api/v1/repositories/ok/one'), 404, 'RESOURCE_UNKNOWN');
  });

  test('update merges, null resets a setting to its default', async () => {
    json(await api('POST', '/api/v1/repositories', { name: 'upd/repo', description: 'd', labels: { a: '1' }, quotaBytes: 1000 }), 201);
    const u = json(await api('PATCH', '/api/v1/repositories/upd/repo', { immutableTags: true, labels: { b: '2' } }));
    assert.equal(u.description, 'd');
    assert.deepEqual(u.labels, { b: '2' });
    assert.equal(u.immutableTags, true);
    const r = json(await api('PATCH', '/api/v1/repositories/upd/repo', { quotaBytes: null, description: null }));
    assert.equal(r.quotaBytes, null);
    assert.equal(r.description, '');
    assert.equal(r.immutableTags, true);
  });

  test('concurrent updates of different settings all land', async () => {
    json(await api('POST', '/api/v1/repositories', { name: 'race/repo' }), 201);
    const patches = [
      { description: 'concurrent' },
      { immutableTags: true },
      { scanOnPush: true },
      { public: true },
      { immutableTagExclusions: ['dev-*'] },
      { labels: { x: 'y' } },
    ];
    const results = await Promise.all(patches.map((p) => api('PATCH', '/api/v1/repositories/race/repo', p)));
    for (const r of results) assert.equal(r.statusCode, 200, r.body);
    const s = json(await api('GET', '/api/v1/repositories/race/repo'));
    assert.equal(s.description, 'concurrent');
    assert.equal(s.immutableTags, true);
    assert.equal(s.scanOnPush, true);
    assert.equal(s.public, true);
    assert.deepEqual(s.immutableTagExclusions, ['dev-*']);
    assert.deepEqual(s.labels, { x: 'y' });
  });

  test('delete removes the repository, its manifests, tags and history', async () => {
    const img = await pushImage(h.app, 'del/repo', 'v1');
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/del/repo/manifests/v1' })).statusCode, 200);
    assert.equal((await api('DELETE', '/api/v1/repositories/del/repo')).statusCode, 204);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/del/repo/manifests/v1' })).statusCode, 404);
    assert.equal((await h.app.inject({ method: 'GET', url: `/v2/del/repo/blobs/${img.layers[0]}` })).statusCode, 404);
    apiError(await api('GET', '/api/v1/repositories/del/repo'), 404, 'RESOURCE_UNKNOWN');
    apiError(await api('DELETE', '/api/v1/repositories/del/repo'), 404, 'RESOURCE_UNKNOWN');
    // GC then reclaims what nothing else references (the config blob is shared with other images)
    const report = await h.gc.run({ trigger: 'test' });
    assert.ok(report.blobsDeleted >= 1, JSON.stringify(report));
    assert.equal(await h.blobs.stat(img.layers[0] as never), undefined);
  });

  test('tag history records every move, newest first, with paging and a tag filter', async () => {
    const a = await pushImage(h.app, 'hist/repo', 'v1');
    const b = await pushImage(h.app, 'hist/repo', 'v1');
    await pushImage(h.app, 'hist/repo', 'other');
    assert.equal((await h.app.inject({ method: 'DELETE', url: '/v2/hist/repo/manifests/v1' })).statusCode, 202);
    const all = json(await api('GET', '/api/v1/tag-history/hist/repo'));
    assert.deepEqual(
      all.items.filter((e: { tag: string }) => e.tag === 'v1').map((e: { from: string | null; to: string | null }) => [e.from, e.to]),
      [
        [b.digest, null],
        [a.digest, b.digest],
        [null, a.digest],
      ],
    );
    const v1 = json(await api('GET', '/api/v1/tag-history/hist/repo?tag=v1&limit=2'));
    assert.equal(v1.items.length, 2);
    assert.ok(v1.next);
    const older = json(await api('GET', `/api/v1/tag-history/hist/repo?tag=v1&limit=2&before=${v1.next}`));
    assert.deepEqual(older.items.map((e: { to: string }) => e.to), [a.digest]);
    assert.equal(older.next, undefined);
    apiError(await api('GET', '/api/v1/tag-history/hist/repo?tag=bad%20tag'), 400, 'TAG_INVALID');
    apiError(await api('GET', '/api/v1/tag-history/hist/repo?limit=abc'), 400, 'BODY_INVALID');
    apiError(await api('GET', '/api/v1/tag-history/no/such'), 404, 'RESOURCE_UNKNOWN');
  });

  test('image list: digests, tags, sizes, pushed and last-pulled times', async () => {
    const img = await pushImage(h.app, 'img/repo', 'v1', {}, [Buffer.alloc(3000, 7)]);
    await pushImage(h.app, 'img/repo', 'v2');
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/img/repo/manifests/v1' })).statusCode, 200);
    await h.registry.flushPulled();
    const list = json(await api('GET', '/api/v1/images/img/repo'));
    assert.equal(list.items.length, 2);
    const v1 = list.items.find((i: { tags: string[] }) => i.tags.includes('v1'));
    assert.equal(v1.digest, img.digest);
    assert.ok(v1.sizeBytes >= 3000 + img.manifest.length, String(v1.sizeBytes));
    assert.ok(Date.parse(v1.pushedAt) > 0);
    assert.ok(v1.lastPulledAt !== null && Date.parse(v1.lastPulledAt) > 0);
    const v2 = list.items.find((i: { tags: string[] }) => i.tags.includes('v2'));
    assert.equal(v2.lastPulledAt, null);
    const page = json(await api('GET', '/api/v1/images/img/repo?limit=1'));
    assert.equal(page.items.length, 1);
    assert.equal(page.more, true);
    const next = json(await api('GET', `/api/v1/images/img/repo?limit=1&after=${page.items[0].digest}`));
    assert.equal(next.items.length, 1);
    assert.equal(next.more, false);
    apiError(await api('GET', '/api/v1/images/img/repo?after=nope'), 400, 'DIGEST_INVALID');
  });
});

describe('implicit repository creation', () => {
  test('off: a push to an unknown repository is NAME_UNKNOWN before any bytes; an explicit or namespace-allowed one works', async () => {
    const h = await lifecycleHarness({ createRepositoriesOnPush: false });
    const api = caller(h.app);
    try {
      const start = await h.app.inject({ method: 'POST', url: '/v2/team/app/blobs/uploads/' });
      assert.equal(start.statusCode, 404, start.body);
      assert.match(start.body, /NAME_UNKNOWN/);
      assert.match(start.body, /wharf repo create team\/app/);
      assert.equal(await h.lifecycle.store.repositoryStoredBytes('team/app'), 0);
      assert.deepEqual((await h.registry.catalog({ limit: 10 })).items, []);
      // a manifest PUT is refused the same way
      const put = await putManifest(h.app, 'team/app', 'v1', JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }), 'application/vnd.oci.image.index.v1+json');
      assert.equal(put.statusCode, 404, put.body);

      json(await api('POST', '/api/v1/repositories', { name: 'team/app' }), 201);
      await pushImage(h.app, 'team/app', 'v1');

      json(await api('PUT', '/api/v1/namespaces/sandbox', { createOnPush: true }));
      await pushImage(h.app, 'sandbox/anything', 'v1');
      // the nearest namespace decides
      json(await api('PUT', '/api/v1/namespaces/sandbox/locked', { createOnPush: false }));
      assert.equal((await h.app.inject({ method: 'POST', url: '/v2/sandbox/locked/x/blobs/uploads/' })).statusCode, 404);
    } finally {
      await h.close();
    }
  });
});

describe('repository settings need the right role', () => {
  test('repoAdmin may create and change settings in its namespace, not set quotas; writer may not', async () => {
    const h = await startHarness({ auth: {} });
    const admin = caller(h.app, ADMIN);
    try {
      for (const [user, role] of [
        ['ra', 'repoAdmin'],
        ['wr', 'writer'],
      ] as const) {
        json(await admin('POST', '/api/v1/users', { name: user, password: `${user}-password-1` }), 201);
        json(await admin('POST', '/api/v1/role-bindings', { principal: user, role, scope: 'team/*' }), 201);
      }
      const ra = caller(h.app, { name: 'ra', password: 'ra-password-1' });
      const wr = caller(h.app, { name: 'wr', password: 'wr-password-1' });
      json(await ra('POST', '/api/v1/repositories', { name: 'team/app', immutableTags: true }), 201);
      apiError(await ra('POST', '/api/v1/repositories', { name: 'other/app' }), 403, 'DENIED');
      apiError(await ra('PATCH', '/api/v1/repositories/team/app', { quotaBytes: 1 }), 403, 'DENIED');
      apiError(await ra('POST', '/api/v1/repositories', { name: 'team/b', quotaBytes: 1 }), 403, 'DENIED');
      json(await admin('PATCH', '/api/v1/repositories/team/app', { quotaBytes: 2 ** 30 }));
      apiError(await wr('PATCH', '/api/v1/repositories/team/app', { description: 'x' }), 403, 'DENIED');
      apiError(await wr('DELETE', '/api/v1/repositories/team/app'), 403, 'DENIED');
      assert.equal(json(await wr('GET', '/api/v1/repositories/team/app')).usage.quotaBytes, 2 ** 30);
      // audited
      await h.auth!.audit.flush();
      const events = json(await admin('GET', '/api/v1/audit?action=repository.create'));
      assert.equal(events.items[0].target, 'team/app');
      assert.equal(events.items[0].actor, 'ra');
    } finally {
      await h.close();
    }
  });
});
