/**
 * SqlInsightsStore on SQLite and PostgreSQL: layer records round-trip (compressed, by digest and
 * version), analyses are upserted per manifest digest with their state and error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresMetadataStore, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { SqlInsightsStore } from '../../src/features/insights/sql-insights-store.js';
import { LAYER_RECORD_VERSION, type LayerRecord } from '../../src/features/insights/layer-record.js';
import { createScratchDatabase, postgresSkipReason } from '../support/postgres.js';

const record = (digest: string, n: number): LayerRecord => ({
  version: LAYER_RECORD_VERSION,
  digest,
  compression: 'gzip',
  compressedBytes: 10,
  uncompressedBytes: 20,
  entries: Array.from({ length: n }, (_, i) => [`usr/lib/f${i}`, 'f', i, 'ab'.repeat(32)]),
  partial: false,
  wanted: { 'etc/os-release': Buffer.from('ID=debian\n').toString('base64') },
  dpkgLists: { libc6: ['lib/libc.so.6'] },
  safetensors: [{ path: 'm.safetensors', tensors: 1, dtypes: { F16: 4 }, parameters: 4, headerBytes: 80 }],
  secrets: [{ path: 'app/.env', kind: 'env-file' }],
  readSeconds: 0.5,
});

function suite(name: string, open: () => Promise<{ metadata: SqlMetadataStore; cleanup(): Promise<void> } | string>) {
  describe(`SqlInsightsStore on ${name}`, () => {
    let metadata: SqlMetadataStore | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    let skip: string | undefined;
    before(async () => {
      const r = await open();
      if (typeof r === 'string') skip = r;
      else {
        ({ metadata, cleanup } = r);
        await metadata.migrate();
      }
    });
    after(async () => {
      await metadata?.close();
      await cleanup?.();
    });

    test('layer records by digest and version; a second write replaces', async (t) => {
      if (skip) return t.skip(skip);
      const store = new SqlInsightsStore(metadata!.database);
      await store.putLayer(record('sha256:a', 50_000), 1);
      await store.putLayer(record('sha256:b', 3), 1);
      await store.putLayer(record('sha256:b', 4), 2);
      const found = await store.findLayers(['sha256:a', 'sha256:b', 'sha256:c', 'sha256:a'], LAYER_RECORD_VERSION);
      assert.deepEqual([...found.keys()].sort(), ['sha256:a', 'sha256:b']);
      assert.deepEqual(found.get('sha256:a'), record('sha256:a', 50_000));
      assert.equal(found.get('sha256:b')!.entries.length, 4);
      assert.equal((await store.findLayers(['sha256:a'], LAYER_RECORD_VERSION + 1)).size, 0, 'an older record version is not used');
    });

    test('analyses per manifest digest: done, then failed with its error', async (t) => {
      if (skip) return t.skip(skip);
      const store = new SqlInsightsStore(metadata!.database);
      assert.equal(await store.findAnalysis('sha256:m'), undefined);
      await store.putAnalysis({ digest: 'sha256:m', analyzerVersion: 1, state: 'done', error: null, report: { partial: false } as never, analysedAt: 5, durationMs: 7 });
      assert.deepEqual(await store.findAnalysis('sha256:m'), { digest: 'sha256:m', analyzerVersion: 1, state: 'done', error: null, report: { partial: false }, analysedAt: 5, durationMs: 7 });
      const error = { message: 'layer 0 (sha256:x): a layer expands more than 250 times', layer: 0, layerDigest: 'sha256:x', limit: true };
      await store.putAnalysis({ digest: 'sha256:m', analyzerVersion: 1, state: 'failed', error, report: null, analysedAt: 6, durationMs: 1 });
      assert.deepEqual(await store.findAnalysis('sha256:m'), { digest: 'sha256:m', analyzerVersion: 1, state: 'failed', error, report: null, analysedAt: 6, durationMs: 1 });
    });
  });
}

suite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-insights-store-'));
  return { metadata: openSqliteMetadataStore({ path: join(dir, 'wharf.db') }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

suite('PostgreSQL', async () => {
  const reason = await postgresSkipReason();
  if (reason) return reason;
  const db = await createScratchDatabase();
  return { metadata: openPostgresMetadataStore({ connectionString: db.url }), cleanup: () => db.drop() };
});
