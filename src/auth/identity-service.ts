import { randomBytes } from 'node:crypto';
import { WharfError } from '../errors/wharf-error.js';
import type { ApiKeyRecord, IdentityStore, PrincipalKind, PrincipalRecord, RoleBindingRecord } from '../storage/metadata/identity-store.js';
import type { Page, PageRequest } from '../storage/metadata/metadata-store.js';
import type { PasswordHasher } from './password-hasher.js';
import { formatScope, isRole, parseScope, scopeColumns, scopeFromColumns, ROLES, type Role } from './roles.js';
import { API_KEY_PREFIX, issueSecret } from './secret-tokens.js';

/**
 * Users, service accounts, API keys and role bindings: the operations behind /api/v1 and the
 * first-start admin. Validates names and passwords; never returns a password or a key hash.
 */
export const PRINCIPAL_NAME_RE = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;
export const BOOTSTRAP_ADMIN = 'admin';

export interface PrincipalView {
  name: string;
  kind: PrincipalKind;
  description: string | null;
  disabled: boolean;
  createdAt: string;
  createdBy: string | null;
}

export interface ApiKeyView {
  id: string;
  serviceAccount: string;
  description: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  /** the plaintext key: present only in the answer to its creation */
  key?: string;
}

export interface RoleBindingView {
  id: number;
  principal: string;
  principalKind: PrincipalKind;
  role: Role;
  scope: string;
  createdAt: string;
  createdBy: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function principalView(p: PrincipalRecord): PrincipalView {
  return { name: p.name, kind: p.kind, description: p.description, disabled: p.disabled, createdAt: iso(p.createdAt)!, createdBy: p.createdBy };
}

function keyView(k: ApiKeyRecord): ApiKeyView {
  return {
    id: k.id,
    serviceAccount: k.principalName,
    description: k.description,
    createdAt: iso(k.createdAt)!,
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
    lastUsedAt: iso(k.lastUsedAt),
  };
}

function bindingView(b: RoleBindingRecord): RoleBindingView {
  const scope = scopeFromColumns(b.scopeKind, b.scopeValue);
  return {
    id: b.id,
    principal: b.principalName,
    principalKind: b.principalKind,
    role: b.role as Role,
    scope: scope ? formatScope(scope) : `?${b.scopeKind}`,
    createdAt: iso(b.createdAt)!,
    createdBy: b.createdBy,
  };
}

export function checkPrincipalName(name: string): void {
  if (!PRINCIPAL_NAME_RE.test(name)) {
    throw new WharfError('BODY_INVALID', 'a name is 1-64 of [a-z0-9._@-], starting with a letter or digit');
  }
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new WharfError('BODY_INVALID', `a password has ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (password.startsWith(API_KEY_PREFIX)) throw new WharfError('BODY_INVALID', `a password may not start with ${API_KEY_PREFIX}`);
}

export class IdentityService {
  constructor(
    private readonly store: IdentityStore,
    private readonly hasher: PasswordHasher,
    private readonly now: () => number = Date.now,
  ) {}

  // --- principals ---

  async createUser(actor: string, input: { name: string; password: string; description?: string }): Promise<PrincipalView> {
    checkPrincipalName(input.name);
    checkPassword(input.password);
    const passwordHash = await this.hasher.hash(input.password);
    return principalView(await this.store.createPrincipal({ kind: 'user', name: input.name, passwordHash, description: input.description, createdBy: actor }));
  }

  async createServiceAccount(actor: string, input: { name: string; description?: string }): Promise<PrincipalView> {
    checkPrincipalName(input.name);
    return principalView(await this.store.createPrincipal({ kind: 'service_account', name: input.name, description: input.description, createdBy: actor }));
  }

  async list(kind: PrincipalKind, page: PageRequest): Promise<Page<PrincipalView>> {
    const p = await this.store.listPrincipals(kind, page);
    return { items: p.items.map(principalView), more: p.more };
  }

  async get(kind: PrincipalKind, name: string): Promise<PrincipalRecord> {
    const p = await this.store.findPrincipalByName(name);
    if (!p || p.kind !== kind) throw new WharfError('RESOURCE_UNKNOWN', `${kind === 'user' ? 'user' : 'service account'} ${name.slice(0, 64)} does not exist`);
    return p;
  }

  async setPassword(name: string, password: string): Promise<void> {
    await this.get('user', name);
    checkPassword(password);
    await this.store.updatePrincipal(name, { passwordHash: await this.hasher.hash(password) });
  }

  async update(kind: PrincipalKind, name: string, patch: { disabled?: boolean; description?: string }): Promise<PrincipalView> {
    const p = await this.get(kind, name);
    if (patch.disabled === true && !p.disabled) await this.refuseLosingLastAdmin({ principalId: p.id });
    const updated = await this.store.updatePrincipal(name, patch);
    if (!updated) throw new WharfError('RESOURCE_UNKNOWN', `${name} does not exist`);
    return principalView(updated);
  }

  async delete(kind: PrincipalKind, name: string): Promise<void> {
    const p = await this.get(kind, name);
    await this.refuseLosingLastAdmin({ principalId: p.id });
    await this.store.deletePrincipal(name);
  }

  /**
   * The registry must keep one enabled admin: refuse deleting or disabling a principal, or
   * removing an admin binding, when no other enabled admin would remain.
   */
  private async refuseLosingLastAdmin(change: { principalId: number } | { bindingId: number }): Promise<void> {
    let affectsAdmin = false;
    for (const b of await this.store.listRoleBindings()) {
      if (b.role !== 'admin' || b.scopeKind !== 'registry') continue;
      const removed = 'bindingId' in change ? b.id === change.bindingId : b.principalId === change.principalId;
      if (removed) {
        affectsAdmin = true;
        continue;
      }
      const p = await this.store.findPrincipalById(b.principalId);
      if (p && !p.disabled) return;
    }
    if (affectsAdmin) throw new WharfError('CONFLICT', 'this would leave the registry without an enabled admin');
  }

  // --- API keys ---

  async createApiKey(serviceAccount: string, input: { description?: string; expiresInDays?: number }): Promise<ApiKeyView> {
    const sa = await this.get('service_account', serviceAccount);
    const secret = issueSecret(API_KEY_PREFIX);
    const now = this.now();
    const expiresAt = input.expiresInDays === undefined ? null : now + input.expiresInDays * 86_400_000;
    await this.store.createApiKey({ id: secret.id, principalId: sa.id, secretHash: secret.hash, description: input.description ?? null, createdAt: now, expiresAt });
    const created = await this.store.findApiKey(secret.id);
    return { ...keyView(created!), key: secret.plaintext };
  }

  async listApiKeys(serviceAccount: string): Promise<ApiKeyView[]> {
    const sa = await this.get('service_account', serviceAccount);
    return (await this.store.listApiKeys(sa.id)).map(keyView);
  }

  async revokeApiKey(serviceAccount: string, id: string): Promise<void> {
    const sa = await this.get('service_account', serviceAccount);
    if (!(await this.store.revokeApiKey(sa.id, id, this.now()))) {
      throw new WharfError('RESOURCE_UNKNOWN', `service account ${serviceAccount} has no active key ${id.slice(0, 32)}`);
    }
  }

  // --- role bindings ---

  async grant(actor: string, input: { principal: string; role: string; scope: string }): Promise<RoleBindingView> {
    if (!isRole(input.role)) throw new WharfError('BODY_INVALID', `role must be one of ${ROLES.join(', ')}`);
    let scope;
    try {
      scope = parseScope(input.scope);
    } catch (err) {
      throw new WharfError('BODY_INVALID', `scope ${JSON.stringify(input.scope.slice(0, 80))}: ${(err as Error).message}`);
    }
    if (input.role === 'admin' && scope.kind !== 'registry') throw new WharfError('BODY_INVALID', 'admin is bound at registry scope ("*") only');
    const p = await this.store.findPrincipalByName(input.principal);
    if (!p) throw new WharfError('RESOURCE_UNKNOWN', `no user or service account named ${input.principal.slice(0, 64)}`);
    return bindingView(await this.store.createRoleBinding({ principalId: p.id, role: input.role, ...scopeColumns(scope), createdBy: actor }));
  }

  async listBindings(principal?: string): Promise<RoleBindingView[]> {
    if (principal === undefined) return (await this.store.listRoleBindings()).map(bindingView);
    const p = await this.store.findPrincipalByName(principal);
    if (!p) throw new WharfError('RESOURCE_UNKNOWN', `no user or service account named ${principal.slice(0, 64)}`);
    return (await this.store.listRoleBindings({ principalId: p.id })).map(bindingView);
  }

  async revoke(id: number): Promise<RoleBindingView> {
    const b = await this.store.findRoleBinding(id);
    if (!b) throw new WharfError('RESOURCE_UNKNOWN', `role binding ${id} does not exist`);
    if (b.role === 'admin') await this.refuseLosingLastAdmin({ bindingId: b.id });
    await this.store.deleteRoleBinding(id);
    return bindingView(b);
  }

  // --- first start ---

  /**
   * When no admin binding exists (a fresh DB), makes sure user `admin` exists with the admin role.
   * A new user gets `password` when given, else a generated one that is returned (to be shown
   * once); an existing `admin` keeps its password (this also repairs a first start that died
   * between creating the user and binding the role). Safe when replicas start together: the
   * losers of the insert races see CONFLICT and carry on.
   */
  async bootstrapAdmin(password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
    const hasAdmin = (await this.store.listRoleBindings()).some((b) => b.role === 'admin' && b.scopeKind === 'registry');
    if (hasAdmin) return { created: false };
    let admin = await this.store.findPrincipalByName(BOOTSTRAP_ADMIN);
    let generated: string | undefined;
    let created = false;
    if (!admin) {
      generated = password === undefined ? randomBytes(18).toString('base64url') : undefined;
      const chosen = password ?? generated!;
      checkPassword(chosen);
      try {
        admin = await this.store.createPrincipal({
          kind: 'user',
          name: BOOTSTRAP_ADMIN,
          passwordHash: await this.hasher.hash(chosen),
          description: 'created at first start',
          createdBy: 'wharf',
        });
        created = true;
      } catch (err) {
        if (!(err instanceof WharfError && err.code === 'CONFLICT')) throw err;
        generated = undefined;
        admin = await this.store.findPrincipalByName(BOOTSTRAP_ADMIN);
        if (!admin) throw err;
      }
    }
    try {
      await this.store.createRoleBinding({ principalId: admin.id, role: 'admin', scopeKind: 'registry', scopeValue: '', createdBy: 'wharf' });
    } catch (err) {
      if (!(err instanceof WharfError && err.code === 'CONFLICT')) throw err;
    }
    return generated === undefined ? { created } : { created, generatedPassword: generated };
  }
}
