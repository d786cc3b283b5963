import { Type, type TSchema } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import type { LifecycleFeature } from '../../features/lifecycle/lifecycle-feature.js';
import { parseDigest } from '../../domain/digest.js';
import { parseRepoName, parseTag } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { pull, strict } from './route-schemas.js';

/**
 * Repositories (issue 5, over issue 3's visibility): create, describe, list, update, delete, with
 * their settings; tag history and image listings (pull); namespace settings (admins). Changing
 * settings needs `settings` on the repository (repoAdmin); setting a quota needs an admin (a quota
 * is the registry's cost control, not the team's); deleting a repository needs delete and
 * settings. Repository names have slashes, so each resource is a prefix followed by the name.
 */
const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const LABEL_KEY = '^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$';
export const EXCLUSION = '^[A-Za-z0-9_.*-]{1,128}$';

const Settings = {
  description: Type.Optional(nullable(Type.String({ maxLength: 1024 }))),
  labels: Type.Optional(nullable(Type.Record(Type.String({ pattern: LABEL_KEY }), Type.String({ maxLength: 256 }), { maxProperties: 64, additionalProperties: false }))),
  public: Type.Optional(Type.Boolean()),
  immutableTags: Type.Optional(Type.Boolean()),
  immutableTagExclusions: Type.Optional(nullable(Type.Array(Type.String({ pattern: EXCLUSION }), { maxItems: 50 }))),
  quotaBytes: Type.Optional(nullable(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))),
  scanOnPush: Type.Optional(Type.Boolean()),
  indexOnPush: Type.Optional(Type.Boolean()),
};
const SETTING_KEYS = Object.keys(Settings) as (keyof typeof Settings)[];

const PageQuery = strict({
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
  after: Type.Optional(Type.String({ maxLength: 256 })),
});

export function lifecycleOf(options: ApiContext['options']): Pick<LifecycleFeature, 'service' | 'cleanup' | 'usage'> {
  if (!options.lifecycle) throw new WharfError('UNAVAILABLE', 'repository lifecycle is not available on this instance');
  return options.lifecycle;
}

const admin = (): Access[] => [{ kind: 'registry', action: 'admin' }];
const Limit = Type.String({ pattern: '^[0-9]{1,5}$' });

function name(ctx: ApiContext): string {
  return parseRepoName(ctx.params['*']);
}

function limitOf(v: string | undefined, def: number, max: number): number {
  return Math.max(1, Math.min(v === undefined ? def : Number(v), max));
}

/** A namespace is a repository-name prefix: `team-a` or `team-a/ml`. */
function namespaceParam(ctx: ApiContext): string {
  const raw = ctx.params['*'];
  try {
    return parseRepoName(raw);
  } catch {
    throw new WharfError('NAME_INVALID', `${JSON.stringify(String(raw).slice(0, 80))} is not a namespace (a repository name prefix such as team-a or team-a/ml)`);
  }
}

function repoParam(params: Record<string, string>): string {
  return parseRepoName(params['*']);
}

/** Setting a quota is an admin's decision; everything else a repoAdmin's. */
function settingsAccess(name: string, body: unknown): Access[] {
  const needs: Access[] = [{ kind: 'repository', name, actions: ['settings'] }];
  if (body !== null && typeof body === 'object' && 'quotaBytes' in body) needs.push({ kind: 'registry', action: 'admin' });
  return needs;
}

function settingsPatch(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(SETTING_KEYS.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
}

export const REPOSITORY_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.repos.list',
    method: 'GET',
    url: '/api/v1/repositories',
    summary: 'Repositories the caller may pull, with their settings',
    access: () => [{ kind: 'authenticated' }],
    query: PageQuery,
    handle: async (ctx) => {
      const { defaultPageSize, maxPageSize } = ctx.options.pagination;
      const limit = Math.max(1, Math.min(ctx.query.limit === undefined ? defaultPageSize : Number(ctx.query.limit), maxPageSize));
      const items: string[] = [];
      let after: string | undefined = ctx.query.after;
      let more = true;
      while (items.length < limit && more) {
        const p = await ctx.options.registry.catalog({ limit, after });
        const visible = await ctx.options.gate.visible(ctx.request.principal, p.items);
        items.push(...visible.slice(0, limit - items.length));
        more = p.more || visible.length > limit - items.length;
        after = p.items[p.items.length - 1];
        if (p.items.length === 0) break;
      }
      return { items: await lifecycleOf(ctx.options).service.describeMany(items), more: more && items.length === limit };
    },
  },
  {
    id: 'api.repos.create',
    method: 'POST',
    url: '/api/v1/repositories',
    summary: 'Create a repository with its format (oci, the default, or pypi: Python packages) and settings (description, labels, public, immutable tags and exclusions, quota, scan on push)',
    access: (_p, body) => settingsAccess(typeof body?.name === 'string' ? body.name : '', body),
    body: strict({ name: Type.String({ minLength: 1, maxLength: 255 }), format: Type.Optional(Type.Union([Type.Literal('oci'), Type.Literal('pypi')])), ...Settings }),
    status: 201,
    audit: 'repository.create',
    handle: async ({ body, options }) => {
      const name = parseRepoName(body.name);
      return lifecycleOf(options).service.createRepository(name, settingsPatch(body), body.format);
    },
  },
  {
    id: 'api.repos.get',
    method: 'GET',
    url: '/api/v1/repositories/*',
    summary: "A repository: its settings, usage against its quota (and its namespaces' quotas), cleanup policy",
    access: (p) => [{ kind: 'repository', name: p['*'] ?? '', actions: ['pull'] }],
    handle: async ({ params, options }) => lifecycleOf(options).service.getRepository(repoParam(params)),
  },
  {
    id: 'api.repos.update',
    method: 'PATCH',
    url: '/api/v1/repositories/*',
    summary: 'Change repository settings (null resets one to its default); quotaBytes needs an admin',
    access: (p, body) => settingsAccess(p['*'] ?? '', body),
    body: strict(Settings),
    audit: 'repository.settings',
    handle: async ({ params, body, options }) => {
      const name = repoParam(params);
      const patch = settingsPatch(body);
      if (Object.keys(patch).length === 0) throw new WharfError('BODY_INVALID', `give at least one of ${SETTING_KEYS.join(', ')}`);
      return lifecycleOf(options).service.updateRepository(name, patch);
    },
  },
  {
    id: 'api.repos.delete',
    method: 'DELETE',
    url: '/api/v1/repositories/*',
    summary: 'Delete a repository: its manifests, tags, tag history, blob links and cleanup policy (GC reclaims the bytes)',
    access: (p) => [{ kind: 'repository', name: p['*'] ?? '', actions: ['delete', 'settings'] }],
    status: 204,
    audit: 'repository.delete',
    handle: async ({ params, options }) => lifecycleOf(options).service.deleteRepository(repoParam(params)),
  },
  // --- history and images ---
  {
    id: 'api.tags.history',
    method: 'GET',
    url: '/api/v1/tag-history/*',
    summary: 'Every tag move of a repository, newest first (from, to: digests; null = created / deleted); `before` pages to older ones',
    access: pull,
    query: strict({
      tag: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
      before: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
      limit: Type.Optional(Limit),
    }),
    handle: async (ctx) =>
      lifecycleOf(ctx.options).service.tagHistory(name(ctx), {
        tag: ctx.query.tag === undefined ? undefined : parseTag(ctx.query.tag),
        before: ctx.query.before === undefined ? undefined : Number(ctx.query.before),
        limit: limitOf(ctx.query.limit, 100, 1000),
      }),
  },
  {
    id: 'api.images.list',
    method: 'GET',
    url: '/api/v1/images/*',
    summary: "A repository's manifests, newest first: digest, tags, size (with layers), pushed and last-pulled times",
    access: pull,
    query: strict({
      limit: Type.Optional(Limit),
      after: Type.Optional(Type.String({ maxLength: 200 })),
      tagged: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    }),
    handle: async (ctx) =>
      lifecycleOf(ctx.options).service.listImages(name(ctx), {
        limit: limitOf(ctx.query.limit, 1000, 10_000),
        after: ctx.query.after === undefined ? undefined : parseDigest(ctx.query.after),
        tagged: ctx.query.tagged === undefined ? undefined : ctx.query.tagged === 'true',
      }),
  },
  // --- namespaces ---
  {
    id: 'api.namespaces.list',
    method: 'GET',
    url: '/api/v1/namespaces',
    summary: 'Namespaces with settings (quota, implicit creation) and their usage',
    access: admin,
    handle: async (ctx) => ({ items: await lifecycleOf(ctx.options).service.listNamespaces() }),
  },
  {
    id: 'api.namespaces.get',
    method: 'GET',
    url: '/api/v1/namespaces/*',
    summary: "A namespace's settings and usage (distinct blob bytes of its repositories)",
    access: admin,
    handle: async (ctx) => lifecycleOf(ctx.options).service.getNamespace(namespaceParam(ctx)),
  },
  {
    id: 'api.namespaces.put',
    method: 'PUT',
    url: '/api/v1/namespaces/*',
    summary: 'Set a namespace quota (bytes, counted once per distinct blob) and whether pushes may create repositories in it (null: inherit)',
    access: admin,
    body: strict({
      quotaBytes: Type.Optional(nullable(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))),
      createOnPush: Type.Optional(nullable(Type.Boolean())),
    }),
    audit: 'namespace.settings',
    handle: async (ctx) => lifecycleOf(ctx.options).service.putNamespace(namespaceParam(ctx), ctx.body, ctx.request.principal.name),
  },
  {
    id: 'api.namespaces.delete',
    method: 'DELETE',
    url: '/api/v1/namespaces/*',
    summary: "Remove a namespace's settings",
    access: admin,
    status: 204,
    audit: 'namespace.delete',
    handle: async (ctx) => lifecycleOf(ctx.options).service.deleteNamespace(namespaceParam(ctx)),
  },
];
