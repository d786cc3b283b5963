import type { LintFinding } from './lint-context.js';

/**
 * `wharf lint --image`: the lint findings checked against the pushed image's insights analysis
 * (GET /api/v1/insights/<repo>, docs/insights.md). A finding the image shows the cost of is
 * marked confirmed with those bytes; the others stay as they are (the image may predate the
 * Dockerfile, or the cost may not be measurable, e.g. an unpinned base).
 *
 * ImageEvidence is the part of the analysis this needs, declared here so the linter depends on
 * no other feature; the insights response has this shape.
 */
export interface ImageEvidence {
  caches?: Partial<Record<string, number>>;
  totals?: { categories?: Partial<Record<string, number>> };
  findings?: { id: string; title?: string; evidence?: { paths?: string[]; bytes?: number } }[];
}

interface Confirmation {
  bytes: number;
  evidence: string;
}

/** rule id -> how the image confirms it */
const CONFIRMERS: Record<string, (image: ImageEvidence) => Confirmation | undefined> = {
  'pip-no-cache-dir': (i) => cache(i, 'pip', "pip's cache (~/.cache/pip)"),
  'apt-lists-not-removed': (i) => cache(i, 'apt-lists', 'apt lists (/var/lib/apt/lists)'),
  'cuda-devel-final-stage': (i) => fromFinding(i, 'devel-toolchain'),
  'model-weights-in-image': (i) => fromFinding(i, 'baked-weights') ?? category(i, 'model-weights', 'model weights'),
  'copy-context-before-install': (i) => fromFinding(i, 'cache-busting'),
  'final-user-root': (i) => fromFinding(i, 'runs-as-root'),
  'final-user-missing': (i) => fromFinding(i, 'runs-as-root'),
};

/** Which rules the image can confirm (for the docs and the report). */
export const CONFIRMABLE_RULES = Object.keys(CONFIRMERS);

export function crossCheck(findings: LintFinding[], image: ImageEvidence, imageName: string): LintFinding[] {
  return findings.map((f) => {
    const c = CONFIRMERS[f.rule]?.(image);
    return c ? { ...f, confirmed: { bytes: c.bytes, evidence: `${imageName}: ${c.evidence}` } } : f;
  });
}

function cache(image: ImageEvidence, kind: string, what: string): Confirmation | undefined {
  const bytes = image.caches?.[kind] ?? 0;
  return bytes > 0 ? { bytes, evidence: `${formatBytes(bytes)} of ${what} in the image` } : undefined;
}

function category(image: ImageEvidence, name: string, what: string): Confirmation | undefined {
  const bytes = image.totals?.categories?.[name] ?? 0;
  return bytes > 0 ? { bytes, evidence: `${formatBytes(bytes)} of ${what} in the image` } : undefined;
}

function fromFinding(image: ImageEvidence, id: string): Confirmation | undefined {
  const f = image.findings?.find((x) => x.id === id);
  if (!f) return undefined;
  const bytes = f.evidence?.bytes ?? 0;
  const paths = (f.evidence?.paths ?? []).slice(0, 3);
  return { bytes, evidence: `${f.title ?? id}${paths.length > 0 ? ` (${paths.join(', ')})` : ''}` };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 10 ? 0 : 1)} ${units[u]}`;
}
