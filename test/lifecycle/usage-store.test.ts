/**
 * Usage and cost below HTTP, on SQLite and PostgreSQL: SqlLifecycleStore's usage rows (stored,
 * unique, attributed, logical bytes, images of an index), physical bytes, traffic by day; two
 * TrafficCounters (two replicas) flushing concurrently into one DB lose nothing; a failed flush
 * keeps its counts and never writes them twice; UsageService's cost arithmetic with configured
 * prices. With CI set, PostgreSQL being down is a failure (test/support/postgres.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { MediaTypes } from '../../src/domain/media-types.js';
import { createPostgresKysely, openPostgresMetadataStore, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { SqlRepositorySettingsStore } from '../../src/storage/metadata/repository-settings-store.js';
import { SqlLifecycleStore, dayOf } from '../../src/features/lifecycle/sql-lifecycle-store.js';
import { TrafficCounter } from '../../src/features/lifecycle/traffic-counter.js';
import { UsageService } from '../../src/features/lifecycle/usage-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';

const dg = (s: string): Digest => digestOf(Buffer.from(s));
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 4, 20, 15);

/** blobs (digest name -> size); each repository links the blobs named */
const SIZES: Record<string, number> = { cfg: 60, base: 6000, a1: 100, a2: 200, b1: 300, c1: 400 };

async function seed(m: SqlMetadataStore): Promise<{ manifests: Record<string, number> }> {
  const manifests: Record<string, number> = {};
  const image = async (repo: string, tag: string | undefined, blobs: string[], key: string) => {
    for (const b of blobs) await m.commitBlob(repo, dg(b), SIZES[b]!);
    const content = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, key, blobs }));
    await m.putManifest({
      repository: repo,
      digest: digestOf(content),
      mediaType: MediaTypes.ociManifest,
      content,
      references: blobs.map((b, i) => ({ kind: i === 0 ? 'config' : 'layer', digest: dg(b), size: SIZES[b]! })),
      tag,
    });
    manifests[key] = content.length;
    return { digest: digestOf(content), size: content.length };
  };
  // r/a: two platform images under one index (the index is the image; its children are not)
  const p1 = await image('r/a', undefined, ['cfg', 'base', 'a1'], 'a-amd64');
  const p2 = await image('r/a', undefined, ['cfg', 'base', 'a2'], 'a-arm64');
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [p1.digest, p2.digest] }));
  await m.putManifest({
    repository: 'r/a',
    digest: digestOf(index),
    mediaType: MediaTypes.ociIndex,
    content: index,
    references: [p1, p2].map((p) => ({ kind: 'manifest' as const, digest: p.digest as Digest, size: p.size })),
    tag: 'v1',
  });
  manifests['a-index'] = index.length;
  await image('r/b', 'v1', ['cfg', 'base', 'b1'], 'b');
  await image('c', 'v1', ['cfg', 'c1'], 'c');
  return { manifests };
}

function storeSuite(name: string, open: () => Promise<{ metadata: SqlMetadataStore; replica: () => SqlMetadataStore; cleanup(): Promise<void> } | string>) {
  describe(`usage store on ${name}`, () => {
    let metadata: SqlMetadataStore | undefined;
    let replica: (() => SqlMetadataStore) | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    let skip: string | undefined;
    let manifests: Record<string, number> = {};
    const extra: SqlMetadataStore[] = [];
    before(async () => {
      const r = await open();
      if (typeof r === 'string') skip = r;
      else {
        ({ metadata, replica, cleanup } = r);
        await metadata.migrate();
        ({ manifests } = await seed(metadata));
      }
    });
    after(async () => {
      for (const s of extra) await s.close();
      await metadata?.close();
      await cleanup?.();
    });

    test('usage rows: stored, unique, attributed, logical, images, tags; physical bytes', async (t) => {
      if (skip) return t.skip(skip);
      const store = new SqlLifecycleStore(metadata!.database);
      const rows = await store.usage();
      assert.deepEqual(
        rows.map((r) => r.repository),
        ['c', 'r/a', 'r/b'],
      );
      const [c, a, b] = rows;
      const M = manifests;
      assert.deepEqual(a, {
        repository: 'r/a',
        storedBytes: 60 + 6000 + 100 + 200,
        uniqueBytes: 300,
        attributedBytes: 20 + 3000 + 300,
        logicalBytes: M['a-amd64']! + 60 + 6000 + 100 + (M['a-arm64']! + 60 + 6000 + 200) + M['a-index']!,
        manifestBytes: M['a-amd64']! + M['a-arm64']! + M['a-index']!,
        images: 1,
        manifests: 3,
        tags: 1,
      });
      assert.deepEqual(b, {
        repository: 'r/b',
        storedBytes: 60 + 6000 + 300,
        uniqueBytes: 300,
        attributedBytes: 20 + 3000 + 300,
        logicalBytes: M.b! + 6360,
        manifestBytes: M.b!,
        images: 1,
        manifests: 1,
        tags: 1,
      });
      assert.deepEqual(c, { repository: 'c', storedBytes: 460, uniqueBytes: 400, attributedBytes: 420, logicalBytes: M.c! + 460, manifestBytes: M.c!, images: 1, manifests: 1, tags: 1 });
      assert.deepEqual(await store.usage(['r/b', 'nope']), [b]);
      assert.deepEqual(await store.usage([]), []);
      const manifestTotal = Object.values(M).reduce((n, x) => n + x, 0);
      assert.deepEqual(await store.physicalBytes(), { blobBytes: 60 + 6000 + 100 + 200 + 300 + 400, blobs: 6, manifestBytes: manifestTotal });
      // a namespace counts a blob its repositories share once
      assert.equal(await store.namespaceStoredBytes('r'), 60 + 6000 + 100 + 200 + 300);
    });

    test('traffic: added per repository and day, summed over a period; unknown repositories dropped', async (t) => {
      if (skip) return t.skip(skip);
      const store = new SqlLifecycleStore(metadata!.database);
      const d = dayOf(T0) - 100; // days of their own, apart from the counters' test
      await store.addTraffic([
        { repository: 'c', day: d, pulls: 1, egressBytes: 10 },
        { repository: 'c', day: d + 1, pulls: 2, egressBytes: 20 },
        { repository: 'c', day: d + 1, pulls: 3, egressBytes: 30 }, // the same row twice in one batch
        { repository: 'gone', day: d, pulls: 5, egressBytes: 50 },
      ]);
      await store.addTraffic([{ repository: 'c', day: d, pulls: 4, egressBytes: 40 }]);
      assert.deepEqual(await store.traffic(d, d), [{ repository: 'c', pulls: 5, egressBytes: 50 }]);
      assert.deepEqual(await store.traffic(d, d + 1, ['c']), [{ repository: 'c', pulls: 10, egressBytes: 100 }]);
      assert.deepEqual(await store.traffic(d + 1, d + 1, ['r/a']), []);
      assert.deepEqual(await store.traffic(d + 2, d + 9), []);
    });

    test('two counters (two replicas) counting and flushing concurrently lose nothing', async (t) => {
      if (skip) return t.skip(skip);
      const other = replica!();
      if (other !== metadata) extra.push(other);
      const day = dayOf(T0);
      const counters = [metadata!, other].map((m) => new TrafficCounter(new SqlLifecycleStore(m.database), { flushIntervalMs: 3_600_000, now: () => T0 }));
      const rounds = 40;
      const digest = dg('x');
      await Promise.all(
        counters.map(async (c, i) => {
          for (let r = 0; r < rounds; r++) {
            for (const repo of ['r/a', 'r/b', 'c']) {
              c.manifestServed(repo, digest, 7);
              c.blobServed(repo, digest, 1000 + i);
            }
            // flushes overlap: the other counter's, and this one's own
            await Promise.all([c.flush(), r % 3 === 0 ? c.flush() : undefined]);
          }
          await c.close();
        }),
      );
      const got = await new SqlLifecycleStore(metadata!.database).traffic(day, day);
      assert.deepEqual(
        got.sort((x, y) => (x.repository < y.repository ? -1 : 1)),
        ['c', 'r/a', 'r/b'].map((repository) => ({ repository, pulls: 2 * rounds, egressBytes: rounds * (7 + 1000 + 7 + 1001) })),
      );
    });

    test('cost from configured prices: storage per GiB-month, egress per GiB scaled to 30 days', async (t) => {
      if (skip) return t.skip(skip);
      const store = new SqlLifecycleStore(metadata!.database);
      const GiB = 2 ** 30;
      // 1 per stored byte a month, 2 per byte sent: the arithmetic is exact
      const usage = new UsageService({
        settings: new SqlRepositorySettingsStore(metadata!.database),
        store,
        pricing: { storagePerGiBMonth: GiB, egressPerGiB: 2 * GiB, currency: 'EUR' },
        now: () => T0,
      });
      const r = await usage.usage(undefined, { days: 10, admin: true });
      const a = r.repositories.find((x) => x.repository === 'r/a')!;
      const egressA = 40 * (7 + 1000 + 7 + 1001);
      assert.equal(a.egressBytes, egressA);
      assert.equal(a.pulls, 80);
      assert.deepEqual(a.monthlyCost, { storage: a.attributedBytes + a.manifestBytes, egress: egressA * 2 * 3, total: a.attributedBytes + a.manifestBytes + egressA * 6 });
      assert.equal(r.totals!.monthlyCost.storage, r.totals!.physicalBytes);
      assert.equal(r.totals!.monthlyCost.egress, r.totals!.egressBytes * 6);
      // every blob is linked somewhere, so the repositories' storage costs add up to the total
      assert.equal(
        r.repositories.reduce((n, x) => n + x.monthlyCost.storage, 0),
        r.totals!.monthlyCost.storage,
      );
      assert.equal(r.pricing.currency, 'EUR');
      const ns = r.namespaces!.find((n) => n.namespace === 'r')!;
      assert.equal(ns.repositories, 2);
      assert.equal(ns.storedBytes, 6660);
      assert.equal(ns.monthlyCost.storage, r.repositories.filter((x) => x.repository.startsWith('r/')).reduce((n, x) => n + x.monthlyCost.storage, 0));
      // 30 days: egress as counted
      const month = await usage.usage(['r/a'], { days: 30, admin: false });
      assert.equal(month.repositories[0]!.monthlyCost.egress, egressA * 2);
      assert.equal(month.totals, undefined);
      assert.equal(month.namespaces, undefined);
    });
  });
}

describe('lifecycle.pricing config', () => {
  test('defaults, env overrides, invalid prices refused', () => {
    assert.deepEqual(loadConfig({ env: {} }).lifecycle.pricing, { storagePerGiBMonth: 0.1, egressPerGiB: 0.12, currency: 'USD' });
    const c = loadConfig({ env: { WHARF_LIFECYCLE__PRICING__STORAGE_PER_GI_BMONTH: '0.026', WHARF_LIFECYCLE__PRICING__EGRESS_PER_GI_B: '0.09', WHARF_LIFECYCLE__PRICING__CURRENCY: 'EUR' } });
    assert.deepEqual(c.lifecycle.pricing, { storagePerGiBMonth: 0.026, egressPerGiB: 0.09, currency: 'EUR' });
    const problems = (flags: Record<string, unknown>) => {
      try {
        loadConfig({ flags });
      } catch (e) {
        return JSON.stringify((e as { detail?: unknown }).detail);
      }
      return 'accepted';
    };
    assert.match(problems({ 'lifecycle.pricing.egressPerGiB': -1 }), /lifecycle\/pricing\/egressPerGiB/);
    assert.match(problems({ 'lifecycle.pricing.currency': 'euro' }), /lifecycle\/pricing\/currency/);
  });
});

describe('TrafficCounter', () => {
  test('a failed flush keeps its counts and writes them once when the store is back', async () => {
    const written: { repository: string; pulls: number; egressBytes: number }[][] = [];
    let fail = true;
    const store = {
      addTraffic: async (e: { repository: string; pulls: number; egressBytes: number }[]) => {
        if (fail) throw new Error('db down');
        written.push(e.map(({ repository, pulls, egressBytes }) => ({ repository, pulls, egressBytes })));
      },
    } as unknown as SqlLifecycleStore;
    const c = new TrafficCounter(store, { flushIntervalMs: 3_600_000, now: () => T0 });
    c.manifestServed('a', dg('m'), 10);
    await assert.rejects(c.flush(), /db down/);
    c.manifestServed('a', dg('m'), 10);
    c.blobServed('a', dg('b'), 5);
    fail = false;
    await c.close();
    assert.deepEqual(written, [[{ repository: 'a', pulls: 2, egressBytes: 25 }]]);
  });

  test('a flush waits for the one in progress (what a usage read returns includes every count before it)', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const store = {
      addTraffic: async (e: { pulls: number }[]) => {
        const n = ++calls;
        order.push(`start ${n} (${e[0]!.pulls})`);
        if (n === 1) await gate;
        order.push(`end ${n}`);
      },
    } as unknown as SqlLifecycleStore;
    const c = new TrafficCounter(store, { flushIntervalMs: 3_600_000, now: () => T0 });
    c.manifestServed('a', dg('m'), 1);
    const first = c.flush();
    await new Promise((r) => setImmediate(r)); // the first batch is being written
    assert.deepEqual(order, ['start 1 (1)']);
    c.manifestServed('a', dg('m'), 1);
    c.manifestServed('a', dg('m'), 1);
    const second = c.flush();
    await new Promise((r) => setTimeout(r, 10));
    release();
    await second;
    assert.deepEqual(order, ['start 1 (1)', 'end 1', 'start 2 (2)', 'end 2']);
    await first;
    await c.close();
  });

  test('counts go to the UTC day they happened on', async () => {
    const seen: { day: number; pulls: number }[] = [];
    const store = { addTraffic: async (e: { day: number; pulls: number }[]) => void seen.push(...e.map(({ day, pulls }) => ({ day, pulls }))) } as unknown as SqlLifecycleStore;
    let now = Date.UTC(2024, 0, 1, 23, 59, 59, 999);
    const c = new TrafficCounter(store, { flushIntervalMs: 3_600_000, now: () => now });
    c.manifestServed('a', dg('m'), 1);
    now += 1;
    c.manifestServed('a', dg('m'), 1);
    c.manifestServed('a', dg('m'), 1);
    await c.close();
    assert.deepEqual(seen.sort((x, y) => x.day - y.day), [
      { day: Date.UTC(2024, 0, 1) / DAY, pulls: 1 },
      { day: Date.UTC(2024, 0, 2) / DAY, pulls: 2 },
    ]);
  });
});

storeSuite('SQLite', async () => {
  const metadata = openSqliteMetadataStore({ path: ':memory:' });
  // one SQLite file is one process: the second "replica" is the same store
  return { metadata, replica: () => metadata, cleanup: async () => undefined };
});

storeSuite('PostgreSQL', async () => {
  const reason = await postgresSkipReason();
  if (reason) return reason;
  const db: ScratchDatabase = await createScratchDatabase();
  return {
    metadata: openPostgresMetadataStore({ connectionString: db.url }),
    // a second pool on the same database, as a second replica has
    replica: () => new SqlMetadataStore(createPostgresKysely({ connectionString: db.url, poolSize: 4 }), 'postgres'),
    cleanup: () => db.drop(),
  };
});
