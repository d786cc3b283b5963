/**
 * The job table and the runner over it, on SQLite and (where reachable) PostgreSQL: idempotent
 * enqueue by key, one lease per job even with racing workers, lease expiry hands a dead worker's
 * job to another, retries with backoff until attempts are spent, schedules fire once per tick
 * across runners sharing the DB.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { JobRunner } from '../../src/jobs/job-runner.js';
import { openPostgresMetadataStore, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { SqlJobStore } from '../../src/storage/metadata/sql-job-store.js';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';

const silent = pino({ level: 'silent' });

interface Backend {
  name: string;
  open(): Promise<{ metadata: SqlMetadataStore; dialect: 'sqlite' | 'postgres'; cleanup(): Promise<void> }>;
  skip?: () => Promise<string | undefined>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'wharf-jobs-'));
      const metadata = openSqliteMetadataStore({ path: join(dir, 'wharf.db') });
      await metadata.migrate();
      return { metadata, dialect: 'sqlite', cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    skip: postgresSkipReason,
    async open() {
      const scratch: ScratchDatabase = await createScratchDatabase();
      const metadata = openPostgresMetadataStore({ connectionString: scratch.url, poolSize: 4 });
      await metadata.migrate();
      return { metadata, dialect: 'postgres', cleanup: () => scratch.drop() };
    },
  },
];

for (const backend of backends) {
  describe(`jobs on ${backend.name}`, async () => {
    const skip = backend.skip ? await backend.skip() : undefined;
    let metadata: SqlMetadataStore;
    let store: SqlJobStore;
    let clock = 1_700_000_000_000;
    let cleanup: () => Promise<void>;
    before(async () => {
      if (skip) return;
      const opened = await backend.open();
      metadata = opened.metadata;
      cleanup = opened.cleanup;
      store = new SqlJobStore(metadata.database, opened.dialect, () => clock);
    });
    after(async () => {
      if (skip) return;
      await metadata.close();
      await cleanup();
    });

    test('enqueue with a key is idempotent while the job is unfinished', { skip }, async () => {
      const a = await store.enqueue('k.idem', { n: 1 }, { key: 'scan:abc' });
      const b = await store.enqueue('k.idem', { n: 2 }, { key: 'scan:abc' });
      assert.ok(a);
      assert.equal(b, undefined);
      const leased = await store.lease(['k.idem'], 'w1', clock, clock + 1000);
      assert.deepEqual(leased?.payload, { n: 1 });
      await store.complete(leased!.id, 'w1', clock);
      assert.ok(await store.enqueue('k.idem', { n: 3 }, { key: 'scan:abc' }), 'a finished job frees its key');
    });

    test('racing workers never lease the same job', { skip }, async () => {
      for (let i = 0; i < 20; i++) await store.enqueue('k.race', { i });
      const leases = await Promise.all(Array.from({ length: 30 }, (_, w) => store.lease(['k.race'], `w${w}`, clock, clock + 1000)));
      const ids = leases.filter((j) => j !== undefined).map((j) => j.id);
      assert.equal(ids.length, 20);
      assert.equal(new Set(ids).size, 20);
    });

    test('a job is not due before runAt; a lease held is not taken; an expired one is', { skip }, async () => {
      const job = await store.enqueue('k.lease', {}, { runAt: clock + 500 });
      assert.equal(await store.lease(['k.lease'], 'w1', clock, clock + 1000), undefined);
      const first = await store.lease(['k.lease'], 'w1', clock + 600, clock + 1600);
      assert.equal(first?.id, job!.id);
      assert.equal(await store.lease(['k.lease'], 'w2', clock + 700, clock + 1700), undefined, 'held');
      assert.ok(await store.renew(job!.id, 'w1', clock + 2000));
      assert.equal(await store.lease(['k.lease'], 'w2', clock + 1800, clock + 2800), undefined, 'renewed');
      const second = await store.lease(['k.lease'], 'w2', clock + 2100, clock + 3100);
      assert.equal(second?.id, job!.id, 'expired lease: the job goes to the next worker');
      assert.equal(second?.attempts, 2);
      assert.equal(await store.renew(job!.id, 'w1', clock + 9000), false, 'the old worker lost it');
      await store.complete(job!.id, 'w1', clock); // ignored: not the owner
      assert.equal((await store.find(job!.id))?.state, 'running');
      await store.complete(job!.id, 'w2', clock + 2200);
      assert.equal((await store.find(job!.id))?.state, 'succeeded');
    });

    test('the runner retries with backoff, then marks the job failed', { skip }, async () => {
      const runner = new JobRunner({ store, logger: silent, now: () => clock, backoffBaseMs: 1000 });
      let calls = 0;
      runner.register('k.flaky', async () => {
        calls++;
        throw new Error(`boom ${calls}`);
      });
      const job = await runner.enqueue('k.flaky', {}, { maxAttempts: 3 });
      assert.equal(await runner.drain(), 1);
      let rec = await store.find(job!.id);
      assert.equal(rec?.state, 'queued');
      assert.equal(rec?.runAt, clock + 1000, 'first retry after the base delay');
      assert.equal(await runner.drain(), 0, 'not due yet');
      clock += 1000;
      await runner.drain();
      rec = await store.find(job!.id);
      assert.equal(rec?.runAt, clock + 2000, 'the delay doubles');
      clock += 2000;
      await runner.drain();
      rec = await store.find(job!.id);
      assert.equal(rec?.state, 'failed');
      assert.equal(rec?.lastError, 'boom 3');
      assert.equal(calls, 3);
    });

    test('a succeeding handler gets its payload once', { skip }, async () => {
      const runner = new JobRunner({ store, logger: silent, now: () => clock });
      const seen: unknown[] = [];
      runner.register('k.ok', async (payload) => {
        seen.push(payload);
      });
      await runner.enqueue('k.ok', { digest: 'sha256:x' });
      await runner.drain();
      await runner.drain();
      assert.deepEqual(seen, [{ digest: 'sha256:x' }]);
    });

    test('a schedule fires once per tick across runners sharing the DB', { skip }, async () => {
      const runs: string[] = [];
      const runners = ['a', 'b', 'c'].map((name) => {
        const r = new JobRunner({ store, logger: silent, now: () => clock });
        r.every('gc', 10_000, 'k.tick', { from: 'schedule' });
        r.register('k.tick', async () => {
          runs.push(name);
        });
        return r;
      });
      for (const r of runners) await r.start();
      for (const r of runners) await r.stop(); // schedules are registered; drive ticks by hand
      for (let tick = 1; tick <= 3; tick++) {
        clock += 10_000;
        await Promise.all(runners.map((r) => r.drain()));
        assert.equal(runs.length, tick, `tick ${tick} ran once`);
      }
    });

    test('a started runner picks up an enqueued job without waiting for the poll interval', { skip }, async () => {
      const runner = new JobRunner({ store, logger: silent, pollIntervalMs: 60_000 });
      const done = new Promise<unknown>((resolve) => runner.register('k.wake', async (p) => resolve(p)));
      await runner.start();
      try {
        await runner.enqueue('k.wake', { hello: 1 });
        assert.deepEqual(await done, { hello: 1 });
      } finally {
        await runner.stop();
      }
    });
  });
}
