/**
 * Validation of the merged configuration: the schema (compiled once) and then the rules a schema
 * cannot state (relations between keys). Every problem is collected, worded for an operator and
 * attributed to the source of the offending value.
 */
import { KindGuard, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { sourceAt, type ConfigProblem, type ConfigSource } from './config-layer.js';
import { annotationOf, ConfigSchema, DerivedKind, ExpectedKind, SecretKind, type Config } from './schema.js';
import { didYouMean, propertiesOf } from './schema-nav.js';

/**
 * A rule over several keys. It runs only when none of the keys it `reads` (or their sections)
 * has a schema problem, so it may assume their types and never repeats a schema complaint.
 */
interface CrossCheck {
  reads: readonly string[];
  check(config: Readonly<Config>): { path: string; message: string } | undefined;
}

const CROSS_CHECKS: readonly CrossCheck[] = [
  {
    reads: ['/pagination/defaultPageSize', '/pagination/maxPageSize'],
    check: ({ pagination: { defaultPageSize, maxPageSize } }) =>
      defaultPageSize > maxPageSize
        ? {
            path: '/pagination/defaultPageSize',
            message: `must not exceed pagination.maxPageSize (${maxPageSize}), got ${defaultPageSize}`,
          }
        : undefined,
  },
  {
    reads: ['/storage/metadata/driver', '/storage/metadata/postgres'],
    check: ({ storage: { metadata } }) => {
      if (metadata.driver === 'postgres' && metadata.postgres === undefined) {
        return { path: '/storage/metadata/postgres', message: 'required when storage.metadata.driver is "postgres" (url, or host and database)' };
      }
      if (metadata.driver !== 'postgres' && metadata.postgres !== undefined) {
        return { path: '/storage/metadata/postgres', message: `is set, but storage.metadata.driver is "${metadata.driver}" (set it to "postgres", or remove the block)` };
      }
      const pg = metadata.postgres;
      if (pg === undefined) return undefined;
      if (pg.url === undefined && pg.host === undefined) {
        return { path: '/storage/metadata/postgres', message: 'needs url or host' };
      }
      if (pg.passwordFile !== undefined && pg.passwordEnv !== undefined) {
        return { path: '/storage/metadata/postgres/passwordEnv', message: 'set passwordFile or passwordEnv, not both' };
      }
      if (pg.url !== undefined && /[?&]password=/i.test(pg.url)) {
        return { path: '/storage/metadata/postgres/url', message: 'must not carry a password (use passwordFile or passwordEnv) (value not shown)' };
      }
      return undefined;
    },
  },
  {
    reads: ['/storage/blob/driver', '/storage/blob/s3'],
    check: ({ storage: { blob } }) => {
      if (blob.driver === 's3' && blob.s3 === undefined) {
        return { path: '/storage/blob/s3', message: 'required when storage.blob.driver is "s3" (region and bucket at least)' };
      }
      if (blob.driver !== 's3' && blob.s3 !== undefined) {
        return { path: '/storage/blob/s3', message: `is set, but storage.blob.driver is "${blob.driver}" (set it to "s3", or remove the block)` };
      }
      const s3 = blob.s3;
      if (s3 === undefined) return undefined;
      const refs = [s3.secretAccessKeyFile, s3.secretAccessKeyEnv].filter((r) => r !== undefined).length;
      if (refs === 2) return { path: '/storage/blob/s3/secretAccessKeyEnv', message: 'set secretAccessKeyFile or secretAccessKeyEnv, not both' };
      if (s3.accessKeyId !== undefined && refs === 0) {
        return { path: '/storage/blob/s3/accessKeyId', message: 'needs secretAccessKeyFile or secretAccessKeyEnv for its secret key' };
      }
      if (s3.accessKeyId === undefined && refs === 1) {
        return { path: '/storage/blob/s3/accessKeyId', message: 'required with a secret access key (or give neither, for the default credential chain)' };
      }
      return undefined;
    },
  },
];

let compiled: TypeCheck<typeof ConfigSchema> | undefined;

export function validateConfig(value: unknown, sources: ReadonlyMap<string, ConfigSource>): ConfigProblem[] {
  compiled ??= TypeCompiler.Compile(ConfigSchema);
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  const add = (path: string, message: string): void => {
    problems.push({ path, message, source: sourceAt(sources, path)?.label ?? 'default' });
  };
  for (const error of compiled.Errors(value)) {
    // TypeBox may report one key twice (a missing key is "required" and "expected string"):
    // the first error at a path is the one that says most.
    if (seen.has(error.path)) continue;
    seen.add(error.path);
    // A derived key is missing only when what it derives from is invalid, which is reported.
    if (error.type === ValueErrorType.ObjectRequiredProperty && DerivedKind in error.schema) continue;
    add(error.path, messageFor(error));
  }
  const clean = (path: string): boolean => ![...seen].some((p) => p === '' || path === p || path.startsWith(`${p}/`));
  for (const rule of CROSS_CHECKS) {
    if (!rule.reads.every(clean)) continue;
    const problem = rule.check(value as Config);
    if (problem) add(problem.path, problem.message);
  }
  return problems;
}

function messageFor(error: ValueError): string {
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = unescape(error.path.slice(error.path.lastIndexOf('/') + 1));
      const suggestion = didYouMean(key, Object.keys(propertiesOf(error.schema) ?? {}));
      return `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return `required key missing: expected ${describe(error.schema)}`;
    default:
      return SecretKind in error.schema
        ? `expected ${describe(error.schema)} (value not shown)`
        : `expected ${describe(error.schema)}, got ${show(error.value)}`;
  }
}

/** What a schema accepts, in words: `an integer >= 60`, `one of "fatal", "error"`. */
function describe(schema: TSchema): string {
  const expected = annotationOf(schema, ExpectedKind);
  if (typeof expected === 'string') return expected;
  if (KindGuard.IsInteger(schema) || KindGuard.IsNumber(schema)) {
    const word = KindGuard.IsInteger(schema) ? 'an integer' : 'a number';
    const { minimum, maximum } = schema;
    if (minimum !== undefined && maximum !== undefined) return `${word} from ${minimum} to ${maximum}`;
    if (minimum !== undefined) return `${word} >= ${minimum}`;
    if (maximum !== undefined) return `${word} <= ${maximum}`;
    return word;
  }
  if (KindGuard.IsString(schema)) {
    if (schema.pattern !== undefined) return `a string matching ${schema.pattern}`;
    if (schema.minLength === 1) return 'a non-empty string';
    return 'a string';
  }
  if (KindGuard.IsBoolean(schema)) return 'true or false';
  if (KindGuard.IsLiteral(schema)) return JSON.stringify(schema.const);
  if (KindGuard.IsUnion(schema)) {
    return schema.anyOf.every(KindGuard.IsLiteral)
      ? `one of ${schema.anyOf.map((s) => JSON.stringify(s.const)).join(', ')}`
      : schema.anyOf.map(describe).join(' or ');
  }
  if (KindGuard.IsObject(schema)) return `a mapping with keys ${Object.keys(schema.properties).join(', ')}`;
  if (KindGuard.IsArray(schema)) return 'a list';
  return 'a valid value';
}

/**
 * A short rendering of the offending value. Long strings are cut; mappings and lists are named,
 * not dumped, so a large or sensitive value does not end up in logs.
 */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  return typeof value === 'object' ? 'a mapping' : typeof value;
}

function unescape(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
