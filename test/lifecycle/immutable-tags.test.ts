/**
 * Immutable tags in the push path: a protected tag cannot move to another digest (TAG_IMMUTABLE,
 * naming the tag and the rule) nor be deleted; re-pushing the identical manifest succeeds;
 * exclusion patterns stay mutable. The decision is taken under the tag's lock, so racing pushes
 * (SQLite and PostgreSQL replicas) leave exactly one digest and nothing half-done.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { MediaTypes } from '../../src/domain/media-types.js';
import type { NewManifest } from '../../src/storage/metadata/metadata-store.js';
import { createPostgresKysely, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { isWharfError } from '../../src/errors/wharf-error.js';
import { pushImage, putManifest, type Harness } from '../http/harness.js';
import { tagDigest } from '../http/support.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';
import { apiError, caller, json, lifecycleHarness } from './support.js';

describe('immutable tags over /v2', () => {
  let h: Harness;
  before(async () => {
    h = await lifecycleHarness();
    json(await caller(h.app)('POST', '/api/v1/repositories', { name: 'ml/train', immutableTags: true, immutableTagExclusions: ['dev-*', 'latest'] }), 201);
  });
  after(async () => h?.close());

  test('a protected tag does not move; the identical manifest re-pushes; nothing of the refused push is stored', async () => {
    const v1 = await pushImage(h.app, 'ml/train', 'v1.0');
    const again = await putManifest(h.app, 'ml/train', 'v1.0', v1.manifest);
    assert.equal(again.statusCode, 201, again.body);

    const other = await pushImage(h.app, 'ml/train', 'other-digest-holder');
    const moved = await putManifest(h.app, 'ml/train', 'v1.0', other.manifest);
    const e = apiError(moved, 409, 'TAG_IMMUTABLE');
    assert.match(e.message, /tag v1\.0 is immutable in repository ml\/train/);
    assert.match(e.message, /immutableTags/);
    assert.match(e.message, /dev-\*, latest/);
    assert.deepEqual(e.detail, { tag: 'v1.0', rule: e.detail.rule, current: v1.digest });
    assert.equal(await tagDigest(h.app, 'ml/train', 'v1.0'), v1.digest);

    // a manifest that is new to the repository is not kept by a refused push
    const fresh = Buffer.from(JSON.stringify({ ...JSON.parse(v1.manifest.toString()), annotations: { fresh: 'yes' } }));
    apiError(await putManifest(h.app, 'ml/train', 'v1.0', fresh), 409, 'TAG_IMMUTABLE');
    assert.equal((await h.app.inject({ method: 'HEAD', url: `/v2/ml/train/manifests/${digestOf(fresh)}` })).statusCode, 404);
  });

  test('a protected tag cannot be deleted; excluded tags move and delete freely', async () => {
    await pushImage(h.app, 'ml/train', 'v2.0');
    apiError(await h.app.inject({ method: 'DELETE', url: '/v2/ml/train/manifests/v2.0' }), 409, 'TAG_IMMUTABLE');
    for (const tag of ['dev-123', 'latest']) {
      await pushImage(h.app, 'ml/train', tag);
      const b = await pushImage(h.app, 'ml/train', tag);
      assert.equal(await tagDigest(h.app, 'ml/train', tag), b.digest);
      assert.equal((await h.app.inject({ method: 'DELETE', url: `/v2/ml/train/manifests/${tag}` })).statusCode, 202);
    }
  });

  test('turning immutability off lets the tag move again; the history shows the moves', async () => {
    const api = caller(h.app);
    json(await api('PATCH', '/api/v1/repositories/ml/train', { immutableTags: false }));
    const b = await pushImage(h.app, 'ml/train', 'v1.0');
    assert.equal(await tagDigest(h.app, 'ml/train', 'v1.0'), b.digest);
    json(await api('PATCH', '/api/v1/repositories/ml/train', { immutableTags: true }));
    const history = json(await api('GET', '/api/v1/tag-history/ml/train?tag=v1.0'));
    assert.equal(history.items.length, 2);
  });
});

const skip = await postgresSkipReason();
const dg = (s: string): Digest => digestOf(Buffer.from(s));
function manifest(seed: string, tag: string): NewManifest {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, seed }));
  return { repository: 'race/repo', digest: digestOf(content), mediaType: MediaTypes.ociManifest, content, references: [], tag, tagProtection: 'immutableTags' };
}

async function raceOneTag(a: SqlMetadataStore, b: SqlMetadataStore): Promise<void> {
  const ms = Array.from({ length: 30 }, (_, i) => manifest(`racer ${i} ${dg(String(Math.random()))}`, 'v1'));
  const results = await Promise.allSettled(ms.map((m, i) => (i % 2 ? a : b).putManifest(m)));
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r) => r.status === 'rejected');
  assert.ok(refused.every((r) => isWharfError((r as PromiseRejectedResult).reason, 'TAG_IMMUTABLE')), String((refused[0] as PromiseRejectedResult | undefined)?.reason));
  // the first creation wins; every other digest was refused and left nothing behind
  assert.equal(ok.length, 1);
  const winner = ms[results.indexOf(ok[0]!)]!;
  assert.equal((await a.findManifestByTag('race/repo', 'v1'))?.digest, winner.digest);
  for (const m of ms) if (m !== winner) assert.equal(await a.findManifest('race/repo', m.digest), undefined);
}

describe('immutable tags under racing pushes', () => {
  test('SQLite', async () => {
    const s = openSqliteMetadataStore({ path: ':memory:' });
    await s.migrate();
    try {
      await raceOneTag(s, s);
    } finally {
      await s.close();
    }
  });

  test('PostgreSQL, two replicas', { skip }, async () => {
    let scratch: ScratchDatabase | undefined;
    const open: SqlMetadataStore[] = [];
    try {
      scratch = await createScratchDatabase();
      const a = new SqlMetadataStore(createPostgresKysely({ connectionString: scratch.url, poolSize: 6 }), 'postgres');
      const b = new SqlMetadataStore(createPostgresKysely({ connectionString: scratch.url, poolSize: 6 }), 'postgres');
      open.push(a, b);
      await a.migrate();
      await b.migrate();
      await raceOneTag(a, b);
    } finally {
      for (const s of open) await s.close();
      await scratch?.drop();
    }
  });
});
