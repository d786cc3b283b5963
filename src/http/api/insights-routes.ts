import { Type } from '@sinclair/typebox';
import type { InsightsService } from '../../features/insights/insights-service.js';
import { parseReference, parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { Platform, Reference, imageTarget, pull, strict } from './route-schemas.js';

/**
 * Image insights (features/insights): reading an analysis needs pull on the repository, like the
 * image itself; running one too (it reads only what the caller may pull and stores only what is
 * derived from it, keyed by digest).
 */

function insightsOf(options: ApiContext['options']): InsightsService {
  if (!options.insights) throw new WharfError('UNAVAILABLE', 'image insights are not enabled on this instance');
  return options.insights;
}

export const INSIGHTS_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.insights.get',
    method: 'GET',
    url: '/api/v1/insights/*',
    summary: "An image's analysis per platform (layer cake by category, waste, efficiency, findings with savings, cold start); state pending when not analysed yet",
    access: pull,
    query: strict({ reference: Reference, platform: Type.Optional(Platform) }),
    handle: async (ctx) => {
      const { repository, ref } = imageTarget(ctx.params, ctx.query.reference);
      return insightsOf(ctx.options).report(repository, ref, ctx.query.platform);
    },
  },
  {
    id: 'api.insights.run',
    method: 'POST',
    url: '/api/v1/insights/*',
    summary: 'Analyse an image now (every platform of an index, or one), reusing layers already analysed; `background` queues jobs instead',
    access: pull,
    body: strict({ reference: Reference, force: Type.Optional(Type.Boolean()), platform: Type.Optional(Platform), background: Type.Optional(Type.Boolean()) }),
    audit: 'insights.run',
    handle: async (ctx) => {
      const { repository, ref } = imageTarget(ctx.params, ctx.body.reference);
      const service = insightsOf(ctx.options);
      if (ctx.body.background) return service.enqueue(repository, ref, ctx.body.platform);
      return service.analyse(repository, ref, { force: ctx.body.force, platform: ctx.body.platform });
    },
  },
  {
    id: 'api.insights.diff',
    method: 'POST',
    url: '/api/v1/insights-diff',
    summary: 'What changes from image A to image B: layers shared and changed, bytes a node with A pulls to run B, packages added/removed/upgraded, files changed by category',
    access: (_p, body: { from?: { repository?: unknown }; to?: { repository?: unknown } } | undefined) => [
      { kind: 'repository', name: typeof body?.from?.repository === 'string' ? body.from.repository : '', actions: ['pull'] },
      { kind: 'repository', name: typeof body?.to?.repository === 'string' ? body.to.repository : '', actions: ['pull'] },
    ],
    body: strict({ from: strict({ repository: Type.String({ minLength: 1, maxLength: 256 }), reference: Reference }), to: strict({ repository: Type.String({ minLength: 1, maxLength: 256 }), reference: Reference }), platform: Type.Optional(Platform) }),
    handle: async (ctx) => {
      const side = (x: { repository: string; reference: string }) => ({ repository: parseRepoName(x.repository), ref: parseReference(x.reference) });
      return insightsOf(ctx.options).diff(side(ctx.body.from), side(ctx.body.to), ctx.body.platform);
    },
  },
];
