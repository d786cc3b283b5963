import { sql, type Kysely, type Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0030_pypi (issue 17): the files of Python package repositories (repositories.format
 * = 'pypi', a column since 0001). Each row names a blob the repository links, so the file's bytes
 * are content-addressed like a layer: usage and quotas count them, and online GC keeps a link that
 * a file row references (sql-gc-store.ts). Types: pypi-schema.ts.
 */
export function pypiMigration(dialect: SqlDialectName): Migration {
  const pg = dialect === 'postgres';
  const bigint = pg ? ('bigint' as const) : ('integer' as const);
  const id = pg ? ('bigserial' as const) : ('integer' as const);
  const text = pg ? sql`text collate "C"` : sql`text`;
  const bytes = pg ? sql`bytea` : sql`blob`;
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('pypi_files')
        .addColumn('id', id, (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('repository_id', bigint, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
        .addColumn('project', text, (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('filename', text, (c) => c.notNull())
        .addColumn('packagetype', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('size', bigint, (c) => c.notNull())
        .addColumn('requires_python', 'text')
        .addColumn('summary', 'text')
        .addColumn('metadata', bytes)
        .addColumn('metadata_sha256', 'text')
        .addColumn('yanked_reason', 'text')
        .addColumn('uploaded_by', 'text', (c) => c.notNull())
        .addColumn('uploaded_at', bigint, (c) => c.notNull())
        .addUniqueConstraint('pypi_files_repo_filename', ['repository_id', 'filename'])
        .execute();
      await db.schema.createIndex('pypi_files_project').on('pypi_files').columns(['repository_id', 'project']).execute();
      await db.schema.createIndex('pypi_files_digest').on('pypi_files').columns(['repository_id', 'digest']).execute();
    },
  };
}

/**
 * Migration 0031_pypi_projects: a generation per (repository, project), bumped in the same
 * transaction as every upload, yank and delete of the project's files, so a rendered index page
 * can be reused while its generation is unchanged — on any replica (the check is one indexed row).
 */
export function pypiProjectsMigration(dialect: SqlDialectName): Migration {
  const pg = dialect === 'postgres';
  const bigint = pg ? ('bigint' as const) : ('integer' as const);
  const text = pg ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('pypi_projects')
        .addColumn('repository_id', bigint, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
        .addColumn('project', text, (c) => c.notNull())
        .addColumn('generation', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('pypi_projects_pk', ['repository_id', 'project'])
        .execute();
    },
  };
}
