/** A finding of an analysis (findings.ts makes them; docs/insights.md lists them). */
export type FindingSeverity = 'critical' | 'high' | 'medium' | 'low';
export const FINDING_SEVERITIES: FindingSeverity[] = ['critical', 'high', 'medium', 'low'];

export type FindingId = 'baked-weights' | 'devel-toolchain' | 'caches-left' | 'deleted-waste' | 'duplicate-files' | 'secret' | 'runs-as-root' | 'no-healthcheck' | 'cache-busting' | 'torch-cuda-mismatch';

export interface Finding {
  id: FindingId;
  severity: FindingSeverity;
  title: string;
  evidence: { paths: string[]; layers: number[]; bytes: number; details?: Record<string, unknown> };
  /** the Dockerfile change, one or two lines */
  fix: string;
  /** what the fix saves: bytes in the final image, compressed bytes to pull, cold-start seconds per node */
  saving: { bytes: number; compressedBytes: number; seconds: number };
}

