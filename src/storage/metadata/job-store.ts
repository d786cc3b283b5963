/**
 * The background job table (DESIGN.md "Background work"): jobs are enqueued by events and
 * schedules, leased by a worker of any replica, retried with backoff, visible through the API.
 */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

export interface JobRecord {
  id: number;
  kind: string;
  key: string | null;
  payload: unknown;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  runAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface EnqueueOptions {
  /** an unfinished job with the same key makes this enqueue a no-op */
  key?: string;
  /** not before this time (ms since epoch); default now */
  runAt?: number;
  /** default 5 */
  maxAttempts?: number;
}

export interface JobFilter {
  kind?: string;
  state?: JobState;
  limit: number;
  /** ids below this one (newest first paging) */
  before?: number;
}

export interface JobStore {
  /** Returns the job, or undefined when an unfinished job with the same key already exists. */
  enqueue(kind: string, payload: unknown, options?: EnqueueOptions): Promise<JobRecord | undefined>;
  /**
   * Atomically takes the oldest due job of the given kinds — queued and due, or running with an
   * expired lease (its worker died) — marking it running under `owner` until `leaseUntil`.
   */
  lease(kinds: readonly string[], owner: string, now: number, leaseUntil: number): Promise<JobRecord | undefined>;
  /** Extends a lease still held by `owner`; false when it was lost. */
  renew(id: number, owner: string, leaseUntil: number): Promise<boolean>;
  complete(id: number, owner: string, now: number): Promise<void>;
  /** Records the error; requeues at `retryAt`, or marks failed when undefined. */
  fail(id: number, owner: string, error: string, now: number, retryAt?: number): Promise<void>;
  find(id: number): Promise<JobRecord | undefined>;
  list(filter: JobFilter): Promise<JobRecord[]>;
  /** Creates the schedule when absent (keeping its next run), or updates its interval. */
  ensureSchedule(name: string, intervalMs: number, firstRunAt: number): Promise<void>;
  /** Claims the schedule's tick if due (compare-and-set), so it fires once across replicas. */
  claimSchedule(name: string, now: number): Promise<boolean>;
}
