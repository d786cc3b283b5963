/**
 * The lifecycle feature's SQL: its own tables of migration 0020_lifecycle (cleanup_policies,
 * namespace_settings, repository_traffic) and read-only questions about the core tables (what a
 * repository stores, its tag history). Writes to the core tables go through the core
 * (SqlRepositorySettingsStore, GcStore), never from here.
 *
 * Namespace `ns` covers every repository whose name starts with `ns/`; names are compared
 * byte-wise (PostgreSQL: collate "C"), so the range [ns/, ns0) is exactly those names.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/metadata/schema.js';
import { withLifecycleTables, type LifecycleDatabase } from '../../storage/metadata/lifecycle-schema.js';

export interface NamespaceSettings {
  namespace: string;
  quotaBytes: number | null;
  createOnPush: boolean | null;
  updatedAt: number;
  updatedBy: string | null;
}

export interface TagEvent {
  id: number;
  tag: string;
  from: string | null;
  to: string | null;
  at: number;
}

export interface RepositoryUsageRow {
  repository: string;
  /** distinct blob bytes the repository links (repository_blobs; what its quota counts; manifests not included) */
  storedBytes: number;
  /** of those, bytes of blobs no other repository links */
  uniqueBytes: number;
  /** stored bytes with each blob split evenly among the repositories linking it (cost attribution) */
  attributedBytes: number;
  /**
   * sum over its manifests of the manifest's own bytes plus the blobs it references (config and
   * layers; an index's children are manifests of their own, counted once each): a layer used by two
   * images of the repository counts twice, as it would in two pulls
   */
  logicalBytes: number;
  /** bytes of its manifests (stored in the DB, one row per repository) */
  manifestBytes: number;
  /** manifests that are neither a child of an index in the repository nor a referrer (signature, SBOM, attestation) */
  images: number;
  manifests: number;
  tags: number;
}

export interface TrafficRow {
  repository: string;
  pulls: number;
  egressBytes: number;
}

export interface PolicyRow {
  repository: string;
  document: string;
  updatedAt: number;
  updatedBy: string | null;
}

const DAY = 86_400_000;
/** names or ids per IN list */
const IN_CHUNK = 500;

export function dayOf(ms: number): number {
  return Math.floor(ms / DAY);
}

/** The [low, high) range of names under namespace `ns` ('/' is 0x2f, '0' the next byte). */
function under(ns: string): [string, string] {
  return [`${ns}/`, `${ns}0`];
}

/** `a/b/c` -> ['a', 'a/b'] */
export function namespacesOf(repository: string): string[] {
  const parts = repository.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

export class SqlLifecycleStore {
  private readonly db: Kysely<LifecycleDatabase>;

  constructor(
    db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {
    this.db = withLifecycleTables(db);
  }

  private async repositoryId(name: string): Promise<number | undefined> {
    const r = await this.db.selectFrom('repositories').select('id').where('name', '=', name).executeTakeFirst();
    return r === undefined ? undefined : Number(r.id);
  }

  // --- namespaces ---

  async namespaces(names: readonly string[]): Promise<NamespaceSettings[]> {
    if (names.length === 0) return [];
    const rows = await this.db.selectFrom('namespace_settings').selectAll().where('namespace', 'in', [...names]).orderBy('namespace').execute();
    return rows.map(toNamespace);
  }

  async listNamespaces(): Promise<NamespaceSettings[]> {
    return (await this.db.selectFrom('namespace_settings').selectAll().orderBy('namespace').execute()).map(toNamespace);
  }

  /** Creates or changes a namespace's settings (null clears a field). */
  async putNamespace(namespace: string, patch: { quotaBytes?: number | null; createOnPush?: boolean | null }, by: string): Promise<NamespaceSettings> {
    const now = this.now();
    const values: { quota_bytes?: number | null; create_on_push?: number | null } = {};
    if (patch.quotaBytes !== undefined) values.quota_bytes = patch.quotaBytes;
    if (patch.createOnPush !== undefined) values.create_on_push = patch.createOnPush === null ? null : patch.createOnPush ? 1 : 0;
    await this.db
      .insertInto('namespace_settings')
      .values({ namespace, quota_bytes: null, create_on_push: null, ...values, updated_at: now, updated_by: by })
      .onConflict((oc) => oc.column('namespace').doUpdateSet({ ...values, updated_at: now, updated_by: by }))
      .execute();
    return (await this.namespaces([namespace]))[0]!;
  }

  async deleteNamespace(namespace: string): Promise<boolean> {
    const r = await this.db.deleteFrom('namespace_settings').where('namespace', '=', namespace).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // --- what is stored ---

  /** Distinct blob bytes the repository links. */
  async repositoryStoredBytes(repository: string): Promise<number> {
    const r = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select((eb) => eb.fn.sum<number>('b.size').as('bytes'))
      .where('r.name', '=', repository)
      .executeTakeFirst();
    return Number(r?.bytes ?? 0);
  }

  /** Distinct blob bytes linked by any repository of the namespace (a blob in two of its repositories counts once). */
  async namespaceStoredBytes(namespace: string): Promise<number> {
    const [lo, hi] = under(namespace);
    const r = await this.db
      .selectFrom('blobs as b')
      .select((eb) => eb.fn.sum<number>('b.size').as('bytes'))
      .where('b.digest', 'in', (eb) =>
        eb
          .selectFrom('repository_blobs as rb')
          .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
          .select('rb.digest')
          .where('r.name', '>=', lo)
          .where('r.name', '<', hi),
      )
      .executeTakeFirst();
    return Number(r?.bytes ?? 0);
  }

  async repositoryHasBlob(repository: string, digest: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .select('rb.digest')
      .where('r.name', '=', repository)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    return r !== undefined;
  }

  async namespaceHasBlob(namespace: string, digest: string): Promise<boolean> {
    const [lo, hi] = under(namespace);
    const r = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .select('rb.digest')
      .where('rb.digest', '=', digest)
      .where('r.name', '>=', lo)
      .where('r.name', '<', hi)
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Usage of every repository (or of those named), in name order. */
  async usage(names?: readonly string[]): Promise<RepositoryUsageRow[]> {
    if (names !== undefined && names.length === 0) return [];
    if (names !== undefined && names.length > IN_CHUNK) {
      // bounded IN lists (SQLite and PostgreSQL both limit bound parameters)
      const out: RepositoryUsageRow[] = [];
      for (let i = 0; i < names.length; i += IN_CHUNK) out.push(...(await this.usage(names.slice(i, i + IN_CHUNK))));
      return out.sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0));
    }
    let repos = this.db.selectFrom('repositories').select(['id', 'name']).orderBy('name');
    if (names !== undefined) repos = repos.where('name', 'in', [...names]);
    const rows = await repos.execute();
    const ids = rows.map((r) => Number(r.id));
    const out = new Map<number, RepositoryUsageRow>(
      rows.map((r) => [
        Number(r.id),
        { repository: r.name, storedBytes: 0, uniqueBytes: 0, attributedBytes: 0, logicalBytes: 0, manifestBytes: 0, images: 0, manifests: 0, tags: 0 },
      ]),
    );
    const restrict = <Q extends { where: (...a: any[]) => Q }>(q: Q, col: string): Q => (names === undefined ? q : q.where(col, 'in', ids));

    const stored = await restrict(
      this.db
        .selectFrom('repository_blobs as rb')
        .innerJoin('blobs as b', 'b.digest', 'rb.digest')
        .innerJoin(
          (eb) => eb.selectFrom('repository_blobs').select(['digest', (e) => e.fn.countAll<number>().as('n')]).groupBy('digest').as('c'),
          (j) => j.onRef('c.digest', '=', 'rb.digest'),
        )
        .select((eb) => [
          'rb.repository_id',
          eb.fn.sum<number>('b.size').as('stored'),
          eb.fn.sum<number>(eb.case().when('c.n', '=', 1).then(eb.ref('b.size')).else(0).end()).as('uniq'),
          eb.fn.sum<number>(eb(eb.cast('b.size', 'double precision'), '/', eb.ref('c.n'))).as('attributed'),
        ])
        .groupBy('rb.repository_id'),
      'rb.repository_id',
    ).execute();
    for (const s of stored) {
      const u = out.get(Number(s.repository_id));
      if (!u) continue;
      u.storedBytes = Number(s.stored ?? 0);
      u.uniqueBytes = Number(s.uniq ?? 0);
      u.attributedBytes = Math.round(Number(s.attributed ?? 0));
    }

    const manifests = await restrict(
      this.db
        .selectFrom('manifests')
        .select((eb) => ['repository_id', eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('size').as('bytes')])
        .groupBy('repository_id'),
      'repository_id',
    ).execute();
    for (const m of manifests) {
      const u = out.get(Number(m.repository_id));
      if (!u) continue;
      u.manifests = Number(m.n);
      u.manifestBytes = Number(m.bytes ?? 0);
    }
    // images: manifests no index of the same repository lists, and not referrers (signatures, SBOMs)
    const images = await restrict(
      this.db
        .selectFrom('manifests as m')
        .select((eb) => ['m.repository_id', eb.fn.countAll<number>().as('n')])
        .where('m.subject_digest', 'is', null)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('manifest_references as mr')
                .innerJoin('manifests as p', 'p.id', 'mr.manifest_id')
                .select('mr.kind')
                .whereRef('p.repository_id', '=', 'm.repository_id')
                .whereRef('mr.child_digest', '=', 'm.digest')
                .where('mr.kind', '=', 'manifest'),
            ),
          ),
        )
        .groupBy('m.repository_id'),
      'm.repository_id',
    ).execute();
    for (const m of images) {
      const u = out.get(Number(m.repository_id));
      if (u) u.images = Number(m.n);
    }
    const logical = await restrict(
      this.db
        .selectFrom('manifest_references as mr')
        .innerJoin('manifests as m', 'm.id', 'mr.manifest_id')
        .innerJoin('blobs as b', 'b.digest', 'mr.child_digest')
        .select((eb) => ['m.repository_id', eb.fn.sum<number>('b.size').as('bytes')])
        .where('mr.kind', '<>', 'manifest')
        .groupBy('m.repository_id'),
      'm.repository_id',
    ).execute();
    for (const l of logical) {
      const u = out.get(Number(l.repository_id));
      if (u) u.logicalBytes = Number(l.bytes ?? 0);
    }
    for (const u of out.values()) u.logicalBytes += u.manifestBytes;
    const tags = await restrict(
      this.db
        .selectFrom('tags')
        .select((eb) => ['repository_id', eb.fn.countAll<number>().as('n')])
        .groupBy('repository_id'),
      'repository_id',
    ).execute();
    for (const t of tags) {
      const u = out.get(Number(t.repository_id));
      if (u) u.tags = Number(t.n);
    }
    return [...out.values()];
  }

  /** Bytes of every blob the registry stores (each once) and of every manifest. */
  async physicalBytes(): Promise<{ blobBytes: number; blobs: number; manifestBytes: number }> {
    const b = await this.db
      .selectFrom('blobs')
      .select((eb) => [eb.fn.sum<number>('size').as('bytes'), eb.fn.countAll<number>().as('n')])
      .executeTakeFirst();
    const m = await this.db
      .selectFrom('manifests')
      .select((eb) => eb.fn.sum<number>('size').as('bytes'))
      .executeTakeFirst();
    return { blobBytes: Number(b?.bytes ?? 0), blobs: Number(b?.n ?? 0), manifestBytes: Number(m?.bytes ?? 0) };
  }

  // --- traffic ---

  /**
   * Adds pulls and egress bytes (per repository name and day); rows of repositories that are gone
   * are dropped. One transaction: either every entry is added or none is, so a caller that retries
   * after a failure never counts anything twice. Each row is an atomic `+=` upsert, so writers
   * (two replicas' counters) never lose each other's counts; they lock rows in one order.
   */
  async addTraffic(entries: readonly { repository: string; day: number; pulls: number; egressBytes: number }[]): Promise<void> {
    if (entries.length === 0) return;
    // the same repository and day twice in one batch would hit one row twice in one INSERT (PostgreSQL refuses)
    const merged = new Map<string, { repository: string; day: number; pulls: number; egressBytes: number }>();
    for (const e of entries) {
      const k = `${e.day} ${e.repository}`;
      const m = merged.get(k);
      if (m) {
        m.pulls += e.pulls;
        m.egressBytes += e.egressBytes;
      } else merged.set(k, { ...e });
    }
    const names = [...new Set(entries.map((e) => e.repository))];
    await this.db.transaction().execute(async (trx) => {
      const ids = new Map<string, number>();
      for (let i = 0; i < names.length; i += IN_CHUNK) {
        const rows = await trx.selectFrom('repositories').select(['id', 'name']).where('name', 'in', names.slice(i, i + IN_CHUNK)).execute();
        for (const r of rows) ids.set(r.name, Number(r.id));
      }
      const values = [...merged.values()]
        .filter((e) => ids.has(e.repository) && (e.pulls > 0 || e.egressBytes > 0))
        .map((e) => ({ repository_id: ids.get(e.repository)!, day: e.day, pulls: e.pulls, egress_bytes: e.egressBytes }));
      // one order for every writer, so two replicas' upserts lock rows in the same order
      values.sort((a, b) => a.repository_id - b.repository_id || a.day - b.day);
      for (let i = 0; i < values.length; i += IN_CHUNK) {
        await trx
          .insertInto('repository_traffic')
          .values(values.slice(i, i + IN_CHUNK))
          .onConflict((oc) =>
            oc.columns(['repository_id', 'day']).doUpdateSet((eb) => ({
              pulls: eb(eb.ref('repository_traffic.pulls'), '+', eb.ref('excluded.pulls')),
              egress_bytes: eb(eb.ref('repository_traffic.egress_bytes'), '+', eb.ref('excluded.egress_bytes')),
            })),
          )
          .execute();
      }
    });
  }

  /** Pulls and egress per repository over days [fromDay, toDay]. */
  async traffic(fromDay: number, toDay: number, names?: readonly string[]): Promise<TrafficRow[]> {
    if (names !== undefined && names.length === 0) return [];
    if (names !== undefined && names.length > IN_CHUNK) {
      const out: TrafficRow[] = [];
      for (let i = 0; i < names.length; i += IN_CHUNK) out.push(...(await this.traffic(fromDay, toDay, names.slice(i, i + IN_CHUNK))));
      return out;
    }
    let q = this.db
      .selectFrom('repository_traffic as t')
      .innerJoin('repositories as r', 'r.id', 't.repository_id')
      .select((eb) => ['r.name', eb.fn.sum<number>('t.pulls').as('pulls'), eb.fn.sum<number>('t.egress_bytes').as('egress')])
      .where('t.day', '>=', fromDay)
      .where('t.day', '<=', toDay)
      .groupBy('r.name');
    if (names !== undefined) q = q.where('r.name', 'in', [...names]);
    return (await q.execute()).map((r) => ({ repository: r.name, pulls: Number(r.pulls ?? 0), egressBytes: Number(r.egress ?? 0) }));
  }

  // --- tag history ---

  async tagHistory(repository: string, o: { tag?: string; before?: number; limit: number }): Promise<TagEvent[]> {
    let q = this.db
      .selectFrom('tag_events as e')
      .innerJoin('repositories as r', 'r.id', 'e.repository_id')
      .select(['e.id', 'e.tag', 'e.old_digest', 'e.new_digest', 'e.at'])
      .where('r.name', '=', repository)
      .orderBy('e.id', 'desc')
      .limit(o.limit);
    if (o.tag !== undefined) q = q.where('e.tag', '=', o.tag);
    if (o.before !== undefined) q = q.where('e.id', '<', o.before);
    return (await q.execute()).map((e) => ({ id: Number(e.id), tag: e.tag, from: e.old_digest, to: e.new_digest, at: Number(e.at) }));
  }

  // --- cleanup policies ---

  async getPolicy(repository: string): Promise<PolicyRow | undefined> {
    const r = await this.db
      .selectFrom('cleanup_policies as p')
      .innerJoin('repositories as r', 'r.id', 'p.repository_id')
      .select(['r.name', 'p.document', 'p.updated_at', 'p.updated_by'])
      .where('r.name', '=', repository)
      .executeTakeFirst();
    return r && { repository: r.name, document: r.document, updatedAt: Number(r.updated_at), updatedBy: r.updated_by };
  }

  /** false when the repository does not exist. */
  async putPolicy(repository: string, document: string, by: string): Promise<boolean> {
    const id = await this.repositoryId(repository);
    if (id === undefined) return false;
    const now = this.now();
    await this.db
      .insertInto('cleanup_policies')
      .values({ repository_id: id, document, updated_at: now, updated_by: by })
      .onConflict((oc) => oc.column('repository_id').doUpdateSet({ document, updated_at: now, updated_by: by }))
      .execute();
    return true;
  }

  async deletePolicy(repository: string): Promise<boolean> {
    const id = await this.repositoryId(repository);
    if (id === undefined) return false;
    const r = await this.db.deleteFrom('cleanup_policies').where('repository_id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listPolicies(): Promise<PolicyRow[]> {
    const rows = await this.db
      .selectFrom('cleanup_policies as p')
      .innerJoin('repositories as r', 'r.id', 'p.repository_id')
      .select(['r.name', 'p.document', 'p.updated_at', 'p.updated_by'])
      .orderBy('r.name')
      .execute();
    return rows.map((r) => ({ repository: r.name, document: r.document, updatedAt: Number(r.updated_at), updatedBy: r.updated_by }));
  }
}

function toNamespace(r: { namespace: string; quota_bytes: number | null; create_on_push: number | null; updated_at: number; updated_by: string | null }): NamespaceSettings {
  return {
    namespace: r.namespace,
    quotaBytes: r.quota_bytes === null ? null : Number(r.quota_bytes),
    createOnPush: r.create_on_push === null ? null : Number(r.create_on_push) === 1,
    updatedAt: Number(r.updated_at),
    updatedBy: r.updated_by,
  };
}
