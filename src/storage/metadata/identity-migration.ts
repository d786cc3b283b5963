import { sql, type Kysely, type Migration } from 'kysely';
/** the SqlDialectName of migrations.ts (not imported: migrations.ts imports this file) */
type SqlDialectName = 'sqlite' | 'postgres';

/**
 * Migration 0003_identity (issue 3): principals (users and service accounts), API keys, role
 * bindings, refresh tokens, token signing keys, failed-login back-off and the audit log.
 * Booleans are integers (0/1) and times integer milliseconds, in both dialects.
 */
export function identityMigration(dialect: SqlDialectName): Migration {
  const pg = dialect === 'postgres';
  const id = pg ? ('bigserial' as const) : ('integer' as const);
  const bigint = pg ? ('bigint' as const) : ('integer' as const);
  const text = pg ? sql`text collate "C"` : sql`text`;
  const autoId = (c: any) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement());
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('principals')
        .addColumn('id', id, autoId)
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', text, (c) => c.notNull().unique())
        .addColumn('password_hash', 'text')
        .addColumn('description', 'text')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('created_by', 'text')
        .execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', bigint, (c) => c.notNull().references('principals.id').onDelete('cascade'))
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint)
        .addColumn('revoked_at', bigint)
        .addColumn('last_used_at', bigint)
        .execute();
      await db.schema.createIndex('api_keys_principal').on('api_keys').column('principal_id').execute();

      await db.schema
        .createTable('role_bindings')
        .addColumn('id', id, autoId)
        .addColumn('principal_id', bigint, (c) => c.notNull().references('principals.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('scope_kind', 'text', (c) => c.notNull())
        .addColumn('scope_value', text, (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addUniqueConstraint('role_bindings_unique', ['principal_id', 'role', 'scope_kind', 'scope_value'])
        .execute();

      await db.schema
        .createTable('refresh_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', bigint, (c) => c.notNull().references('principals.id').onDelete('cascade'))
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint, (c) => c.notNull())
        .addColumn('last_used_at', bigint)
        .execute();
      await db.schema.createIndex('refresh_tokens_principal').on('refresh_tokens').column('principal_id').execute();

      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('private_jwk', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        // set when a newer key took over signing; tokens it signed stay valid until verify_until
        .addColumn('retired_at', bigint)
        .addColumn('verify_until', bigint)
        .execute();

      await db.schema
        .createTable('login_failures')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('last_failure_at', bigint, (c) => c.notNull())
        .addColumn('blocked_until', bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('audit_events')
        .addColumn('id', id, autoId)
        .addColumn('at', bigint, (c) => c.notNull())
        .addColumn('actor', text, (c) => c.notNull())
        .addColumn('actor_kind', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('repository', text)
        .addColumn('digest', 'text')
        .addColumn('target', 'text')
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('address', 'text')
        .addColumn('request_id', 'text')
        .addColumn('detail', 'text')
        .execute();
      await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
      await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor', 'id']).execute();
      await db.schema.createIndex('audit_events_repository').on('audit_events').columns(['repository', 'id']).execute();
    },
  };
}
