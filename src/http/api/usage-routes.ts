import { Type, type TSchema } from '@sinclair/typebox';
import { parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { lifecycleOf } from './repository-routes.js';

/**
 * Usage and cost (features/lifecycle/usage-service.ts): every authenticated caller sees the
 * repositories it may pull; registry totals (physical bytes, dedup ratio) only admins.
 */
const strict = <T extends Record<string, TSchema>>(props: T) => Type.Object(props, { additionalProperties: false });

export const USAGE_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.usage',
    method: 'GET',
    url: '/api/v1/usage',
    summary: 'Per repository: stored, unique, shared and logical bytes, images, pulls and egress over the period, monthly cost estimate; registry totals and dedup ratio for admins',
    access: () => [{ kind: 'authenticated' }],
    query: strict({
      days: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
      repository: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    }),
    handle: async (ctx) => {
      const days = Number(ctx.query.days ?? 30);
      if (days < 1 || days > 366) throw new WharfError('BODY_INVALID', 'days is 1 to 366');
      const p = ctx.request.principal;
      const isAdmin = p.bindings.some((b) => b.role === 'admin' && b.scope.kind === 'registry') && !p.tokenAccess;
      let names: string[] | undefined; // undefined: every repository (admins)
      if (ctx.query.repository !== undefined) {
        const n = parseRepoName(ctx.query.repository);
        names = await ctx.options.gate.visible(p, [n]);
        if (names.length === 0) throw new WharfError('RESOURCE_UNKNOWN', `repository ${n} does not exist or you may not pull it`);
      } else if (!isAdmin) {
        names = await ctx.options.gate.visible(p, await allNames(ctx));
      }
      return lifecycleOf(ctx.options).usage.usage(names, { days, totals: isAdmin });
    },
  },
];

async function allNames(ctx: ApiContext): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const p = await ctx.options.registry.catalog({ limit: 1000, after });
    out.push(...p.items);
    if (!p.more || p.items.length === 0) return out;
    after = p.items[p.items.length - 1];
  }
}
