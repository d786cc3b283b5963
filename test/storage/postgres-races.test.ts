/**
 * What the conformance suite cannot show with one store: two replicas (two stores, two connection
 * pools) over one PostgreSQL database, racing at READ COMMITTED. Every race must end in one
 * consistent state and no error reaching the caller.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { MediaTypes } from '../../src/domain/media-types.js';
import type { NewManifest } from '../../src/storage/metadata/metadata-store.js';
import { createPostgresKysely } from '../../src/storage/metadata/open-metadata-store.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';

const skip = await postgresSkipReason();
const dg = (s: string): Digest => digestOf(Buffer.from(s));

function manifest(repository: string, seed: string, fields: Partial<NewManifest> = {}): NewManifest {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, seed }));
  return { repository, digest: digestOf(content), mediaType: MediaTypes.ociManifest, content, references: [], ...fields };
}

describe('PostgreSQL: two replicas racing', { skip }, () => {
  let scratch: ScratchDatabase;
  let n = 0;
  const open: SqlMetadataStore[] = [];
  before(async () => {
    scratch = await createScratchDatabase();
  });
  after(async () => {
    for (const s of open) await s.close();
    await scratch.drop();
  });

  /** Two stores over one fresh schema, like two replicas over one database. */
  async function replicas(): Promise<[SqlMetadataStore, SqlMetadataStore, ReturnType<typeof createPostgresKysely>]> {
    const schema = `r${++n}`;
    const dbA = createPostgresKysely({ connectionString: scratch.url, poolSize: 6, schema });
    const dbB = createPostgresKysely({ connectionString: scratch.url, poolSize: 6, schema });
    const a = new SqlMetadataStore(dbA, 'postgres', Date.now, schema);
    const b = new SqlMetadataStore(dbB, 'postgres', Date.now, schema);
    open.push(a, b);
    await Promise.all([a.migrate(), b.migrate()]); // both replicas start at once
    return [a, b, dbA];
  }

  test('concurrent moves of one tag from both replicas: one final value, an unbroken history', async () => {
    const [a, b, db] = await replicas();
    const ms = Array.from({ length: 40 }, (_, i) => manifest('repo', `racer ${i}`, { tag: 'latest' }));
    const results = await Promise.all(ms.map((m, i) => (i % 2 ? a : b).putManifest(m)));
    const events = (
      await db
        .selectFrom('tag_events')
        .select(['old_digest', 'new_digest'])
        .where('tag', '=', 'latest')
        .orderBy('id')
        .execute()
    ).map((e) => [e.old_digest, e.new_digest]);
    assert.equal(events.length, 40);
    assert.equal(events[0]?.[0], null);
    for (let i = 1; i < events.length; i++) assert.equal(events[i]?.[0], events[i - 1]?.[1]);
    assert.equal((await a.findManifestByTag('repo', 'latest'))?.digest, events.at(-1)?.[1]);
    const reported = results.map((r, i) => [r.previousTagDigest ?? null, ms[i]!.digest]).sort();
    assert.deepEqual(reported, [...events].sort());
  });

  test('the same manifest with references pushed through both replicas at once: one creates, none fails', async () => {
    const [a, b] = await replicas();
    const layer = dg('layer');
    await Promise.all([a.commitBlob('repo', layer, 5), b.commitBlob('repo', layer, 5), b.commitBlob('other', layer, 5)]);
    const m = manifest('repo', 'shared', { references: [{ kind: 'layer', digest: layer, size: 5 }] });
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).putManifest({ ...m, tag: `t${i % 4}` })));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.deepEqual((await a.listTags('repo', { limit: 10 })).items, ['t0', 't1', 't2', 't3']);
    assert.deepEqual((await collect(a.iterateManifests())).map((x) => x.references), [[{ kind: 'layer', digest: layer }]]);
  });

  test('a manifest put racing its delete never leaves a tag pointing at nothing', async () => {
    const [a, b] = await replicas();
    for (let round = 0; round < 30; round++) {
      const m = manifest('repo', `round ${round}`);
      await a.putManifest(m);
      const [put] = await Promise.allSettled([a.putManifest({ ...m, tag: `v${round}` }), b.deleteManifest('repo', m.digest)]);
      assert.equal(put.status, 'fulfilled', String((put as PromiseRejectedResult).reason));
      assert.deepEqual(await a.findDanglingTags(), [], `round ${round}`);
      const tagged = await a.findManifestByTag('repo', `v${round}`);
      const present = await a.findManifest('repo', m.digest);
      assert.equal(tagged?.digest, present?.digest, 'tag and manifest are both there or both gone');
    }
  });

  test('repositories and blobs created from both replicas at once', async () => {
    const [a, b, db] = await replicas();
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).ensureRepository(`r${i % 3}`)));
    const d = dg('popular');
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).commitBlob(`r${i % 5}`, d, 9)));
    const names = (await db.selectFrom('repositories').select('name').orderBy('name').execute()).map((r) => r.name);
    assert.deepEqual(names, ['r0', 'r1', 'r2', 'r3', 'r4']);
    for (let i = 0; i < 5; i++) assert.ok(await b.findRepositoryBlob(`r${i}`, d));
    assert.equal((await collect(a.iterateBlobs())).length, 1);
  });

  test('int8 columns round-trip as numbers, beyond 32 bits', async () => {
    const [a, , db] = await replicas();
    const big = 6 * 2 ** 30 + 7; // a 6 GiB layer
    await a.commitBlob('repo', dg('huge'), big);
    const blob = await a.findBlob(dg('huge'));
    assert.equal(blob?.size, big);
    assert.equal(typeof blob?.createdAt, 'number');
    const raw = await db.selectFrom('blobs').select(['size', 'created_at']).executeTakeFirstOrThrow();
    assert.equal(typeof raw.size, 'number', 'the pool parses int8 itself');
    // a value that cannot be a JavaScript number is an error, not a silently rounded size
    await sql`update blobs set size = 9007199254740993`.execute(db);
    await assert.rejects(a.findBlob(dg('huge')), RangeError);
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
