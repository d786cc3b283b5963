import { Type } from '@sinclair/typebox';
import { parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { lifecycleOf } from './repository-routes.js';
import { isAdmin } from '../../auth/roles.js';
import { MAX_PERIOD_DAYS } from '../../features/lifecycle/usage-service.js';
import { strict } from './route-schemas.js';

/**
 * Usage and cost (features/lifecycle/usage-service.ts). Every authenticated caller sees the
 * repositories it may pull, and nothing of the others (not their names; a repository's shared
 * bytes and attributed cost do reflect that some other repository links the same blobs).
 * Registry totals (physical bytes, dedup ratio) and namespace rollups: registry admins only.
 */

export const USAGE_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.usage',
    method: 'GET',
    url: '/api/v1/usage',
    summary:
      'Per repository: logical, stored, unique and shared bytes, images, pulls and egress over the period (days=N, or from=YYYY-MM-DD[&to=YYYY-MM-DD], UTC days), quotas with their usage, monthly cost estimate; registry totals, dedup ratio and namespace rollups for admins',
    access: () => [{ kind: 'authenticated' }],
    query: strict({
      days: Type.Optional(Type.String({ maxLength: 16 })),
      from: Type.Optional(Type.String({ maxLength: 32 })),
      to: Type.Optional(Type.String({ maxLength: 32 })),
      repository: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    }),
    handle: async (ctx) => {
      const q = ctx.query as { days?: string; from?: string; to?: string; repository?: string };
      let days: number | undefined;
      if (q.days !== undefined) {
        if (!/^[0-9]{1,4}$/.test(q.days)) throw new WharfError('BODY_INVALID', `days must be a whole number from 1 to ${MAX_PERIOD_DAYS}, not ${JSON.stringify(q.days)}`);
        days = Number(q.days);
      }
      const usage = lifecycleOf(ctx.options).usage;
      // the period is checked before anything else is looked at
      usage.period({ days, from: q.from, to: q.to });
      const p = ctx.request.principal;
      const admin = isAdmin(p.bindings) && !p.tokenAccess;
      let names: string[] | undefined; // undefined: every repository (admins)
      if (q.repository !== undefined) {
        const n = parseRepoName(q.repository);
        names = await ctx.options.gate.visible(p, [n]);
        // the same answer whether it does not exist or may not be seen
        const unknown = () => new WharfError('RESOURCE_UNKNOWN', `repository ${n} does not exist or you may not pull it`);
        if (names.length === 0) throw unknown();
        const report = await usage.usage(names, { days, from: q.from, to: q.to, admin });
        if (report.repositories.length === 0) throw unknown();
        return report;
      }
      if (!admin) names = await ctx.options.gate.visible(p, await allNames(ctx));
      return usage.usage(names, { days, from: q.from, to: q.to, admin });
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
