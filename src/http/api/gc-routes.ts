import { Type } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { GarbageCollector } from '../../registry/gc.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { strict } from './route-schemas.js';

/** Online garbage collection (registry/gc.ts), for admins: run now (or dry-run), and past runs. */
const admin = (): Access[] => [{ kind: 'registry', action: 'admin' }];
const Limit = Type.String({ pattern: '^[0-9]{1,5}$' });

function gcOf(options: ApiContext['options']): GarbageCollector {
  if (!options.gc) throw new WharfError('UNAVAILABLE', 'garbage collection is not available on this instance');
  return options.gc;
}

function limitOf(v: string | undefined, def: number, max: number): number {
  return Math.max(1, Math.min(v === undefined ? def : Number(v), max));
}

export const GC_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.gc.run',
    method: 'POST',
    url: '/api/v1/gc',
    summary: 'Run online garbage collection now ({"dryRun": true} to only report); answers what was (or would be) reclaimed',
    access: admin,
    body: strict({ dryRun: Type.Optional(Type.Boolean()) }),
    audit: 'gc.run',
    handle: async (ctx) => gcOf(ctx.options).run({ dryRun: ctx.body.dryRun === true, trigger: 'api' }),
  },
  {
    id: 'api.gc.runs',
    method: 'GET',
    url: '/api/v1/gc/runs',
    summary: 'Recent GC runs (scheduled and on demand) with their reports',
    access: admin,
    query: strict({ limit: Type.Optional(Limit) }),
    handle: async (ctx) => {
      const runs = await gcOf(ctx.options).runs(limitOf(ctx.query.limit, 20, 200));
      const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
      return { items: runs.map((r) => ({ ...r, startedAt: iso(r.startedAt), finishedAt: iso(r.finishedAt) })) };
    },
  },
];
