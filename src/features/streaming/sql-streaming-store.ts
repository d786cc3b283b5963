import type { Kysely } from 'kysely';
import type { StreamingTables } from './streaming-tables.js';

export interface LayerIndexRecord {
  layerDigest: string;
  ztocDigest?: string;
  ztocSize?: number;
  algorithm?: string;
  entries?: number;
  spans?: number;
  sourceRepository?: string;
  error?: string;
  buildMs?: number;
  builtAt: number;
}

/** The streaming feature's rows: which zTOC indexes which layer digest (or why it could not). */
export class SqlStreamingStore {
  private readonly db: Kysely<StreamingTables>;

  constructor(db: Kysely<any>) {
    this.db = db as Kysely<StreamingTables>;
  }

  async find(layerDigests: readonly string[]): Promise<Map<string, LayerIndexRecord>> {
    const out = new Map<string, LayerIndexRecord>();
    if (layerDigests.length === 0) return out;
    const rows = await this.db.selectFrom('streaming_layer_indexes').selectAll().where('layer_digest', 'in', [...layerDigests]).execute();
    for (const r of rows) {
      out.set(r.layer_digest, {
        layerDigest: r.layer_digest,
        ztocDigest: r.ztoc_digest ?? undefined,
        ztocSize: r.ztoc_size === null ? undefined : Number(r.ztoc_size),
        algorithm: r.algorithm ?? undefined,
        entries: r.entries === null ? undefined : Number(r.entries),
        spans: r.spans === null ? undefined : Number(r.spans),
        sourceRepository: r.source_repository ?? undefined,
        error: r.error ?? undefined,
        buildMs: r.build_ms === null ? undefined : Number(r.build_ms),
        builtAt: Number(r.built_at),
      });
    }
    return out;
  }

  /** Insert or replace the row of one layer (a rebuild after an error, or a new source repository). */
  async save(r: LayerIndexRecord): Promise<void> {
    const row = {
      layer_digest: r.layerDigest,
      ztoc_digest: r.ztocDigest ?? null,
      ztoc_size: r.ztocSize ?? null,
      algorithm: r.algorithm ?? null,
      entries: r.entries ?? null,
      spans: r.spans ?? null,
      source_repository: r.sourceRepository ?? null,
      error: r.error ?? null,
      build_ms: r.buildMs ?? null,
      built_at: r.builtAt,
    };
    const { layer_digest: _key, ...rest } = row;
    await this.db.insertInto('streaming_layer_indexes').values(row).onConflict((oc) => oc.column('layer_digest').doUpdateSet(rest)).execute();
  }
}
