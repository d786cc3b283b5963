/**
 * IdentityStore over the same Kysely connection as SqlMetadataStore (one DB, one transaction
 * log). Tables: principals 1-n api_keys, role_bindings, refresh_tokens (all cascade on delete);
 * signing_keys; login_failures (key = "account:<name>" or "address:<ip>"); audit_events.
 */
import type { Kysely, Selectable, Updateable } from 'kysely';
import { WharfError } from '../../errors/wharf-error.js';
import type { IdentityStore, ApiKeyRecord, AuditEventRecord, AuditQuery, LoginFailureRecord, NewAuditEvent, NewPrincipal, PrincipalKind, PrincipalRecord, RefreshTokenRecord, RoleBindingRecord, SigningKeyRecord } from './identity-store.js';
import type { AuditEventsTable, PrincipalsTable } from './identity-schema.js';
import type { Page, PageRequest } from './metadata-store.js';
import type { Database } from './schema.js';

export class SqlIdentityStore implements IdentityStore {
  private changes = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  get changeCount(): number {
    return this.changes;
  }

  /** Counts a change to who a principal is or what it may do once the write is over (done or failed). */
  private async changing<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      this.changes++;
    }
  }

  // --- principals ---

  async createPrincipal(p: NewPrincipal): Promise<PrincipalRecord> {
    const now = this.now();
    try {
      const row = await this.db
        .insertInto('principals')
        .values({
          kind: p.kind,
          name: p.name,
          password_hash: p.passwordHash ?? null,
          description: p.description ?? null,
          disabled: 0,
          created_at: now,
          updated_at: now,
          created_by: p.createdBy ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toPrincipal(row);
    } catch (err) {
      throw conflictOr(err, `a user or service account named ${p.name} already exists`);
    }
  }

  async findPrincipalByName(name: string): Promise<PrincipalRecord | undefined> {
    const row = await this.db.selectFrom('principals').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toPrincipal(row);
  }

  async findPrincipalById(id: number): Promise<PrincipalRecord | undefined> {
    const row = await this.db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toPrincipal(row);
  }

  async listPrincipals(kind: PrincipalKind, page: PageRequest): Promise<Page<PrincipalRecord>> {
    let q = this.db.selectFrom('principals').selectAll().where('kind', '=', kind).orderBy('name').limit(page.limit + 1);
    if (page.after !== undefined) q = q.where('name', '>', page.after);
    const rows = (await q.execute()).map(toPrincipal);
    return rows.length > page.limit ? { items: rows.slice(0, page.limit), more: true } : { items: rows, more: false };
  }

  async countPrincipals(): Promise<number> {
    const row = await this.db.selectFrom('principals').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async updatePrincipal(
    name: string,
    patch: { passwordHash?: string; disabled?: boolean; description?: string },
  ): Promise<PrincipalRecord | undefined> {
    return this.changing(this.db.transaction().execute(async (trx) => {
      const set: Updateable<PrincipalsTable> = { updated_at: this.now() };
      if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
      if (patch.disabled !== undefined) set.disabled = patch.disabled ? 1 : 0;
      if (patch.description !== undefined) set.description = patch.description;
      const row = await trx.updateTable('principals').set(set).where('name', '=', name).returningAll().executeTakeFirst();
      if (!row) return undefined;
      if (patch.passwordHash !== undefined || patch.disabled === true) {
        await trx.deleteFrom('refresh_tokens').where('principal_id', '=', row.id).execute();
      }
      return toPrincipal(row);
    }));
  }

  async deletePrincipal(name: string): Promise<boolean> {
    return this.changing(this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('principals').select('id').where('name', '=', name).executeTakeFirst();
      if (!row) return false;
      // explicit, not only ON DELETE CASCADE: SQLite enforces it only with foreign_keys=ON
      await trx.deleteFrom('api_keys').where('principal_id', '=', row.id).execute();
      await trx.deleteFrom('role_bindings').where('principal_id', '=', row.id).execute();
      await trx.deleteFrom('refresh_tokens').where('principal_id', '=', row.id).execute();
      await trx.deleteFrom('principals').where('id', '=', row.id).execute();
      return true;
    }));
  }

  // --- API keys ---

  async createApiKey(key: Omit<ApiKeyRecord, 'principalName' | 'revokedAt' | 'lastUsedAt'>): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: key.id,
        principal_id: key.principalId,
        secret_hash: key.secretHash,
        description: key.description,
        created_at: key.createdAt,
        expires_at: key.expiresAt,
        revoked_at: null,
        last_used_at: null,
      })
      .execute();
  }

  private apiKeys() {
    return this.db
      .selectFrom('api_keys as k')
      .innerJoin('principals as p', 'p.id', 'k.principal_id')
      .select([
        'k.id',
        'k.principal_id',
        'p.name as principal_name',
        'k.secret_hash',
        'k.description',
        'k.created_at',
        'k.expires_at',
        'k.revoked_at',
        'k.last_used_at',
      ]);
  }

  async findApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.apiKeys().where('k.id', '=', id).executeTakeFirst();
    return row && toApiKey(row);
  }

  async listApiKeys(principalId: number): Promise<ApiKeyRecord[]> {
    const rows = await this.apiKeys().where('k.principal_id', '=', principalId).orderBy('k.created_at').orderBy('k.id').execute();
    return rows.map(toApiKey);
  }

  async revokeApiKey(principalId: number, id: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('principal_id', '=', principalId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async touchApiKey(id: string, at: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  // --- role bindings ---

  async createRoleBinding(b: {
    principalId: number;
    role: string;
    scopeKind: string;
    scopeValue: string;
    createdBy?: string;
  }): Promise<RoleBindingRecord> {
    let id: number;
    try {
      const row = await this.changing(
        this.db
          .insertInto('role_bindings')
          .values({
            principal_id: b.principalId,
            role: b.role,
            scope_kind: b.scopeKind,
            scope_value: b.scopeValue,
            created_at: this.now(),
            created_by: b.createdBy ?? null,
          })
          .returning('id')
          .executeTakeFirstOrThrow(),
      );
      id = Number(row.id);
    } catch (err) {
      throw conflictOr(err, 'this role binding already exists');
    }
    const created = await this.findRoleBinding(id);
    if (!created) throw new WharfError('INTERNAL', `role binding ${id} vanished after insert`);
    return created;
  }

  private bindings() {
    return this.db
      .selectFrom('role_bindings as b')
      .innerJoin('principals as p', 'p.id', 'b.principal_id')
      .select(['b.id', 'b.principal_id', 'p.name as principal_name', 'p.kind as principal_kind', 'b.role', 'b.scope_kind', 'b.scope_value', 'b.created_at', 'b.created_by']);
  }

  async findRoleBinding(id: number): Promise<RoleBindingRecord | undefined> {
    const row = await this.bindings().where('b.id', '=', id).executeTakeFirst();
    return row && toBinding(row);
  }

  async listRoleBindings(filter: { principalId?: number } = {}): Promise<RoleBindingRecord[]> {
    let q = this.bindings().orderBy('b.id');
    if (filter.principalId !== undefined) q = q.where('b.principal_id', '=', filter.principalId);
    return (await q.execute()).map(toBinding);
  }

  async deleteRoleBinding(id: number): Promise<boolean> {
    const r = await this.changing(this.db.deleteFrom('role_bindings').where('id', '=', id).executeTakeFirst());
    return Number(r.numDeletedRows) > 0;
  }

  // --- refresh tokens ---

  async createRefreshToken(t: Omit<RefreshTokenRecord, 'lastUsedAt'>): Promise<void> {
    await this.db
      .insertInto('refresh_tokens')
      .values({ id: t.id, principal_id: t.principalId, secret_hash: t.secretHash, created_at: t.createdAt, expires_at: t.expiresAt, last_used_at: null })
      .execute();
  }

  async findRefreshToken(id: string): Promise<RefreshTokenRecord | undefined> {
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return (
      row && {
        id: row.id,
        principalId: Number(row.principal_id),
        secretHash: row.secret_hash,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
        lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
      }
    );
  }

  async touchRefreshToken(id: string, at: number): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  async deleteExpiredRefreshTokens(before: number): Promise<number> {
    const r = await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // --- signing keys ---

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at').orderBy('kid').execute();
    return rows.map((r) => ({
      kid: r.kid,
      algorithm: r.algorithm,
      privateJwk: r.private_jwk,
      publicJwk: r.public_jwk,
      createdAt: Number(r.created_at),
      retiredAt: r.retired_at === null ? null : Number(r.retired_at),
      verifyUntil: r.verify_until === null ? null : Number(r.verify_until),
    }));
  }

  async rotateSigningKey(key: SigningKeyRecord, verifyUntil: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('signing_keys')
        .set({ retired_at: key.createdAt, verify_until: verifyUntil })
        .where('retired_at', 'is', null)
        .execute();
      await trx
        .insertInto('signing_keys')
        .values({
          kid: key.kid,
          algorithm: key.algorithm,
          private_jwk: key.privateJwk,
          public_jwk: key.publicJwk,
          created_at: key.createdAt,
          retired_at: null,
          verify_until: null,
        })
        .execute();
    });
  }

  async deleteSigningKeysVerifiableBefore(at: number): Promise<number> {
    const r = await this.db.deleteFrom('signing_keys').where('verify_until', '<', at).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // --- failed logins ---

  async findLoginFailures(keys: string[]): Promise<LoginFailureRecord[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.selectFrom('login_failures').selectAll().where('key', 'in', keys).execute();
    return rows.map(toFailure);
  }

  async recordLoginFailure(key: string, at: number, backoffMs: (failures: number) => number): Promise<LoginFailureRecord> {
    return this.db.transaction().execute(async (trx) => {
      // the increment happens in SQL, so concurrent failures on several replicas all count
      const row = await trx
        .insertInto('login_failures')
        .values({ key, failures: 1, last_failure_at: at, blocked_until: 0 })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet((eb) => ({ failures: eb('login_failures.failures', '+', 1), last_failure_at: at })),
        )
        .returning(['failures'])
        .executeTakeFirstOrThrow();
      const failures = Number(row.failures);
      // no back-off is no block (0), not "blocked until now": replicas' clocks may differ a little
      const backoff = backoffMs(failures);
      const blockedUntil = backoff > 0 ? at + backoff : 0;
      await trx.updateTable('login_failures').set({ blocked_until: blockedUntil }).where('key', '=', key).execute();
      return { key, failures, lastFailureAt: at, blockedUntil };
    });
  }

  async clearLoginFailures(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.deleteFrom('login_failures').where('key', 'in', keys).execute();
  }

  async deleteStaleLoginFailures(before: number): Promise<number> {
    const r = await this.db
      .deleteFrom('login_failures')
      .where('last_failure_at', '<', before)
      .where('blocked_until', '<', before)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // --- audit ---

  async appendAuditEvents(events: NewAuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db
      .insertInto('audit_events')
      .values(
        events.map((e) => ({
          at: e.at,
          actor: e.actor,
          actor_kind: e.actorKind,
          action: e.action,
          repository: e.repository ?? null,
          digest: e.digest ?? null,
          target: e.target ?? null,
          result: e.result,
          status: e.status ?? null,
          address: e.address ?? null,
          request_id: e.requestId ?? null,
          detail: e.detail === undefined ? null : JSON.stringify(e.detail),
        })),
      )
      .execute();
  }

  async queryAuditEvents(q: AuditQuery): Promise<{ items: AuditEventRecord[]; more: boolean }> {
    let s = this.db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(q.limit + 1);
    if (q.actor !== undefined) s = s.where('actor', '=', q.actor);
    if (q.repository !== undefined) s = s.where('repository', '=', q.repository);
    if (q.action !== undefined) s = s.where('action', '=', q.action);
    if (q.result !== undefined) s = s.where('result', '=', q.result);
    if (q.since !== undefined) s = s.where('at', '>=', q.since);
    if (q.until !== undefined) s = s.where('at', '<', q.until);
    if (q.before !== undefined) s = s.where('id', '<', q.before);
    const rows = (await s.execute()).map(toAudit);
    return rows.length > q.limit ? { items: rows.slice(0, q.limit), more: true } : { items: rows, more: false };
  }
}

/** Unique violations differ per driver (SQLite: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY; PostgreSQL: 23505). */
function conflictOr(err: unknown, message: string): unknown {
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') {
    return new WharfError('CONFLICT', message);
  }
  return err;
}

function toPrincipal(row: Selectable<PrincipalsTable>): PrincipalRecord {
  return {
    id: Number(row.id),
    kind: row.kind as PrincipalKind,
    name: row.name,
    passwordHash: row.password_hash,
    description: row.description,
    disabled: Number(row.disabled) !== 0,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    createdBy: row.created_by,
  };
}

function toApiKey(row: {
  id: string;
  principal_id: number;
  principal_name: string;
  secret_hash: string;
  description: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}): ApiKeyRecord {
  const n = (v: number | null): number | null => (v === null ? null : Number(v));
  return {
    id: row.id,
    principalId: Number(row.principal_id),
    principalName: row.principal_name,
    secretHash: row.secret_hash,
    description: row.description,
    createdAt: Number(row.created_at),
    expiresAt: n(row.expires_at),
    revokedAt: n(row.revoked_at),
    lastUsedAt: n(row.last_used_at),
  };
}

function toBinding(row: {
  id: number;
  principal_id: number;
  principal_name: string;
  principal_kind: string;
  role: string;
  scope_kind: string;
  scope_value: string;
  created_at: number;
  created_by: string | null;
}): RoleBindingRecord {
  return {
    id: Number(row.id),
    principalId: Number(row.principal_id),
    principalName: row.principal_name,
    principalKind: row.principal_kind as PrincipalKind,
    role: row.role,
    scopeKind: row.scope_kind,
    scopeValue: row.scope_value,
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
  };
}

function toFailure(row: { key: string; failures: number; last_failure_at: number; blocked_until: number }): LoginFailureRecord {
  return { key: row.key, failures: Number(row.failures), lastFailureAt: Number(row.last_failure_at), blockedUntil: Number(row.blocked_until) };
}

function toAudit(row: Selectable<AuditEventsTable>): AuditEventRecord {
  const e: AuditEventRecord = {
    id: Number(row.id),
    at: Number(row.at),
    actor: row.actor,
    actorKind: row.actor_kind,
    action: row.action,
    result: row.result as AuditEventRecord['result'],
  };
  if (row.repository !== null) e.repository = row.repository;
  if (row.digest !== null) e.digest = row.digest;
  if (row.target !== null) e.target = row.target;
  if (row.status !== null) e.status = Number(row.status);
  if (row.address !== null) e.address = row.address;
  if (row.request_id !== null) e.requestId = row.request_id;
  if (row.detail !== null) e.detail = JSON.parse(row.detail) as Record<string, unknown>;
  return e;
}
