/** Kysely types of the scanner's tables (migration 0010_scan, storage/metadata/scan-migration.ts). Times are ms. */
import type { Generated } from 'kysely';

export interface ScanTables {
  vuln_imports: {
    id: Generated<number>;
    source: string;
    started_at: number;
    finished_at: number | null;
    records: number;
    added: number;
    updated: number;
    rejected: number;
    newest_modified: number | null;
    /** JSON: the first few rejected records' reasons */
    errors: string;
  };
  vuln_advisories: {
    id: string;
    modified: number;
    withdrawn: number | null;
    /** JSON string[] */
    aliases: string;
    summary: string;
    /** JSON Severity */
    severity: string;
    source: string;
    import_id: number;
  };
  vuln_affected: {
    advisory_id: string;
    ecosystem: string;
    name: string;
    release: string;
    /** JSON AffectedPackage */
    data: string;
  };
  scan_inventories: {
    manifest_digest: string;
    scanner_version: number;
    /** JSON Inventory */
    inventory: string;
    /** JSON StoredLayer[] */
    layers: string;
    package_count: number;
    scanned_at: number;
    matched_at: number | null;
  };
  scan_findings: {
    manifest_digest: string;
    advisory_id: string;
    package_key: string;
    severity: string;
    /** JSON Finding */
    data: string;
    first_seen_at: number;
    first_seen_import: number | null;
  };
}
