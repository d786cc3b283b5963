/**
 * Jobs and schedules in the metadata DB (tables from jobs-migration.ts). Leasing is one
 * transaction: pick the oldest due job, then mark it running under the caller's lease. On
 * PostgreSQL the pick is `FOR UPDATE SKIP LOCKED`, so replicas polling at once take different
 * jobs; SQLite serializes transactions, which gives the same guarantee in one process.
 */
import { sql, type Generated, type Kysely } from 'kysely';
import type { SqlDialectName } from './migrations.js';
import type { EnqueueOptions, JobFilter, JobRecord, JobState, JobStore } from './job-store.js';

export interface JobsTable {
  id: Generated<number>;
  kind: string;
  key: string | null;
  payload: string;
  state: string;
  attempts: number;
  max_attempts: number;
  run_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface SchedulesTable {
  name: string;
  interval_ms: number;
  next_run_at: number;
  last_run_at: number | null;
}

export interface JobTables {
  jobs: JobsTable;
  schedules: SchedulesTable;
}

const MAX_ERROR_LENGTH = 4000;

export class SqlJobStore implements JobStore {
  private readonly db: Kysely<JobTables>;

  constructor(
    db: Kysely<any>,
    private readonly dialect: SqlDialectName,
    private readonly now: () => number = Date.now,
  ) {
    this.db = db as Kysely<JobTables>;
  }

  async enqueue(kind: string, payload: unknown, options: EnqueueOptions = {}): Promise<JobRecord | undefined> {
    const now = this.now();
    const row = await this.db
      .insertInto('jobs')
      .values({
        kind,
        key: options.key ?? null,
        payload: JSON.stringify(payload ?? null),
        state: 'queued',
        attempts: 0,
        max_attempts: options.maxAttempts ?? 5,
        run_at: options.runAt ?? now,
        lease_owner: null,
        lease_until: null,
        last_error: null,
        created_at: now,
        updated_at: now,
        finished_at: null,
      })
      // the partial unique index on key (unfinished jobs) makes a duplicate a no-op
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    return row && toJob(row);
  }

  async lease(kinds: readonly string[], owner: string, now: number, leaseUntil: number): Promise<JobRecord | undefined> {
    if (kinds.length === 0) return undefined;
    for (let tries = 0; tries < 10; tries++) {
      const leased = await this.db.transaction().execute(async (trx) => {
        let q = trx
          .selectFrom('jobs')
          .selectAll()
          .where('kind', 'in', [...kinds])
          .where((eb) =>
            eb.or([
              eb.and([eb('state', '=', 'queued'), eb('run_at', '<=', now)]),
              eb.and([eb('state', '=', 'running'), eb('lease_until', '<', now)]),
            ]),
          )
          .orderBy('run_at')
          .orderBy('id')
          .limit(1);
        if (this.dialect === 'postgres') q = q.forUpdate().skipLocked();
        const row = await q.executeTakeFirst();
        if (!row) return { done: true as const, job: undefined };
        if (row.state === 'running' && row.attempts >= row.max_attempts) {
          // its worker died on the last attempt: give up rather than run it forever
          await trx
            .updateTable('jobs')
            .set({ state: 'failed', lease_owner: null, lease_until: null, finished_at: now, updated_at: now, last_error: row.last_error ?? 'lease expired on the last attempt' })
            .where('id', '=', row.id)
            .execute();
          return { done: false as const, job: undefined };
        }
        await trx
          .updateTable('jobs')
          .set({ state: 'running', lease_owner: owner, lease_until: leaseUntil, attempts: sql`attempts + 1`, updated_at: now })
          .where('id', '=', row.id)
          .execute();
        return {
          done: true as const,
          job: toJob({ ...row, state: 'running', lease_owner: owner, lease_until: leaseUntil, attempts: Number(row.attempts) + 1, updated_at: now }),
        };
      });
      if (leased.done) return leased.job;
    }
    return undefined;
  }

  async renew(id: number, owner: string, leaseUntil: number): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({ lease_until: leaseUntil })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async complete(id: number, owner: string, now: number): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ state: 'succeeded', lease_owner: null, lease_until: null, finished_at: now, updated_at: now })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute();
  }

  async fail(id: number, owner: string, error: string, now: number, retryAt?: number): Promise<void> {
    const last_error = error.slice(0, MAX_ERROR_LENGTH);
    await this.db
      .updateTable('jobs')
      .set(
        retryAt === undefined
          ? { state: 'failed', lease_owner: null, lease_until: null, finished_at: now, updated_at: now, last_error }
          : { state: 'queued', lease_owner: null, lease_until: null, run_at: retryAt, updated_at: now, last_error },
      )
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute();
  }

  async find(id: number): Promise<JobRecord | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  }

  async list(filter: JobFilter): Promise<JobRecord[]> {
    let q = this.db.selectFrom('jobs').selectAll().orderBy('id', 'desc').limit(filter.limit);
    if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    if (filter.before !== undefined) q = q.where('id', '<', filter.before);
    return (await q.execute()).map(toJob);
  }

  async ensureSchedule(name: string, intervalMs: number, firstRunAt: number): Promise<void> {
    await this.db
      .insertInto('schedules')
      .values({ name, interval_ms: intervalMs, next_run_at: firstRunAt, last_run_at: null })
      .onConflict((oc) => oc.column('name').doUpdateSet({ interval_ms: intervalMs }))
      .execute();
  }

  async claimSchedule(name: string, now: number): Promise<boolean> {
    const row = await this.db.selectFrom('schedules').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row || Number(row.next_run_at) > now) return false;
    const r = await this.db
      .updateTable('schedules')
      .set({ next_run_at: now + Number(row.interval_ms), last_run_at: now })
      .where('name', '=', name)
      .where('next_run_at', '=', row.next_run_at)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}

function toJob(row: {
  id: number | string;
  kind: string;
  key: string | null;
  payload: string;
  state: string;
  attempts: number | string;
  max_attempts: number | string;
  run_at: number | string;
  lease_owner: string | null;
  lease_until: number | string | null;
  last_error: string | null;
  created_at: number | string;
  updated_at: number | string;
  finished_at: number | string | null;
}): JobRecord {
  const n = (v: number | string | null): number | null => (v === null ? null : Number(v));
  return {
    id: Number(row.id),
    kind: row.kind,
    key: row.key,
    payload: JSON.parse(row.payload) as unknown,
    state: row.state as JobState,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    runAt: Number(row.run_at),
    leaseOwner: row.lease_owner,
    leaseUntil: n(row.lease_until),
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    finishedAt: n(row.finished_at),
  };
}
