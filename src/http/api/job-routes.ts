import { Type } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { JobRecord, JobState, JobStore } from '../../storage/metadata/job-store.js';
import type { ApiContext, ApiRoute } from './api-route.js';

/** Background jobs, visible to admins (DESIGN.md: "retried with backoff, visible through the API"). */
const admin = (): Access[] => [{ kind: 'registry', action: 'admin' }];

function jobsOf(options: ApiContext['options']): Pick<JobStore, 'list' | 'find'> {
  if (!options.jobs) throw new WharfError('UNAVAILABLE', 'this instance runs no job table');
  return options.jobs;
}

function view(job: JobRecord): Record<string, unknown> {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    id: job.id,
    kind: job.kind,
    key: job.key,
    state: job.state,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    runAt: iso(job.runAt),
    leaseOwner: job.leaseOwner,
    leaseUntil: iso(job.leaseUntil),
    lastError: job.lastError,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    finishedAt: iso(job.finishedAt),
    payload: job.payload,
  };
}

export const JOB_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.jobs.list',
    method: 'GET',
    url: '/api/v1/jobs',
    summary: 'Background jobs, newest first; filter by kind and state, page with `before`',
    access: admin,
    query: Type.Object(
      {
        kind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        state: Type.Optional(Type.Union(['queued', 'running', 'succeeded', 'failed'].map((s) => Type.Literal(s)))),
        before: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
        limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
      },
      { additionalProperties: false },
    ),
    handle: async ({ query, options }) => {
      const limit = Math.max(1, Math.min(query.limit === undefined ? 100 : Number(query.limit), 1000));
      const jobs = await jobsOf(options).list({
        kind: query.kind,
        state: query.state as JobState | undefined,
        before: query.before === undefined ? undefined : Number(query.before),
        limit,
      });
      return { jobs: jobs.map(view) };
    },
  },
  {
    id: 'api.jobs.get',
    method: 'GET',
    url: '/api/v1/jobs/:id',
    summary: 'One background job',
    access: admin,
    handle: async ({ params, options }) => {
      const id = params.id ?? '';
      if (!/^[0-9]{1,15}$/.test(id)) throw new WharfError('RESOURCE_UNKNOWN', `job ${id.slice(0, 20)} does not exist`);
      const job = await jobsOf(options).find(Number(id));
      if (!job) throw new WharfError('RESOURCE_UNKNOWN', `job ${id} does not exist`);
      return view(job);
    },
  },
];
