import type { Kysely, Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0050_streaming (issue 12): the lazy-pulling feature's table, owned by
 * features/streaming (Kysely types in features/streaming/streaming-tables.ts).
 * - streaming_layer_indexes: one row per layer digest ever indexed (content-addressed, so a layer
 *   is indexed once whatever repositories hold it): its zTOC's digest and size (the zTOC itself is
 *   a blob in the blob store, linked into each repository that uses it), the repository it was
 *   first stored in (to mount from), or the error that ended the build (not retried unless asked).
 */
export function streamingMigration(dialect: SqlDialectName): Migration {
  const bigint = dialect === 'postgres' ? ('bigint' as const) : ('integer' as const);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('streaming_layer_indexes')
        .addColumn('layer_digest', 'text', (c) => c.primaryKey())
        .addColumn('ztoc_digest', 'text')
        .addColumn('ztoc_size', bigint)
        .addColumn('algorithm', 'text')
        .addColumn('entries', bigint)
        .addColumn('spans', bigint)
        .addColumn('source_repository', 'text')
        .addColumn('error', 'text')
        .addColumn('build_ms', bigint)
        .addColumn('built_at', bigint, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('streaming_layer_indexes').execute();
    },
  };
}
