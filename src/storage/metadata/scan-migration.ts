import { sql, type Kysely, type Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0010_scan (issue 6): the vulnerability scanner's tables, owned by features/scan
 * (their Kysely types are features/scan/scan-tables.ts). Numbered high to stay clear of the
 * migrations being written beside it.
 * - vuln_advisories / vuln_affected: imported OSV records, and one row per affected package
 *   (looked up by ecosystem and name when matching);
 * - vuln_imports: each import, with its source, counts and newest record time (the DB's age);
 * - scan_inventories: one inventory per image manifest digest (content-addressed: the same image
 *   in two repositories is read once), as JSON;
 * - scan_findings: the current findings of each inventory, with when each was first seen.
 */
export function scanMigration(dialect: SqlDialectName): Migration {
  const pg = dialect === 'postgres';
  const id = pg ? ('bigserial' as const) : ('integer' as const);
  const bigint = pg ? ('bigint' as const) : ('integer' as const);
  const text = pg ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('vuln_imports')
        .addColumn('id', id, (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('started_at', bigint, (c) => c.notNull())
        .addColumn('finished_at', bigint)
        .addColumn('records', bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('added', bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('updated', bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('rejected', bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('newest_modified', bigint)
        .addColumn('errors', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();

      await db.schema
        .createTable('vuln_advisories')
        .addColumn('id', text, (c) => c.primaryKey())
        .addColumn('modified', bigint, (c) => c.notNull())
        .addColumn('withdrawn', bigint)
        .addColumn('aliases', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('import_id', bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('vuln_affected')
        .addColumn('advisory_id', text, (c) => c.notNull().references('vuln_advisories.id').onDelete('cascade'))
        .addColumn('ecosystem', text, (c) => c.notNull())
        .addColumn('name', text, (c) => c.notNull())
        .addColumn('release', text, (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('vuln_affected_package').on('vuln_affected').columns(['ecosystem', 'name']).execute();
      await db.schema.createIndex('vuln_affected_advisory').on('vuln_affected').column('advisory_id').execute();

      await db.schema
        .createTable('scan_inventories')
        .addColumn('manifest_digest', text, (c) => c.primaryKey())
        .addColumn('scanner_version', 'integer', (c) => c.notNull())
        .addColumn('inventory', 'text', (c) => c.notNull())
        .addColumn('layers', 'text', (c) => c.notNull())
        .addColumn('package_count', bigint, (c) => c.notNull())
        .addColumn('scanned_at', bigint, (c) => c.notNull())
        .addColumn('matched_at', bigint)
        .execute();

      await db.schema
        .createTable('scan_findings')
        .addColumn('manifest_digest', text, (c) => c.notNull().references('scan_inventories.manifest_digest').onDelete('cascade'))
        .addColumn('advisory_id', text, (c) => c.notNull())
        .addColumn('package_key', text, (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('first_seen_at', bigint, (c) => c.notNull())
        .addColumn('first_seen_import', bigint)
        .addPrimaryKeyConstraint('scan_findings_pk', ['manifest_digest', 'advisory_id', 'package_key'])
        .execute();
      await db.schema.createIndex('scan_findings_seen').on('scan_findings').column('first_seen_import').execute();
    },
  };
}
