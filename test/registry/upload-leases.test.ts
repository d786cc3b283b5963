/**
 * Chunks one at a time across replicas: the upload's lease lives in the DB, so two
 * RegistryServices (two replicas) over one database exclude each other, a dead replica's lease
 * lapses, and the reaper never takes an upload that is receiving a chunk.
 */
import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { digestOf } from '../../src/domain/digest.js';
import { isWharfError } from '../../src/errors/wharf-error.js';
import { RegistryService } from '../../src/registry/registry-service.js';
import { MemoryBlobStore } from '../../src/storage/blob/memory-blob-store.js';
import type { Database } from '../../src/storage/metadata/schema.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-leases-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let clock = 1_700_000_000_000;
let n = 0;

/** Two replicas: one database file, one blob store, each its own service and connection. */
async function twoReplicas(uploadLeaseMs = 30_000): Promise<[RegistryService, RegistryService, SqlMetadataStore]> {
  const path = join(dir, `r${++n}.db`);
  const open = () => {
    const database = new BetterSqlite3(path);
    database.pragma('journal_mode = WAL');
    database.pragma('busy_timeout = 5000');
    return new SqlMetadataStore(new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), 'sqlite', () => clock);
  };
  const [a, b] = [open(), open()];
  await a.migrate();
  const blobs = new MemoryBlobStore();
  const opts = { blobs, uploads: blobs, now: () => clock, uploadLeaseMs };
  return [new RegistryService({ ...opts, metadata: a }), new RegistryService({ ...opts, metadata: b }), a];
}

describe('upload leases across replicas', () => {
  beforeEach(() => {
    clock = 1_700_000_000_000;
  });

  test('a chunk arriving on one replica makes a parallel chunk on the other BLOB_UPLOAD_INVALID; then it goes on', async () => {
    const [a, b] = await twoReplicas();
    const upload = await a.startUpload('repo');
    const slow = new PassThrough();
    const first = a.appendUpload('repo', upload.id, slow);
    slow.write(Buffer.from('hello '));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.uploadsInProgress, 1);
    await assert.rejects(b.appendUpload('repo', upload.id, Readable.from([Buffer.from('x')])), (e) => isWharfError(e, 'BLOB_UPLOAD_INVALID'));
    slow.end(Buffer.from('world'));
    assert.equal((await first).size, 11);
    assert.equal(a.uploadsInProgress, 0);
    // released: the other replica continues, from the size the DB says
    const done = await b.completeUpload('repo', upload.id, digestOf(Buffer.from('hello world!')), Readable.from([Buffer.from('!')]));
    assert.equal(done.size, 12);
  });

  test("a dead replica's lease lapses: the upload is stuck only until then", async () => {
    const [a, , metadata] = await twoReplicas();
    const upload = await a.startUpload('repo');
    assert.equal(await metadata.leaseUpload(upload.id, 'a replica that was killed', 30_000), true);
    await assert.rejects(a.appendUpload('repo', upload.id, Readable.from([Buffer.from('x')])), (e) => isWharfError(e, 'BLOB_UPLOAD_INVALID'));
    clock += 30_000;
    assert.equal((await a.appendUpload('repo', upload.id, Readable.from([Buffer.from('x')]))).size, 1);
  });

  test('the reaper of any replica skips an upload whose chunk is still arriving, and reclaims it once idle', async () => {
    // a lease longer than the idle limit stands in for one renewed all along (the fake clock jumps)
    const [a, b, metadata] = await twoReplicas(3 * 86_400_000);
    const upload = await a.startUpload('repo');
    const slow = new PassThrough();
    const appending = a.appendUpload('repo', upload.id, slow);
    slow.write(Buffer.from('partial'));
    await new Promise((r) => setTimeout(r, 50));
    clock += 2 * 86_400_000; // idle by updated_at, but leased
    assert.equal(await b.reclaimAbandonedUploads(86_400_000), 0);
    assert.ok(await metadata.findUpload(upload.id));
    slow.end();
    await appending; // releases the lease
    clock += 2 * 86_400_000;
    assert.equal(await b.reclaimAbandonedUploads(86_400_000), 1);
    assert.equal(await metadata.findUpload(upload.id), undefined);
  });

  test('a replica starting again frees the leases its earlier life held, and only those', async () => {
    const [a, , metadata] = await twoReplicas();
    const [u1, u2] = [await a.startUpload('repo'), await a.startUpload('repo')];
    assert.equal(await metadata.leaseUpload(u1.id, 'host-1/0.0.0.0:5000 dead', 30_000), true);
    assert.equal(await metadata.leaseUpload(u2.id, 'host-2/0.0.0.0:5000 alive', 30_000), true);
    const restarted = new RegistryService({ metadata, blobs: new MemoryBlobStore(), uploads: new MemoryBlobStore(), replicaId: 'host-1/0.0.0.0:5000' });
    assert.equal(await restarted.releaseLeasesOfEarlierLife(false), 1);
    assert.equal(await metadata.leaseUpload(u1.id, 'x', 30_000), true);
    assert.equal(await metadata.leaseUpload(u2.id, 'x', 30_000), false);
    assert.equal(await restarted.releaseLeasesOfEarlierLife(true), 2, 'all (SQLite: the only process)');
    await restarted.close();
  });

  test('a chunk reads the upload size under the lease, not before it', async () => {
    const [a, b] = await twoReplicas();
    const upload = await a.startUpload('repo');
    await a.appendUpload('repo', upload.id, Readable.from([Buffer.from('abc')]));
    // b appends at the size it reads once it holds the lease: 3, not 0
    assert.equal((await b.appendUpload('repo', upload.id, Readable.from([Buffer.from('def')]))).size, 6);
    await assert.rejects(
      a.appendUpload('repo', upload.id, Readable.from([Buffer.from('zzz')]), { start: 3, end: 5 }),
      (e) => isWharfError(e, 'RANGE_INVALID'),
    );
  });
});
