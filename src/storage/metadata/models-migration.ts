import { sql, type Kysely, type Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0060_models (issue 13): model artifacts' metadata, owned by features/models (Kysely
 * types: features/models/models-tables.ts). One row per model manifest in a repository: what the
 * weight headers, config.json, the model card and the artifact's config say (JSON), with the
 * columns the model search filters on; `error` when the metadata could not be read (the artifact
 * itself is stored and pullable regardless); `model_files` lists its weight files by content
 * digest. Derived data: dropping a row only means reading the headers again.
 */
export function modelsMigration(dialect: SqlDialectName): Migration {
  const pg = dialect === 'postgres';
  const bigint = pg ? ('bigint' as const) : ('integer' as const);
  const text = pg ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('models')
        .addColumn('repository', text, (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('tag', 'text')
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('architecture', 'text')
        .addColumn('weight_format', 'text')
        .addColumn('quantization', 'text')
        .addColumn('license', 'text')
        .addColumn('parameters', bigint, (c) => c.notNull())
        .addColumn('total_bytes', bigint, (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('extractor_version', 'integer', (c) => c.notNull())
        .addColumn('extracted_at', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('models_pk', ['repository', 'digest'])
        .execute();
      await db.schema.createIndex('models_architecture').on('models').columns(['architecture', 'parameters']).execute();
      await db.schema.createIndex('models_parameters').on('models').column('parameters').execute();
      // the model's weight files by content digest (raw layers: the layer's digest is the file's
      // sha256), so an image that bakes the same bytes can be matched to the model
      await db.schema
        .createTable('model_files')
        .addColumn('repository', text, (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('file_digest', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('size', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('model_files_pk', ['repository', 'digest', 'path'])
        .execute();
      await db.schema.createIndex('model_files_file_digest').on('model_files').column('file_digest').execute();
    },
  };
}
