import type { AuditEventRecord, AuditQuery, IdentityStore, NewAuditEvent } from '../storage/metadata/identity-store.js';

/**
 * The audit log: every mutation and every denial (DESIGN.md invariant 7). Records are queued and
 * written in one transaction per event-loop turn (like blob commits), so a busy push costs one
 * extra durable write per batch, not per blob. The HTTP layer records after the response is
 * decided; a crash in the instant between the two can lose that one record (documented in
 * docs/architecture.md). A failed write is reported through `onError`, never to the client.
 */
export class AuditLog {
  private queue: NewAuditEvent[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: IdentityStore,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  record(event: NewAuditEvent): void {
    this.queue.push(event);
    if (this.queue.length === 1 && !this.flushing) setImmediate(() => void this.flush());
  }

  /** Writes what is queued; resolves when it is durable (or failed and was reported). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.flushing = this.store.appendAuditEvents(batch).then(
      () => undefined,
      (err) => this.onError(err),
    );
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
    if (this.queue.length > 0) await this.flush();
  }

  async query(q: AuditQuery): Promise<{ items: AuditEventRecord[]; more: boolean }> {
    await this.flush();
    return this.store.queryAuditEvents(q);
  }
}
