import type { Digest } from '../../domain/digest.js';
import type { TrafficObserver } from '../../registry/push-policy.js';
import { dayOf, type SqlLifecycleStore } from './sql-lifecycle-store.js';

/**
 * Counts pulls (manifest GETs) and egress bytes per repository and UTC day, in memory, and adds
 * them to repository_traffic every flush interval (like last-pulled times: a pull never waits on
 * a write). A crash loses at most one interval's counts; replicas each add their own (the store's
 * upsert adds, so two replicas flushing the same repository and day lose nothing). What the
 * registry tells it (http/v2): a manifest GET is one pull plus the manifest's bytes; a blob GET
 * adds the bytes actually sent (a Range's bytes; what was sent before an aborted response) or,
 * for a redirect to the object store, the bytes asked for; HEAD adds nothing.
 */
export class TrafficCounter implements TrafficObserver {
  private pending = new Map<string, { repository: string; day: number; pulls: number; egressBytes: number }>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: SqlLifecycleStore,
    private readonly options: { flushIntervalMs: number; now?: () => number; onError?: (err: unknown) => void },
  ) {
    this.timer = setInterval(() => void this.flush().catch((err: unknown) => options.onError?.(err)), options.flushIntervalMs);
    this.timer.unref();
  }

  private entry(repository: string): { pulls: number; egressBytes: number } {
    const day = dayOf((this.options.now ?? Date.now)());
    const key = `${day} ${repository}`;
    let e = this.pending.get(key);
    if (!e) {
      e = { repository, day, pulls: 0, egressBytes: 0 };
      this.pending.set(key, e);
    }
    return e;
  }

  manifestServed(repository: string, _digest: Digest, bytes: number): void {
    const e = this.entry(repository);
    e.pulls++;
    e.egressBytes += bytes;
  }

  blobServed(repository: string, _digest: Digest, bytes: number): void {
    this.entry(repository).egressBytes += bytes;
  }

  /**
   * Writes what was counted; on failure the counts are kept for the next flush. Flushes run one
   * after another: a flush (a usage read's, close()'s) returns only after every count taken before
   * it was written, including a batch the timer's flush was still writing.
   */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushOnce());
    // the chain goes on after a failure; this caller still sees it
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushOnce(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.store.addTraffic([...batch.values()]);
    } catch (err) {
      for (const [k, v] of batch) {
        const cur = this.pending.get(k);
        if (cur) {
          cur.pulls += v.pulls;
          cur.egressBytes += v.egressBytes;
        } else this.pending.set(k, v);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
