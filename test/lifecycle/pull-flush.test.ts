/**
 * The last-pulled times buffered by RegistryService.notePulled and written by flushPulled in
 * small transactions (issue 10: the 30 s flush wrote one autocommit per manifest on the event
 * loop). Several batches, pulls of manifests that are gone or never were, repositories that do
 * not exist: every manifest that exists gets its latest pull time, nothing else changes, and the
 * flush does not fail. On SQLite and, when reachable, PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pushImage, startHarness, type Harness } from '../http/harness.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';
import type { Digest } from '../../src/domain/digest.js';
import { SqlImageStore } from '../../src/storage/metadata/sql-image-store.js';

const fake = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}` as Digest;

async function lastPulled(h: Harness, repo: string, dialect: 'sqlite' | 'postgres'): Promise<Map<string, number | null>> {
  const images = new SqlImageStore(h.metadata.database, dialect);
  return new Map((await images.imageGraph(repo)).map((n) => [n.digest, n.lastPulledAt]));
}

function suite(name: string, dialect: 'sqlite' | 'postgres', start: () => Promise<{ h: Harness; close(): Promise<void> }>, skip?: string): void {
  describe(name, { skip }, () => {
    let env: { h: Harness; close(): Promise<void> };
    before(async () => {
      env = await start();
    });
    after(async () => env?.close());

    test('a flush of several batches writes the latest pull of every existing manifest and skips the rest', async () => {
      const { h } = env;
      const a = await pushImage(h.app, 'pulls/a', 'v1');
      const b = await pushImage(h.app, 'pulls/b', 'v1');
      const c = await pushImage(h.app, 'pulls/b', 'v2', {}, [Buffer.alloc(100, 3)]);
      const gone = await pushImage(h.app, 'pulls/a', 'v3', {}, [Buffer.alloc(100, 4)]);
      assert.equal((await h.app.inject({ method: 'DELETE', url: `/v2/pulls/a/manifests/${gone.digest}` })).statusCode, 202);
      // 1000 pulls: the real ones spread over the batches, between pulls of manifests and
      // repositories that do not exist
      const at = new Map<string, number>();
      for (let i = 0; i < 1000; i++) {
        if (i === 10) h.registry.notePulled('pulls/a', a.digest as Digest);
        else if (i === 450) h.registry.notePulled('pulls/b', b.digest as Digest);
        else if (i === 999) h.registry.notePulled('pulls/b', c.digest as Digest);
        else if (i === 600) h.registry.notePulled('pulls/a', gone.digest as Digest);
        else h.registry.notePulled(i % 2 ? 'pulls/a' : `pulls/none-${i}`, fake(i));
      }
      await h.registry.flushPulled();
      const ra = await lastPulled(h, 'pulls/a', dialect);
      const rb = await lastPulled(h, 'pulls/b', dialect);
      assert.equal(typeof ra.get(a.digest), 'number');
      assert.equal(typeof rb.get(b.digest), 'number');
      assert.equal(typeof rb.get(c.digest), 'number');
      assert.equal(ra.has(gone.digest), false);
      assert.equal(ra.size, 1);
      at.set(a.digest, ra.get(a.digest)!);
      // a second flush with nothing buffered changes nothing; a new pull moves only its manifest
      await h.registry.flushPulled();
      await new Promise((r) => setTimeout(r, 5));
      h.registry.notePulled('pulls/a', a.digest as Digest);
      await h.registry.flushPulled();
      const ra2 = await lastPulled(h, 'pulls/a', dialect);
      const rb2 = await lastPulled(h, 'pulls/b', dialect);
      assert.ok(ra2.get(a.digest)! > at.get(a.digest)!, 'the newer pull is written');
      assert.equal(rb2.get(b.digest), rb.get(b.digest));
    });
  });
}

suite('pull-time flush on SQLite', 'sqlite', async () => {
  const h = await startHarness();
  return { h, close: () => h.close() };
});

suite(
  'pull-time flush on PostgreSQL',
  'postgres',
  async () => {
    const db: ScratchDatabase = await createScratchDatabase();
    const h = await startHarness({ postgresUrl: db.url });
    return {
      h,
      close: async () => {
        await h.close();
        await db.drop();
      },
    };
  },
  await postgresSkipReason(),
);
