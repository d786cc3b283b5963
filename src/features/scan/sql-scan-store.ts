/**
 * The scanner's tables over the metadata DB's connection (migration 0010_scan): advisories and
 * their affected packages, imports, inventories and findings. Writes of many rows are batched in
 * transactions; JSON columns are text in both dialects.
 */
import type { Kysely } from 'kysely';
import type { Inventory } from '../../content/inventory/inventory.js';
import type { CandidateAdvisory, Finding } from './matching.js';
import type { ScanTables } from './scan-tables.js';
import type { Advisory, AffectedPackage } from './vulns/osv.js';
import type { Severity } from './vulns/severity.js';

export interface StoredLayer {
  digest: string;
  mediaType: string;
  size: number;
  compression?: string;
  uncompressedBytes?: number;
}

export interface StoredInventory {
  digest: string;
  scannerVersion: number;
  inventory: Inventory;
  layers: StoredLayer[];
  scannedAt: number;
  matchedAt: number | null;
}

export interface StoredFinding extends Finding {
  firstSeenAt: number;
  firstSeenImport: number | null;
}

export interface ImportRecord {
  id: number;
  source: string;
  startedAt: number;
  finishedAt: number | null;
  records: number;
  added: number;
  updated: number;
  rejected: number;
  newestModified: number | null;
  errors: string[];
}

const CHUNK = 400;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class SqlScanStore {
  private readonly db: Kysely<ScanTables>;

  constructor(db: Kysely<any>) {
    this.db = db as Kysely<ScanTables>;
  }

  // --- vulnerability data ---

  async startImport(source: string, now: number): Promise<number> {
    const row = await this.db
      .insertInto('vuln_imports')
      .values({ source, started_at: now, records: 0, added: 0, updated: 0, rejected: 0, errors: '[]' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async finishImport(id: number, counts: Omit<ImportRecord, 'id' | 'source' | 'startedAt'>): Promise<void> {
    await this.db
      .updateTable('vuln_imports')
      .set({
        finished_at: counts.finishedAt,
        records: counts.records,
        added: counts.added,
        updated: counts.updated,
        rejected: counts.rejected,
        newest_modified: counts.newestModified,
        errors: JSON.stringify(counts.errors),
      })
      .where('id', '=', id)
      .execute();
  }

  async listImports(limit: number): Promise<ImportRecord[]> {
    const rows = await this.db.selectFrom('vuln_imports').selectAll().orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      source: r.source,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      records: r.records,
      added: r.added,
      updated: r.updated,
      rejected: r.rejected,
      newestModified: r.newest_modified,
      errors: JSON.parse(r.errors) as string[],
    }));
  }

  async advisoryCount(): Promise<{ advisories: number; withdrawn: number }> {
    const r = await this.db
      .selectFrom('vuln_advisories')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('withdrawn').as('w')])
      .executeTakeFirstOrThrow();
    return { advisories: Number(r.n), withdrawn: Number(r.w) };
  }

  /**
   * Stores a batch of advisories: new ones are added, newer versions of known ones replace them
   * (with their affected rows), older or equal ones are left alone. Returns the counts.
   */
  async upsertAdvisories(batch: readonly Advisory[], source: string, importId: number): Promise<{ added: number; updated: number; unchanged: number }> {
    let added = 0;
    let updated = 0;
    let unchanged = 0;
    await this.db.transaction().execute(async (trx) => {
      const known = new Map<string, number>();
      for (const part of chunks(batch.map((a) => a.id))) {
        const rows = await trx.selectFrom('vuln_advisories').select(['id', 'modified']).where('id', 'in', part).execute();
        for (const r of rows) known.set(r.id, r.modified);
      }
      const fresh = new Map<string, Advisory>();
      for (const a of batch) {
        const was = known.get(a.id);
        if (was !== undefined && was >= a.modified) {
          unchanged++;
          continue;
        }
        const seen = fresh.get(a.id);
        if (seen && seen.modified >= a.modified) continue;
        if (!seen) {
          if (was === undefined) added++;
          else updated++;
        }
        fresh.set(a.id, a);
      }
      const list = [...fresh.values()];
      for (const part of chunks(list.filter((a) => known.has(a.id)).map((a) => a.id))) {
        await trx.deleteFrom('vuln_affected').where('advisory_id', 'in', part).execute();
        await trx.deleteFrom('vuln_advisories').where('id', 'in', part).execute();
      }
      for (const part of chunks(list, 100)) {
        if (part.length === 0) continue;
        await trx
          .insertInto('vuln_advisories')
          .values(
            part.map((a) => ({
              id: a.id,
              modified: a.modified,
              withdrawn: a.withdrawn ?? null,
              aliases: JSON.stringify(a.aliases),
              summary: a.summary,
              severity: JSON.stringify(a.severity),
              source,
              import_id: importId,
            })),
          )
          .execute();
      }
      const affected = list.flatMap((a) => a.affected.map((x) => ({ advisory_id: a.id, ecosystem: x.ecosystem, name: x.name, release: x.release, data: JSON.stringify(x) })));
      for (const part of chunks(affected, 150)) await trx.insertInto('vuln_affected').values(part).execute();
    });
    return { added, updated, unchanged };
  }

  /** Advisories (not withdrawn) with an affected entry for any of `keys` (ecosystem + normalized name). */
  async candidates(keys: readonly { ecosystem: string; name: string }[]): Promise<CandidateAdvisory[]> {
    const byEcosystem = new Map<string, Set<string>>();
    for (const k of keys) {
      let s = byEcosystem.get(k.ecosystem);
      if (!s) byEcosystem.set(k.ecosystem, (s = new Set()));
      s.add(k.name);
    }
    const out: CandidateAdvisory[] = [];
    for (const [ecosystem, names] of byEcosystem) {
      for (const part of chunks([...names])) {
        const rows = await this.db
          .selectFrom('vuln_affected as f')
          .innerJoin('vuln_advisories as a', 'a.id', 'f.advisory_id')
          .select(['a.id', 'a.aliases', 'a.summary', 'a.severity', 'f.data'])
          .where('f.ecosystem', '=', ecosystem)
          .where('f.name', 'in', part)
          .where('a.withdrawn', 'is', null)
          .execute();
        for (const r of rows) {
          out.push({
            id: r.id,
            aliases: JSON.parse(r.aliases) as string[],
            summary: r.summary,
            severity: JSON.parse(r.severity) as Severity,
            affected: JSON.parse(r.data) as AffectedPackage,
          });
        }
      }
    }
    return out;
  }

  // --- inventories and findings ---

  async putInventory(inv: StoredInventory): Promise<void> {
    const row = {
      manifest_digest: inv.digest,
      scanner_version: inv.scannerVersion,
      inventory: JSON.stringify(inv.inventory),
      layers: JSON.stringify(inv.layers),
      package_count: inv.inventory.packages.length,
      scanned_at: inv.scannedAt,
      matched_at: inv.matchedAt,
    };
    await this.db
      .insertInto('scan_inventories')
      .values(row)
      .onConflict((oc) => oc.column('manifest_digest').doUpdateSet({ ...row }))
      .execute();
  }

  async findInventory(digest: string): Promise<StoredInventory | undefined> {
    const r = await this.db.selectFrom('scan_inventories').selectAll().where('manifest_digest', '=', digest).executeTakeFirst();
    if (!r) return undefined;
    return {
      digest: r.manifest_digest,
      scannerVersion: r.scanner_version,
      inventory: JSON.parse(r.inventory) as Inventory,
      layers: JSON.parse(r.layers) as StoredLayer[],
      scannedAt: r.scanned_at,
      matchedAt: r.matched_at,
    };
  }

  /** Digests of stored inventories after `after`, in order (for re-matching them all, a page at a time). */
  async listInventoryDigests(after: string | undefined, limit: number): Promise<string[]> {
    let q = this.db.selectFrom('scan_inventories').select('manifest_digest').orderBy('manifest_digest').limit(limit);
    if (after !== undefined) q = q.where('manifest_digest', '>', after);
    return (await q.execute()).map((r) => r.manifest_digest);
  }

  async listFindings(digest: string): Promise<StoredFinding[]> {
    const rows = await this.db.selectFrom('scan_findings').selectAll().where('manifest_digest', '=', digest).execute();
    return rows.map((r) => ({ ...(JSON.parse(r.data) as Finding), firstSeenAt: r.first_seen_at, firstSeenImport: r.first_seen_import }));
  }

  /**
   * Replaces the findings of `digest` with `findings`, keeping the first-seen time of those that
   * were already there. Returns how many are new. One transaction.
   */
  async replaceFindings(digest: string, findings: readonly { key: string; finding: Finding }[], now: number, importId: number | null): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('scan_findings').select(['advisory_id', 'package_key', 'data']).where('manifest_digest', '=', digest).execute();
      const had = new Map(existing.map((e) => [`${e.advisory_id}\0${e.package_key}`, e.data]));
      const want = new Set(findings.map((f) => `${f.finding.id}\0${f.key}`));
      const gone = existing.filter((e) => !want.has(`${e.advisory_id}\0${e.package_key}`));
      for (const g of gone) {
        await trx.deleteFrom('scan_findings').where('manifest_digest', '=', digest).where('advisory_id', '=', g.advisory_id).where('package_key', '=', g.package_key).execute();
      }
      let fresh = 0;
      const rows = [];
      for (const f of findings) {
        const k = `${f.finding.id}\0${f.key}`;
        const data = JSON.stringify(f.finding);
        if (had.has(k)) {
          if (had.get(k) === data) continue;
          await trx
            .updateTable('scan_findings')
            .set({ severity: f.finding.severity, data })
            .where('manifest_digest', '=', digest)
            .where('advisory_id', '=', f.finding.id)
            .where('package_key', '=', f.key)
            .execute();
        } else {
          fresh++;
          rows.push({ manifest_digest: digest, advisory_id: f.finding.id, package_key: f.key, severity: f.finding.severity, data, first_seen_at: now, first_seen_import: importId });
        }
      }
      for (const part of chunks(rows, 100)) await trx.insertInto('scan_findings').values(part).execute();
      await trx.updateTable('scan_inventories').set({ matched_at: now }).where('manifest_digest', '=', digest).execute();
      return fresh;
    });
  }
}
