/** Kysely types of the models feature's table (migration 0060_models, storage/metadata/models-migration.ts). Times are ms. */
export interface ModelsTables {
  models: {
    repository: string;
    digest: string;
    /** the tag the manifest was pushed with, if any (checked again when listed: tags move) */
    tag: string | null;
    format: string;
    name: string | null;
    architecture: string | null;
    weight_format: string | null;
    quantization: string | null;
    license: string | null;
    parameters: number;
    total_bytes: number;
    /** the metadata's problems, joined; null when every header read cleanly */
    error: string | null;
    /** JSON ModelMetadata */
    metadata: string;
    extractor_version: number;
    extracted_at: number;
  };
  /** weight files stored raw, by content digest (sha256 of the file = the layer's digest) */
  model_files: {
    repository: string;
    digest: string;
    file_digest: string;
    path: string;
    size: number;
  };
}
