import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Kysely's SQLite driver prepares every query afresh; preparing costs more than running the
 * small indexed queries of the hot path (a manifest GET). This wrapper keeps prepared statements
 * by SQL text, bounded (least recently used goes first). Kysely runs one query at a time on its
 * one connection, so a cached statement is never used by two queries at once.
 */
export function withStatementCache(database: BetterSqlite3.Database, capacity = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sqlText: string): SqliteStatement {
      const hit = cache.get(sqlText);
      if (hit) {
        cache.delete(sqlText); // re-insert: Map order is our recency order
        cache.set(sqlText, hit);
        return hit;
      }
      const stmt = database.prepare(sqlText) as unknown as SqliteStatement;
      cache.set(sqlText, stmt);
      if (cache.size > capacity) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
  };
}
