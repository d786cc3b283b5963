import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EnqueueOptions, JobRecord, JobStore } from '../storage/metadata/job-store.js';

/**
 * Runs background jobs from the DB job table on every replica (DESIGN.md "Background work").
 * Handlers are registered per kind; a worker leases one due job at a time, renews the lease while
 * the handler runs, completes it, or requeues it with exponential backoff until its attempts are
 * spent. A handler must be idempotent: a job whose worker died is leased again after its lease
 * expires. Schedules enqueue a job per tick; a tick is claimed with a compare-and-set in the DB,
 * so it fires once across replicas.
 */
export interface JobContext {
  job: JobRecord;
  /** aborted when the runner stops or the lease is lost; long handlers should check it */
  signal: AbortSignal;
  logger: Logger;
}

export type JobHandler = (payload: unknown, ctx: JobContext) => Promise<void>;

export interface JobRunnerOptions {
  store: JobStore;
  logger: Logger;
  now?: () => number;
  /** how often idle workers look for due jobs (ms; default 1000) */
  pollIntervalMs?: number;
  /** lease length (ms; default 60 s), renewed at a third of it */
  leaseMs?: number;
  /** jobs run at once in this process (default 1) */
  concurrency?: number;
  /** first retry delay (ms; default 5 s), doubled per attempt, at most 1 h */
  backoffBaseMs?: number;
}

interface Schedule {
  name: string;
  intervalMs: number;
  kind: string;
  payload: unknown;
}

export class JobRunner {
  readonly owner = `worker-${randomUUID()}`;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly schedules: Schedule[] = [];
  private readonly store: JobStore;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private readonly backoffBaseMs: number;
  private running = false;
  private readonly stopController = new AbortController();
  private workers: Promise<void>[] = [];
  private wake: (() => void) | undefined;
  /** set by enqueue: a job may be due that a worker's last look did not see */
  private nudged = false;

  constructor(options: JobRunnerOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.concurrency = options.concurrency ?? 1;
    this.backoffBaseMs = options.backoffBaseMs ?? 5000;
  }

  register(kind: string, handler: JobHandler): void {
    if (this.handlers.has(kind)) throw new Error(`a handler for job kind ${kind} is already registered`);
    this.handlers.set(kind, handler);
  }

  /** Enqueues `kind` with `payload` every `intervalMs`, once across all replicas. */
  every(name: string, intervalMs: number, kind: string, payload: unknown = {}): void {
    this.schedules.push({ name, intervalMs, kind, payload });
  }

  async enqueue(kind: string, payload: unknown, options?: EnqueueOptions): Promise<JobRecord | undefined> {
    const job = await this.store.enqueue(kind, payload, options);
    this.nudged = true;
    this.wake?.();
    return job;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const s of this.schedules) await this.store.ensureSchedule(s.name, s.intervalMs, this.now() + s.intervalMs);
    this.workers = Array.from({ length: this.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopController.abort();
    this.wake?.();
    await Promise.allSettled(this.workers);
  }

  /** One pass: fire due schedules, then run due jobs until none is left. For tests and `wharf` operator commands. */
  async drain(): Promise<number> {
    await this.fireSchedules();
    let ran = 0;
    while (await this.runOne()) ran++;
    return ran;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.nudged = false;
      try {
        await this.fireSchedules();
        if (await this.runOne()) continue;
      } catch (err) {
        this.logger.error({ err }, 'job worker error');
      }
      if (!this.running) break;
      if (this.nudged) {
        // something was enqueued while this worker was looking: look again before sleeping
        this.nudged = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.stopController.signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        const t = setTimeout(done, this.pollIntervalMs);
        this.stopController.signal.addEventListener('abort', done);
        this.wake = done;
      });
    }
  }

  private async fireSchedules(): Promise<void> {
    for (const s of this.schedules) {
      const now = this.now();
      if (await this.store.claimSchedule(s.name, now)) {
        await this.store.enqueue(s.kind, s.payload, { key: `schedule:${s.name}` });
      }
    }
  }

  /** Leases and runs one due job; false when none was due. */
  private async runOne(): Promise<boolean> {
    const now = this.now();
    const job = await this.store.lease([...this.handlers.keys()], this.owner, now, now + this.leaseMs);
    if (!job) return false;
    const handler = this.handlers.get(job.kind)!;
    const lost = new AbortController();
    const signal = AbortSignal.any([this.stopController.signal, lost.signal]);
    const renewer = setInterval(() => {
      void this.store.renew(job.id, this.owner, this.now() + this.leaseMs).then(
        (held) => {
          if (!held) lost.abort(new Error('lease lost'));
        },
        () => undefined,
      );
    }, Math.max(10, Math.floor(this.leaseMs / 3)));
    renewer.unref();
    const log = this.logger.child({ job: job.id, kind: job.kind, attempt: job.attempts });
    try {
      await handler(job.payload, { job, signal, logger: log });
      await this.store.complete(job.id, this.owner, this.now());
      log.debug('job succeeded');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const retry = job.attempts < job.maxAttempts;
      const retryAt = retry ? this.now() + Math.min(3_600_000, this.backoffBaseMs * 2 ** (job.attempts - 1)) : undefined;
      await this.store.fail(job.id, this.owner, message, this.now(), retryAt);
      log.warn({ err, retryAt }, retry ? 'job failed; will retry' : 'job failed for good');
    } finally {
      clearInterval(renewer);
    }
    return true;
  }
}
