import type { Page, PageRequest } from './metadata-store.js';

/**
 * The identity tables of the metadata DB (migration 0003_identity): principals, API keys, role
 * bindings, refresh tokens, signing keys, failed-login back-off and the audit log. Records only:
 * hashing, roles and decisions live in auth/. Conventions as in MetadataStore: `find*` returns
 * undefined when absent; a create that hits a unique constraint throws CONFLICT.
 */
export type PrincipalKind = 'user' | 'service_account';

export interface PrincipalRecord {
  id: number;
  kind: PrincipalKind;
  name: string;
  /** scrypt hash (auth/password-hasher.ts); null for service accounts */
  passwordHash: string | null;
  description: string | null;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  createdBy: string | null;
}

export interface NewPrincipal {
  kind: PrincipalKind;
  name: string;
  passwordHash?: string;
  description?: string;
  createdBy?: string;
}

export interface ApiKeyRecord {
  /** the public part of the key (its id); the secret is stored only as `secretHash` */
  id: string;
  principalId: number;
  principalName: string;
  secretHash: string;
  description: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface RoleBindingRecord {
  id: number;
  principalId: number;
  principalName: string;
  principalKind: PrincipalKind;
  role: string;
  scopeKind: string;
  scopeValue: string;
  createdAt: number;
  createdBy: string | null;
}

export interface RefreshTokenRecord {
  id: string;
  principalId: number;
  secretHash: string;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number | null;
}

export interface SigningKeyRecord {
  kid: string;
  algorithm: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  retiredAt: number | null;
  verifyUntil: number | null;
}

export interface LoginFailureRecord {
  key: string;
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

export type AuditResult = 'ok' | 'denied' | 'failed';

export interface NewAuditEvent {
  at: number;
  actor: string;
  actorKind: string;
  action: string;
  repository?: string;
  digest?: string;
  target?: string;
  result: AuditResult;
  status?: number;
  address?: string;
  requestId?: string;
  detail?: Record<string, unknown>;
}

export interface AuditEventRecord extends NewAuditEvent {
  id: number;
}

export interface AuditQuery {
  actor?: string;
  repository?: string;
  action?: string;
  result?: AuditResult;
  /** inclusive, ms */
  since?: number;
  /** exclusive, ms */
  until?: number;
  /** only events with a smaller id (the cursor of the next, older page) */
  before?: number;
  limit: number;
}

export interface IdentityStore {
  /**
   * Bumped after every change made through this object to a principal (password, disabled,
   * deleted) or to role bindings: caches of principals (auth/authenticator.ts) compare it.
   */
  readonly changeCount: number;
  createPrincipal(p: NewPrincipal): Promise<PrincipalRecord>;
  findPrincipalByName(name: string): Promise<PrincipalRecord | undefined>;
  findPrincipalById(id: number): Promise<PrincipalRecord | undefined>;
  listPrincipals(kind: PrincipalKind, page: PageRequest): Promise<Page<PrincipalRecord>>;
  countPrincipals(): Promise<number>;
  /** A new password hash also deletes the principal's refresh tokens. Undefined when absent. */
  updatePrincipal(name: string, patch: { passwordHash?: string; disabled?: boolean; description?: string }): Promise<PrincipalRecord | undefined>;
  /** Deletes the principal with its keys, bindings and refresh tokens. False when absent. */
  deletePrincipal(name: string): Promise<boolean>;

  createApiKey(key: Omit<ApiKeyRecord, 'principalName' | 'revokedAt' | 'lastUsedAt'>): Promise<void>;
  findApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(principalId: number): Promise<ApiKeyRecord[]>;
  /** False when the principal has no such key or it was already revoked. */
  revokeApiKey(principalId: number, id: string, at: number): Promise<boolean>;
  touchApiKey(id: string, at: number): Promise<void>;

  createRoleBinding(b: { principalId: number; role: string; scopeKind: string; scopeValue: string; createdBy?: string }): Promise<RoleBindingRecord>;
  findRoleBinding(id: number): Promise<RoleBindingRecord | undefined>;
  listRoleBindings(filter?: { principalId?: number }): Promise<RoleBindingRecord[]>;
  deleteRoleBinding(id: number): Promise<boolean>;

  createRefreshToken(t: Omit<RefreshTokenRecord, 'lastUsedAt'>): Promise<void>;
  findRefreshToken(id: string): Promise<RefreshTokenRecord | undefined>;
  touchRefreshToken(id: string, at: number): Promise<void>;
  deleteExpiredRefreshTokens(before: number): Promise<number>;

  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts `key` and retires every other signing key (they verify until `verifyUntil`), atomically. */
  rotateSigningKey(key: SigningKeyRecord, verifyUntil: number): Promise<void>;
  deleteSigningKeysVerifiableBefore(at: number): Promise<number>;

  findLoginFailures(keys: string[]): Promise<LoginFailureRecord[]>;
  /** Counts one more failure for `key` and sets its block from the new count; returns the record. */
  recordLoginFailure(key: string, at: number, backoffMs: (failures: number) => number): Promise<LoginFailureRecord>;
  clearLoginFailures(keys: string[]): Promise<void>;
  /** Forgets counts whose last failure and block both ended before `before`. */
  deleteStaleLoginFailures(before: number): Promise<number>;

  appendAuditEvents(events: NewAuditEvent[]): Promise<void>;
  /** Newest first. */
  queryAuditEvents(q: AuditQuery): Promise<{ items: AuditEventRecord[]; more: boolean }>;
}
