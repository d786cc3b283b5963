import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
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

export interface PostgresOptions {
  /** postgres://user@host:port/database?sslmode=...; the fields below, where given, win over its parts */
  connectionString?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  /** resolved by the caller from a file or an environment variable; never logged */
  password?: string;
  /** connections per process (default 10) */
  poolSize?: number;
  /** schema of Wharf's tables (created by migrate when missing); default: the server's search_path */
  schema?: string;
  applicationName?: string;
  /** give up connecting after this long (default 10 s) */
  connectionTimeoutMs?: number;
  now?: () => number;
}

const INT8_OID = 20;

/**
 * bigint (int8) columns hold sizes and millisecond times. pg returns them as strings, because an
 * int8 may exceed 2^53; ours never do, so they are parsed to numbers here, once, for every query,
 * and a value that would lose precision fails loudly instead of being rounded.
 */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} is outside the safe integer range`);
  return n;
}

const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

/** A Kysely instance over a pg connection pool; the pool is ended by `db.destroy()`. */
export function createPostgresKysely(options: PostgresOptions): Kysely<Database> {
  // pg lets a connection string override explicit fields; Wharf's config promises the opposite
  const fromUrl = options.connectionString === undefined ? {} : parseIntoClientConfig(options.connectionString);
  const explicit = Object.fromEntries(
    Object.entries({ host: options.host, port: options.port, database: options.database, user: options.user, password: options.password }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  const pool = new pg.Pool({
    ...fromUrl,
    ...explicit,
    max: options.poolSize ?? 10,
    // search_path is set at connection start, so every query (and Kysely's migrator) sees the schema
    options: options.schema === undefined ? undefined : `-c search_path=${quoteIdent(options.schema)}`,
    application_name: options.applicationName ?? 'wharf',
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    types: pgTypes,
  });
  // An idle client whose connection drops (server restart, failover) emits 'error' on the pool;
  // unhandled, that would take the process down. The next query gets a fresh connection.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * Opens the PostgreSQL metadata DB (scale-out mode): several replicas share it. Transactions run
 * at READ COMMITTED; the store takes the row locks it needs (sql-metadata-store.ts).
 */
export function openPostgresMetadataStore(options: PostgresOptions): SqlMetadataStore {
  return new SqlMetadataStore(createPostgresKysely(options), 'postgres', options.now, options.schema);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
