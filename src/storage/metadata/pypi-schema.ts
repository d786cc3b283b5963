import type { Generated } from 'kysely';

/** Kysely table types of migration 0030_pypi (pypi-migration.ts). Times are ms. */
export interface PypiFilesTable {
  id: Generated<number>;
  repository_id: number;
  /** PEP 503 normalized project name (`my-lib`): what the simple index is keyed by */
  project: string;
  /** the name as uploaded (`My_Lib`), shown in listings */
  display_name: string;
  version: string;
  /** the distribution file's name, unique per repository (files are immutable) */
  filename: string;
  /** `bdist_wheel` or `sdist` */
  packagetype: string;
  /** the file's bytes: a blob linked to the repository (repository_blobs) like a layer */
  digest: string;
  size: number;
  requires_python: string | null;
  summary: string | null;
  /** the core metadata file (a wheel's `*.dist-info/METADATA`), served as `<file>.metadata` (PEP 658) */
  metadata: Uint8Array | null;
  /** sha256 hex of `metadata` */
  metadata_sha256: string | null;
  /** PEP 592: null = not yanked; otherwise the reason ('' when none was given) */
  yanked_reason: string | null;
  uploaded_by: string;
  uploaded_at: number;
}

/** migration 0031: bumped with every change of a project's files (index page reuse) */
export interface PypiProjectsTable {
  repository_id: number;
  project: string;
  generation: number;
}

export interface PypiTables {
  pypi_files: PypiFilesTable;
  pypi_projects: PypiProjectsTable;
}
