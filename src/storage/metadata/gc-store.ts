import type { Digest } from '../../domain/digest.js';
import type { BlobRecord } from './metadata-store.js';

/**
 * What online GC (registry/gc.ts) needs of the metadata DB, and how a push and GC agree on a
 * digest (DESIGN.md invariant 5). See sql-gc-store.ts for the locking.
 *
 * "Referenced", exactly:
 * - a repository's link to a blob (repository_blobs) is live while a manifest of that repository
 *   references the digest (config, layer, or anything else in manifest_references), or while the
 *   link is younger than the grace period (a push uploads blobs before the manifest that needs
 *   them; re-pushing or mounting a blob renews its link);
 * - a blob row is live while any repository links it, any manifest anywhere references it, or it
 *   is younger than the grace period;
 * - bytes in the blob store are live while a blob row, a hold (a push publishing them right now)
 *   or a tombstone (GC deleting them right now) names them.
 * An upload in progress has no blob row and its bytes are not in the blob store yet: GC never
 * sees it (abandoned uploads are the reaper's, registry-service.ts).
 */
export interface BlobHolds {
  /**
   * Holds the digest while a push publishes its bytes and commits its row: GC leaves a held
   * digest alone. Waits (briefly) while GC is deleting the same digest's bytes; throws
   * UNAVAILABLE (retryable) if that takes too long. Returns the hold's id for release.
   */
  holdBlob(digest: Digest): Promise<string>;
  /** Idempotent. */
  releaseBlobHold(id: string): Promise<void>;
}

export interface GcLink {
  repositoryId: number;
  repository: string;
  digest: string;
  size: number;
}

export interface GcTombstone {
  digest: string;
  owner: string;
  createdAt: number;
}

export interface GcRunRecord {
  id: number;
  trigger: string;
  dryRun: boolean;
  startedAt: number;
  finishedAt: number | null;
  report: unknown;
  error: string | null;
}

export interface GcStore extends BlobHolds {
  /** Links older than `cutoff` that no manifest of their repository references, in (repository id, digest) order after `after`. */
  findUnreferencedLinks(cutoff: number, after: { repositoryId: number; digest: string } | undefined, limit: number): Promise<GcLink[]>;
  /** Re-checks each link under lock and deletes those still unreferenced and older than cutoff; returns them. */
  removeLinks(links: readonly GcLink[], cutoff: number): Promise<GcLink[]>;
  /** Blob rows older than `cutoff` with no link and no reference, in digest order after `after`. */
  findUnreferencedBlobs(cutoff: number, after: string | undefined, limit: number): Promise<BlobRecord[]>;
  /**
   * In one transaction: re-checks each blob under lock (no link, no reference, older than
   * cutoff, not held), deletes its row and tombstones it for `owner`. Returns the condemned
   * blobs; their bytes may be deleted once this returns, and then clearTombstones.
   */
  condemnBlobs(digests: readonly string[], cutoff: number, owner: string): Promise<BlobRecord[]>;
  /** Dry runs: the links of `repository` to any of `digests` that are older than cutoff (whatever references them). */
  findLinks(repository: string, digests: readonly string[], cutoff: number): Promise<GcLink[]>;
  /**
   * Dry runs: blobs older than cutoff all of whose links are among `doomedLinks` and all of whose
   * references are among `doomedRefs` (digest -> how many links / manifest references a run would
   * remove), for the digests named in either map.
   */
  blobsFreed(doomedLinks: ReadonlyMap<string, number>, doomedRefs: ReadonlyMap<string, number>, cutoff: number): Promise<BlobRecord[]>;
  /** Of `digests` (bytes found in the blob store), those with no blob row. */
  digestsWithoutRows(digests: readonly string[]): Promise<string[]>;
  /** Tombstones bytes that have no row, no hold and no tombstone; returns those it tombstoned. */
  condemnOrphans(digests: readonly string[], owner: string): Promise<string[]>;
  clearTombstones(digests: readonly string[]): Promise<void>;
  /** Tombstones older than `before` (their GC died between the row and the bytes). */
  staleTombstones(before: number, limit: number): Promise<GcTombstone[]>;
  /** Drops holds past their expiry (their push died). */
  expireHolds(now: number): Promise<number>;

  /** GC run records (gc_runs): a run is started, then finished with its report or error. */
  startRun(trigger: string, dryRun: boolean): Promise<number>;
  finishRun(id: number, report: unknown, error?: string): Promise<void>;
  listRuns(limit: number): Promise<GcRunRecord[]>;
}
