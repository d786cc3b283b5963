/**
 * A layer is one origin of configuration values (defaults, the file, env, flags) as a nested
 * object plus, for every JSON pointer in it, where that value came from. Layers are merged in
 * precedence order into one object that keeps the same bookkeeping, so every validation problem
 * can name the default, file line, env var or flag responsible.
 */

/** One reported configuration problem; `wharf` prints `path message (from source)`. */
export interface ConfigProblem {
  /** JSON pointer into the configuration, e.g. `/uploads/maxAgeSeconds`; '' for the whole input */
  path: string;
  /** what is wrong and what was expected, e.g. `expected an integer >= 60, got 5` */
  message: string;
  /** `default`, `file wharf.yaml:3:5`, `env WHARF_UPLOADS__MAX_AGE_SECONDS` or `flag listen` */
  source: string;
}

export interface ConfigSource {
  kind: 'default' | 'file' | 'env' | 'flag' | 'derived';
  /** shown in problems */
  label: string;
  /** relative filesystem paths set by this source are resolved against this directory */
  baseDir: string;
}

export interface ConfigLayer {
  value: Record<string, unknown>;
  /** source of every pointer in `value`, including intermediate objects the layer created */
  sources: Map<string, ConfigSource>;
  /** used for pointers missing from `sources` (e.g. values inside an expanded YAML alias) */
  fallback: ConfigSource;
  /** problems found while reading the layer (syntax, unknown names); validation comes later */
  problems: ConfigProblem[];
}

/** The merged configuration before validation, with the same bookkeeping. */
export interface MergedConfig {
  value: Record<string, unknown>;
  sources: Map<string, ConfigSource>;
}

export function emptyLayer(fallback: ConfigSource): ConfigLayer {
  return { value: {}, sources: new Map(), fallback, problems: [] };
}

/** RFC 6901, as TypeBox writes error paths. */
export function pointerOf(segments: readonly string[]): string {
  return segments.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** A pointer written as dotted key for messages: `/uploads/maxAgeSeconds` -> `uploads.maxAgeSeconds`. */
export function dottedOf(segments: readonly string[]): string {
  return segments.join('.');
}

/** The source recorded for `pointer` or, failing that, for its nearest ancestor. */
export function sourceAt(sources: ReadonlyMap<string, ConfigSource>, pointer: string): ConfigSource | undefined {
  for (let p = pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
    const s = sources.get(p);
    if (s !== undefined || p === '') return s;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Own property or undefined: never walks the prototype chain (`__proto__`, `constructor` ...). */
export function getOwn(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Sets an own enumerable property, even for `__proto__`, without touching the prototype. */
export function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Copies plain objects and arrays so that freezing the result never freezes a caller's objects. */
function cloneData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneData);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, cloneData(v));
    return out;
  }
  return value;
}

/**
 * Merges `layer` over `into`: objects merge key by key, anything else (scalars, lists, null)
 * replaces what was there. Each pointer written takes the layer's source.
 */
export function mergeLayer(into: MergedConfig, layer: ConfigLayer): void {
  const visit = (target: Record<string, unknown>, from: Record<string, unknown>, path: string): void => {
    for (const [key, value] of Object.entries(from)) {
      if (value === undefined) continue;
      const pointer = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      const source = layer.sources.get(pointer) ?? sourceAt(layer.sources, pointer) ?? layer.fallback;
      const previous = getOwn(target, key);
      if (isPlainObject(value)) {
        if (!isPlainObject(previous)) {
          setOwn(target, key, {});
          into.sources.set(pointer, source);
        }
        visit(getOwn(target, key) as Record<string, unknown>, value, pointer);
      } else {
        // Replacing an object drops the provenance of what was inside it.
        if (isPlainObject(previous)) {
          for (const p of [...into.sources.keys()]) if (p.startsWith(`${pointer}/`)) into.sources.delete(p);
        }
        setOwn(target, key, cloneData(value));
        into.sources.set(pointer, source);
      }
    }
  };
  visit(into.value, layer.value, '');
}

/** Writes `value` at `segments`, creating objects on the way and recording `source` for each. */
export function setIn(layer: ConfigLayer, segments: readonly string[], value: unknown, source: ConfigSource): void {
  let target = layer.value;
  for (let i = 0; i < segments.length - 1; i++) {
    const key = segments[i]!;
    let next = getOwn(target, key);
    if (!isPlainObject(next)) {
      next = {};
      setOwn(target, key, next);
      layer.sources.set(pointerOf(segments.slice(0, i + 1)), source);
    }
    target = next as Record<string, unknown>;
  }
  setOwn(target, segments[segments.length - 1]!, value);
  layer.sources.set(pointerOf(segments), source);
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
