import type { Generated } from 'kysely';

/** Kysely table types of migration 0003_identity (identity-migration.ts); part of `Database`. */
export interface PrincipalsTable {
  id: Generated<number>;
  kind: string;
  name: string;
  password_hash: string | null;
  description: string | null;
  disabled: number;
  created_at: number;
  updated_at: number;
  created_by: string | null;
}

export interface ApiKeysTable {
  id: string;
  principal_id: number;
  secret_hash: string;
  description: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface RoleBindingsTable {
  id: Generated<number>;
  principal_id: number;
  role: string;
  scope_kind: string;
  scope_value: string;
  created_at: number;
  created_by: string | null;
}

export interface RefreshTokensTable {
  id: string;
  principal_id: number;
  secret_hash: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
}

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  retired_at: number | null;
  verify_until: number | null;
}

export interface LoginFailuresTable {
  key: string;
  failures: number;
  last_failure_at: number;
  blocked_until: number;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  actor: string;
  actor_kind: string;
  action: string;
  repository: string | null;
  digest: string | null;
  target: string | null;
  result: string;
  status: number | null;
  address: string | null;
  request_id: string | null;
  detail: string | null;
}

export interface IdentityTables {
  principals: PrincipalsTable;
  api_keys: ApiKeysTable;
  role_bindings: RoleBindingsTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
  login_failures: LoginFailuresTable;
  audit_events: AuditEventsTable;
}
