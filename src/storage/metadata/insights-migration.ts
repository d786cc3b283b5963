import { sql, type Kysely, type Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0040_insights (issue 11): the image insights tables, owned by features/insights
 * (their Kysely types are features/insights/insights-tables.ts).
 * - insights_layers: what the analysis keeps of one layer (entries, hashes, package lists,
 *   safetensors headers, secret locations), gzip-compressed JSON, keyed by the layer's digest:
 *   a layer shared by many images is read once;
 * - insights_analyses: one analysis per image manifest digest (content-addressed: reused across
 *   tags and repositories), with its state, error and report (JSON).
 */
export function insightsMigration(dialect: SqlDialectName): Migration {
  const pg = dialect === 'postgres';
  const bigint = pg ? ('bigint' as const) : ('integer' as const);
  const text = pg ? sql`text collate "C"` : sql`text`;
  const bytes = pg ? sql`bytea` : sql`blob`;
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('insights_layers')
        .addColumn('digest', text, (c) => c.primaryKey())
        .addColumn('record_version', 'integer', (c) => c.notNull())
        .addColumn('record', bytes, (c) => c.notNull())
        .addColumn('entries', bigint, (c) => c.notNull())
        .addColumn('analysed_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('insights_analyses')
        .addColumn('manifest_digest', text, (c) => c.primaryKey())
        .addColumn('analyzer_version', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('report', 'text')
        .addColumn('analysed_at', bigint, (c) => c.notNull())
        .addColumn('duration_ms', bigint, (c) => c.notNull())
        .execute();
    },
  };
}
