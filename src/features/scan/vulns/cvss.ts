/**
 * CVSS base scores from vector strings. v3.0 and v3.1 are computed here with the specification's
 * formulas (FIRST CVSS v3.1 specification, section 7, and Appendix A for v3.1's Roundup); v4.0 is
 * validated here and scored by `ae-cvss-calculator`, which carries the v4.0 MacroVector table and
 * interpolation. Every vector is checked strictly first: a prefix, known metrics with allowed
 * values, each at most once, every base metric present. Pure.
 */
import cvssCalculator from 'ae-cvss-calculator';

// a webpack bundle: Node's ESM loader cannot see its named exports, the default export is the module
const { Cvss4P0 } = cvssCalculator;

export type SeverityLevel = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';
export const SEVERITY_LEVELS: readonly SeverityLevel[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];

export interface CvssScore {
  version: '3.0' | '3.1' | '4.0';
  score: number;
  vector: string;
}

const V3_BASE: Record<string, readonly string[]> = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'R'],
  S: ['U', 'C'],
  C: ['H', 'L', 'N'],
  I: ['H', 'L', 'N'],
  A: ['H', 'L', 'N'],
};
/** temporal and environmental metrics may appear; they do not change the base score */
const V3_OTHER: Record<string, readonly string[]> = {
  E: ['X', 'U', 'P', 'F', 'H'],
  RL: ['X', 'O', 'T', 'W', 'U'],
  RC: ['X', 'U', 'R', 'C'],
  CR: ['X', 'L', 'M', 'H'],
  IR: ['X', 'L', 'M', 'H'],
  AR: ['X', 'L', 'M', 'H'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'R'],
  MS: ['X', 'U', 'C'],
  MC: ['X', 'N', 'L', 'H'],
  MI: ['X', 'N', 'L', 'H'],
  MA: ['X', 'N', 'L', 'H'],
};

const V4_BASE: Record<string, readonly string[]> = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  AT: ['N', 'P'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'P', 'A'],
  VC: ['H', 'L', 'N'],
  VI: ['H', 'L', 'N'],
  VA: ['H', 'L', 'N'],
  SC: ['H', 'L', 'N'],
  SI: ['H', 'L', 'N'],
  SA: ['H', 'L', 'N'],
};
const V4_OTHER: Record<string, readonly string[]> = {
  E: ['X', 'A', 'P', 'U'],
  CR: ['X', 'H', 'M', 'L'],
  IR: ['X', 'H', 'M', 'L'],
  AR: ['X', 'H', 'M', 'L'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MAT: ['X', 'N', 'P'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'P', 'A'],
  MVC: ['X', 'H', 'L', 'N'],
  MVI: ['X', 'H', 'L', 'N'],
  MVA: ['X', 'H', 'L', 'N'],
  MSC: ['X', 'H', 'L', 'N'],
  MSI: ['X', 'S', 'H', 'L', 'N'],
  MSA: ['X', 'S', 'H', 'L', 'N'],
  S: ['X', 'N', 'P'],
  AU: ['X', 'N', 'Y'],
  R: ['X', 'A', 'U', 'I'],
  V: ['X', 'D', 'C'],
  RE: ['X', 'L', 'M', 'H'],
  U: ['X', 'Clear', 'Green', 'Amber', 'Red'],
};

/** The metrics of `vector` after `prefix`, or undefined when any part is malformed. */
function metrics(vector: string, prefix: string, base: Record<string, readonly string[]>, other: Record<string, readonly string[]>): Map<string, string> | undefined {
  if (vector.length > 512 || !vector.startsWith(prefix)) return undefined;
  const out = new Map<string, string>();
  for (const part of vector.slice(prefix.length).split('/')) {
    const colon = part.indexOf(':');
    if (colon <= 0) return undefined;
    const key = part.slice(0, colon);
    const value = part.slice(colon + 1);
    const allowed = Object.prototype.hasOwnProperty.call(base, key) ? base[key] : Object.prototype.hasOwnProperty.call(other, key) ? other[key] : undefined;
    if (!allowed || !allowed.includes(value) || out.has(key)) return undefined;
    out.set(key, value);
  }
  for (const key of Object.keys(base)) if (!out.has(key)) return undefined;
  return out;
}

/** v3.1 Appendix A: the smallest number with one decimal that is >= input, free of float error. */
function roundUp31(input: number): number {
  const i = Math.round(input * 100_000);
  return i % 10_000 === 0 ? i / 100_000 : (Math.floor(i / 10_000) + 1) / 10;
}

function roundUp30(input: number): number {
  return Math.ceil(input * 10) / 10;
}

function v3Score(m: Map<string, string>, version: '3.0' | '3.1'): number {
  const changed = m.get('S') === 'C';
  const av = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 }[m.get('AV') as 'N'];
  const ac = { L: 0.77, H: 0.44 }[m.get('AC') as 'L'];
  const pr = { N: 0.85, L: changed ? 0.68 : 0.62, H: changed ? 0.5 : 0.27 }[m.get('PR') as 'N'];
  const ui = { N: 0.85, R: 0.62 }[m.get('UI') as 'N'];
  const cia = (k: string): number => ({ H: 0.56, L: 0.22, N: 0 })[m.get(k) as 'H'];
  const iss = 1 - (1 - cia('C')) * (1 - cia('I')) * (1 - cia('A'));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  const roundUp = version === '3.1' ? roundUp31 : roundUp30;
  return roundUp(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

/** The base score of a CVSS v3.x or v4.0 vector; undefined for anything malformed or of another version. */
export function cvssBaseScore(vector: string): CvssScore | undefined {
  const v = vector.trim();
  for (const version of ['3.0', '3.1'] as const) {
    const m = metrics(v, `CVSS:${version}/`, V3_BASE, V3_OTHER);
    if (m) return { version, score: v3Score(m, version), vector: v };
  }
  if (metrics(v, 'CVSS:4.0/', V4_BASE, V4_OTHER)) {
    try {
      const score = new Cvss4P0(v).calculateScores().base;
      if (typeof score === 'number' && score >= 0 && score <= 10) return { version: '4.0', score: Math.round(score * 10) / 10, vector: v };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The qualitative rating of a v3/v4 score (0.0 "None" is reported as LOW: Wharf has no NONE level). */
export function levelOfScore(score: number): SeverityLevel {
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  return 'LOW';
}

/** Orders levels, most severe first (CRITICAL = 0 ... UNKNOWN = 4). */
export function severityRank(level: SeverityLevel): number {
  return SEVERITY_LEVELS.indexOf(level);
}
