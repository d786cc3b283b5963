import type { Generated, Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** Kysely table types of migration 0020_lifecycle (lifecycle-migration.ts). */
export interface BlobHoldsTable {
  id: string;
  digest: string;
  /** ms; a hold past this is ignored (its push died) */
  until: number;
}

export interface BlobTombstonesTable {
  digest: string;
  owner: string;
  created_at: number;
}

export interface GcRunsTable {
  id: Generated<number>;
  trigger: string;
  dry_run: number;
  started_at: number;
  finished_at: number | null;
  /** JSON of GcReport */
  report: string | null;
  error: string | null;
}

export interface CleanupPoliciesTable {
  repository_id: number;
  /** the validated policy envelope, JSON (features/lifecycle/policy) */
  document: string;
  updated_at: number;
  updated_by: string | null;
}

export interface NamespaceSettingsTable {
  namespace: string;
  quota_bytes: number | null;
  /** 1 / 0, or null to inherit */
  create_on_push: number | null;
  updated_at: number;
  updated_by: string | null;
}

export interface RepositoryTrafficTable {
  repository_id: number;
  /** UTC days since the epoch */
  day: number;
  pulls: number;
  egress_bytes: number;
}

// a type, not an interface: Kysely's withTables wants an index-signature-compatible record
export type LifecycleTables = {
  blob_holds: BlobHoldsTable;
  blob_tombstones: BlobTombstonesTable;
  gc_runs: GcRunsTable;
  cleanup_policies: CleanupPoliciesTable;
  namespace_settings: NamespaceSettingsTable;
  repository_traffic: RepositoryTrafficTable;
};

export type LifecycleDatabase = Database & LifecycleTables;

/** The metadata DB's connection, typed with the tables of 0020_lifecycle as well. */
export function withLifecycleTables(db: Kysely<Database>): Kysely<LifecycleDatabase> {
  return db.withTables<LifecycleTables>();
}

export type LifecycleDb = Kysely<LifecycleDatabase> | Transaction<LifecycleDatabase>;
