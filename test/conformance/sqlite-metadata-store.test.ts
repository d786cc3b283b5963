import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from '../../src/storage/metadata/schema.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { describeMetadataStore, type MetadataStoreFixture } from './metadata-store-suite.js';

/** The same pragmas as openSqliteMetadataStore, with an injected clock and the Kysely instance at hand. */
async function openSqlite(path: string, now: () => number, cleanupDir?: string): Promise<MetadataStoreFixture> {
  const database = new BetterSqlite3(path);
  if (path !== ':memory:') {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
  }
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  const store = new SqlMetadataStore(db, 'sqlite', now);
  await store.migrate();
  return {
    store,
    db,
    async deleteBlobRowUnchecked(digest) {
      database.pragma('foreign_keys = OFF');
      try {
        await db.deleteFrom('blobs').where('digest', '=', digest).execute();
      } finally {
        database.pragma('foreign_keys = ON');
      }
    },
    async cleanup() {
      await store.close();
      if (cleanupDir) await rm(cleanupDir, { recursive: true, force: true });
    },
  };
}

describeMetadataStore('sqlite (file)', async (now) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-sqlite-'));
  return openSqlite(join(dir, 'wharf.db'), now, dir);
});
describeMetadataStore('sqlite (:memory:)', (now) => openSqlite(':memory:', now));
