import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseScopes, type TokenAccess } from '../../auth/docker-scope.js';
import type { Principal } from '../../auth/principal.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { AuthGate } from '../auth-gate.js';

/**
 * The token endpoint of the Docker token protocol (distribution/docs/spec/auth/token.md, oauth.md):
 *   GET  /auth/token?service=&scope=&offline_token=&account=   credentials as Basic (or none: anonymous)
 *   POST /auth/token  form: grant_type=password|refresh_token, username, password, refresh_token,
 *                     scope (space separated), service, client_id, access_type=offline
 *   GET  /auth/jwks.json   public keys that verify current tokens
 * The token holds only the granted subset of the requested scopes; asking for more is not an
 * error (the request that needs it will be refused). Basic credentials were already checked by
 * the app's onRequest hook (failures: 401 / 429 there).
 */
export interface TokenPluginOptions {
  gate: AuthGate;
}

const FORM_LIMIT = 16 * 1024;

export async function tokenPlugin(app: FastifyInstance, options: TokenPluginOptions): Promise<void> {
  const { gate } = options;
  const deps = gate.deps!;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
    done(null, new URLSearchParams(body as string));
  });

  async function answer(request: FastifyRequest, reply: FastifyReply, principal: Principal, scopes: string[], refreshToken: string | undefined, oauth: boolean): Promise<void> {
    const requested = parseScopes(scopes);
    const granted = await deps.authorizer.grant(principal, requested);
    if (coverage(granted) < coverage(requested)) {
      gate.audit(request, {
        action: 'token.issue',
        actor: principal.name,
        actorKind: principal.kind,
        result: 'denied',
        status: 200,
        detail: { requested: requested.map(show), granted: granted.map(show) },
      });
    }
    const issued = await deps.tokens.issue(principal.kind === 'anonymous' ? '' : principal.name, granted);
    const body: Record<string, unknown> = oauth
      ? { access_token: issued.token, scope: granted.map(show).join(' '), expires_in: issued.expiresIn, issued_at: issued.issuedAt }
      : { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt };
    if (refreshToken !== undefined) body.refresh_token = refreshToken;
    await reply.code(200).header('cache-control', 'no-store').send(body);
  }

  app.get('/auth/token', async (request, reply) => {
    request.routeId = 'auth.token';
    const query = new URLSearchParams((request.raw.url ?? '').split('?')[1] ?? '');
    const principal = request.principal;
    if (principal.via === 'token') throw new WharfError('UNAUTHORIZED', 'present credentials, not a token, to get a token');
    const account = query.get('account');
    if (account !== null && principal.kind !== 'anonymous' && account !== principal.name) {
      throw new WharfError('UNAUTHORIZED', 'account does not match the credentials');
    }
    const offline = query.get('offline_token') === 'true' && principal.kind !== 'anonymous';
    const refresh = offline ? await deps.authenticator.issueRefreshToken(principal) : undefined;
    await answer(request, reply, principal, query.getAll('scope'), refresh, false);
  });

  app.post('/auth/token', { bodyLimit: FORM_LIMIT }, async (request, reply) => {
    request.routeId = 'auth.token';
    const form = request.body;
    if (!(form instanceof URLSearchParams)) throw new WharfError('UNSUPPORTED', 'POST /auth/token takes an application/x-www-form-urlencoded form');
    const grant = form.get('grant_type');
    let principal: Principal;
    let refresh: string | undefined;
    if (grant === 'password') {
      const username = form.get('username') ?? '';
      const password = form.get('password') ?? '';
      if (username === '' || password === '') throw new WharfError('UNAUTHORIZED', 'invalid username or password');
      try {
        principal = await deps.authenticator.login(username, password, request.ip);
      } catch (err) {
        gate.audit(request, { action: 'login', actor: username.slice(0, 256), actorKind: 'unknown', result: 'failed', status: err instanceof WharfError ? err.status : 500 });
        if (err instanceof WharfError && err.code === 'TOOMANYREQUESTS') {
          reply.header('retry-after', String((err.detail as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 60));
        }
        throw err;
      }
      if (form.get('access_type') === 'offline') refresh = await deps.authenticator.issueRefreshToken(principal);
    } else if (grant === 'refresh_token') {
      principal = await deps.authenticator.fromRefreshToken(form.get('refresh_token') ?? '');
    } else {
      throw new WharfError('REQUEST_INVALID', 'grant_type must be password or refresh_token');
    }
    const scopes = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
    await answer(request, reply, principal, scopes, refresh, true);
  });

  app.get('/auth/jwks.json', async (request, reply) => {
    request.routeId = 'auth.jwks';
    await reply.code(200).send(deps.tokens.jwks());
  });
}

function show(s: TokenAccess): string {
  return `${s.type}:${s.name}:${s.actions.join(',')}`;
}

function coverage(scopes: readonly TokenAccess[]): number {
  return scopes.reduce((n, s) => n + (s.actions.includes('*') && s.type === 'repository' ? 3 : s.actions.length), 0);
}
