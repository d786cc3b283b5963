/**
 * The insights tables over the metadata DB's connection (migration 0040_insights): layer records
 * by layer digest (gzip-compressed JSON) and analyses by image manifest digest. Both are
 * content-addressed, so writing one twice is harmless (an upsert).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Kysely } from 'kysely';
import type { InsightsAnalysis } from './analysis.js';
import type { InsightsTables } from './insights-tables.js';
import type { LayerRecord } from './layer-record.js';

export interface StoredAnalysis {
  digest: string;
  analyzerVersion: number;
  state: 'done' | 'failed';
  error: { message: string; layer?: number; layerDigest?: string; limit?: boolean } | null;
  report: InsightsAnalysis | null;
  analysedAt: number;
  durationMs: number;
}

export class SqlInsightsStore {
  private readonly db: Kysely<InsightsTables>;

  constructor(db: Kysely<any>) {
    this.db = db as Kysely<InsightsTables>;
  }

  /** Records of these layer digests written by `version`, by digest. */
  async findLayers(digests: readonly string[], version: number): Promise<Map<string, LayerRecord>> {
    const out = new Map<string, LayerRecord>();
    const unique = [...new Set(digests)];
    for (let i = 0; i < unique.length; i += 200) {
      const rows = await this.db.selectFrom('insights_layers').selectAll().where('digest', 'in', unique.slice(i, i + 200)).where('record_version', '=', version).execute();
      for (const r of rows) out.set(r.digest, JSON.parse(gunzipSync(Buffer.from(r.record)).toString('utf8')) as LayerRecord);
    }
    return out;
  }

  async putLayer(record: LayerRecord, now: number): Promise<void> {
    const row = { digest: record.digest, record_version: record.version, record: gzipSync(JSON.stringify(record)), entries: record.entries.length, analysed_at: now };
    await this.db
      .insertInto('insights_layers')
      .values(row)
      .onConflict((oc) => oc.column('digest').doUpdateSet({ record_version: row.record_version, record: row.record, entries: row.entries, analysed_at: row.analysed_at }))
      .execute();
  }

  async putAnalysis(a: StoredAnalysis): Promise<void> {
    const row = {
      manifest_digest: a.digest,
      analyzer_version: a.analyzerVersion,
      state: a.state,
      error: a.error ? JSON.stringify(a.error) : null,
      report: a.report ? JSON.stringify(a.report) : null,
      analysed_at: a.analysedAt,
      duration_ms: a.durationMs,
    };
    await this.db
      .insertInto('insights_analyses')
      .values(row)
      .onConflict((oc) => oc.column('manifest_digest').doUpdateSet({ ...row }))
      .execute();
  }

  async findAnalysis(digest: string): Promise<StoredAnalysis | undefined> {
    const r = await this.db.selectFrom('insights_analyses').selectAll().where('manifest_digest', '=', digest).executeTakeFirst();
    if (!r) return undefined;
    return {
      digest: r.manifest_digest,
      analyzerVersion: r.analyzer_version,
      state: r.state === 'failed' ? 'failed' : 'done',
      error: r.error ? (JSON.parse(r.error) as StoredAnalysis['error']) : null,
      report: r.report ? (JSON.parse(r.report) as InsightsAnalysis) : null,
      analysedAt: Number(r.analysed_at),
      durationMs: Number(r.duration_ms),
    };
  }
}
