/**
 * The one metadata store: Kysely over SQLite (better-sqlite3) or PostgreSQL. Dialect differences
 * are confined to migrations.ts and the driver setup in open-metadata-store.ts.
 *
 * Tables (see schema.ts): repositories 1-n repository_blobs n-1 blobs; repositories 1-n manifests
 * 1-n manifest_references; tags (repository, name) -> digest; tag_events; uploads.
 *
 * Concurrency. SQLite serializes writers, so there every transaction runs alone. PostgreSQL runs
 * several replicas' transactions at once at READ COMMITTED, so every read-then-write takes the
 * row lock it depends on, and no path relies on "check, then insert":
 * - inserts that may race use ON CONFLICT DO NOTHING, then read (or lock) the winner's row;
 * - a tag move inserts the tag or locks its row FOR UPDATE before reading the old digest, so the
 *   history records each move exactly once, starting where the previous one ended;
 * - a manifest put locks what it references FOR SHARE (blobs, links, child manifests) and the
 *   manifest row it reuses, so a concurrent delete (or GC) waits for it or makes it retry;
 *   deleteManifest locks the manifest FOR UPDATE before touching its tags, in the same order;
 * - deadlocks, serialization failures and busy databases are retried (`tx`) a few times with
 *   jitter; one that persists is UNAVAILABLE (503, retryable), never a raw driver error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Migrator, sql, type Kysely, type Transaction } from 'kysely';
import type { Digest } from '../../domain/digest.js';
import type { ReferenceKind } from '../../domain/manifest.js';
import { WharfError } from '../../errors/wharf-error.js';
import { dbErrorKind } from './db-errors.js';
import { WharfMigrationProvider, type SqlDialectName } from './migrations.js';
import type { Database } from './schema.js';
import type {
  BlobRecord,
  FsckManifest,
  ManifestRecord,
  ManifestWithContent,
  MetadataStore,
  NewManifest,
  Page,
  PageRequest,
  PutManifestResult,
  UploadRecord,
} from './metadata-store.js';

type Db = Kysely<Database> | Transaction<Database>;


const MANIFEST_COLUMNS = [
  'm.digest',
  'm.media_type',
  'm.artifact_type',
  'm.subject_digest',
  'm.size',
  'm.annotations',
  'm.created_at',
] as const;

/** attempts of a transaction that lost a race (deadlock, serialization failure, busy) */
const TX_ATTEMPTS = 6;

export class SqlMetadataStore implements MetadataStore {
  private readonly pg: boolean;

  /**
   * `schema` (PostgreSQL only): the schema the tables live in, which must also be first on the
   * connections' search_path (open-metadata-store.ts sets both); it is created when missing.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialectName,
    private readonly now: () => number = Date.now,
    private readonly schema?: string,
  ) {
    this.pg = dialect === 'postgres';
  }

  /** The connection, for the other stores over the same DB (SqlIdentityStore, SqlRepositorySettingsStore). */
  get database(): Kysely<Database> {
    return this.db;
  }

  async migrate(): Promise<void> {
    if (this.pg && this.schema !== undefined) {
      try {
        await sql`create schema if not exists ${sql.id(this.schema)}`.execute(this.db);
      } catch (e) {
        // replicas starting together: IF NOT EXISTS is not atomic, the loser sees a unique violation
        if (dbErrorKind(e) !== 'unique') throw e;
      }
    }
    const migrator = new Migrator({
      db: this.db,
      provider: new WharfMigrationProvider(this.dialect),
      // Kysely finds its own tables in any schema unless told which: another Wharf (or any Kysely
      // app) in another schema of the same database would otherwise pass for this one
      ...(this.pg ? { migrationTableSchema: this.schema ?? (await this.currentSchema()) } : {}),
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      throw new WharfError('UNAVAILABLE', `database migration ${failed ?? ''} failed`, undefined, { cause: error });
    }
  }

  private async currentSchema(): Promise<string> {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(this.db);
    return rows[0]?.schema ?? 'public';
  }

  /**
   * Runs `fn` in a transaction, again (after a short random pause) when it lost a race the
   * database reports as retryable. `fn` must be safe to re-run: it only talks to the database.
   */
  private async tx<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute(fn);
      } catch (e) {
        if (dbErrorKind(e) === undefined) throw e;
        if (attempt >= TX_ATTEMPTS) {
          throw new WharfError('UNAVAILABLE', 'the metadata database is busy; retry the request', undefined, { cause: e });
        }
        await sleep(Math.random() * 10 * 2 ** attempt);
      }
    }
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('repositories').select('id').limit(1).execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  // --- repositories ---

  private async repositoryId(db: Db, name: string): Promise<number | undefined> {
    const row = await db.selectFrom('repositories').select('id').where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : Number(row.id);
  }

  /**
   * Idempotent create. A concurrent creator's INSERT makes ours wait for its commit and then do
   * nothing; at READ COMMITTED the SELECT after it sees the winner's row.
   */
  private async ensureRepositoryId(db: Db, name: string): Promise<number> {
    const existing = await this.repositoryId(db, name);
    if (existing !== undefined) return existing;
    const inserted = await db
      .insertInto('repositories')
      .values({ name, kind: 'hosted', format: 'oci', settings: '{}', created_at: this.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) return Number(inserted.id);
    const id = await this.repositoryId(db, name);
    if (id === undefined) throw new Error(`repository ${name} vanished after insert`);
    return id;
  }

  async ensureRepository(name: string): Promise<void> {
    await this.tx((trx) => this.ensureRepositoryId(trx, name));
  }

  async repositoryExists(name: string): Promise<boolean> {
    return (await this.repositoryId(this.db, name)) !== undefined;
  }

  async listRepositories(page: PageRequest): Promise<Page<string>> {
    let q = this.db.selectFrom('repositories').select('name').orderBy('name').limit(page.limit + 1);
    if (page.after !== undefined) q = q.where('name', '>', page.after);
    const rows = await q.execute();
    return toPage(
      rows.map((r) => r.name),
      page.limit,
    );
  }

  // --- blobs ---

  async findBlob(digest: Digest): Promise<BlobRecord | undefined> {
    const row = await this.db.selectFrom('blobs').selectAll().where('digest', '=', digest).executeTakeFirst();
    return row && toBlob(row);
  }

  async findRepositoryBlob(repository: string, digest: Digest): Promise<BlobRecord | undefined> {
    const row = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['b.digest', 'b.size', 'b.created_at'])
      .where('r.name', '=', repository)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    return row && toBlob(row);
  }

  /**
   * Group commit for the small writes of the push path (upload sessions, their leases and sizes,
   * blob commits): the writes that arrive in the same turn of the event loop share one
   * transaction, so N concurrent uploads pay for one durable commit (one WAL fsync, which on
   * SQLite blocks the event loop), not N. Each caller resolves only after its write is committed,
   * with its own result. If the shared transaction fails, each write of the batch is retried
   * alone in its own transaction, so one bad write cannot fail the others — every batched write
   * must therefore be safe to run again after a rollback (inserts, compare-and-set updates).
   */
  private batched<T>(write: (trx: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pendingWrites.push({ write, resolve: resolve as (v: unknown) => void, reject });
      if (this.pendingWrites.length === 1) setImmediate(() => void this.flushWrites());
    });
  }

  private readonly pendingWrites: { write: (trx: Db) => Promise<unknown>; resolve(v: unknown): void; reject(e: unknown): void }[] = [];

  /** One write alone: retried on transient conflicts (serialization, deadlock, busy), never on a real error. */
  private async alone(write: (trx: Db) => Promise<unknown>): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute((trx) => write(trx));
      } catch (e) {
        if (dbErrorKind(e) !== 'retry' || attempt >= TX_ATTEMPTS) throw e;
        await sleep(Math.random() * 10 * 2 ** attempt);
      }
    }
  }

  private async flushWrites(): Promise<void> {
    const batch = this.pendingWrites.splice(0);
    if (batch.length === 1) {
      const only = batch[0]!;
      await this.alone(only.write).then(only.resolve, only.reject);
      return;
    }
    let results: unknown[];
    try {
      results = await this.db.transaction().execute(async (trx) => {
        const out: unknown[] = [];
        for (const w of batch) out.push(await w.write(trx));
        return out;
      });
    } catch {
      for (const w of batch) await this.alone(w.write).then(w.resolve, w.reject);
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i]));
  }

  /** Blob commits are batched (see batched); sorted within a batch so batches lock rows in one order. */
  commitBlob(repository: string, digest: Digest, size: number, uploadId?: string): Promise<void> {
    return this.batched((trx) => this.commitBlobIn(trx, { repository, digest, size, uploadId }));
  }

  private async commitBlobIn(trx: Db, c: { repository: string; digest: Digest; size: number; uploadId?: string }): Promise<void> {
    const repoId = await this.ensureRepositoryId(trx, c.repository);
    const now = this.now();
    await trx
      .insertInto('blobs')
      .values({ digest: c.digest, size: c.size, created_at: now })
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
    // a re-pushed link is renewed: GC's grace period counts from the latest push or mount
    await trx
      .insertInto('repository_blobs')
      .values({ repository_id: repoId, digest: c.digest, created_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: now }))
      .execute();
    if (c.uploadId !== undefined) await trx.deleteFrom('uploads').where('id', '=', c.uploadId).execute();
  }

  async linkBlob(repository: string, digest: Digest, fromRepository?: string): Promise<BlobRecord | undefined> {
    return this.tx(async (trx) => {
      // the rows read are locked FOR SHARE (PostgreSQL) so the blob cannot be deleted before the link lands
      let blob: BlobRecord | undefined;
      if (fromRepository !== undefined) {
        let q = trx
          .selectFrom('repository_blobs as rb')
          .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
          .innerJoin('blobs as b', 'b.digest', 'rb.digest')
          .select(['b.digest', 'b.size', 'b.created_at'])
          .where('r.name', '=', fromRepository)
          .where('rb.digest', '=', digest);
        if (this.pg) q = q.forShare();
        const row = await q.executeTakeFirst();
        blob = row && toBlob(row);
      } else {
        let q = trx.selectFrom('blobs').selectAll().where('digest', '=', digest);
        if (this.pg) q = q.forShare();
        const row = await q.executeTakeFirst();
        blob = row && toBlob(row);
      }
      if (!blob) return undefined;
      const repoId = await this.ensureRepositoryId(trx, repository);
      const now = this.now();
      await trx
        .insertInto('repository_blobs')
        .values({ repository_id: repoId, digest, created_at: now })
        .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: now }))
        .execute();
      return blob;
    });
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    const repoId = await this.repositoryId(this.db, repository);
    if (repoId === undefined) return false;
    const r = await this.db
      .deleteFrom('repository_blobs')
      .where('repository_id', '=', repoId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // --- manifests ---

  async putManifest(m: NewManifest): Promise<PutManifestResult> {
    return this.tx(async (trx) => {
      const repoId = await this.ensureRepositoryId(trx, m.repository);
      await this.checkReferences(trx, repoId, m);
      const now = this.now();
      const created = await this.insertManifest(trx, repoId, m, now);
      const previousTagDigest = m.tag === undefined ? undefined : await this.moveTag(trx, repoId, m.tag, m.digest, now, m);
      return { created, previousTagDigest };
    });
  }

  /**
   * Inserts the manifest unless the repository has it; true when inserted. A manifest that is
   * already there is pushed again: its last_pushed_at is set (created_at stays the first push),
   * which also locks its row (PostgreSQL): a concurrent deleteManifest then waits for this transaction, and sees
   * (and removes) the tag it is about to set; GC's conditional delete, which only takes manifests
   * pushed before its cutoff, finds it renewed (an untagged child pushed again just before its
   * index is not collected in between). If such a delete committed first, the update finds no
   * row and the insert is tried again.
   */
  private async insertManifest(trx: Transaction<Database>, repoId: number, m: NewManifest, now: number): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const inserted = await trx
        .insertInto('manifests')
        .values({
          repository_id: repoId,
          digest: m.digest,
          media_type: m.mediaType,
          artifact_type: m.artifactType ?? null,
          subject_digest: m.subjectDigest ?? null,
          config_digest: m.configDigest ?? null,
          annotations: m.annotations ? JSON.stringify(m.annotations) : null,
          size: m.content.length,
          content: m.content,
          created_at: now,
          last_pulled_at: null,
        })
        .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted) {
        const refs = dedupeReferences(m.references);
        if (refs.length > 0) {
          await trx
            .insertInto('manifest_references')
            .values(refs.map((r) => ({ manifest_id: Number(inserted.id), child_digest: r.digest, kind: r.kind })))
            .execute();
        }
        return true;
      }
      const renewed = await trx
        .updateTable('manifests')
        .set({ last_pushed_at: now })
        .where('repository_id', '=', repoId)
        .where('digest', '=', m.digest)
        .returning('id')
        .executeTakeFirst();
      if (renewed) return false;
    }
    throw Object.assign(new Error(`manifest ${m.digest} keeps appearing and disappearing`), { code: '40001' });
  }

  /**
   * Points the tag at `digest` and records the move; returns the digest it pointed to before, if
   * it moved. The tag row is created, or locked FOR UPDATE (PostgreSQL), before its old value is
   * read, so concurrent moves of one tag queue up and each records where the previous one ended.
   */
  private async moveTag(
    trx: Transaction<Database>,
    repoId: number,
    tag: string,
    digest: Digest,
    now: number,
    m?: Pick<NewManifest, 'repository' | 'tagProtection'>,
  ): Promise<string | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const inserted = await trx
        .insertInto('tags')
        .values({ repository_id: repoId, name: tag, digest, updated_at: now })
        .onConflict((oc) => oc.columns(['repository_id', 'name']).doNothing())
        .returning('name')
        .executeTakeFirst();
      if (inserted) {
        await trx.insertInto('tag_events').values({ repository_id: repoId, tag, old_digest: null, new_digest: digest, at: now }).execute();
        return undefined;
      }
      let q = trx.selectFrom('tags').select('digest').where('repository_id', '=', repoId).where('name', '=', tag);
      if (this.pg) q = q.forUpdate();
      const old = await q.executeTakeFirst();
      if (!old) continue; // deleted between the insert and the lock: insert again
      if (old.digest === digest) return undefined;
      // immutable tags (issue 5): decided here, under the tag's lock, so no concurrent move slips past
      if (m?.tagProtection !== undefined) {
        throw new WharfError(
          'TAG_IMMUTABLE',
          `tag ${tag} is immutable in repository ${m.repository} (${m.tagProtection}): it points to ${old.digest} and cannot be moved to ${digest}`,
          { tag, rule: m.tagProtection, current: old.digest },
        );
      }
      await trx
        .updateTable('tags')
        .set({ digest, updated_at: now })
        .where('repository_id', '=', repoId)
        .where('name', '=', tag)
        .execute();
      await trx.insertInto('tag_events').values({ repository_id: repoId, tag, old_digest: old.digest, new_digest: digest, at: now }).execute();
      return old.digest;
    }
    throw Object.assign(new Error(`tag ${tag} keeps appearing and disappearing`), { code: '40001' });
  }

  /** Every reference the manifest needs must be in this repository, with the declared size. */
  private async checkReferences(trx: Db, repoId: number, m: NewManifest): Promise<void> {
    const blobRefs = m.references.filter((r) => r.kind !== 'manifest');
    const manifestRefs = m.references.filter((r) => r.kind === 'manifest');
    // kept apart: a digest linked as a blob does not satisfy a reference to a child manifest
    const blobSizes = new Map<string, number>();
    const manifestSizes = new Map<string, number>();
    const sizeOf = (r: { kind: ReferenceKind; digest: string }) => (r.kind === 'manifest' ? manifestSizes : blobSizes).get(r.digest);
    // FOR SHARE (PostgreSQL): what is referenced cannot be unlinked or deleted until this commits
    for (const group of chunks(unique(blobRefs.map((r) => r.digest)).sort(compare), 500)) {
      let q = trx
        .selectFrom('repository_blobs as rb')
        .innerJoin('blobs as b', 'b.digest', 'rb.digest')
        .select(['b.digest', 'b.size'])
        .where('rb.repository_id', '=', repoId)
        .where('rb.digest', 'in', group);
      if (this.pg) q = q.forShare();
      for (const r of await q.execute()) blobSizes.set(r.digest, Number(r.size));
    }
    for (const group of chunks(unique(manifestRefs.map((r) => r.digest)).sort(compare), 500)) {
      let q = trx.selectFrom('manifests').select(['digest', 'size']).where('repository_id', '=', repoId).where('digest', 'in', group);
      if (this.pg) q = q.forShare();
      for (const r of await q.execute()) manifestSizes.set(r.digest, Number(r.size));
    }
    const missing = m.references.filter((r) => sizeOf(r) === undefined);
    if (missing.length > 0) {
      throw new WharfError(
        'MANIFEST_BLOB_UNKNOWN',
        `manifest references ${missing.length} ${missing.length === 1 ? 'item' : 'items'} not in repository ${m.repository}: ${missing
          .slice(0, 3)
          .map((r) => `${r.kind} ${r.digest}`)
          .join(', ')}${missing.length > 3 ? ', ...' : ''}`,
        missing.map((r) => ({ kind: r.kind, digest: r.digest })),
      );
    }
    const wrong = m.references.find((r) => sizeOf(r) !== r.size);
    if (wrong) {
      throw new WharfError(
        'MANIFEST_INVALID',
        `${wrong.kind} ${wrong.digest} is declared as ${wrong.size} bytes but is ${sizeOf(wrong)} bytes`,
      );
    }
  }

  async findManifest(repository: string, digest: Digest): Promise<ManifestWithContent | undefined> {
    const row = await this.db
      .selectFrom('manifests as m')
      .innerJoin('repositories as r', 'r.id', 'm.repository_id')
      .select([...MANIFEST_COLUMNS, 'm.content'])
      .where('r.name', '=', repository)
      .where('m.digest', '=', digest)
      .executeTakeFirst();
    return row && { ...toManifest(repository, row), content: toBuffer(row.content) };
  }

  async findManifestByTag(repository: string, tag: string): Promise<ManifestWithContent | undefined> {
    const row = await this.db
      .selectFrom('tags as t')
      .innerJoin('repositories as r', 'r.id', 't.repository_id')
      .innerJoin('manifests as m', (j) => j.onRef('m.repository_id', '=', 't.repository_id').onRef('m.digest', '=', 't.digest'))
      .select([...MANIFEST_COLUMNS, 'm.content'])
      .where('r.name', '=', repository)
      .where('t.name', '=', tag)
      .executeTakeFirst();
    return row && { ...toManifest(repository, row), content: toBuffer(row.content) };
  }

  async deleteManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.tx(async (trx) => {
      const repoId = await this.repositoryId(trx, repository);
      if (repoId === undefined) return false;
      // lock the manifest first (as putManifest does before its tag): a put reusing it either
      // committed already, and its tag is deleted below, or waits and then inserts it afresh
      let q = trx.selectFrom('manifests').select('id').where('repository_id', '=', repoId).where('digest', '=', digest);
      if (this.pg) q = q.forUpdate();
      const manifest = await q.executeTakeFirst();
      const tags = await trx
        .deleteFrom('tags')
        .where('repository_id', '=', repoId)
        .where('digest', '=', digest)
        .returning('name')
        .execute();
      if (tags.length > 0) {
        const now = this.now();
        await trx
          .insertInto('tag_events')
          .values(tags.map((t) => ({ repository_id: repoId, tag: t.name, old_digest: digest, new_digest: null, at: now })))
          .execute();
      }
      if (!manifest) return tags.length > 0;
      await trx.deleteFrom('manifest_references').where('manifest_id', '=', manifest.id).execute();
      await trx.deleteFrom('manifests').where('id', '=', manifest.id).execute();
      return true;
    });
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.tx(async (trx) => {
      const repoId = await this.repositoryId(trx, repository);
      if (repoId === undefined) return false;
      // the row deleted says what the tag pointed to, even if it moved since any earlier read
      const old = await trx
        .deleteFrom('tags')
        .where('repository_id', '=', repoId)
        .where('name', '=', tag)
        .returning('digest')
        .executeTakeFirst();
      if (!old) return false;
      await trx
        .insertInto('tag_events')
        .values({ repository_id: repoId, tag, old_digest: old.digest, new_digest: null, at: this.now() })
        .execute();
      return true;
    });
  }

  async listTags(repository: string, page: PageRequest): Promise<Page<string>> {
    let q = this.db
      .selectFrom('tags as t')
      .innerJoin('repositories as r', 'r.id', 't.repository_id')
      .select('t.name')
      .where('r.name', '=', repository)
      .orderBy('t.name')
      .limit(page.limit + 1);
    if (page.after !== undefined) q = q.where('t.name', '>', page.after);
    const rows = await q.execute();
    return toPage(
      rows.map((r) => r.name),
      page.limit,
    );
  }

  async listReferrers(repository: string, subject: Digest, artifactType?: string): Promise<ManifestRecord[]> {
    let q = this.db
      .selectFrom('manifests as m')
      .innerJoin('repositories as r', 'r.id', 'm.repository_id')
      .select([...MANIFEST_COLUMNS])
      .where('r.name', '=', repository)
      .where('m.subject_digest', '=', subject)
      .orderBy('m.id');
    if (artifactType !== undefined) q = q.where('m.artifact_type', '=', artifactType);
    const rows = await q.execute();
    return rows.map((row) => toManifest(repository, row));
  }

  async touchManifestsPulled(pulls: readonly { repository: string; digest: Digest; at: number }[]): Promise<void> {
    if (pulls.length === 0) return;
    // one commit (one fsync) for the batch instead of one per manifest; rows in one order, so two
    // replicas flushing at once on PostgreSQL wait for each other instead of deadlocking
    const sorted = [...pulls].sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    await this.tx(async (trx) => {
      const ids = new Map<string, number | undefined>();
      for (const p of sorted) {
        if (!ids.has(p.repository)) ids.set(p.repository, await this.repositoryId(trx, p.repository));
        const repoId = ids.get(p.repository);
        if (repoId === undefined) continue;
        await trx.updateTable('manifests').set({ last_pulled_at: p.at }).where('repository_id', '=', repoId).where('digest', '=', p.digest).execute();
      }
    });
  }

  // --- uploads ---

  /** Batched (see batched). */
  async createUpload(id: string, repository: string): Promise<UploadRecord> {
    const now = this.now();
    try {
      await this.batched((trx) =>
        trx.insertInto('uploads').values({ id, repository, size: 0, started_at: now, updated_at: now }).execute(),
      );
    } catch (e) {
      if (dbErrorKind(e) === 'unique') throw new WharfError('BLOB_UPLOAD_INVALID', `upload ${id} already exists`, undefined, { cause: e });
      throw e;
    }
    return { id, repository, size: 0, startedAt: now, updatedAt: now };
  }

  async findUpload(id: string): Promise<UploadRecord | undefined> {
    const row = await this.db
      .selectFrom('uploads as u')
      .select(['u.id', 'u.repository as name', 'u.size', 'u.started_at', 'u.updated_at'])
      .where('u.id', '=', id)
      .executeTakeFirst();
    return row && toUpload(row);
  }

  async advanceUpload(id: string, fromSize: number, toSize: number): Promise<boolean> {
    const r = await this.batched((trx) => trx
      .updateTable('uploads')
      .set({ size: toSize, updated_at: this.now() })
      .where('id', '=', id)
      .where('size', '=', fromSize)
      .executeTakeFirst());
    return Number(r.numUpdatedRows) === 1;
  }

  async leaseUpload(id: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const r = await this.batched((trx) => trx
      .updateTable('uploads')
      .set({ lease_owner: owner, lease_until: now + ttlMs })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .executeTakeFirst());
    return Number(r.numUpdatedRows) === 1;
  }

  async renewUploadLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    const r = await this.db
      .updateTable('uploads')
      .set({ lease_until: this.now() + ttlMs })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async releaseUploadLease(id: string, owner: string): Promise<void> {
    await this.batched((trx) => trx
      .updateTable('uploads')
      .set({ lease_owner: null, lease_until: null })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute());
  }

  async releaseUploadLeases(ownerPrefix: string): Promise<number> {
    // substr, not LIKE: a host name may hold LIKE's wildcards
    const r = await this.db
      .updateTable('uploads')
      .set({ lease_owner: null, lease_until: null })
      .where('lease_owner', 'is not', null)
      .where(sql<boolean>`substr(lease_owner, 1, ${ownerPrefix.length}) = ${ownerPrefix}`)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.db.deleteFrom('uploads').where('id', '=', id).execute();
  }

  async listUploadsIdleSince(before: number, limit: number): Promise<UploadRecord[]> {
    const rows = await this.db
      .selectFrom('uploads as u')
      .select(['u.id', 'u.repository as name', 'u.size', 'u.started_at', 'u.updated_at'])
      .where('u.updated_at', '<', before)
      .orderBy('u.updated_at')
      .limit(limit)
      .execute();
    return rows.map(toUpload);
  }

  // --- fsck / maintenance ---

  async *iterateBlobs(): AsyncIterable<BlobRecord> {
    let after = '';
    for (;;) {
      const rows = await this.db
        .selectFrom('blobs')
        .selectAll()
        .where('digest', '>', after)
        .orderBy('digest')
        .limit(1000)
        .execute();
      if (rows.length === 0) return;
      for (const r of rows) yield toBlob(r);
      after = rows[rows.length - 1]!.digest;
    }
  }

  async *iterateManifests(): AsyncIterable<FsckManifest> {
    let after = 0;
    for (;;) {
      const rows = await this.db
        .selectFrom('manifests as m')
        .innerJoin('repositories as r', 'r.id', 'm.repository_id')
        .select(['m.id', 'r.name', 'm.digest', 'm.content'])
        .where('m.id', '>', after)
        .orderBy('m.id')
        .limit(200)
        .execute();
      if (rows.length === 0) return;
      for (const row of rows) {
        const refs = await this.db
          .selectFrom('manifest_references')
          .select(['child_digest', 'kind'])
          .where('manifest_id', '=', row.id)
          .execute();
        yield {
          repository: row.name,
          digest: row.digest as Digest,
          content: toBuffer(row.content),
          references: refs.map((r) => ({ kind: r.kind as ReferenceKind, digest: r.child_digest })),
        };
      }
      after = Number(rows[rows.length - 1]!.id);
    }
  }

  async findDanglingTags(): Promise<{ repository: string; tag: string; digest: string }[]> {
    const rows = await this.db
      .selectFrom('tags as t')
      .innerJoin('repositories as r', 'r.id', 't.repository_id')
      .leftJoin('manifests as m', (j) => j.onRef('m.repository_id', '=', 't.repository_id').onRef('m.digest', '=', 't.digest'))
      .select(['r.name', 't.name as tag', 't.digest'])
      .where('m.id', 'is', null)
      .execute();
    return rows.map((r) => ({ repository: r.name, tag: r.tag, digest: r.digest }));
  }

  async findLinksWithoutBlobs(): Promise<{ repository: string; digest: string }[]> {
    const rows = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .leftJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['r.name', 'rb.digest'])
      .where('b.digest', 'is', null)
      .execute();
    return rows.map((r) => ({ repository: r.name, digest: r.digest }));
  }
}

/** One fixed order for lock acquisition (names and digests are ASCII, so this is byte order). */

function toPage(items: string[], limit: number): Page<string> {
  return items.length > limit ? { items: items.slice(0, limit), more: true } : { items, more: false };
}

function toBlob(row: { digest: string; size: number | string; created_at: number | string }): BlobRecord {
  return { digest: row.digest as Digest, size: Number(row.size), createdAt: Number(row.created_at) };
}

function toManifest(
  repository: string,
  row: {
    digest: string;
    media_type: string;
    artifact_type: string | null;
    subject_digest: string | null;
    size: number | string;
    annotations: string | null;
    created_at: number | string;
  },
): ManifestRecord {
  return {
    repository,
    digest: row.digest as Digest,
    mediaType: row.media_type,
    artifactType: row.artifact_type,
    subjectDigest: row.subject_digest,
    size: Number(row.size),
    annotations: row.annotations ? (JSON.parse(row.annotations) as Record<string, string>) : null,
    createdAt: Number(row.created_at),
  };
}

function toUpload(row: { id: string; name: string; size: number | string; started_at: number | string; updated_at: number | string }): UploadRecord {
  return {
    id: row.id,
    repository: row.name,
    size: Number(row.size),
    startedAt: Number(row.started_at),
    updatedAt: Number(row.updated_at),
  };
}

function toBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function dedupeReferences<T extends { kind: string; digest: string }>(refs: T[]): T[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const key = `${r.kind} ${r.digest}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
