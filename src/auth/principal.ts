import type { Binding } from './roles.js';
import type { TokenAccess } from './docker-scope.js';

/**
 * Who is calling. Built by the Authenticator for each request from live rows (so a deleted or
 * disabled account, or a removed binding, takes effect at once, even for tokens already issued).
 */
export interface Principal {
  kind: 'anonymous' | 'user' | 'service_account';
  /** 0 for anonymous */
  id: number;
  /** 'anonymous' for anonymous */
  name: string;
  bindings: readonly Binding[];
  /** how the request proved it */
  via: 'none' | 'password' | 'api_key' | 'token';
  /**
   * Set when the request carried a bearer token: the most the request may do, whatever the
   * bindings say (the token's `access` claim).
   */
  tokenAccess?: readonly TokenAccess[];
}

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', id: 0, name: 'anonymous', bindings: [], via: 'none' });
