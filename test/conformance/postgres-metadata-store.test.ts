import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { createPostgresKysely } from '../../src/storage/metadata/open-metadata-store.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';
import { describeMetadataStore } from './metadata-store-suite.js';

const skip = await postgresSkipReason();
if (skip) {
  test('MetadataStore conformance: postgres', { skip }, () => {});
} else {
  let scratch: ScratchDatabase;
  let n = 0;
  before(async () => {
    scratch = await createScratchDatabase();
  });
  after(async () => scratch.drop());

  // one database per run, one schema per test: a fresh, empty store without CREATE DATABASE each time
  describeMetadataStore('postgres', async (now) => {
    const schema = `t${++n}`;
    const db = createPostgresKysely({ connectionString: scratch.url, poolSize: 8, schema });
    const store = new SqlMetadataStore(db, 'postgres', now, schema);
    await store.migrate();
    return {
      store,
      db,
      async deleteBlobRowUnchecked(digest) {
        await db.transaction().execute(async (trx) => {
          // skips the foreign-key triggers for this transaction only (the scratch user is a superuser)
          await sql`set local session_replication_role = replica`.execute(trx);
          await trx.deleteFrom('blobs').where('digest', '=', digest).execute();
        });
      },
      cleanup: () => store.close(),
    };
  });
}
