import { parseRepoName } from '../domain/names.js';
import { WharfError } from '../errors/wharf-error.js';
import type { RepositoryAction } from './access.js';

/**
 * Roles and where they are bound. A role grants repository actions on every repository its scope
 * covers; `admin` also manages identities and reads the audit log, and is bound only at registry
 * scope.
 */
export const ROLES = ['reader', 'writer', 'repoAdmin', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_ACTIONS: Readonly<Record<Role, readonly RepositoryAction[]>> = {
  reader: ['pull'],
  writer: ['pull', 'push'],
  repoAdmin: ['pull', 'push', 'delete', 'settings'],
  admin: ['pull', 'push', 'delete', 'settings'],
};

export type BindingScope =
  | { kind: 'registry' }
  /** every repository under `prefix/` (written `prefix/*`) */
  | { kind: 'namespace'; prefix: string }
  | { kind: 'repository'; name: string };

export interface Binding {
  role: Role;
  scope: BindingScope;
}

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** `*` (or `registry`) -> registry; `team-a/*` -> namespace team-a; `team-a/app` -> one repository. */
export function parseScope(input: string): BindingScope {
  if (input === '*' || input === 'registry') return { kind: 'registry' };
  if (input.endsWith('/*')) {
    const prefix = input.slice(0, -2);
    parseRepoName(prefix);
    return { kind: 'namespace', prefix };
  }
  if (input.includes('*')) throw new WharfError('BODY_INVALID', 'a scope is "*", a namespace "name/*" or a repository name; * only at the end');
  return { kind: 'repository', name: parseRepoName(input) };
}

export function formatScope(scope: BindingScope): string {
  switch (scope.kind) {
    case 'registry':
      return '*';
    case 'namespace':
      return `${scope.prefix}/*`;
    case 'repository':
      return scope.name;
  }
}

/** Storage form: (scope_kind, scope_value). */
export function scopeColumns(scope: BindingScope): { scopeKind: string; scopeValue: string } {
  switch (scope.kind) {
    case 'registry':
      return { scopeKind: 'registry', scopeValue: '' };
    case 'namespace':
      return { scopeKind: 'namespace', scopeValue: scope.prefix };
    case 'repository':
      return { scopeKind: 'repository', scopeValue: scope.name };
  }
}

export function scopeFromColumns(kind: string, value: string): BindingScope | undefined {
  if (kind === 'registry') return { kind: 'registry' };
  if (kind === 'namespace') return { kind: 'namespace', prefix: value };
  if (kind === 'repository') return { kind: 'repository', name: value };
  return undefined;
}

export function scopeCovers(scope: BindingScope, repository: string): boolean {
  switch (scope.kind) {
    case 'registry':
      return true;
    case 'namespace':
      return repository.startsWith(`${scope.prefix}/`);
    case 'repository':
      return repository === scope.name;
  }
}

/** Repository actions the bindings grant on `repository`. */
export function actionsOn(bindings: readonly Binding[], repository: string): Set<RepositoryAction> {
  const out = new Set<RepositoryAction>();
  for (const b of bindings) {
    if (scopeCovers(b.scope, repository)) for (const a of ROLE_ACTIONS[b.role]) out.add(a);
  }
  return out;
}

export function isAdmin(bindings: readonly Binding[]): boolean {
  return bindings.some((b) => b.role === 'admin' && b.scope.kind === 'registry');
}

/** Actions granted on every repository (registry-scoped bindings). */
export function registryWideActions(bindings: readonly Binding[]): Set<RepositoryAction> {
  const out = new Set<RepositoryAction>();
  for (const b of bindings) if (b.scope.kind === 'registry') for (const a of ROLE_ACTIONS[b.role]) out.add(a);
  return out;
}
