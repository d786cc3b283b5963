/**
 * GcStore over the metadata DB (Kysely, SQLite or PostgreSQL). How GC and pushes are kept apart
 * (DESIGN.md invariant 5):
 *
 * - Rows. GC decides from a read of many rows, then deletes in small transactions that lock what
 *   they delete (PostgreSQL: FOR UPDATE) and re-check it in a new statement, so they see every
 *   commit that finished while they waited. A manifest PUT locks what it references FOR SHARE
 *   (sql-metadata-store.ts): it either commits first (and GC's re-check finds the reference) or
 *   waits for GC and then fails with MANIFEST_BLOB_UNKNOWN. A mount locks the blob row FOR SHARE
 *   the same way. On SQLite every transaction runs alone, which gives the same outcomes.
 * - Bytes. A push publishes bytes (rename / S3 copy) before it commits the row, so a row lock
 *   cannot protect them. Instead a push holds the digest (blob_holds) from before publishing
 *   until after the commit, and GC tombstones a digest (blob_tombstones) in the transaction that
 *   deletes its row, clearing the tombstone only after deleting the bytes. Taking a hold and
 *   taking a tombstone both run under a per-digest transaction lock (pg_advisory_xact_lock) and
 *   check for the other, so a digest is never held and tombstoned at once: GC skips held digests
 *   and a push waits for a tombstone to clear. With SQLite (one process) holds and tombstones
 *   are in memory, checked and set synchronously inside GC's transaction.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Digest } from '../../domain/digest.js';
import { WharfError } from '../../errors/wharf-error.js';
import { dbErrorKind } from './db-errors.js';
import type { GcLink, GcRunRecord, GcStore, GcTombstone } from './gc-store.js';
import { withLifecycleTables, type LifecycleDatabase } from './lifecycle-schema.js';
import type { BlobRecord } from './metadata-store.js';
import type { SqlDialectName } from './migrations.js';
import type { Database } from './schema.js';

type Trx = Transaction<LifecycleDatabase>;

export interface SqlGcStoreOptions {
  now?: () => number;
  /** how long a hold lasts if its push never releases it (ms, default 1 h) */
  holdTtlMs?: number;
  /** how long a push waits for GC to finish deleting the digest's bytes (ms, default 10 s) */
  holdWaitMs?: number;
}

const TX_ATTEMPTS = 8;

export class SqlGcStore implements GcStore {
  private readonly db: Kysely<LifecycleDatabase>;
  private readonly pg: boolean;
  private readonly now: () => number;
  private readonly holdTtlMs: number;
  private readonly holdWaitMs: number;
  /** SQLite: holds by id, counts by digest, and tombstones, in this (the only) process */
  private readonly memHolds = new Map<string, { digest: string; until: number }>();
  private readonly memHeld = new Map<string, number>();
  private readonly memTombstones = new Map<string, GcTombstone>();

  constructor(db: Kysely<Database>, dialect: SqlDialectName, options: SqlGcStoreOptions = {}) {
    this.db = withLifecycleTables(db);
    this.pg = dialect === 'postgres';
    this.now = options.now ?? Date.now;
    this.holdTtlMs = options.holdTtlMs ?? 3_600_000;
    this.holdWaitMs = options.holdWaitMs ?? 10_000;
  }

  private async tx<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute(fn);
      } catch (e) {
        if (dbErrorKind(e) !== 'retry' || attempt >= TX_ATTEMPTS) throw e;
        await sleep(Math.random() * 10 * 2 ** attempt);
      }
    }
  }

  /** PostgreSQL: per-digest transaction locks, taken in one order (so two takers never deadlock). */
  private async lockDigests(trx: Trx, digests: readonly string[]): Promise<void> {
    if (!this.pg || digests.length === 0) return;
    const sorted = [...new Set(digests)].sort();
    await sql`select pg_advisory_xact_lock(k) from (select hashtextextended(d, 0) as k from unnest(${sorted}::text[]) as d order by k) s`.execute(trx);
  }

  // --- holds ---

  async holdBlob(digest: Digest): Promise<string> {
    const id = randomUUID();
    const deadline = this.now() + this.holdWaitMs;
    for (let wait = 5; ; wait = Math.min(wait * 2, 250)) {
      if (await this.tryHold(id, digest)) return id;
      if (this.now() >= deadline) {
        throw new WharfError('UNAVAILABLE', `blob ${digest} is being garbage-collected right now; retry the push`);
      }
      await sleep(wait);
    }
  }

  private async tryHold(id: string, digest: string): Promise<boolean> {
    if (!this.pg) {
      if (this.memTombstones.has(digest)) return false;
      this.memHolds.set(id, { digest, until: this.now() + this.holdTtlMs });
      this.memHeld.set(digest, (this.memHeld.get(digest) ?? 0) + 1);
      return true;
    }
    return this.tx(async (trx) => {
      await this.lockDigests(trx, [digest]);
      const t = await trx.selectFrom('blob_tombstones').select('digest').where('digest', '=', digest).executeTakeFirst();
      if (t) return false;
      await trx.insertInto('blob_holds').values({ id, digest, until: this.now() + this.holdTtlMs }).execute();
      return true;
    });
  }

  async releaseBlobHold(id: string): Promise<void> {
    if (!this.pg) {
      const h = this.memHolds.get(id);
      if (!h) return;
      this.memHolds.delete(id);
      const n = (this.memHeld.get(h.digest) ?? 1) - 1;
      if (n <= 0) this.memHeld.delete(h.digest);
      else this.memHeld.set(h.digest, n);
      return;
    }
    await this.db.deleteFrom('blob_holds').where('id', '=', id).execute();
  }

  async expireHolds(now: number): Promise<number> {
    if (!this.pg) {
      let n = 0;
      for (const [id, h] of this.memHolds) {
        if (h.until <= now) {
          await this.releaseBlobHold(id);
          n++;
        }
      }
      return n;
    }
    const r = await this.db.deleteFrom('blob_holds').where('until', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * PostgreSQL: the digests of `digests` a live push holds or a GC has tombstoned. Call inside the
   * transaction right after lockDigests and BEFORE reading the rows the decision rests on: a push
   * releases its hold only after its row committed, so a hold not seen here is either not taken
   * yet (and cannot be before this transaction ends: taking one needs the digest's lock) or
   * released after a commit the later reads see. Read after the rows, a push could commit its
   * row and release its hold in between, and its fresh bytes would be condemned as orphans.
   * SQLite: empty (claim checks the in-memory holds itself).
   */
  private async busyDigests(trx: Trx, digests: readonly string[]): Promise<Set<string>> {
    const busy = new Set<string>();
    if (!this.pg) return busy;
    const at = this.now();
    for (const group of chunks([...digests], 500)) {
      for (const r of await trx.selectFrom('blob_holds').select('digest').where('digest', 'in', group).where('until', '>', at).execute()) busy.add(r.digest);
      for (const r of await trx.selectFrom('blob_tombstones').select('digest').where('digest', 'in', group).execute()) busy.add(r.digest);
    }
    return busy;
  }

  /**
   * Of `digests`, tombstones for `owner` those that no live push holds and no one has tombstoned,
   * and returns them. Call inside the transaction, after lockDigests; on PostgreSQL `busy` is what
   * busyDigests found before the rows were read. On SQLite the check and the tombstones happen in
   * one synchronous step (before this function first awaits), so no hold can slip in between, and
   * a push that holds the digest cannot commit its row before this transaction ends.
   */
  private async claim(trx: Trx, digests: readonly string[], owner: string, busy: ReadonlySet<string>): Promise<string[]> {
    const at = this.now();
    if (!this.pg) {
      const doomed = digests.filter((d) => (this.memHeld.get(d) ?? 0) === 0 && !this.memTombstones.has(d));
      for (const d of doomed) this.memTombstones.set(d, { digest: d, owner, createdAt: at });
      return doomed;
    }
    const doomed = digests.filter((d) => !busy.has(d));
    for (const group of chunks(doomed, 500)) {
      await trx.insertInto('blob_tombstones').values(group.map((d) => ({ digest: d, owner, created_at: at }))).execute();
    }
    return doomed;
  }

  async clearTombstones(digests: readonly string[]): Promise<void> {
    if (!this.pg) {
      for (const d of digests) this.memTombstones.delete(d);
      return;
    }
    for (const group of chunks([...digests], 500)) await this.db.deleteFrom('blob_tombstones').where('digest', 'in', group).execute();
  }

  async staleTombstones(before: number, limit: number): Promise<GcTombstone[]> {
    if (!this.pg) return [...this.memTombstones.values()].filter((t) => t.createdAt < before).slice(0, limit);
    const rows = await this.db.selectFrom('blob_tombstones').selectAll().where('created_at', '<', before).orderBy('digest').limit(limit).execute();
    return rows.map((r) => ({ digest: r.digest, owner: r.owner, createdAt: Number(r.created_at) }));
  }

  // --- links ---

  async findUnreferencedLinks(cutoff: number, after: { repositoryId: number; digest: string } | undefined, limit: number): Promise<GcLink[]> {
    let q = this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .leftJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['rb.repository_id', 'r.name', 'rb.digest', 'b.size'])
      .where('rb.created_at', '<', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('manifest_references as mr')
              .innerJoin('manifests as m', 'm.id', 'mr.manifest_id')
              .select('mr.kind')
              .whereRef('mr.child_digest', '=', 'rb.digest')
              .whereRef('m.repository_id', '=', 'rb.repository_id'),
          ),
        ),
      )
      // a Python package file (pypi_files, migration 0030) references its blob as a manifest does
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('pypi_files as pf').select('pf.id').whereRef('pf.digest', '=', 'rb.digest').whereRef('pf.repository_id', '=', 'rb.repository_id'))),
      )
      .orderBy('rb.repository_id')
      .orderBy('rb.digest')
      .limit(limit);
    if (after) q = q.where(({ eb, refTuple, tuple }) => eb(refTuple('rb.repository_id', 'rb.digest'), '>', tuple(after.repositoryId, after.digest)));
    const rows = await q.execute();
    return rows.map((r) => ({ repositoryId: Number(r.repository_id), repository: r.name, digest: r.digest, size: Number(r.size ?? 0) }));
  }

  async removeLinks(links: readonly GcLink[], cutoff: number): Promise<GcLink[]> {
    const byRepo = new Map<number, GcLink[]>();
    for (const l of links) (byRepo.get(l.repositoryId) ?? byRepo.set(l.repositoryId, []).get(l.repositoryId)!).push(l);
    const removed: GcLink[] = [];
    for (const [repoId, group] of [...byRepo].sort((a, b) => a[0] - b[0])) {
      for (const part of chunks(group, 500)) {
        const gone = await this.tx(async (trx) => {
          const digests = part.map((l) => l.digest).sort();
          let locked = trx.selectFrom('repository_blobs').select(['digest', 'created_at']).where('repository_id', '=', repoId).where('digest', 'in', digests).orderBy('digest');
          if (this.pg) locked = locked.forUpdate();
          const rows = await locked.execute();
          // a new statement: sees every manifest committed while the lock was awaited
          const referenced = new Set(
            (
              await trx
                .selectFrom('manifest_references as mr')
                .innerJoin('manifests as m', 'm.id', 'mr.manifest_id')
                .select('mr.child_digest')
                .where('m.repository_id', '=', repoId)
                .where('mr.child_digest', 'in', digests)
                .execute()
            ).map((r) => r.child_digest),
          );
          for (const r of await trx.selectFrom('pypi_files').select('digest').where('repository_id', '=', repoId).where('digest', 'in', digests).execute()) {
            referenced.add(r.digest);
          }
          const doomed = rows.filter((r) => Number(r.created_at) < cutoff && !referenced.has(r.digest)).map((r) => r.digest);
          if (doomed.length > 0) {
            await trx.deleteFrom('repository_blobs').where('repository_id', '=', repoId).where('digest', 'in', doomed).execute();
          }
          return new Set(doomed);
        });
        removed.push(...part.filter((l) => gone.has(l.digest)));
      }
    }
    return removed;
  }

  // --- blobs ---

  async findUnreferencedBlobs(cutoff: number, after: string | undefined, limit: number): Promise<BlobRecord[]> {
    let q = this.db
      .selectFrom('blobs as b')
      .select(['b.digest', 'b.size', 'b.created_at'])
      .where('b.created_at', '<', cutoff)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('repository_blobs as rb').select('rb.digest').whereRef('rb.digest', '=', 'b.digest'))))
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('manifest_references as mr').select('mr.kind').whereRef('mr.child_digest', '=', 'b.digest'))))
      .orderBy('b.digest')
      .limit(limit);
    if (after !== undefined) q = q.where('b.digest', '>', after);
    const rows = await q.execute();
    return rows.map(toBlob);
  }

  async condemnBlobs(digests: readonly string[], cutoff: number, owner: string): Promise<BlobRecord[]> {
    if (digests.length === 0) return [];
    const sorted = [...new Set(digests)].sort();
    // SQLite: tombstones taken in memory by an attempt that rolled back are dropped again
    const claimed = new Set<string>();
    try {
      return await this.tx(async (trx) => {
        this.forgetMemTombstones(claimed);
        await this.lockDigests(trx, sorted);
        const busy = await this.busyDigests(trx, sorted);
        let q = trx.selectFrom('blobs').select(['digest', 'size', 'created_at']).where('digest', 'in', sorted).orderBy('digest');
        if (this.pg) q = q.forUpdate();
        const rows = (await q.execute()).filter((r) => Number(r.created_at) < cutoff);
        const candidates = rows.map((r) => r.digest);
        if (candidates.length === 0) return [];
        const linked = new Set((await trx.selectFrom('repository_blobs').select('digest').where('digest', 'in', candidates).execute()).map((r) => r.digest));
        const referenced = new Set(
          (await trx.selectFrom('manifest_references').select('child_digest').where('child_digest', 'in', candidates).execute()).map((r) => r.child_digest),
        );
        const unreferenced = candidates.filter((d) => !linked.has(d) && !referenced.has(d));
        const doomed = await this.claim(trx, unreferenced, owner, busy);
        for (const d of doomed) claimed.add(d);
        if (doomed.length === 0) return [];
        await trx.deleteFrom('blobs').where('digest', 'in', doomed).execute();
        const keep = new Set(doomed);
        return rows.filter((r) => keep.has(r.digest)).map(toBlob);
      });
    } catch (e) {
      this.forgetMemTombstones(claimed);
      throw e;
    }
  }

  private forgetMemTombstones(digests: Set<string>): void {
    if (this.pg) return;
    for (const d of digests) this.memTombstones.delete(d);
    digests.clear();
  }

  async findLinks(repository: string, digests: readonly string[], cutoff: number): Promise<GcLink[]> {
    const out: GcLink[] = [];
    for (const group of chunks([...new Set(digests)], 500)) {
      const rows = await this.db
        .selectFrom('repository_blobs as rb')
        .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
        .leftJoin('blobs as b', 'b.digest', 'rb.digest')
        .select(['rb.repository_id', 'r.name', 'rb.digest', 'b.size'])
        .where('r.name', '=', repository)
        .where('rb.digest', 'in', group)
        .where('rb.created_at', '<', cutoff)
        .execute();
      for (const r of rows) out.push({ repositoryId: Number(r.repository_id), repository: r.name, digest: r.digest, size: Number(r.size ?? 0) });
    }
    return out;
  }

  async blobsFreed(doomedLinks: ReadonlyMap<string, number>, doomedRefs: ReadonlyMap<string, number>, cutoff: number): Promise<BlobRecord[]> {
    const out: BlobRecord[] = [];
    const digests = [...new Set([...doomedLinks.keys(), ...doomedRefs.keys()])];
    for (const group of chunks(digests, 500)) {
      const links = new Map(
        (await this.db.selectFrom('repository_blobs').select(['digest', (eb) => eb.fn.countAll<number>().as('n')]).where('digest', 'in', group).groupBy('digest').execute()).map(
          (r) => [r.digest, Number(r.n)],
        ),
      );
      const refs = new Map(
        (await this.db.selectFrom('manifest_references').select(['child_digest', (eb) => eb.fn.countAll<number>().as('n')]).where('child_digest', 'in', group).groupBy('child_digest').execute()).map(
          (r) => [r.child_digest, Number(r.n)],
        ),
      );
      const rows = await this.db.selectFrom('blobs').select(['digest', 'size', 'created_at']).where('digest', 'in', group).where('created_at', '<', cutoff).execute();
      for (const r of rows) {
        const l = links.get(r.digest) ?? 0;
        const m = refs.get(r.digest) ?? 0;
        if (l + m > 0 && l === (doomedLinks.get(r.digest) ?? 0) && m === (doomedRefs.get(r.digest) ?? 0)) out.push(toBlob(r));
      }
    }
    return out;
  }

  async digestsWithoutRows(digests: readonly string[]): Promise<string[]> {
    const present = new Set<string>();
    for (const group of chunks([...new Set(digests)], 500)) {
      for (const r of await this.db.selectFrom('blobs').select('digest').where('digest', 'in', group).execute()) present.add(r.digest);
    }
    return [...new Set(digests)].filter((d) => !present.has(d));
  }

  async condemnOrphans(digests: readonly string[], owner: string): Promise<string[]> {
    if (digests.length === 0) return [];
    const sorted = [...new Set(digests)].sort();
    const claimed = new Set<string>();
    try {
      return await this.tx(async (trx) => {
        this.forgetMemTombstones(claimed);
        await this.lockDigests(trx, sorted);
        const busy = await this.busyDigests(trx, sorted);
        const rows = new Set((await trx.selectFrom('blobs').select('digest').where('digest', 'in', sorted).execute()).map((r) => r.digest));
        const rowless = sorted.filter((d) => !rows.has(d));
        const doomed = await this.claim(trx, rowless, owner, busy);
        for (const d of doomed) claimed.add(d);
        return doomed;
      });
    } catch (e) {
      this.forgetMemTombstones(claimed);
      throw e;
    }
  }

  // --- run records ---

  async startRun(trigger: string, dryRun: boolean): Promise<number> {
    const row = await this.db
      .insertInto('gc_runs')
      .values({ trigger, dry_run: dryRun ? 1 : 0, started_at: this.now(), finished_at: null, report: null, error: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async finishRun(id: number, report: unknown, error?: string): Promise<void> {
    await this.db
      .updateTable('gc_runs')
      .set({ finished_at: this.now(), report: report === undefined ? null : JSON.stringify(report), error: error?.slice(0, 2000) ?? null })
      .where('id', '=', id)
      .execute();
  }

  async listRuns(limit: number): Promise<GcRunRecord[]> {
    const rows = await this.db.selectFrom('gc_runs').selectAll().orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      trigger: r.trigger,
      dryRun: Number(r.dry_run) === 1,
      startedAt: Number(r.started_at),
      finishedAt: r.finished_at === null ? null : Number(r.finished_at),
      report: r.report === null ? null : (JSON.parse(r.report) as unknown),
      error: r.error,
    }));
  }
}

function toBlob(row: { digest: string; size: number | string; created_at: number | string }): BlobRecord {
  return { digest: row.digest as Digest, size: Number(row.size), createdAt: Number(row.created_at) };
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
