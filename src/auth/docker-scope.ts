import type { Access, RepositoryAction } from './access.js';

/**
 * Scopes of the Docker token protocol (distribution/docs/spec/auth/scope.md):
 * `repository:team-a/app:pull,push`, `registry:catalog:*`. A request may carry several.
 * `access` entries of a token are the same triple as JSON: {type, name, actions}.
 */
export interface TokenAccess {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

const TOKEN_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

/**
 * Parses scope strings; malformed ones are dropped, as Distribution's token servers do (a client
 * asking for something odd gets a token without it, never an error page). The name is the part
 * between the first and the last colon, so a name with a port-like colon still parses.
 */
export function parseScopes(inputs: readonly string[]): TokenAccess[] {
  const out: TokenAccess[] = [];
  for (const input of inputs) {
    for (const one of input.split(' ')) {
      if (one === '' || one.length > 600) continue;
      const first = one.indexOf(':');
      const last = one.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      const type = one.slice(0, first);
      const name = one.slice(first + 1, last);
      const actions = one
        .slice(last + 1)
        .split(',')
        .filter((a) => TOKEN_ACTIONS.has(a));
      if ((type !== 'repository' && type !== 'registry') || name === '' || actions.length === 0) continue;
      out.push({ type, name, actions: [...new Set(actions)] });
    }
  }
  return mergeScopes(out);
}

/** One entry per (type, name), actions united. */
export function mergeScopes(scopes: readonly TokenAccess[]): TokenAccess[] {
  const byKey = new Map<string, TokenAccess>();
  for (const s of scopes) {
    const key = `${s.type}:${s.name}`;
    const prev = byKey.get(key);
    if (prev) prev.actions = [...new Set([...prev.actions, ...s.actions])];
    else byKey.set(key, { type: s.type, name: s.name, actions: [...s.actions] });
  }
  return [...byKey.values()];
}

export function formatScope(s: TokenAccess): string {
  return `${s.type}:${s.name}:${s.actions.join(',')}`;
}

/** The scopes a client should ask the token endpoint for, to be allowed `access`. */
export function scopesFor(access: readonly Access[]): TokenAccess[] {
  const out: TokenAccess[] = [];
  for (const a of access) {
    if (a.kind === 'repository') {
      const actions = a.actions.filter((x): x is Exclude<RepositoryAction, 'settings'> => x !== 'settings');
      if (actions.length > 0) out.push({ type: 'repository', name: a.name, actions });
    } else if (a.kind === 'registry' && a.action === 'catalog') {
      out.push({ type: 'registry', name: 'catalog', actions: ['*'] });
    }
  }
  return mergeScopes(out);
}

/** Whether a token's access entries allow `actions` on `repository` (`*` stands for every action). */
export function tokenAllows(access: readonly TokenAccess[], type: TokenAccess['type'], name: string, actions: readonly string[]): boolean {
  const granted = new Set<string>();
  for (const a of access) if (a.type === type && a.name === name) for (const x of a.actions) granted.add(x);
  return granted.has('*') || actions.every((x) => granted.has(x));
}
