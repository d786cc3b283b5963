/**
 * SqlScanStore on SQLite and PostgreSQL (migration 0010_scan): advisory upserts by `modified`,
 * candidates without withdrawn records, inventories, findings replaced as a set with first-seen
 * kept; and the OSV sources (ndjson, zip) with their limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresMetadataStore, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { SqlScanStore } from '../../src/features/scan/sql-scan-store.js';
import { parseOsvRecord } from '../../src/features/scan/vulns/osv.js';
import { ndjsonRecords, zipRecords } from '../../src/features/scan/vulns/osv-sources.js';
import type { Finding } from '../../src/features/scan/matching.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';
import { zipOf } from './support/zip.js';

const record = (id: string, modified: string, extra: object = {}) =>
  parseOsvRecord({ id, modified, affected: [{ package: { ecosystem: 'PyPI', name: 'Jinja2' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.11.3' }] }] }], ...extra });
const finding = (id: string): Finding => ({ id, aliases: [], summary: '', severity: 'HIGH', package: { type: 'pypi', name: 'jinja2', version: '2.10', purl: 'pkg:pypi/jinja2@2.10', path: 'x' }, installed: '2.10', ecosystem: 'PyPI', layer: 0 });

function storeSuite(name: string, open: () => Promise<{ metadata: SqlMetadataStore; cleanup(): Promise<void> } | string>) {
  describe(`SqlScanStore on ${name}`, () => {
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

    test('advisories: newer replaces, older or equal is left, withdrawn is not a candidate', async (t) => {
      if (skip) return t.skip(skip);
      const store = new SqlScanStore(metadata!.database);
      const imp = await store.startImport('t', 1);
      assert.deepEqual(await store.upsertAdvisories([record('A-1', '2024-01-01T00:00:00Z'), record('A-2', '2024-01-01T00:00:00Z')], 't', imp), { added: 2, updated: 0, unchanged: 0 });
      assert.deepEqual(await store.upsertAdvisories([record('A-1', '2024-02-01T00:00:00Z'), record('A-2', '2023-01-01T00:00:00Z')], 't', imp), { added: 0, updated: 1, unchanged: 1 });
      await store.upsertAdvisories([record('A-3', '2024-01-01T00:00:00Z', { withdrawn: '2024-01-02T00:00:00Z' })], 't', imp);
      const c = await store.candidates([{ ecosystem: 'PyPI', name: 'jinja2' }]);
      assert.deepEqual(c.map((x) => x.id).sort(), ['A-1', 'A-2']);
      assert.equal((await store.candidates([{ ecosystem: 'npm', name: 'jinja2' }])).length, 0);
      assert.deepEqual(await store.advisoryCount(), { advisories: 3, withdrawn: 1 });
      await store.finishImport(imp, { finishedAt: 2, records: 5, added: 3, updated: 1, rejected: 0, newestModified: 3, errors: [] });
      assert.equal((await store.listImports(5))[0]!.records, 5);
    });

    test('findings are replaced as a set; first-seen survives; inventories page by digest', async (t) => {
      if (skip) return t.skip(skip);
      const store = new SqlScanStore(metadata!.database);
      for (const d of ['sha256:b', 'sha256:a']) {
        await store.putInventory({ digest: d, scannerVersion: 1, inventory: { packages: [], ml: { cuda: [], cudnn: [], nccl: [], frameworks: [] }, warnings: [] }, layers: [], scannedAt: 1, matchedAt: null });
      }
      assert.deepEqual(await store.listInventoryDigests(undefined, 10), ['sha256:a', 'sha256:b']);
      assert.deepEqual(await store.listInventoryDigests('sha256:a', 10), ['sha256:b']);
      assert.equal(await store.replaceFindings('sha256:a', [{ key: 'k', finding: finding('A-1') }], 100, null), 1);
      assert.equal(await store.replaceFindings('sha256:a', [{ key: 'k', finding: finding('A-1') }, { key: 'k', finding: finding('A-2') }], 200, 7), 1);
      const f = await store.listFindings('sha256:a');
      assert.deepEqual(f.map((x) => [x.id, x.firstSeenAt, x.firstSeenImport]).sort(), [['A-1', 100, null], ['A-2', 200, 7]]);
      assert.equal(await store.replaceFindings('sha256:a', [{ key: 'k', finding: finding('A-2') }], 300, 8), 0);
      assert.deepEqual((await store.listFindings('sha256:a')).map((x) => x.id), ['A-2']);
      assert.equal((await store.findInventory('sha256:a'))?.matchedAt, 300);
    });
  });
}

storeSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-scan-store-'));
  return { metadata: openSqliteMetadataStore({ path: join(dir, 'wharf.db') }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

storeSuite('PostgreSQL', async () => {
  const reason = await postgresSkipReason();
  if (reason) return reason;
  const db: ScratchDatabase = await createScratchDatabase();
  return { metadata: openPostgresMetadataStore({ connectionString: db.url }), cleanup: () => db.drop() };
});

describe('OSV sources', () => {
  test('ndjson: blank lines skipped, bad lines become errors, over-long lines stop the import', async () => {
    const out = [];
    for await (const r of ndjsonRecords(['{"id":1}\n\n{bad\n', '{"id":', '2}'])) out.push(r);
    assert.equal(out.length, 3);
    assert.deepEqual(out[0], { id: 1 });
    assert.ok(out[1] instanceof Error);
    assert.deepEqual(out[2], { id: 2 });
    await assert.rejects(async () => {
      for await (const _ of ndjsonRecords(['x'.repeat(2000)], { maxRecordBytes: 1000, maxEntries: 10 })) void _;
    }, /longer than 1000 bytes/);
  });
  test('zip: only .json entries; oversized entries rejected; too many entries refused; not a zip fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-osv-zip-'));
    try {
      const file = join(dir, 'all.zip');
      writeFileSync(file, zipOf([{ name: 'A.json', content: '{"id":"A"}' }, { name: 'notes.txt', content: 'x' }, { name: 'big.json', content: 'x'.repeat(5000) }, { name: 'dir/', content: '' }]));
      const out = [];
      for await (const r of zipRecords(file, { maxRecordBytes: 1000, maxEntries: 10 })) out.push(r);
      assert.deepEqual(out[0], { id: 'A' });
      assert.match(String(out[1]), /over the 1000-byte record limit/);
      assert.equal(out.length, 2);
      await assert.rejects(async () => {
        for await (const _ of zipRecords(file, { maxRecordBytes: 1000, maxEntries: 2 })) void _;
      }, /4 entries/);
      writeFileSync(file, 'not a zip at all');
      await assert.rejects(async () => {
        for await (const _ of zipRecords(file)) void _;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
