import { Type } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import { principalView } from '../../auth/identity-service.js';
import { formatScope } from '../../auth/roles.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { JOB_ROUTES } from './job-routes.js';
import { CLEANUP_ROUTES } from './cleanup-routes.js';
import { GC_ROUTES } from './gc-routes.js';
import { REPOSITORY_ROUTES } from './repository-routes.js';
import { USAGE_ROUTES } from './usage-routes.js';
import { SCAN_ROUTES } from './scan-routes.js';
import { MODEL_ROUTES } from './model-routes.js';
import { FILE_ROUTES } from './file-routes.js';
import { INSIGHTS_ROUTES } from './insights-routes.js';
import { PYPI_ROUTES } from './pypi-routes.js';
import { SUPPLY_CHAIN_ROUTES } from './supply-chain-routes.js';
import { openApiDocument } from './openapi.js';
import { strict } from './route-schemas.js';

/**
 * Every /api/v1 route, with the access it needs. The authorization matrix test walks this table
 * (test/auth/authorization-matrix.test.ts): a route without an entry there fails it.
 */
const admin = (): Access[] => [{ kind: 'registry', action: 'admin' }];
const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._@-]{0,63}$' });
const Password = Type.String({ minLength: 8, maxLength: 1024 });
const Description = Type.String({ maxLength: 256 });
const PageQuery = strict({
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
  after: Type.Optional(Type.String({ maxLength: 256 })),
});

function page(ctx: ApiContext<unknown, { limit?: string; after?: string }>): { limit: number; after?: string } {
  const { defaultPageSize, maxPageSize } = ctx.options.pagination;
  const limit = Math.min(ctx.query.limit === undefined ? defaultPageSize : Number(ctx.query.limit), maxPageSize);
  return { limit: Math.max(limit, 1), after: ctx.query.after };
}

export const API_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.openapi',
    method: 'GET',
    url: '/api/v1/openapi.json',
    summary: 'The OpenAPI 3.1 document of this API',
    access: () => [{ kind: 'none' }],
    handle: async () => openApiDocument(API_ROUTES),
  },
  {
    id: 'api.whoami',
    method: 'GET',
    url: '/api/v1/whoami',
    summary: 'The calling principal and its role bindings',
    access: () => [{ kind: 'authenticated' }],
    handle: async ({ request }) => {
      const p = request.principal;
      return {
        name: p.name,
        kind: p.kind,
        via: p.via,
        admin: p.bindings.some((b) => b.role === 'admin' && b.scope.kind === 'registry'),
        roles: p.bindings.map((b) => ({ role: b.role, scope: formatScope(b.scope) })),
      };
    },
  },
  // --- users ---
  {
    id: 'api.users.list',
    method: 'GET',
    url: '/api/v1/users',
    summary: 'List users',
    access: admin,
    query: PageQuery,
    handle: async (ctx) => ctx.options.auth.identity.list('user', page(ctx)),
  },
  {
    id: 'api.users.create',
    method: 'POST',
    url: '/api/v1/users',
    summary: 'Create a user with a password',
    access: admin,
    body: strict({ name: Name, password: Password, description: Type.Optional(Description) }),
    status: 201,
    audit: 'user.create',
    handle: async ({ request, body, options }) => options.auth.identity.createUser(request.principal.name, body),
  },
  {
    id: 'api.users.get',
    method: 'GET',
    url: '/api/v1/users/:name',
    summary: 'One user (admins, or the user itself)',
    access: (p) => [{ kind: 'self', name: p.name ?? '' }],
    handle: async ({ params, options }) => principalView(await options.auth.identity.get('user', params.name!)),
  },
  {
    id: 'api.users.update',
    method: 'PATCH',
    url: '/api/v1/users/:name',
    summary: 'Disable, enable or describe a user',
    access: admin,
    body: strict({ disabled: Type.Optional(Type.Boolean()), description: Type.Optional(Description) }),
    audit: 'user.update',
    handle: async ({ params, body, options }) => options.auth.identity.update('user', params.name!, body),
  },
  {
    id: 'api.users.password',
    method: 'PUT',
    url: '/api/v1/users/:name/password',
    summary: "Set a user's password (admins, or the user itself)",
    access: (p) => [{ kind: 'self', name: p.name ?? '' }],
    body: strict({ password: Password }),
    status: 204,
    audit: 'user.password',
    handle: async ({ params, body, options }) => options.auth.identity.setPassword(params.name!, body.password),
  },
  {
    id: 'api.users.delete',
    method: 'DELETE',
    url: '/api/v1/users/:name',
    summary: 'Delete a user, its role bindings and refresh tokens',
    access: admin,
    status: 204,
    audit: 'user.delete',
    handle: async ({ params, options }) => options.auth.identity.delete('user', params.name!),
  },
  // --- service accounts ---
  {
    id: 'api.sa.list',
    method: 'GET',
    url: '/api/v1/service-accounts',
    summary: 'List service accounts',
    access: admin,
    query: PageQuery,
    handle: async (ctx) => ctx.options.auth.identity.list('service_account', page(ctx)),
  },
  {
    id: 'api.sa.create',
    method: 'POST',
    url: '/api/v1/service-accounts',
    summary: 'Create a service account (then give it an API key and a role)',
    access: admin,
    body: strict({ name: Name, description: Type.Optional(Description) }),
    status: 201,
    audit: 'sa.create',
    handle: async ({ request, body, options }) => options.auth.identity.createServiceAccount(request.principal.name, body),
  },
  {
    id: 'api.sa.get',
    method: 'GET',
    url: '/api/v1/service-accounts/:name',
    summary: 'One service account',
    access: admin,
    handle: async ({ params, options }) => principalView(await options.auth.identity.get('service_account', params.name!)),
  },
  {
    id: 'api.sa.update',
    method: 'PATCH',
    url: '/api/v1/service-accounts/:name',
    summary: 'Disable, enable or describe a service account',
    access: admin,
    body: strict({ disabled: Type.Optional(Type.Boolean()), description: Type.Optional(Description) }),
    audit: 'sa.update',
    handle: async ({ params, body, options }) => options.auth.identity.update('service_account', params.name!, body),
  },
  {
    id: 'api.sa.delete',
    method: 'DELETE',
    url: '/api/v1/service-accounts/:name',
    summary: 'Delete a service account with its keys and role bindings',
    access: admin,
    status: 204,
    audit: 'sa.delete',
    handle: async ({ params, options }) => options.auth.identity.delete('service_account', params.name!),
  },
  {
    id: 'api.sa.keys.list',
    method: 'GET',
    url: '/api/v1/service-accounts/:name/keys',
    summary: "A service account's API keys (never the keys themselves)",
    access: admin,
    handle: async ({ params, options }) => ({ items: await options.auth.identity.listApiKeys(params.name!) }),
  },
  {
    id: 'api.sa.keys.create',
    method: 'POST',
    url: '/api/v1/service-accounts/:name/keys',
    summary: 'Create an API key: the answer holds the key, shown this once',
    access: admin,
    body: strict({ description: Type.Optional(Description), expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })) }),
    status: 201,
    audit: 'sa.key.create',
    handle: async ({ params, body, options }) => options.auth.identity.createApiKey(params.name!, body),
  },
  {
    id: 'api.sa.keys.revoke',
    method: 'DELETE',
    url: '/api/v1/service-accounts/:name/keys/:id',
    summary: 'Revoke an API key',
    access: admin,
    status: 204,
    audit: 'sa.key.revoke',
    handle: async ({ params, options }) => options.auth.identity.revokeApiKey(params.name!, params.id!),
  },
  // --- role bindings ---
  {
    id: 'api.roles.list',
    method: 'GET',
    url: '/api/v1/role-bindings',
    summary: 'List role bindings, optionally of one principal',
    access: admin,
    query: strict({ principal: Type.Optional(Name) }),
    handle: async ({ query, options }) => ({ items: await options.auth.identity.listBindings(query.principal) }),
  },
  {
    id: 'api.roles.grant',
    method: 'POST',
    url: '/api/v1/role-bindings',
    summary: 'Bind a role to a principal on the registry ("*"), a namespace ("team-a/*") or a repository',
    access: admin,
    body: strict({
      principal: Name,
      role: Type.Union([Type.Literal('reader'), Type.Literal('writer'), Type.Literal('repoAdmin'), Type.Literal('admin')]),
      scope: Type.String({ minLength: 1, maxLength: 260 }),
    }),
    status: 201,
    audit: 'role.grant',
    handle: async ({ request, body, options }) => options.auth.identity.grant(request.principal.name, body),
  },
  {
    id: 'api.roles.revoke',
    method: 'DELETE',
    url: '/api/v1/role-bindings/:id',
    summary: 'Remove a role binding',
    access: admin,
    status: 204,
    audit: 'role.revoke',
    handle: async ({ params, options }) => {
      if (!/^[0-9]{1,12}$/.test(params.id ?? '')) throw new WharfError('RESOURCE_UNKNOWN', 'role binding ids are numbers');
      await options.auth.identity.revoke(Number(params.id));
    },
  },
  // --- audit ---
  {
    id: 'api.audit',
    method: 'GET',
    url: '/api/v1/audit',
    summary: 'Audit events, newest first; filters combine; `before` pages to older events',
    access: admin,
    query: strict({
      actor: Type.Optional(Type.String({ maxLength: 256 })),
      repository: Type.Optional(Type.String({ maxLength: 256 })),
      action: Type.Optional(Type.String({ maxLength: 64 })),
      result: Type.Optional(Type.Union([Type.Literal('ok'), Type.Literal('denied'), Type.Literal('failed')])),
      since: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
      until: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
      before: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
      limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
    }),
    handle: async ({ query, options }) => {
      const time = (v: string | undefined, key: string): number | undefined => {
        if (v === undefined) return undefined;
        const t = Date.parse(v);
        if (Number.isNaN(t)) throw new WharfError('BODY_INVALID', `${key} is not a date-time`);
        return t;
      };
      const limit = Math.max(1, Math.min(query.limit === undefined ? 100 : Number(query.limit), 1000));
      const page = await options.auth.audit.query({
        actor: query.actor,
        repository: query.repository,
        action: query.action,
        result: query.result,
        since: time(query.since, 'since'),
        until: time(query.until, 'until'),
        before: query.before === undefined ? undefined : Number(query.before),
        limit,
      });
      return {
        items: page.items.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
        more: page.more,
        next: page.more ? page.items[page.items.length - 1]!.id : undefined,
      };
    },
  },
  ...REPOSITORY_ROUTES,
  // --- token signing keys ---
  {
    id: 'api.keys.rotate',
    method: 'POST',
    url: '/api/v1/signing-keys/rotate',
    summary: 'Start signing tokens with a new key (tokens signed by the old one stay valid until they expire)',
    access: admin,
    audit: 'signing-key.rotate',
    handle: async ({ options }) => ({ kid: await options.auth.tokens.rotate() }),
  },
  ...JOB_ROUTES,
  ...SCAN_ROUTES,
  ...MODEL_ROUTES,
  ...FILE_ROUTES,
  ...INSIGHTS_ROUTES,
  ...PYPI_ROUTES,
  ...CLEANUP_ROUTES,
  ...USAGE_ROUTES,
  ...GC_ROUTES,
  ...SUPPLY_CHAIN_ROUTES,
];
