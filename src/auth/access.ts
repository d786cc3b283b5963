/**
 * What a request needs from its caller, declared next to each route (DESIGN.md invariant 7): the
 * v2 route table (http/v2/routes.ts) and the management API table (http/api/routes.ts). The
 * Authorizer decides on these; nothing else does.
 */
export type RepositoryAction = 'pull' | 'push' | 'delete' | 'settings';

export const REPOSITORY_ACTIONS: readonly RepositoryAction[] = ['pull', 'push', 'delete', 'settings'];

export type Access =
  /** anyone, even without credentials (token endpoint, OpenAPI document) */
  | { kind: 'none' }
  /** any authenticated principal (whoami) */
  | { kind: 'authenticated' }
  /** the user named, acting on itself (its own password), or an admin */
  | { kind: 'self'; name: string }
  /** catalog: listed, then filtered to what the caller may pull; admin: identities, audit, keys */
  | { kind: 'registry'; action: 'catalog' | 'admin' }
  | { kind: 'repository'; name: string; actions: RepositoryAction[] };

export function describeAccess(a: Access): string {
  switch (a.kind) {
    case 'none':
      return 'nothing';
    case 'authenticated':
      return 'an authenticated caller';
    case 'self':
      return `user ${a.name} or an admin`;
    case 'registry':
      return `registry:${a.action}`;
    case 'repository':
      return `repository:${a.name}:${a.actions.join(',')}`;
  }
}
