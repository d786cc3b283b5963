import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { identityMigration } from './identity-migration.js';
import { scanMigration } from './scan-migration.js';
import { jobsMigration } from './jobs-migration.js';
import { lifecycleMigration } from './lifecycle-migration.js';
import { streamingMigration } from './streaming-migration.js';
import { insightsMigration } from './insights-migration.js';
import { pypiMigration, pypiProjectsMigration } from './pypi-migration.js';
import { supplyChainMigration } from './supply-chain-migration.js';
import { modelsMigration } from './models-migration.js';

export type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migrations are code, versioned by name, run at start (Kysely's Migrator records them in
 * kysely_migration). Column types that differ between dialects come from `types(dialect)`.
 * Never edit a released migration; add a new one.
 */
function types(dialect: SqlDialectName) {
  return {
    id: dialect === 'postgres' ? ('bigserial' as const) : ('integer' as const),
    bigint: dialect === 'postgres' ? ('bigint' as const) : ('integer' as const),
    bytes: dialect === 'postgres' ? sql`bytea` : sql`blob`,
    // byte-wise ordering for names and tags, as the OCI spec's lexical order expects
    text: dialect === 'postgres' ? sql`text collate "C"` : sql`text`,
  };
}

function initial(dialect: SqlDialectName): Migration {
  const t = types(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('repositories')
        .addColumn('id', t.id, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('kind', 'text', (c) => c.notNull().defaultTo('hosted'))
        .addColumn('format', 'text', (c) => c.notNull().defaultTo('oci'))
        .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', t.bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('blobs')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('size', t.bigint, (c) => c.notNull())
        .addColumn('created_at', t.bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('repository_blobs')
        .addColumn('repository_id', t.bigint, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
        .addColumn('digest', 'text', (c) => c.notNull().references('blobs.digest'))
        .addColumn('created_at', t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('repository_blobs_pk', ['repository_id', 'digest'])
        .execute();
      await db.schema.createIndex('repository_blobs_digest').on('repository_blobs').column('digest').execute();

      await db.schema
        .createTable('manifests')
        .addColumn('id', t.id, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('repository_id', t.bigint, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('media_type', 'text', (c) => c.notNull())
        .addColumn('artifact_type', 'text')
        .addColumn('subject_digest', 'text')
        .addColumn('config_digest', 'text')
        .addColumn('annotations', 'text')
        .addColumn('size', t.bigint, (c) => c.notNull())
        .addColumn('content', t.bytes, (c) => c.notNull())
        .addColumn('created_at', t.bigint, (c) => c.notNull())
        .addColumn('last_pulled_at', t.bigint)
        .addUniqueConstraint('manifests_repo_digest', ['repository_id', 'digest'])
        .execute();
      await db.schema
        .createIndex('manifests_subject')
        .on('manifests')
        .columns(['repository_id', 'subject_digest'])
        .execute();

      await db.schema
        .createTable('manifest_references')
        .addColumn('manifest_id', t.bigint, (c) => c.notNull().references('manifests.id').onDelete('cascade'))
        .addColumn('child_digest', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('manifest_references_pk', ['manifest_id', 'child_digest', 'kind'])
        .execute();
      await db.schema.createIndex('manifest_references_child').on('manifest_references').column('child_digest').execute();

      await db.schema
        .createTable('tags')
        .addColumn('repository_id', t.bigint, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
        .addColumn('name', t.text, (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('updated_at', t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('tags_pk', ['repository_id', 'name'])
        .execute();
      await db.schema.createIndex('tags_digest').on('tags').columns(['repository_id', 'digest']).execute();

      await db.schema
        .createTable('tag_events')
        .addColumn('id', t.id, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('repository_id', t.bigint, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
        .addColumn('tag', 'text', (c) => c.notNull())
        .addColumn('old_digest', 'text')
        .addColumn('new_digest', 'text')
        .addColumn('at', t.bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('tag_events_repo_tag').on('tag_events').columns(['repository_id', 'tag']).execute();

      await db.schema
        .createTable('uploads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        // a name, not a reference: an upload that never completes must not create a repository
        .addColumn('repository', t.text, (c) => c.notNull())
        .addColumn('size', t.bigint, (c) => c.notNull())
        .addColumn('started_at', t.bigint, (c) => c.notNull())
        .addColumn('updated_at', t.bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('uploads_updated').on('uploads').column('updated_at').execute();
    },
  };
}

/**
 * Upload leases (issue 4): an upload accepts one chunk at a time across every replica. The replica
 * appending holds the row's lease (a token and an expiry, taken with a conditional UPDATE and
 * renewed while the body streams); a replica that dies mid-append stops renewing, and the lease
 * lapses. (Numbered after 0003_identity, which was written first.)
 */
function uploadLeases(dialect: SqlDialectName): Migration {
  const t = types(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('uploads').addColumn('lease_owner', 'text').execute();
      await db.schema.alterTable('uploads').addColumn('lease_until', t.bigint).execute();
    },
  };
}

/**
 * The last time a manifest was pushed (issue 5, online GC): a manifest pushed again keeps its
 * created_at (the first push, which image lists and cleanup policies go by) and gets
 * last_pushed_at, so GC's untagged grace period starts over (an index's platform manifests are
 * often pushed again just before the index).
 */
function manifestLastPushed(dialect: SqlDialectName): Migration {
  const t = types(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('manifests').addColumn('last_pushed_at', t.bigint).execute();
    },
  };
}

export class WharfMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: SqlDialectName) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return {
      '0001_initial': initial(this.dialect),
      '0003_identity': identityMigration(this.dialect),
      '0004_upload_leases': uploadLeases(this.dialect),
      '0005_jobs': jobsMigration(this.dialect),
      '0010_scan': scanMigration(this.dialect),
      '0020_lifecycle': lifecycleMigration(this.dialect),
      '0021_manifest_last_pushed': manifestLastPushed(this.dialect),
      '0050_streaming': streamingMigration(this.dialect),
      '0040_insights': insightsMigration(this.dialect),
      '0030_pypi': pypiMigration(this.dialect),
      '0031_pypi_projects': pypiProjectsMigration(this.dialect),
      '0050_supply_chain': supplyChainMigration(this.dialect),
      '0060_models': modelsMigration(this.dialect),
    };
  }
}
