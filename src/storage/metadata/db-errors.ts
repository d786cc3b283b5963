/**
 * Driver errors, classified once for both dialects, so the store can decide what to retry and
 * what to translate (Kysely's advice: unique violations differ per dialect; translate them at the
 * store boundary). pg errors carry a SQLSTATE in `code`; better-sqlite3 errors an extended
 * result code name (SQLITE_CONSTRAINT_UNIQUE, SQLITE_BUSY ...).
 */
export type DbErrorKind =
  /** a unique or primary-key constraint refused a row another transaction got in first */
  | 'unique'
  /** the transaction lost a race (serialization failure, deadlock, busy database) and may simply be run again */
  | 'retry';

const PG_KINDS: Record<string, DbErrorKind> = {
  '23505': 'unique', // unique_violation
  '40001': 'retry', // serialization_failure
  '40P01': 'retry', // deadlock_detected
  '55P03': 'retry', // lock_not_available
};

const SQLITE_KINDS: Record<string, DbErrorKind> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_BUSY: 'retry',
  SQLITE_BUSY_SNAPSHOT: 'retry',
  SQLITE_LOCKED: 'retry',
};

export function dbErrorKind(err: unknown): DbErrorKind | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  return PG_KINDS[code] ?? SQLITE_KINDS[code];
}
