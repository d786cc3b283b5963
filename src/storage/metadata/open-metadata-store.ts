import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { SqlMetadataStore } from './sql-metadata-store.js';
import { withStatementCache } from './sqlite-statement-cache.js';

export interface SqliteOptions {
  /** file path, or ':memory:' */
  path: string;
  readonly?: boolean;
}

/**
 * Opens the SQLite metadata DB. WAL lets readers (fsck, metrics) run beside the writer;
 * synchronous=FULL makes every committed transaction survive power loss, not only a process crash
 * (durability is not traded for speed, DESIGN.md invariant 2).
 */
export function openSqliteMetadataStore(options: SqliteOptions): SqlMetadataStore {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const database = new BetterSqlite3(options.path, { readonly: options.readonly ?? false });
  if (!options.readonly) {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
  }
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  return new SqlMetadataStore(db, 'sqlite');
}
