import type { Kysely, Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0050_supply_chain (issue 15): the tables of features/signing and
 * features/deploy-policy (their Kysely types live beside each feature).
 * - signing_attestors: trusted identities admins configure (public keys, x509 roots), one JSON
 *   document per name;
 * - deploy_policies: one deploy policy per scope (`*`, `team-a/*`, `team-a/app`): the YAML as
 *   sent and its parsed form (JSON).
 */
export function supplyChainMigration(dialect: SqlDialectName): Migration {
  const bigint = dialect === 'postgres' ? ('bigint' as const) : ('integer' as const);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('signing_attestors')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('deploy_policies')
        .addColumn('scope', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
