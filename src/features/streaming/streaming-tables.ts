/** Kysely types of the streaming feature's table (migration 0050_streaming, storage/metadata/streaming-migration.ts). Times are ms. */
export interface StreamingTables {
  streaming_layer_indexes: {
    layer_digest: string;
    ztoc_digest: string | null;
    ztoc_size: number | null;
    algorithm: string | null;
    entries: number | null;
    spans: number | null;
    source_repository: string | null;
    /** why the build failed (LAYER_INVALID message); null when it succeeded */
    error: string | null;
    build_ms: number | null;
    built_at: number;
  };
}
