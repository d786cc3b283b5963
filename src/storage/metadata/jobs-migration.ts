import { sql, type Kysely, type Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0005_jobs: the background job table of DESIGN.md ("Background work") and the
 * schedules that enqueue jobs. A job with a `key` is unique among unfinished jobs (a partial
 * unique index), which makes enqueueing idempotent across replicas.
 */
export function jobsMigration(dialect: SqlDialectName): Migration {
  const pg = dialect === 'postgres';
  const id = pg ? ('bigserial' as const) : ('integer' as const);
  const bigint = pg ? ('bigint' as const) : ('integer' as const);
  const autoId = (c: any) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement());
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('jobs')
        .addColumn('id', id, autoId)
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('key', 'text')
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('run_at', bigint, (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', bigint)
        .addColumn('last_error', 'text')
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('finished_at', bigint)
        .execute();
      await db.schema.createIndex('jobs_due').on('jobs').columns(['state', 'run_at']).execute();
      await db.schema.createIndex('jobs_kind').on('jobs').columns(['kind', 'state']).execute();
      await sql`create unique index jobs_key_unfinished on jobs (key) where state in ('queued', 'running')`.execute(db);

      await db.schema
        .createTable('schedules')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('interval_ms', bigint, (c) => c.notNull())
        .addColumn('next_run_at', bigint, (c) => c.notNull())
        .addColumn('last_run_at', bigint)
        .execute();
    },
  };
}
