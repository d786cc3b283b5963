import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf, encodedOf } from '../../src/domain/digest.js';
import { FsBlobStore } from '../../src/storage/blob/fs-blob-store.js';
import { body, describeBlobStore, isCode, push } from './blob-store-suite.js';

async function open(fsync: boolean): Promise<{ store: FsBlobStore; root: string; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-fs-blob-'));
  const store = new FsBlobStore({ root, fsync });
  await store.init();
  return { store, root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

describeBlobStore('fs', () => open(false));
describeBlobStore('fs with fsync', () => open(true));

describe('FsBlobStore layout', () => {
  test('a committed blob lives at <root>/<algorithm>/<2 hex>/<hex> and nothing stays in _uploads', async () => {
    const { store, root, cleanup } = await open(true);
    try {
      const content = randomBytes(1000);
      const digest = await push(store, content);
      const hex = encodedOf(digest);
      assert.deepEqual(await readFile(join(root, 'sha256', hex.slice(0, 2), hex)), content);
      const d512 = await push(store, content, 'sha512');
      assert.deepEqual(await readFile(join(root, 'sha512', encodedOf(d512).slice(0, 2), encodedOf(d512))), content);
      assert.deepEqual(await readdir(join(root, '_uploads')), []);
    } finally {
      await cleanup();
    }
  });

  test('blobs and uploads survive a restart (a new store over the same root)', async () => {
    const { store, root, cleanup } = await open(false);
    try {
      const digest = await push(store, Buffer.from('durable'));
      const id = randomUUID();
      await store.create(id);
      await store.append(id, 0, body(Buffer.from('half ')));
      const again = new FsBlobStore({ root, fsync: false });
      await again.init();
      assert.deepEqual(await again.stat(digest), { size: 7 });
      assert.equal(await again.append(id, 5, body(Buffer.from('done'))), 9);
      await again.commit(id, 9, digestOf(Buffer.from('half done')));
      assert.deepEqual(await again.stat(digestOf(Buffer.from('half done'))), { size: 9 });
    } finally {
      await cleanup();
    }
  });

  test('upload ids cannot escape the uploads directory', async () => {
    const { store, root, cleanup } = await open(false);
    try {
      await writeFile(join(root, 'victim'), 'x');
      for (const id of ['../victim', '..', '', 'a/b', 'a\0', '.', 'x'.repeat(129)]) {
        await assert.rejects(store.create(id), isCode('BLOB_UPLOAD_UNKNOWN'), JSON.stringify(id));
        await assert.rejects(store.append(id, 0, body(Buffer.from('y'))), isCode('BLOB_UPLOAD_UNKNOWN'));
        await assert.rejects(store.commit(id, 1, digestOf(Buffer.from('x'))), isCode('BLOB_UPLOAD_UNKNOWN'));
        await assert.rejects(store.abort(id), isCode('BLOB_UPLOAD_UNKNOWN'));
      }
      assert.equal(await readFile(join(root, 'victim'), 'utf8'), 'x');
    } finally {
      await cleanup();
    }
  });

  test('list skips stray files and directories instead of failing', async () => {
    const { store, root, cleanup } = await open(false);
    try {
      const digest = await push(store, Buffer.from('kept'));
      await writeFile(join(root, 'README'), 'stray file at the root');
      await writeFile(join(root, 'sha256', 'zz'), 'stray file where a prefix directory goes');
      await mkdir(join(root, 'lost+found', 'x'), { recursive: true });
      await writeFile(join(root, 'sha256', encodedOf(digest).slice(0, 2), 'not-a-digest'), '');
      const listed: string[] = [];
      for await (const d of store.list()) listed.push(d);
      assert.deepEqual(listed, [digest]);
    } finally {
      await cleanup();
    }
  });

  test('a disk write error fails the append, it does not crash the process', { skip: !existsSync('/dev/full') }, async () => {
    const { store, root, cleanup } = await open(false);
    try {
      const id = randomUUID();
      await store.create(id);
      await rm(join(root, '_uploads', id));
      await symlink('/dev/full', join(root, '_uploads', id)); // every write fails with ENOSPC
      // a slow client: the failed write settles while the next chunk is awaited
      const slow = Readable.from(
        (async function* () {
          for (let i = 0; i < 12; i++) {
            yield randomBytes(1024 * 1024);
            await sleep(20);
          }
        })(),
      );
      await assert.rejects(store.append(id, 0, slow), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOSPC');
    } finally {
      await cleanup();
    }
  });
});
