import { sql, type Kysely, type Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0020_lifecycle (issue 5): online GC's coordination tables and the lifecycle feature's
 * own tables. Types: lifecycle-schema.ts.
 *
 * - blob_holds / blob_tombstones: how a push and GC agree on a digest across replicas
 *   (PostgreSQL; one SQLite process keeps both in memory, see sql-gc-store.ts). A push holds the
 *   digest while it publishes bytes and commits the row; GC tombstones a digest whose row it
 *   deleted until the bytes are gone. Neither may be taken while the other exists.
 * - gc_runs: the report of every GC run (scheduled or on demand).
 * - cleanup_policies: one cleanup policy per repository (Artifact Registry or ECR format).
 * - namespace_settings: quota and implicit creation per namespace (`team-a` covers `team-a/...`).
 * - repository_traffic: pulls and egress bytes per repository per UTC day (usage and cost).
 */
export function lifecycleMigration(dialect: SqlDialectName): Migration {
  const pg = dialect === 'postgres';
  const bigint = pg ? ('bigint' as const) : ('integer' as const);
  const id = pg ? ('bigserial' as const) : ('integer' as const);
  const autoId = (c: any) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement());
  const name = pg ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('blob_holds')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('until', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('blob_holds_digest').on('blob_holds').column('digest').execute();

      await db.schema
        .createTable('blob_tombstones')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('gc_runs')
        .addColumn('id', id, autoId)
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('dry_run', 'integer', (c) => c.notNull())
        .addColumn('started_at', bigint, (c) => c.notNull())
        .addColumn('finished_at', bigint)
        .addColumn('report', 'text')
        .addColumn('error', 'text')
        .execute();

      await db.schema
        .createTable('cleanup_policies')
        .addColumn('repository_id', bigint, (c) => c.primaryKey().references('repositories.id').onDelete('cascade'))
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('updated_by', 'text')
        .execute();

      await db.schema
        .createTable('namespace_settings')
        .addColumn('namespace', name, (c) => c.primaryKey())
        .addColumn('quota_bytes', bigint)
        .addColumn('create_on_push', 'integer')
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('updated_by', 'text')
        .execute();

      await db.schema
        .createTable('repository_traffic')
        .addColumn('repository_id', bigint, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
        .addColumn('day', bigint, (c) => c.notNull())
        .addColumn('pulls', bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('egress_bytes', bigint, (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('repository_traffic_pk', ['repository_id', 'day'])
        .execute();
      await db.schema.createIndex('repository_traffic_day').on('repository_traffic').column('day').execute();
    },
  };
}
