import { WharfError } from '../../../errors/wharf-error.js';

/**
 * Validation problems of a policy document, each pointing at the offending field with a JSON
 * pointer (RFC 6901) into the body that was sent, e.g. `/policy/rules/0/selection/countUnit`.
 * Every problem is collected (up to a limit) so one round trip shows them all.
 */
export interface PolicyProblem {
  pointer: string;
  message: string;
}

const MAX_PROBLEMS = 50;

export class Problems {
  readonly list: PolicyProblem[] = [];

  add(pointer: string, message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push({ pointer, message });
  }

  get ok(): boolean {
    return this.list.length === 0;
  }

  /** Throws POLICY_INVALID listing every problem, when there is one. */
  throwIfAny(): void {
    if (this.ok) return;
    const first = this.list.slice(0, 3).map((p) => `${p.pointer || '/'}: ${p.message}`);
    const more = this.list.length > 3 ? `; and ${this.list.length - 3} more` : '';
    throw new WharfError('POLICY_INVALID', `cleanup policy invalid: ${first.join('; ')}${more}`, this.list);
  }
}

/** `base` + one reference token, escaped per RFC 6901. */
export function ptr(base: string, token: string | number): string {
  return `${base}/${String(token).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reports every key of `obj` not in `allowed` (so a typo is an error, never silently ignored). */
export function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], base: string, problems: Problems): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) problems.add(ptr(base, k), `unknown field ${JSON.stringify(k.slice(0, 64))}; expected one of ${allowed.join(', ')}`);
  }
}

/** A list of non-empty strings (bounded), or undefined (reported) when it is not one. */
export function stringList(
  v: unknown,
  base: string,
  problems: Problems,
  o: { maxItems: number; maxLength: number; pattern?: RegExp; patternText?: string },
): string[] | undefined {
  if (!Array.isArray(v)) {
    problems.add(base, 'must be a list of strings');
    return undefined;
  }
  if (v.length === 0) problems.add(base, 'must not be empty');
  if (v.length > o.maxItems) {
    problems.add(base, `has ${v.length} entries; at most ${o.maxItems}`);
    return undefined;
  }
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item !== 'string' || item.length === 0) problems.add(ptr(base, i), 'must be a non-empty string');
    else if (item.length > o.maxLength) problems.add(ptr(base, i), `is longer than ${o.maxLength} characters`);
    else if (o.pattern && !o.pattern.test(item)) problems.add(ptr(base, i), `${JSON.stringify(item.slice(0, 64))} ${o.patternText ?? 'is malformed'}`);
    else out.push(item);
  });
  return out;
}
