/**
 * CEL expressions in deploy policies (`wharf.cel`), for what the YAML rules do not cover, with
 * @marcbachmann/cel-js (a complete CEL: macros, string functions, limits on the parse). Each
 * expression sees one variable, `image`:
 *
 * | field | type | |
 * |---|---|---|
 * | `name` | string | the reference as named (host/repo:tag@digest) |
 * | `repository`, `digest`, `tag` | string | `""` when unknown (a foreign image has no repository) |
 * | `attestors` | list(string) | attestors that verified a signature or attestation |
 * | `attestations` | list(map) | `{attestor, predicateType}` of each verified attestation |
 * | `scanned` | bool | |
 * | `scanAgeDays` | double | days since the last scan, `-1.0` when never scanned |
 * | `vulnerabilities`, `fixable` | map(string, int) | counts per severity: `critical`, `high`, `medium`, `low`, `unknown` |
 *
 * An expression must be boolean; it passes when it evaluates to true. An evaluation error (a
 * missing key, a wrong type) fails the rule: never an accidental allow.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { ImageFacts } from './facts.js';

export const MAX_CEL_LENGTH = 2000;

const env = new Environment({ limits: { maxAstNodes: 1000, maxDepth: 24, maxListElements: 200, maxMapEntries: 200, maxCallArguments: 16 } }).registerVariable('image', 'dyn');

type Compiled = ReturnType<Environment['parse']>;
const compiled = new Map<string, Compiled>();

/** The problem with an expression (syntax, or a type other than bool), or undefined. */
export function celProblem(expression: string): string | undefined {
  if (expression.length > MAX_CEL_LENGTH) return `is longer than ${MAX_CEL_LENGTH} characters`;
  try {
    const p = env.parse(expression);
    const t = p.check();
    if (!t.valid) return firstLine(t.error?.message ?? 'does not type-check');
    if (t.type !== 'bool' && t.type !== 'dyn') return `evaluates to ${t.type}, not bool`;
    return undefined;
  } catch (e) {
    return firstLine((e as Error).message);
  }
}

function compile(expression: string): Compiled {
  let c = compiled.get(expression);
  if (!c) {
    if (compiled.size > 1000) compiled.clear();
    c = env.parse(expression);
    compiled.set(expression, c);
  }
  return c;
}

/** true, or the reason the expression did not pass. */
export function evaluateCel(expression: string, facts: ImageFacts, now: number): true | string {
  try {
    const r: unknown = compile(expression)({ image: celImage(facts, now) });
    return r === true ? true : r === false ? 'evaluated to false' : `evaluated to ${typeof r}, not bool`;
  } catch (e) {
    return `error: ${firstLine((e as Error).message)}`;
  }
}

function celImage(f: ImageFacts, now: number): Record<string, unknown> {
  const counts = (onlyFixable: boolean): Record<string, bigint> => {
    const c: Record<string, bigint> = { critical: 0n, high: 0n, medium: 0n, low: 0n, unknown: 0n };
    for (const x of f.scan?.findings ?? []) {
      if (onlyFixable && !x.fixable) continue;
      const k = x.severity.toLowerCase();
      if (k in c) c[k]! += 1n;
    }
    return c;
  };
  return {
    name: f.image,
    repository: f.repository ?? '',
    digest: f.digest ?? '',
    tag: f.tag ?? '',
    attestors: [...f.attestors],
    attestations: f.attestations.map((a) => ({ attestor: a.attestor, predicateType: a.predicateType })),
    scanned: f.scan !== undefined,
    scanAgeDays: f.scan ? (now - f.scan.scannedAt) / 86_400_000 : -1,
    vulnerabilities: counts(false),
    fixable: counts(true),
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 200);
}
