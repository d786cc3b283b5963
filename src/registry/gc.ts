import { randomUUID } from 'node:crypto';
import type { Digest } from '../domain/digest.js';
import type { BlobStore } from '../storage/blob/blob-store.js';
import type { GcRunRecord, GcStore } from '../storage/metadata/gc-store.js';
import type { ImageNode, ImageStore } from '../storage/metadata/image-store.js';

/**
 * Online garbage collection (DESIGN.md invariant 5): mark-and-sweep over the metadata DB while the
 * registry serves. What "referenced" means is spelled out in storage/metadata/gc-store.ts; how a
 * sweep and a concurrent push are kept apart in sql-gc-store.ts. The phases:
 *
 * 0. recover: tombstones left by a GC that died between deleting a row and its bytes are finished.
 * 1. untagged manifests (optional): manifests with no tag, older than their grace period and not
 *    reachable from a tagged or recent manifest (as an index's child, or as a referrer of a kept
 *    subject: referrers go with their subject) are deleted, parents before children.
 * 2. links: a repository's link to a blob no manifest of that repository references, older than
 *    the grace period, is removed.
 * 3. blobs: a blob row no repository links and no manifest references, older than the grace
 *    period, is deleted and tombstoned in one transaction; its bytes are deleted after the commit
 *    (idempotently), then the tombstone is cleared.
 * 4. orphan bytes: bytes in the blob store with no row (a crash between publishing and
 *    committing), not held by a push, are deleted the same way.
 *
 * Every decision is re-checked under lock in the transaction that acts on it, so a dry run and a
 * real run may differ by whatever was pushed in between. Running GC twice at once (two replicas)
 * is safe: the second finds the first one's work done or tombstoned.
 */
export interface GcLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface GarbageCollectorOptions {
  store: GcStore;
  /** manifests as a graph and their conditional delete (untagged manifests) */
  images: ImageStore;
  blobs: BlobStore;
  now?: () => number;
  /** a link or blob younger than this is never collected (ms) */
  graceMs: number;
  /** collect untagged manifests (default false) */
  untaggedManifests?: boolean;
  /** an untagged manifest younger than this is kept (ms; default graceMs) */
  untaggedGraceMs?: number;
  /** also delete bytes in the blob store that have no row (default true) */
  sweepOrphanBytes?: boolean;
  /** rows per transaction (default 500) */
  batchSize?: number;
  /** blob deletions in flight at once (default 8) */
  deleteConcurrency?: number;
  /** while requests are being served, pause this many times as long as each batch worked (default 3; 0 = never pause) */
  pauseFactor?: number;
  /** a tombstone older than this belongs to a GC that died (ms; default 1 h) */
  staleTombstoneMs?: number;
  logger?: GcLogger;
}

export interface GcRunOptions {
  dryRun?: boolean;
  /** recorded with the run: schedule, api, cli, test */
  trigger?: string;
  signal?: AbortSignal;
}

export interface GcReport {
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  manifestsDeleted: number;
  linksRemoved: number;
  blobsDeleted: number;
  bytesReclaimed: number;
  orphanBlobsDeleted: number;
  orphanBytesReclaimed: number;
  tombstonesRecovered: number;
  /** the first manifests deleted (or, in a dry run, that would be), at most 1000 */
  manifests: { repository: string; digest: string }[];
}

const LISTED = 1000;

/**
 * GC shares the event loop with the requests it must not slow down (issue 10: on SQLite pushes
 * fell from 82 to 16 per second, p99 10.4 s, with event-loop stalls of about a second, while GC
 * ran over 100k blobs). better-sqlite3 is synchronous and a chain of awaited queries never lets
 * a request in, so without a yield a whole phase (every batch of links, say) ran as one task.
 * Before every batch and every act GC therefore takes a turn of the event loop; when that turn
 * was slow (requests were waiting and ran in it), it also pauses for `pauseFactor` times the time
 * it worked since the previous turn (at most MAX_PAUSE_MS): alone it runs flat out, among
 * requests it takes about 1 / (1 + pauseFactor) of the event loop.
 */
const BUSY_TURN_MS = 1;
const MAX_PAUSE_MS = 250;

function pacer(pauseFactor: number): () => Promise<void> {
  let workedFrom = performance.now();
  return async () => {
    const t0 = performance.now();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const t1 = performance.now();
    if (pauseFactor > 0 && t1 - t0 > BUSY_TURN_MS) {
      await new Promise<void>((resolve) => setTimeout(resolve, Math.min(MAX_PAUSE_MS, (t0 - workedFrom) * pauseFactor)));
    }
    workedFrom = performance.now();
  };
}

export class GarbageCollector {
  private readonly store: GcStore;
  private readonly images: ImageStore;
  private readonly blobs: BlobStore;
  private readonly now: () => number;
  private readonly o: Required<Omit<GarbageCollectorOptions, 'store' | 'images' | 'blobs' | 'now' | 'logger'>>;
  private readonly logger?: GcLogger;

  constructor(options: GarbageCollectorOptions) {
    this.store = options.store;
    this.images = options.images;
    this.blobs = options.blobs;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.o = {
      graceMs: options.graceMs,
      untaggedManifests: options.untaggedManifests ?? false,
      untaggedGraceMs: options.untaggedGraceMs ?? options.graceMs,
      sweepOrphanBytes: options.sweepOrphanBytes ?? true,
      batchSize: options.batchSize ?? 500,
      deleteConcurrency: options.deleteConcurrency ?? 8,
      pauseFactor: options.pauseFactor ?? 3,
      staleTombstoneMs: options.staleTombstoneMs ?? 3_600_000,
    };
  }

  /** One run; recorded in gc_runs with its report (or error). */
  async run(options: GcRunOptions = {}): Promise<GcReport> {
    const dryRun = options.dryRun ?? false;
    const runId = await this.store.startRun(options.trigger ?? 'api', dryRun);
    try {
      const report = dryRun ? await this.dryRun(options.signal) : await this.sweep(options.signal);
      await this.store.finishRun(runId, report);
      this.logger?.info({ ...report, manifests: undefined }, dryRun ? 'gc dry run finished' : 'gc finished');
      return report;
    } catch (err) {
      await this.store.finishRun(runId, undefined, (err as Error).message).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Finishes what a GC that died left: tombstones older than staleTombstoneMs (their bytes are
   * deleted, idempotently, then the tombstone cleared) and holds past their expiry. Cheap; run by
   * every GC and by the housekeeping timer, so a push of such a digest is not blocked for long.
   */
  async recover(): Promise<number> {
    const nextTurn = pacer(this.o.pauseFactor);
    const now = this.now();
    await this.store.expireHolds(now);
    let recovered = 0;
    for (;;) {
      await nextTurn();
      const stale = await this.store.staleTombstones(now - this.o.staleTombstoneMs, this.o.batchSize);
      if (stale.length === 0) return recovered;
      await this.deleteBytes(stale.map((t) => t.digest));
      await this.store.clearTombstones(stale.map((t) => t.digest));
      recovered += stale.length;
    }
  }

  /** The latest runs, newest first. */
  async runs(limit: number): Promise<GcRunRecord[]> {
    return this.store.listRuns(limit);
  }

  private emptyReport(dryRun: boolean, started: number): GcReport {
    return {
      dryRun,
      startedAt: new Date(started).toISOString(),
      durationMs: 0,
      manifestsDeleted: 0,
      linksRemoved: 0,
      blobsDeleted: 0,
      bytesReclaimed: 0,
      orphanBlobsDeleted: 0,
      orphanBytesReclaimed: 0,
      tombstonesRecovered: 0,
      manifests: [],
    };
  }

  private async sweep(signal?: AbortSignal): Promise<GcReport> {
    const started = this.now();
    const report = this.emptyReport(false, started);
    const owner = `gc-${randomUUID()}`;
    const nextTurn = pacer(this.o.pauseFactor);

    // 0. recover
    report.tombstonesRecovered = await this.recover();

    // 1. untagged manifests
    if (this.o.untaggedManifests) {
      const cutoff = started - this.o.untaggedGraceMs;
      for (const repository of await this.images.listRepositoryNames()) {
        await nextTurn();
        signal?.throwIfAborted();
        let pending = untaggedGarbage(await this.images.imageGraph(repository), cutoff);
        // parents before children, subjects before referrers: whatever is still referenced waits a pass
        while (pending.length > 0) {
          const next: string[] = [];
          for (const digest of pending) {
            await nextTurn();
            const r = await this.images.deleteManifestIf(repository, digest, { expectTags: [], keepReferrerOfPresentSubject: true, pushedBefore: cutoff });
            if (r === 'deleted') {
              report.manifestsDeleted++;
              if (report.manifests.length < LISTED) report.manifests.push({ repository, digest });
            } else if (r === 'referenced') next.push(digest);
          }
          if (next.length === pending.length) break; // kept by something that is not garbage
          pending = next;
        }
      }
    }

    const cutoff = started - this.o.graceMs;
    // 2. links
    let after: { repositoryId: number; digest: string } | undefined;
    for (;;) {
      await nextTurn();
      signal?.throwIfAborted();
      const links = await this.store.findUnreferencedLinks(cutoff, after, this.o.batchSize);
      if (links.length === 0) break;
      const last = links[links.length - 1]!;
      after = { repositoryId: last.repositoryId, digest: last.digest };
      await nextTurn();
      report.linksRemoved += (await this.store.removeLinks(links, cutoff)).length;
    }

    // 3. blobs
    let afterDigest: string | undefined;
    for (;;) {
      await nextTurn();
      signal?.throwIfAborted();
      const candidates = await this.store.findUnreferencedBlobs(cutoff, afterDigest, this.o.batchSize);
      if (candidates.length === 0) break;
      afterDigest = candidates[candidates.length - 1]!.digest;
      await nextTurn();
      const condemned = await this.store.condemnBlobs(
        candidates.map((b) => b.digest),
        cutoff,
        owner,
      );
      try {
        await this.deleteBytes(condemned.map((b) => b.digest));
      } finally {
        // once no deletion is in flight the tombstones may go even after a failure: bytes left
        // behind have no row, like a crash's, and the orphan sweep reclaims them
        await this.store.clearTombstones(condemned.map((b) => b.digest));
      }
      report.blobsDeleted += condemned.length;
      report.bytesReclaimed += condemned.reduce((n, b) => n + b.size, 0);
    }

    // 4. orphan bytes
    if (this.o.sweepOrphanBytes) {
      let batch: string[] = [];
      const flush = async (): Promise<void> => {
        await nextTurn();
        const rowless = await this.store.digestsWithoutRows(batch);
        batch = [];
        if (rowless.length === 0) return;
        await nextTurn();
        const condemned = await this.store.condemnOrphans(rowless, owner);
        try {
          for (const digest of condemned) {
            // gone already (another GC got there first): nothing reclaimed here
            const st = await this.blobs.stat(digest as Digest);
            if (!st) continue;
            report.orphanBlobsDeleted++;
            report.orphanBytesReclaimed += st.size;
          }
          await this.deleteBytes(condemned);
        } finally {
          await this.store.clearTombstones(condemned);
        }
      };
      for await (const digest of this.blobs.list()) {
        signal?.throwIfAborted();
        batch.push(digest);
        if (batch.length >= this.o.batchSize) await flush();
      }
      if (batch.length > 0) await flush();
    }
    report.durationMs = this.now() - started;
    return report;
  }

  /**
   * What a run would do now, changing nothing: the untagged manifests it would delete, then the
   * links and blobs that are unreferenced now or that only those manifests and links keep. On a
   * registry nobody writes to in between, a run right after reports the same counts.
   */
  private async dryRun(signal?: AbortSignal): Promise<GcReport> {
    const started = this.now();
    const report = this.emptyReport(true, started);
    const nextTurn = pacer(this.o.pauseFactor);
    const cutoff = started - this.o.graceMs;
    /** digest -> links / manifest references a run would remove */
    const doomedLinks = new Map<string, number>();
    const doomedRefs = new Map<string, number>();
    const add = (m: Map<string, number>, d: string): void => void m.set(d, (m.get(d) ?? 0) + 1);
    if (this.o.untaggedManifests) {
      const untaggedCutoff = started - this.o.untaggedGraceMs;
      for (const repository of await this.images.listRepositoryNames()) {
        signal?.throwIfAborted();
        const graph = await this.images.imageGraph(repository);
        const garbage = new Set(untaggedGarbage(graph, untaggedCutoff));
        if (garbage.size === 0) continue;
        const keptRefs = new Set<string>();
        const freed = new Set<string>();
        for (const n of graph) {
          const refs = [...n.blobs.map((b) => b.digest), ...n.children];
          if (!garbage.has(n.digest)) {
            for (const d of refs) keptRefs.add(d);
            continue;
          }
          report.manifestsDeleted++;
          if (report.manifests.length < LISTED) report.manifests.push({ repository, digest: n.digest });
          for (const d of refs) {
            add(doomedRefs, d);
            freed.add(d);
          }
        }
        // links that only the deleted manifests use: removed by the same run
        const orphaned = [...freed].filter((d) => !keptRefs.has(d));
        for (const l of await this.store.findLinks(repository, orphaned, cutoff)) {
          report.linksRemoved++;
          add(doomedLinks, l.digest);
        }
      }
    }
    let after: { repositoryId: number; digest: string } | undefined;
    for (;;) {
      await nextTurn();
      signal?.throwIfAborted();
      const links = await this.store.findUnreferencedLinks(cutoff, after, this.o.batchSize);
      if (links.length === 0) break;
      const last = links[links.length - 1]!;
      after = { repositoryId: last.repositoryId, digest: last.digest };
      report.linksRemoved += links.length;
      for (const l of links) add(doomedLinks, l.digest);
    }
    let afterDigest: string | undefined;
    for (;;) {
      await nextTurn();
      signal?.throwIfAborted();
      const candidates = await this.store.findUnreferencedBlobs(cutoff, afterDigest, this.o.batchSize);
      if (candidates.length === 0) break;
      afterDigest = candidates[candidates.length - 1]!.digest;
      report.blobsDeleted += candidates.length;
      report.bytesReclaimed += candidates.reduce((n, b) => n + b.size, 0);
    }
    // blobs whose every link and reference the run removes
    if (doomedLinks.size > 0 || doomedRefs.size > 0) {
      const freed = await this.store.blobsFreed(doomedLinks, doomedRefs, cutoff);
      report.blobsDeleted += freed.length;
      report.bytesReclaimed += freed.reduce((n, b) => n + b.size, 0);
    }
    if (this.o.sweepOrphanBytes) {
      let batch: string[] = [];
      const flush = async (): Promise<void> => {
        await nextTurn();
        for (const digest of await this.store.digestsWithoutRows(batch)) {
          const st = await this.blobs.stat(digest as Digest);
          if (!st) continue;
          report.orphanBlobsDeleted++;
          report.orphanBytesReclaimed += st.size;
        }
        batch = [];
      };
      for await (const digest of this.blobs.list()) {
        signal?.throwIfAborted();
        batch.push(digest);
        if (batch.length >= this.o.batchSize) await flush();
      }
      if (batch.length > 0) await flush();
    }
    report.durationMs = this.now() - started;
    return report;
  }

  /**
   * Deletes bytes, a few at a time; idempotent (an absent blob is not an error). Returns (or
   * throws the first error) only once no deletion is in flight any more: a tombstone may only be
   * cleared when nothing can still delete its bytes after a push has published them again.
   */
  private async deleteBytes(digests: readonly string[]): Promise<void> {
    let i = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (i < digests.length && !failed) {
        const digest = digests[i++]!;
        try {
          await this.blobs.delete(digest as Digest);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(this.o.deleteConcurrency, digests.length) }, worker));
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  }
}

/**
 * Untagged manifests no tagged or recent manifest keeps: not reachable from a root (a tagged
 * manifest, or one pushed — first or again — at or after `cutoff`) through index children or, from a subject, to
 * its referrers. Every one returned is untagged and older than the cutoff.
 */
export function untaggedGarbage(graph: readonly ImageNode[], cutoff: number): string[] {
  const byDigest = new Map(graph.map((n) => [n.digest, n]));
  const referrers = new Map<string, ImageNode[]>();
  for (const n of graph) {
    if (n.subjectDigest !== null && byDigest.has(n.subjectDigest)) {
      (referrers.get(n.subjectDigest) ?? referrers.set(n.subjectDigest, []).get(n.subjectDigest)!).push(n);
    }
  }
  const kept = new Set<string>();
  const stack = graph.filter((n) => n.tags.length > 0 || n.lastPushedAt >= cutoff).map((n) => n.digest);
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (kept.has(d)) continue;
    kept.add(d);
    const n = byDigest.get(d);
    if (!n) continue;
    for (const c of n.children) if (!kept.has(c)) stack.push(c);
    for (const r of referrers.get(d) ?? []) if (!kept.has(r.digest)) stack.push(r.digest);
  }
  return graph.filter((n) => !kept.has(n.digest)).map((n) => n.digest);
}
