/** Kysely types of the insights tables (migration 0040_insights, storage/metadata/insights-migration.ts). Times are ms. */
export interface InsightsTables {
  insights_layers: {
    digest: string;
    record_version: number;
    /** gzip-compressed JSON LayerRecord */
    record: Buffer | Uint8Array;
    entries: number;
    analysed_at: number;
  };
  insights_analyses: {
    manifest_digest: string;
    analyzer_version: number;
    /** done | failed */
    state: string;
    error: string | null;
    /** JSON InsightsAnalysis (done) */
    report: string | null;
    analysed_at: number;
    duration_ms: number;
  };
}
