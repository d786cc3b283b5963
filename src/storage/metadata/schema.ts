import type { Generated } from 'kysely';
import type { IdentityTables } from './identity-schema.js';
import type { PypiTables } from './pypi-schema.js';

/**
 * Kysely table types for the metadata DB. Times are integer milliseconds since the epoch;
 * JSON columns are text. Both SQLite and PostgreSQL use this one schema (migrations.ts).
 */
export interface RepositoriesTable {
  id: Generated<number>;
  name: string;
  kind: string;
  format: string;
  settings: string;
  created_at: number;
}

export interface BlobsTable {
  digest: string;
  size: number;
  created_at: number;
}

export interface RepositoryBlobsTable {
  repository_id: number;
  digest: string;
  created_at: number;
}

export interface ManifestsTable {
  id: Generated<number>;
  repository_id: number;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  subject_digest: string | null;
  config_digest: string | null;
  annotations: string | null;
  size: number;
  content: Uint8Array;
  created_at: number;
  last_pulled_at: number | null;
  /** a push of a manifest the repository already had (migration 0021); null until then */
  last_pushed_at: Generated<number | null>;
}

export interface ManifestReferencesTable {
  manifest_id: number;
  child_digest: string;
  kind: string;
}

export interface TagsTable {
  repository_id: number;
  name: string;
  digest: string;
  updated_at: number;
}

export interface TagEventsTable {
  id: Generated<number>;
  repository_id: number;
  tag: string;
  old_digest: string | null;
  new_digest: string | null;
  at: number;
}

export interface UploadsTable {
  id: string;
  repository: string;
  size: number;
  started_at: number;
  updated_at: number;
  /** the token of the append holding the upload (migration 0004), until lease_until (ms) */
  lease_owner: string | null;
  lease_until: number | null;
}

/** identity tables (users, keys, bindings, audit): identity-schema.ts; PyPI files: pypi-schema.ts */
export interface Database extends IdentityTables, PypiTables {
  repositories: RepositoriesTable;
  blobs: BlobsTable;
  repository_blobs: RepositoryBlobsTable;
  manifests: ManifestsTable;
  manifest_references: ManifestReferencesTable;
  tags: TagsTable;
  tag_events: TagEventsTable;
  uploads: UploadsTable;
}
