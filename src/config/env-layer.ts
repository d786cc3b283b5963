/**
 * WHARF_* environment variables -> a config layer.
 *
 * General rule: `WHARF_` + the key's path, sections separated by a double underscore, each key
 * in UPPER_SNAKE_CASE of its camelCase name: `uploads.maxAgeSeconds` is
 * `WHARF_UPLOADS__MAX_AGE_SECONDS`. Aliases keep the most used keys short (`WHARF_LOG_LEVEL`).
 * Values are coerced to the key's type (see coerceString). An empty value counts as unset, as
 * `FOO=` in compose files and Kubernetes manifests usually means "not set".
 *
 * Every other WHARF_* name is an error, so a misspelt variable never silently does nothing;
 * names that belong to the tooling, not the configuration, are listed in ENV_ALLOW_LIST.
 * Names are case-sensitive: lower-case `wharf_*` variables are not ours and are ignored.
 */
import type { TSchema } from '@sinclair/typebox';
import { emptyLayer, setIn, type ConfigLayer, type ConfigSource } from './config-layer.js';
import { coerceString, didYouMean, leafPaths, propertiesOf, schemaAt } from './schema-nav.js';

export const ENV_PREFIX = 'WHARF_';

/** WHARF_* variables that are not configuration: ignored, never reported. */
export const ENV_ALLOW_LIST: ReadonlySet<string> = new Set([
  'WHARF_TEST', // set by scripts/run-tests.mjs for the test processes
  'WHARF_SERVER', // the registry URL of client commands (wharf user, sa, role, audit ...)
]);
/** Prefixes of WHARF_* variables that are not configuration (tooling passes its env on to servers). */
export const ENV_ALLOW_PREFIXES: readonly string[] = [
  'WHARF_E2E_', // e2e test settings, e.g. WHARF_E2E_TARGET (test/support/registry-process.ts)
];

function isAllowListed(name: string): boolean {
  return ENV_ALLOW_LIST.has(name) || ENV_ALLOW_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** Short names for the most used keys; the general names work as well. */
export const ENV_ALIASES: Readonly<Record<string, readonly string[]>> = {
  WHARF_LOG_LEVEL: ['log', 'level'],
  WHARF_ADMIN_PASSWORD: ['auth', 'adminPassword'],
};

/** `maxAgeSeconds` -> `MAX_AGE_SECONDS` */
function envSegment(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The general env var name of a key: ['uploads', 'maxAgeSeconds'] -> WHARF_UPLOADS__MAX_AGE_SECONDS */
export function envVarName(segments: readonly string[]): string {
  return ENV_PREFIX + segments.map(envSegment).join('__');
}

type Mapping = { segments: string[] } | { problem: string };

function mapName(schema: TSchema, name: string): Mapping {
  const alias = ENV_ALIASES[name];
  if (alias !== undefined) return { segments: [...alias] };
  const segments: string[] = [];
  let current: TSchema | undefined = schema;
  for (const part of name.slice(ENV_PREFIX.length).split('__')) {
    const properties = propertiesOf(current);
    const key =
      properties === undefined ? undefined : Object.keys(properties).find((k) => envSegment(k) === part);
    if (key === undefined) {
      const suggestion = didYouMean(name, [...leafPaths(schema).map(envVarName), ...Object.keys(ENV_ALIASES)]);
      return { problem: `unknown environment variable ${name}${suggestion ? ` (did you mean ${suggestion}?)` : ''}` };
    }
    segments.push(key);
    current = properties![key];
  }
  if (propertiesOf(current) !== undefined) {
    const example = leafPaths(current!, segments)[0];
    return {
      problem: `${name} names the section ${segments.join('.')}, not a key; set its keys${
        example ? `, e.g. ${envVarName(example)}` : ''
      }`,
    };
  }
  return { segments };
}

export function envLayer(schema: TSchema, env: NodeJS.ProcessEnv, cwd: string): ConfigLayer {
  const layer = emptyLayer({ kind: 'env', label: 'env', baseDir: cwd });
  const setBy = new Map<string, string>();
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || isAllowListed(name)) continue;
    const source: ConfigSource = { kind: 'env', label: `env ${name}`, baseDir: cwd };
    const mapping = mapName(schema, name);
    if ('problem' in mapping) {
      layer.problems.push({ path: '', message: mapping.problem, source: source.label });
      continue;
    }
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const dotted = mapping.segments.join('.');
    const other = setBy.get(dotted);
    if (other !== undefined) {
      layer.problems.push({
        path: '',
        message: `${other} and ${name} both set ${dotted}; set only one`,
        source: source.label,
      });
      continue;
    }
    setBy.set(dotted, name);
    setIn(layer, mapping.segments, coerceString(schemaAt(schema, mapping.segments)!, raw), source);
  }
  return layer;
}
