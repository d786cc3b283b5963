/**
 * The severity of an OSV record (or of one affected package): from a CVSS vector computed per the
 * spec (the newest version given: v4.0, else v3.1/v3.0), else from the record's own rating
 * (`database_specific.severity` as GitHub writes it, an `Ubuntu` severity entry, Debian's
 * `ecosystem_specific.urgency`), else UNKNOWN. Pure.
 */
import { cvssBaseScore, levelOfScore, type CvssScore, type SeverityLevel } from './cvss.js';

export interface Severity {
  level: SeverityLevel;
  /** CVSS base score, when the level came from a vector */
  score?: number;
  vector?: string;
  /** where the level came from: cvss-4.0, cvss-3.1, cvss-3.0, or the record field used */
  source: string;
}

const WORDS: Record<string, SeverityLevel> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  important: 'HIGH',
  moderate: 'MEDIUM',
  medium: 'MEDIUM',
  low: 'LOW',
  negligible: 'LOW',
  unimportant: 'LOW',
};

function word(v: unknown): SeverityLevel | undefined {
  return typeof v === 'string' ? WORDS[v.trim().toLowerCase()] : undefined;
}

/**
 * `holder` is an OSV record or an affected entry (both may have `severity`, `database_specific`,
 * `ecosystem_specific`).
 */
export function severityOf(holder: Record<string, unknown>): Severity {
  const entries = Array.isArray(holder.severity) ? holder.severity : [];
  let best: CvssScore | undefined;
  let ubuntu: SeverityLevel | undefined;
  for (const e of entries) {
    if (typeof e !== 'object' || e === null) continue;
    const { type, score } = e as { type?: unknown; score?: unknown };
    if (typeof score !== 'string') continue;
    if (type === 'CVSS_V3' || type === 'CVSS_V4') {
      const s = cvssBaseScore(score);
      if (s && (!best || s.version > best.version)) best = s;
    } else if (type === 'Ubuntu') {
      ubuntu = word(score);
    }
  }
  if (best) return { level: levelOfScore(best.score), score: best.score, vector: best.vector, source: `cvss-${best.version}` };
  const db = holder.database_specific as Record<string, unknown> | undefined;
  const dbLevel = typeof db === 'object' && db !== null ? word(db.severity) : undefined;
  if (dbLevel) return { level: dbLevel, source: 'database_specific.severity' };
  if (ubuntu) return { level: ubuntu, source: 'severity.Ubuntu' };
  const eco = holder.ecosystem_specific as Record<string, unknown> | undefined;
  const ecoLevel = typeof eco === 'object' && eco !== null ? (word(eco.severity) ?? word(eco.urgency)) : undefined;
  if (ecoLevel) return { level: ecoLevel, source: 'ecosystem_specific' };
  return { level: 'UNKNOWN', source: 'none' };
}
