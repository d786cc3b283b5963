import { Type } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import { parseRepoName } from '../../domain/names.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { lifecycleOf } from './repository-routes.js';
import { strict } from './route-schemas.js';

/**
 * Cleanup policies (features/lifecycle/cleanup-service.ts): reading one needs pull; changing one
 * and dry runs need settings (repoAdmin); applying one deletes images, so it needs delete too.
 */
const repo =
  (...actions: ('pull' | 'delete' | 'settings')[]) =>
  (p: Record<string, string>): Access[] => [{ kind: 'repository', name: p['*'] ?? '', actions }];

function name(ctx: ApiContext): string {
  return parseRepoName(ctx.params['*']);
}

export const CLEANUP_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.policy.get',
    method: 'GET',
    url: '/api/v1/cleanup-policies/*',
    summary: "A repository's cleanup policy (Artifact Registry or ECR format, with Wharf's keep options)",
    access: repo('pull'),
    handle: async (ctx) => lifecycleOf(ctx.options).cleanup.getPolicy(name(ctx)),
  },
  {
    id: 'api.policy.put',
    method: 'PUT',
    url: '/api/v1/cleanup-policies/*',
    summary: 'Set the cleanup policy: {format: artifact-registry|ecr, policy, keepPulledWithinDays?, keepProtectedTags?, dryRun?}; problems come back with JSON pointers',
    access: repo('settings'),
    // the document is validated by the policy parser, which points at each problem
    body: Type.Object({}, { additionalProperties: true }),
    audit: 'cleanup-policy.set',
    handle: async (ctx) => lifecycleOf(ctx.options).cleanup.putPolicy(name(ctx), ctx.body, ctx.request.principal.name),
  },
  {
    id: 'api.policy.delete',
    method: 'DELETE',
    url: '/api/v1/cleanup-policies/*',
    summary: 'Remove the cleanup policy',
    access: repo('settings'),
    status: 204,
    audit: 'cleanup-policy.delete',
    handle: async (ctx) => lifecycleOf(ctx.options).cleanup.deletePolicy(name(ctx)),
  },
  {
    id: 'api.policy.dry-run',
    method: 'POST',
    url: '/api/v1/cleanup-dry-runs/*',
    summary: 'What the stored policy ({}), or a policy not yet stored ({"policy": ...}), would delete now, and the rule selecting each image. Deletes nothing',
    access: repo('settings'),
    body: strict({ policy: Type.Optional(Type.Unknown()) }),
    handle: async (ctx) => lifecycleOf(ctx.options).cleanup.dryRun(name(ctx), ctx.body.policy),
  },
  {
    id: 'api.policy.run',
    method: 'POST',
    url: '/api/v1/cleanup-runs/*',
    summary: 'Apply the stored cleanup policy now; answers what was deleted (each deletion is audited as cleanup.delete)',
    access: repo('delete', 'settings'),
    audit: 'cleanup-policy.run',
    handle: async (ctx) => lifecycleOf(ctx.options).cleanup.runPolicy(name(ctx), ctx.request.principal.name),
  },
];
