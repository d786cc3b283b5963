/**
 * Walking the config schema by key: used to map env var names and flag keys onto keys, to
 * coerce their string values, and to suggest the key a typo meant.
 */
import { KindGuard, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** The object schema's properties, or undefined when `schema` is not an object. */
export function propertiesOf(schema: TSchema | undefined): Record<string, TSchema> | undefined {
  return schema !== undefined && KindGuard.IsObject(schema) ? (schema as TObject).properties : undefined;
}

/** The schema of the key at `segments`, or undefined when no such key exists. */
export function schemaAt(root: TSchema, segments: readonly string[]): TSchema | undefined {
  let schema: TSchema | undefined = root;
  for (const key of segments) {
    const properties = propertiesOf(schema);
    if (properties === undefined || !Object.hasOwn(properties, key)) return undefined;
    schema = properties[key];
  }
  return schema;
}

/** Every leaf (non-object) key of the schema, as path segments, in schema order. */
export function leafPaths(root: TSchema, prefix: readonly string[] = []): string[][] {
  const properties = propertiesOf(root);
  if (properties === undefined) return [[...prefix]];
  return Object.entries(properties).flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}

/**
 * Turns the string an env var or a CLI flag carries into the type the schema wants. Integers and
 * numbers must be plain decimal, booleans exactly `true` or `false`, lists JSON. A string that
 * does not convert is returned unchanged, so validation reports it against the expected type.
 */
export function coerceString(schema: TSchema, raw: string): unknown {
  if (KindGuard.IsInteger(schema)) return /^[+-]?\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : raw;
  if (KindGuard.IsNumber(schema)) {
    return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  if (KindGuard.IsBoolean(schema)) return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (KindGuard.IsLiteral(schema)) return String(schema.const) === raw ? schema.const : raw;
  if (KindGuard.IsUnion(schema)) {
    for (const member of schema.anyOf) {
      const coerced = coerceString(member, raw);
      if (Value.Check(member, coerced)) return coerced;
    }
    return raw;
  }
  if (KindGuard.IsArray(schema) && raw.trimStart().startsWith('[')) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * The candidate `name` most likely meant: same letters ignoring case and `_`/`-`
 * (`max_age_seconds` -> `maxAgeSeconds`), else the nearest within a small edit distance.
 */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const fold = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const folded = fold(name);
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  for (const candidate of candidates) {
    if (fold(candidate) === folded) return candidate;
    const d = editDistance(folded, fold(candidate));
    if (d <= bestDistance) {
      best = candidate;
      bestDistance = d - 1;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
