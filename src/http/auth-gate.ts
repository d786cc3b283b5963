import type { FastifyReply, FastifyRequest } from 'fastify';
import { describeAccess, type Access } from '../auth/access.js';
import type { AuditLog } from '../auth/audit-log.js';
import { parseAuthorization, type Authenticator } from '../auth/authenticator.js';
import type { Authorizer } from '../auth/authorizer.js';
import { formatScope, scopesFor } from '../auth/docker-scope.js';
import type { IdentityService } from '../auth/identity-service.js';
import type { Principal } from '../auth/principal.js';
import type { TokenService } from '../auth/token-service.js';
import { WharfError, isWharfError } from '../errors/wharf-error.js';
import type { NewAuditEvent } from '../storage/metadata/identity-store.js';
import type { RepositorySettingsStore } from '../storage/metadata/repository-settings-store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** who is calling; set by the app's onRequest hook (auth-gate.ts) before any route runs */
    principal: Principal;
  }
}

/** What the HTTP layer needs of auth/; main.ts builds it. Absent = no authentication (tests of the core protocol). */
export interface HttpAuthDeps {
  /** false: every request is served as an admin (auth.enabled: false) */
  enabled: boolean;
  authenticator: Authenticator;
  authorizer: Authorizer;
  tokens: TokenService;
  audit: AuditLog;
  identity: IdentityService;
  settings: RepositorySettingsStore;
  /** http.publicUrl without a trailing slash: the base of the token realm */
  publicUrl?: string;
}

/** The principal of every request when authentication is off: an admin of everything. */
const unauthenticatedAdmin: Principal = {
  kind: 'user',
  id: 0,
  name: 'auth-disabled',
  bindings: [{ role: 'admin', scope: { kind: 'registry' } }],
  via: 'none',
};
export const UNAUTHENTICATED_ADMIN: Principal = Object.freeze(unauthenticatedAdmin);

/** The one place HTTP meets auth/: authenticates, enforces the declared access, challenges and audits. */
export class AuthGate {
  constructor(readonly deps: HttpAuthDeps | undefined) {}

  get enabled(): boolean {
    return this.deps?.enabled === true;
  }

  /** Sets request.principal from the Authorization header; throws UNAUTHORIZED / TOOMANYREQUESTS. */
  async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const deps = this.deps;
    if (!deps || !deps.enabled) {
      request.principal = UNAUTHENTICATED_ADMIN;
      return;
    }
    let username: string | undefined;
    try {
      const credentials = parseAuthorization(request.headers.authorization);
      if (credentials?.kind === 'basic') username = credentials.username;
      request.principal = await deps.authenticator.authenticate(credentials, request.ip);
    } catch (err) {
      if (isWharfError(err, 'TOOMANYREQUESTS')) {
        reply.header('retry-after', String((err.detail as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 60));
      } else if (isWharfError(err, 'UNAUTHORIZED')) {
        const invalidToken = (err.detail as { tokenError?: string } | undefined)?.tokenError !== undefined;
        this.challenge(request, reply, [], invalidToken ? 'invalid_token' : undefined);
      }
      if (username !== undefined) {
        this.audit(request, { action: 'login', actor: username.slice(0, 256), actorKind: 'unknown', result: 'failed', status: isWharfError(err) ? err.status : 500 });
      }
      throw err;
    }
  }

  /**
   * Throws unless the principal holds every access; sets the challenge a client needs to retry.
   * The challenge asks for everything the request uses (`access` and `optional`), so the token a
   * client fetches for it covers the whole request.
   */
  async authorize(
    request: FastifyRequest,
    reply: FastifyReply,
    access: readonly Access[],
    repository?: string,
    optional: readonly Access[] = [],
  ): Promise<void> {
    const deps = this.deps;
    if (!deps || !deps.enabled) return;
    const decision = await deps.authorizer.authorize(request.principal, access);
    if (decision.allowed) return;
    const scopes = scopesFor([...access, ...optional]).map(formatScope);
    if (decision.reason === 'denied') {
      this.audit(request, { action: request.routeId || 'request', result: 'denied', status: 403, repository, detail: { needs: describeAccess(decision.access) } });
      throw new WharfError('DENIED', `requested access to the resource is denied: needs ${describeAccess(decision.access)}`);
    }
    this.challenge(request, reply, scopes, decision.reason === 'insufficient_scope' ? 'insufficient_scope' : undefined);
    throw new WharfError('UNAUTHORIZED', decision.reason === 'insufficient_scope' ? 'the token does not grant this access' : 'authentication required');
  }

  /**
   * WWW-Authenticate: a Bearer challenge (Docker token protocol) on /v2 and /auth, Basic on
   * /api/v1 (clients of the management API send credentials directly).
   */
  challenge(request: FastifyRequest, reply: FastifyReply, scopes: readonly string[], error?: string): void {
    if (!this.enabled) return;
    const path = request.url;
    if (path.startsWith('/api/')) {
      reply.header('www-authenticate', 'Basic realm="wharf", charset="UTF-8"');
      return;
    }
    const parts = [`realm="${this.realm(request)}"`, `service="${this.deps!.tokens.service}"`];
    if (scopes.length > 0) parts.push(`scope="${scopes.join(' ')}"`);
    if (error) parts.push(`error="${error}"`);
    reply.header('www-authenticate', `Bearer ${parts.join(',')}`);
  }

  realm(request: FastifyRequest): string {
    const base = this.deps?.publicUrl ?? `${request.protocol}://${request.host}`;
    return `${base}/auth/token`;
  }

  async visible(principal: Principal, names: readonly string[]): Promise<string[]> {
    if (!this.deps || !this.deps.enabled) return [...names];
    return this.deps.authorizer.visible(principal, names);
  }

  /** Whether the caller holds `access` (roles, public repositories and its token's scope); no challenge, no audit. */
  async holds(principal: Principal, access: readonly Access[]): Promise<boolean> {
    if (!this.deps || !this.deps.enabled) return true;
    return (await this.deps.authorizer.authorize(principal, access)).allowed;
  }

  mayMountUnscoped(principal: Principal): boolean {
    if (!this.deps || !this.deps.enabled) return true;
    return this.deps.authorizer.mayMountUnscoped(principal);
  }

  /** Queues an audit record with who, from where and the request id filled in. */
  audit(
    request: FastifyRequest,
    event: Partial<NewAuditEvent> & Pick<NewAuditEvent, 'action' | 'result'>,
  ): void {
    if (!this.deps) return;
    const p = request.principal as Principal | null;
    this.deps.audit.record({
      at: Date.now(),
      actor: p?.name ?? 'anonymous',
      actorKind: p?.kind ?? 'anonymous',
      address: request.ip,
      requestId: request.id,
      ...event,
    });
  }
}
