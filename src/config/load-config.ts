/**
 * loadConfig: defaults < YAML file < WHARF_* env < flags, merged key by key, then paths made
 * absolute, derived defaults filled in, everything validated once (all problems collected and
 * thrown together as CONFIG_INVALID) and the result deep-frozen.
 *
 * Relative paths (keys marked fsPath in schema.ts) are resolved against the directory of the
 * config file when the file set them, and against the working directory when a default, an env
 * var or a flag did. A file is then self-contained wherever `wharf` is started from (as with
 * nginx's `include` or docker compose), while `--data ./x` and `WHARF_DATA=./x` mean what a shell
 * user expects. `~` is not expanded. Derived defaults (`storage.blob.path` = `<data>/blobs`) are
 * computed from the resolved `data`, so they follow it wherever it came from.
 */
import { resolve } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { WharfError } from '../errors/wharf-error.js';
import {
  deepFreeze,
  emptyLayer,
  getOwn,
  isPlainObject,
  mergeLayer,
  pointerOf,
  setIn,
  setOwn,
  sourceAt,
  type ConfigLayer,
  type ConfigProblem,
  type ConfigSource,
  type MergedConfig,
} from './config-layer.js';
import { envLayer } from './env-layer.js';
import { flagLayer } from './flag-layer.js';
import { readConfigFile } from './read-config-file.js';
import { annotationOf, ConfigSchema, DerivedKind, FsPathKind, type Config, type DeriveFn } from './schema.js';
import { propertiesOf } from './schema-nav.js';
import { validateConfig } from './validate-config.js';

export interface LoadConfigOptions {
  /** YAML config file; relative to `cwd` */
  file?: string;
  /** Environment to read WHARF_* variables from. Omitted means none: pass `process.env` explicitly. */
  env?: NodeJS.ProcessEnv;
  /** Config keys, dotted or nested: `{ listen: '127.0.0.1:0', 'log.level': 'debug' }`; undefined values are ignored. */
  flags?: Partial<Record<string, unknown>>;
  /** Directory that relative paths from defaults, env and flags are resolved against; default process.cwd() */
  cwd?: string;
}

/** Problems listed in the error's detail; the count in the message is always the full count. */
export const MAX_REPORTED_PROBLEMS = 100;

/**
 * Builds the effective configuration. Throws `WharfError('CONFIG_INVALID', 'configuration
 * invalid: N problems', problems)` with every problem found (a `ConfigProblem[]`), including an
 * unreadable or malformed file and unknown WHARF_* variables.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const layers: ConfigLayer[] = [defaultsLayer(ConfigSchema, cwd)];
  if (options.file !== undefined) layers.push(readConfigFile(options.file, cwd));
  layers.push(envLayer(ConfigSchema, options.env ?? {}, cwd));
  layers.push(flagLayer(ConfigSchema, options.flags ?? {}, cwd));

  const merged: MergedConfig = { value: {}, sources: new Map() };
  for (const layer of layers) mergeLayer(merged, layer);
  resolvePaths(ConfigSchema, merged, []);
  fillDerived(ConfigSchema, merged, []);

  const problems: ConfigProblem[] = [...layers.flatMap((l) => l.problems), ...validateConfig(merged.value, merged.sources)];
  if (problems.length > 0) {
    const n = problems.length;
    const detail = problems.slice(0, MAX_REPORTED_PROBLEMS);
    if (n > MAX_REPORTED_PROBLEMS) detail.push({ path: '', message: `${n - MAX_REPORTED_PROBLEMS} more problems not listed`, source: '' });
    throw new WharfError('CONFIG_INVALID', `configuration invalid: ${n} ${n === 1 ? 'problem' : 'problems'}`, detail);
  }
  return deepFreeze(merged.value as Config);
}

/** Every `default` in the schema, and the objects that hold them (not optional sections like http.tls). */
function defaultsLayer(schema: TSchema, cwd: string): ConfigLayer {
  const source: ConfigSource = { kind: 'default', label: 'default', baseDir: cwd };
  const layer = emptyLayer(source);
  const visit = (object: TSchema, path: string[]): void => {
    const required = new Set<string>((object as { required?: string[] }).required ?? []);
    for (const [key, child] of Object.entries(propertiesOf(object) ?? {})) {
      const segments = [...path, key];
      if (child.default !== undefined) setIn(layer, segments, structuredClone(child.default), source);
      else if (propertiesOf(child) !== undefined && required.has(key)) {
        setIn(layer, segments, {}, source);
        visit(child, segments);
      }
    }
  };
  visit(schema, []);
  return layer;
}

/** Visits each (parent object, key, key schema) where the merged value has an object to look in. */
function walk(
  schema: TSchema,
  value: unknown,
  path: string[],
  fn: (parent: Record<string, unknown>, key: string, child: TSchema, segments: string[]) => void,
): void {
  if (!isPlainObject(value)) return;
  for (const [key, child] of Object.entries(propertiesOf(schema) ?? {})) {
    const segments = [...path, key];
    fn(value, key, child, segments);
    if (propertiesOf(child) !== undefined) walk(child, getOwn(value, key), segments, fn);
  }
}

function resolvePaths(schema: TSchema, merged: MergedConfig, path: string[]): void {
  walk(schema, merged.value, path, (parent, key, child, segments) => {
    const v = getOwn(parent, key);
    if (!(FsPathKind in child) || typeof v !== 'string' || v === '') return;
    const source = sourceAt(merged.sources, pointerOf(segments));
    setOwn(parent, key, resolve(source?.baseDir ?? process.cwd(), v));
  });
}

function fillDerived(schema: TSchema, merged: MergedConfig, path: string[]): void {
  walk(schema, merged.value, path, (parent, key, child, segments) => {
    const derive = annotationOf(child, DerivedKind) as DeriveFn | undefined;
    if (derive === undefined || getOwn(parent, key) !== undefined) return;
    const v = derive(merged.value);
    if (v === undefined) return;
    setOwn(parent, key, v);
    merged.sources.set(pointerOf(segments), { kind: 'derived', label: 'default (derived)', baseDir: '' });
  });
}
