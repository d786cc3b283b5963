import { parseRepoName } from '../domain/names.js';
import type { Access, RepositoryAction } from './access.js';
import { tokenAllows, type TokenAccess } from './docker-scope.js';
import type { Principal } from './principal.js';
import { actionsOn, isAdmin, registryWideActions } from './roles.js';

/** Which repositories are public (anonymous pull); RepositorySettingsStore has this shape. */
export interface PublicRepositories {
  publicAmong(names: readonly string[]): Promise<Set<string>>;
}

export type DenyReason =
  /** no credentials: 401 with a challenge */
  | 'unauthenticated'
  /** the principal may not: 403 */
  | 'denied'
  /** the principal may, but its token does not say so: 401 asking for a token with that scope */
  | 'insufficient_scope';

export type Decision = { allowed: true } | { allowed: false; reason: DenyReason; access: Access };

/**
 * Deny by default: a request is allowed only when every Access it declares is granted by the
 * principal's role bindings (or, for pull, by the repository being public), and, when it came
 * with a token, by the token's access claim as well.
 */
export class Authorizer {
  constructor(private readonly repositories: PublicRepositories) {}

  async authorize(p: Principal, needs: readonly Access[]): Promise<Decision> {
    for (const access of needs) {
      const reason = await this.check(p, access);
      if (reason !== undefined) return { allowed: false, reason, access };
    }
    return { allowed: true };
  }

  private async check(p: Principal, a: Access): Promise<DenyReason | undefined> {
    const anonymous = p.kind === 'anonymous';
    switch (a.kind) {
      case 'none':
        return undefined;
      case 'authenticated':
        return anonymous ? 'unauthenticated' : undefined;
      case 'self':
        if (anonymous) return 'unauthenticated';
        if (p.tokenAccess) return 'denied';
        return (p.kind === 'user' && p.name === a.name) || isAdmin(p.bindings) ? undefined : 'denied';
      case 'registry':
        if (anonymous) return 'unauthenticated';
        if (a.action === 'admin') return isAdmin(p.bindings) && !p.tokenAccess ? undefined : 'denied';
        if (p.tokenAccess && !tokenAllows(p.tokenAccess, 'registry', 'catalog', ['*'])) return 'insufficient_scope';
        return undefined;
      case 'repository': {
        const granted = actionsOn(p.bindings, a.name);
        let missing = a.actions.filter((x) => !granted.has(x));
        if (missing.length > 0 && missing.every((x) => x === 'pull') && (await this.repositories.publicAmong([a.name])).has(a.name)) {
          missing = [];
        }
        if (missing.length > 0) return anonymous ? 'unauthenticated' : 'denied';
        const tokenActions = a.actions.filter((x) => x !== 'settings');
        if (p.tokenAccess && !tokenAllows(p.tokenAccess, 'repository', a.name, tokenActions)) return 'insufficient_scope';
        return undefined;
      }
    }
  }

  /**
   * The subset of `requested` the principal holds (token endpoint): never more, silently less.
   * `*` on a repository becomes the actions actually held.
   */
  async grant(p: Principal, requested: readonly TokenAccess[]): Promise<TokenAccess[]> {
    const names = requested.filter((r) => r.type === 'repository' && validName(r.name)).map((r) => r.name);
    const publics = names.length > 0 ? await this.repositories.publicAmong(names) : new Set<string>();
    const out: TokenAccess[] = [];
    for (const r of requested) {
      if (r.type === 'registry') {
        if (r.name === 'catalog' && p.kind !== 'anonymous') out.push({ type: 'registry', name: 'catalog', actions: ['*'] });
        continue;
      }
      if (!validName(r.name)) continue;
      const held = new Set<string>([...actionsOn(p.bindings, r.name)].filter((x) => x !== 'settings'));
      if (publics.has(r.name)) held.add('pull');
      const wanted = r.actions.includes('*') ? ['pull', 'push', 'delete'] : r.actions;
      const actions = wanted.filter((x) => held.has(x));
      if (actions.length > 0) out.push({ type: 'repository', name: r.name, actions });
    }
    return out;
  }

  /** The names among `names` the principal may pull (catalog and repository listings). */
  async visible(p: Principal, names: readonly string[]): Promise<string[]> {
    if (registryWideActions(p.bindings).has('pull')) return [...names];
    const unbound = names.filter((n) => !actionsOn(p.bindings, n).has('pull'));
    const publics = unbound.length > 0 ? await this.repositories.publicAmong(unbound) : new Set<string>();
    return names.filter((n) => publics.has(n) || actionsOn(p.bindings, n).has('pull'));
  }

  /**
   * Whether a mount without `from` may link any blob the registry has (invariant 4): only for a
   * principal that may pull every repository anyway. Everyone else gets an ordinary upload.
   */
  mayMountUnscoped(p: Principal): boolean {
    return !p.tokenAccess && registryWideActions(p.bindings).has('pull');
  }

  /** Repository actions from bindings alone (no public, no token); for listings and tests. */
  actionsOn(p: Principal, repository: string): Set<RepositoryAction> {
    return actionsOn(p.bindings, repository);
  }
}

function validName(name: string): boolean {
  try {
    parseRepoName(name);
    return true;
  } catch {
    return false;
  }
}
