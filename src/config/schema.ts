/**
 * The one configuration schema. From it come the TypeScript type (`Config`), the JSON Schema
 * printed by `wharf config schema`, the defaults, the env var names (WHARF_SECTION__KEY) and the
 * validation that `loadConfig` runs once before freezing the result.
 *
 * Conventions, so new blocks (auth, s3, postgres ...) slot in without touching the loader:
 * - every object is `section(...)`: `additionalProperties: false`, so a typo is an error;
 * - a key with a `default` is optional in the file and always present in `Config`;
 * - `Type.Optional` without a default means "absent unless configured" (e.g. `http.tls`);
 * - filesystem paths use `fsPath(...)` (resolved to absolute paths by the loader);
 * - a default computed from other keys uses `derived(...)` (optional in the file, present in `Config`);
 * - a password, token or key uses `secret(...)`: problems never echo its value;
 * - a backend-specific block is an optional sibling section (`storage.blob.s3`) checked against
 *   `driver` in validate-config.ts, rather than a union of objects: unions of objects give poor
 *   error messages and defeat `additionalProperties: false`.
 * Symbol-keyed annotations below are for the loader only; configJsonSchema() strips them.
 */
import { join } from 'node:path';
import {
  Type,
  type Static,
  type TLiteral,
  type TProperties,
  type TSchema,
  type TString,
  type ObjectOptions,
  type SchemaOptions,
} from '@sinclair/typebox';
import { LISTEN_PATTERN } from './listen-address.js';

/** Marks a string that names a file or directory: the loader makes it absolute (see load-config.ts). */
export const FsPathKind = Symbol.for('wharf.config.fsPath');
/** Holds a `DeriveFn`: the value used when no layer set the key. */
export const DerivedKind = Symbol.for('wharf.config.derived');
/** Marks a value never to be echoed in problems (passwords, access keys). */
export const SecretKind = Symbol.for('wharf.config.secret');
/** Holds the human wording of what a `pattern` accepts, used in error messages instead of the regex. */
export const ExpectedKind = Symbol.for('wharf.config.expected');

/** The loader annotation `kind` (one of the symbols above) carried by `schema`, if any. */
export function annotationOf(schema: TSchema, kind: symbol): unknown {
  return (schema as unknown as Record<symbol, unknown>)[kind];
}

/**
 * Computes a derived default from the merged configuration. It runs before validation, so it must
 * check the types it reads and return undefined when it cannot compute (validation then reports
 * the key it depended on).
 */
export type DeriveFn = (config: Readonly<Record<string, unknown>>) => unknown;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const MiB = 1024 * 1024;
/** An environment variable named by a `*Env` key: a secret passed by reference. WHARF_* names are configuration. */
const ENV_NAME_PATTERN = '^(?!WHARF_)[A-Za-z_][A-Za-z0-9_]*$';

function section<T extends TProperties>(properties: T, options: ObjectOptions = {}) {
  return Type.Object(properties, { ...options, additionalProperties: false });
}

function oneOf<const T extends readonly string[]>(values: T, options: SchemaOptions) {
  const literals = values.map((v) => Type.Literal(v)) as { -readonly [K in keyof T]: TLiteral<T[K]> };
  return Type.Union(literals, options);
}

function fsPath(options: SchemaOptions): TString {
  return Object.assign(Type.String({ minLength: 1, ...options }), { [FsPathKind]: true });
}

/** A password, token or key: `secret(Type.String({ minLength: 1 }))`. */
export function secret<S extends TSchema>(schema: S): S {
  return Object.assign(schema, { [SecretKind]: true });
}

function derived<S extends TSchema>(schema: S, derive: DeriveFn): S {
  return Object.assign(schema, { [DerivedKind]: derive });
}

/** join(config.data, name) once `data` is a usable string; undefined otherwise. */
function underData(name: string): DeriveFn {
  return (config) => (typeof config.data === 'string' && config.data !== '' ? join(config.data, name) : undefined);
}

export const ConfigSchema = section(
  {
    listen: Type.String({
      default: '127.0.0.1:5000',
      pattern: LISTEN_PATTERN,
      description: 'Address to listen on, HOST:PORT. IPv6 hosts in brackets ([::1]:5000); port 0 picks a free port.',
      [ExpectedKind]: 'HOST:PORT with a non-empty host (IPv6 in brackets) and a port 0-65535',
    }),
    data: fsPath({
      default: './data',
      description: 'Data directory of the embedded stores; the default parent of storage.*.path.',
    }),
    log: section(
      {
        level: oneOf(LOG_LEVELS, { default: 'info', description: 'Minimum level written to the JSON log.' }),
      },
      { description: 'Logging.' },
    ),
    http: section(
      {
        tls: Type.Optional(
          section(
            {
              cert: fsPath({ description: 'PEM certificate chain file.' }),
              key: fsPath({ description: 'PEM private key file.' }),
            },
            { description: 'Serve HTTPS. Both cert and key are required when this block is present.' },
          ),
        ),
        trustProxy: Type.Boolean({
          default: false,
          description: 'Trust X-Forwarded-* headers (only behind a reverse proxy you control).',
        }),
        publicUrl: Type.Optional(
          Type.String({
            pattern: String.raw`^https?://[^\s/?#@]+(/[^\s?#]*)?$`,
            description: 'Absolute http(s) URL clients use to reach the registry, e.g. https://registry.example.com.',
            [ExpectedKind]: 'an absolute http:// or https:// URL without credentials, query or fragment',
          }),
        ),
        bodyLimitManifest: Type.Integer({
          default: 4 * MiB,
          minimum: 1024,
          maximum: 16 * MiB,
          description: 'Largest manifest accepted, in bytes (1 KiB to 16 MiB).',
        }),
        requestTimeoutSeconds: Type.Integer({
          default: 0,
          minimum: 0,
          description: 'Time limit for a whole request, in seconds; 0 means none (blob transfers can be long).',
        }),
      },
      { description: 'HTTP server.' },
    ),
    auth: section(
      {
        enabled: Type.Boolean({
          default: true,
          description:
            'Require credentials (deny by default). false serves everyone as an admin: only behind an authenticating proxy you control.',
        }),
        adminPassword: Type.Optional(
          secret(
            Type.String({
              minLength: 8,
              description: 'Password of the user "admin" created at first start (only then); generated and printed once when absent.',
            }),
          ),
        ),
        token: section(
          {
            issuer: Type.String({ default: 'wharf', minLength: 1, description: 'The iss claim of issued tokens.' }),
            service: Type.String({
              default: 'wharf',
              minLength: 1,
              description: 'The service named in the Bearer challenge, and the aud claim of tokens.',
            }),
            lifetimeSeconds: Type.Integer({
              default: 300,
              minimum: 30,
              maximum: 86_400,
              description: 'Lifetime of a bearer token (30 s to 1 day).',
            }),
            keyRotationSeconds: Type.Integer({
              default: 30 * 86_400,
              minimum: 0,
              description: 'Age after which the signing key is replaced (old keys verify one token lifetime more); 0 = only on request.',
            }),
            refreshLifetimeSeconds: Type.Integer({
              default: 30 * 86_400,
              minimum: 60,
              description: 'Lifetime of a refresh token (docker login identity token, OAuth2 offline access).',
            }),
          },
          { description: 'Docker token authentication.' },
        ),
        loginBackoff: section(
          {
            freeFailures: Type.Integer({ default: 5, minimum: 1, description: 'Failed logins per account or address before back-off starts.' }),
            baseDelaySeconds: Type.Integer({ default: 1, minimum: 1, description: 'First back-off; doubles with each further failure.' }),
            maxDelaySeconds: Type.Integer({ default: 900, minimum: 1, description: 'Longest back-off.' }),
          },
          { description: 'Growing back-off after failed logins, per account and per client address (kept in the DB).' },
        ),
      },
      { description: 'Authentication and authorization.' },
    ),
    storage: section(
      {
        blob: section(
          {
            driver: oneOf(['fs', 's3'], {
              default: 'fs',
              description: 'Blob store backend: fs (a directory, one process) or s3 (an S3-compatible object store, shared by replicas).',
            }),
            path: derived(fsPath({ description: 'Blob directory of the fs driver. Default: <data>/blobs.' }), underData('blobs')),
            s3: Type.Optional(
              section(
                {
                  endpoint: Type.Optional(
                    Type.String({
                      pattern: String.raw`^https?://[^\s/?#@]+/?$`,
                      description: 'Endpoint URL of a non-AWS store, e.g. http://minio.internal:9000 or https://storage.googleapis.com. Omit for AWS S3.',
                      [ExpectedKind]: 'an http:// or https:// URL with a host and no path, credentials, query or fragment',
                    }),
                  ),
                  region: Type.String({ minLength: 1, description: 'Region, e.g. us-east-1 (MinIO and Ceph accept any; GCS: auto).' }),
                  bucket: Type.String({
                    pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
                    description: 'Bucket name (must exist).',
                    [ExpectedKind]: 'an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)',
                  }),
                  prefix: Type.Optional(
                    Type.String({
                      pattern: '^[A-Za-z0-9!_.*()\'-]+(/[A-Za-z0-9!_.*()\'-]+)*/?$',
                      description: 'Key prefix, to share a bucket, e.g. registry/ (default: none).',
                      [ExpectedKind]: 'a key prefix such as registry/ (safe characters, no leading slash, no empty segment)',
                    }),
                  ),
                  forcePathStyle: Type.Optional(
                    Type.Boolean({ description: 'Bucket in the URL path instead of the host name (default false; true for MinIO and most self-hosted stores).' }),
                  ),
                  accessKeyId: Type.Optional(Type.String({ minLength: 1, description: 'Access key id; omit to use the SDK default chain (AWS_* env, instance or pod role).' })),
                  secretAccessKeyFile: Type.Optional(fsPath({ description: 'File holding the secret access key (e.g. a mounted Kubernetes secret).' })),
                  secretAccessKeyEnv: Type.Optional(
                    Type.String({
                      pattern: ENV_NAME_PATTERN,
                      description: 'Name of the environment variable holding the secret access key (not a WHARF_* name).',
                      [ExpectedKind]: 'the name of an environment variable (letters, digits, _), not a WHARF_* name',
                    }),
                  ),
                  partSizeBytes: Type.Optional(
                    Type.Integer({
                      minimum: 5 * MiB,
                      maximum: 512 * MiB,
                      description: 'Multipart part size in bytes, 5 MiB to 512 MiB (default 8 MiB); the largest blob is 10,000 parts. Each running upload buffers up to two parts.',
                    }),
                  ),
                  presignedRedirect: Type.Optional(
                    section(
                      {
                        enabled: Type.Boolean({ description: 'Answer blob GETs with 307 to a presigned URL of the object store.' }),
                        expiresSeconds: Type.Optional(
                          Type.Integer({ minimum: 1, maximum: 604_800, description: 'Validity of a presigned URL (default 300; at most 7 days).' }),
                        ),
                      },
                      { description: 'Let clients download blob bytes straight from the object store.' },
                    ),
                  ),
                },
                {
                  description:
                    'S3-compatible object store (driver s3): AWS S3, MinIO, Ceph RGW, GCS XML API. The secret key only by reference; no keys at all means the SDK default credential chain.',
                },
              ),
            ),
          },
          { description: 'Where blob bytes live.' },
        ),
        metadata: section(
          {
            driver: oneOf(['sqlite', 'postgres'], {
              default: 'sqlite',
              description: 'Metadata store backend: sqlite (embedded, one process) or postgres (scale-out, shared by replicas).',
            }),
            path: derived(
              fsPath({ description: 'SQLite database file. Default: <data>/wharf.db.' }),
              underData('wharf.db'),
            ),
            postgres: Type.Optional(
              section(
                {
                  url: Type.Optional(
                    // secret: a URL refused for carrying a password must not be echoed back
                    secret(Type.String({
                      pattern: String.raw`^postgres(ql)?://([^:@/?#\s]+@)?[^@/?#\s]*(/[^?#\s]*)?(\?[^#\s]*)?$`,
                      description:
                        'Connection URL without a password, e.g. postgres://wharf@db.internal:5432/wharf?sslmode=require. The keys below override its parts.',
                      [ExpectedKind]: 'a postgres:// or postgresql:// URL without a password (use passwordFile or passwordEnv)',
                    })),
                  ),
                  host: Type.Optional(Type.String({ minLength: 1, description: 'Server host name or address.' })),
                  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Server port (default 5432).' })),
                  database: Type.Optional(Type.String({ minLength: 1, description: 'Database name.' })),
                  user: Type.Optional(Type.String({ minLength: 1, description: 'User name.' })),
                  passwordFile: Type.Optional(fsPath({ description: 'File holding the password (e.g. a mounted Kubernetes secret); trailing newlines are ignored.' })),
                  passwordEnv: Type.Optional(
                    Type.String({
                      pattern: ENV_NAME_PATTERN,
                      description: 'Name of the environment variable holding the password (not a WHARF_* name).',
                      [ExpectedKind]: 'the name of an environment variable (letters, digits, _), not a WHARF_* name',
                    }),
                  ),
                  schema: Type.Optional(
                    Type.String({
                      pattern: '^[a-z_][a-z0-9_]{0,62}$',
                      description: "Schema for Wharf's tables, created when missing (default: the server's search_path, usually public).",
                      [ExpectedKind]: 'a lower-case SQL identifier (letters, digits, _; at most 63)',
                    }),
                  ),
                  poolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Connections per replica (default 10).' })),
                  connectTimeoutSeconds: Type.Optional(
                    Type.Integer({ minimum: 1, maximum: 600, description: 'Give up connecting after this long (default 10).' }),
                  ),
                },
                {
                  description:
                    'PostgreSQL connection (driver postgres): url and/or host, port, database, user; the password only by reference. Without either reference, PGPASSWORD / ~/.pgpass apply.',
                },
              ),
            ),
          },
          { description: 'Where the metadata database lives.' },
        ),
      },
      { description: 'Storage backends.' },
    ),
    uploads: section(
      {
        maxAgeSeconds: Type.Integer({
          default: 86_400,
          minimum: 60,
          description: 'An upload session idle for longer than this is abandoned and reclaimed.',
        }),
        reclaimIntervalSeconds: Type.Integer({
          default: 600,
          minimum: 1,
          description: 'How often abandoned uploads are looked for.',
        }),
      },
      { description: 'Blob upload sessions.' },
    ),
    pypi: section(
      {
        maxUploadBytes: Type.Integer({
          default: 20 * 1024 * MiB,
          minimum: 1024,
          maximum: Number.MAX_SAFE_INTEGER,
          description: 'Largest Python distribution file (wheel or sdist) a PyPI repository accepts; larger uploads are refused with 413 and nothing is stored.',
        }),
      },
      { description: 'Python package repositories (format pypi).' },
    ),
    scan: Type.Optional(
      section(
        {
          enabled: Type.Optional(Type.Boolean({ description: 'Vulnerability scanning and SBOMs under /api/v1 (default true).' })),
          maxLayerEntries: Type.Optional(Type.Integer({ minimum: 1, description: 'Tar entries read per image, all layers together (default 2,000,000).' })),
          maxFileBytes: Type.Optional(
            Type.Integer({ minimum: 1024, description: 'Largest package database or version file read; larger ones are skipped with a warning (default 32 MiB).' }),
          ),
          maxBufferedBytes: Type.Optional(
            Type.Integer({ minimum: 1024 * 1024, description: 'File contents a scan holds in memory at once, all files together (default 256 MiB).' }),
          ),
          maxUncompressedBytes: Type.Optional(
            Type.Integer({ minimum: 1024 * 1024, description: 'Uncompressed bytes read per image, all layers together (default 64 GiB).' }),
          ),
          maxCompressionRatio: Type.Optional(
            Type.Integer({ minimum: 10, description: 'A layer expanding more than this many times (past 16 MiB) is refused as a decompression bomb (default 250).' }),
          ),
        },
        { description: 'Vulnerability scanning (features/scan): limits on reading layers. Absent keys take their defaults.' },
      ),
    ),
    insights: section(
      {
        enabled: Type.Boolean({ default: true, description: 'Image insights (features/insights): layer cake, waste, findings, cold-start estimates under /api/v1/insights.' }),
        onPush: Type.Boolean({ default: true, description: 'Analyse every pushed image in the background (an insights.image job per manifest).' }),
        bandwidthBitsPerSecond: Type.Number({ default: 1_000_000_000, minimum: 1_000_000, description: 'Network bandwidth of a cold node pulling an image, for the cold-start estimate (default 1 Gbit/s).' }),
        decompressBytesPerSecond: Type.Optional(
          Type.Number({ minimum: 1_000_000, description: 'Decompression rate for the cold-start estimate; measured on this server (gzip) when absent.' }),
        ),
        weightsThresholdBytes: Type.Integer({ default: 100 * 1024 * 1024, minimum: 0, description: 'Model weights baked into an image above this many bytes are a finding (default 100 MiB).' }),
        hugeLayerBytes: Type.Integer({ default: 256 * 1024 * 1024, minimum: 1, description: 'A layer this large after a layer that changes with the code is a cache-busting finding (default 256 MiB).' }),
        maxEntriesPerLayer: Type.Integer({ default: 1_000_000, minimum: 1, description: 'Tar entries kept per layer; past it the analysis is marked partial.' }),
        maxUncompressedBytes: Type.Optional(Type.Integer({ minimum: 1024 * 1024, description: 'Uncompressed bytes read per image, all layers together (default 64 GiB).' })),
        maxCompressionRatio: Type.Optional(Type.Integer({ minimum: 10, description: 'A layer expanding more than this many times (past 16 MiB) ends the analysis as a decompression bomb (default 250).' })),
      },
      { description: 'Image insights (features/insights; docs/insights.md).' },
    ),
    gc: section(
      {
        enabled: Type.Boolean({ default: true, description: 'Run online garbage collection on a schedule (on demand, POST /api/v1/gc or wharf gc, works either way).' }),
        intervalSeconds: Type.Integer({ default: 86_400, minimum: 60, description: 'How often the scheduled GC runs (once across replicas).' }),
        graceSeconds: Type.Integer({
          default: 86_400,
          minimum: 0,
          description:
            'A blob (or repository link) pushed or mounted less than this long ago is never collected: clients push blobs before the manifest that needs them, so keep it well above the longest push (at least an hour). 0 only for tests.',
        }),
        untaggedManifests: Type.Boolean({
          default: false,
          description: 'Also delete untagged manifests that no tagged or recent manifest keeps (as an index child or a referrer of its subject).',
        }),
        untaggedGraceSeconds: Type.Optional(
          Type.Integer({ minimum: 0, description: 'An untagged manifest younger than this is kept (default: graceSeconds).' }),
        ),
        sweepOrphanBytes: Type.Boolean({
          default: true,
          description: 'Also delete bytes in the blob store that no blob row names (left by a crash between publishing and committing).',
        }),
      },
      { description: 'Online garbage collection (registry/gc.ts; DESIGN.md invariant 5).' },
    ),
    lifecycle: section(
      {
        createRepositoriesOnPush: Type.Boolean({
          default: true,
          description: 'A push may create a repository that does not exist (namespace settings can override per namespace).',
        }),
        cleanupIntervalSeconds: Type.Integer({
          default: 86_400,
          minimum: 60,
          description: 'How often repositories with a cleanup policy are cleaned (once across replicas).',
        }),
        trafficFlushSeconds: Type.Integer({
          default: 30,
          minimum: 1,
          maximum: 3600,
          description: 'How often counted pulls and egress bytes are written to the DB (a crash loses at most this much counting).',
        }),
        pricing: section(
          {
            storagePerGiBMonth: Type.Number({
              default: 0.1,
              minimum: 0,
              description: 'Price of storing one GiB for a month (default 0.10, Artifact Registry list price).',
            }),
            egressPerGiB: Type.Number({ default: 0.12, minimum: 0, description: 'Price of one GiB sent to clients (default 0.12, internet egress list price).' }),
            currency: Type.String({ default: 'USD', pattern: '^[A-Z]{3}$', description: 'Currency code the prices are in (shown with costs).' }),
          },
          { description: 'Prices for the monthly cost estimate of wharf usage and /api/v1/usage.' },
        ),
      },
      { description: 'Repositories and their lifecycle: implicit creation, cleanup policies, usage and cost (features/lifecycle).' },
    ),
    pagination: section(
      {
        defaultPageSize: Type.Integer({
          default: 100,
          minimum: 1,
          description: 'Page size of list endpoints when the client asks for none (n).',
        }),
        maxPageSize: Type.Integer({
          default: 10_000,
          minimum: 1,
          description: 'Largest page a client may ask for; must be >= defaultPageSize.',
        }),
      },
      { description: 'List endpoints (tags, catalog, referrers).' },
    ),
  },
  { title: 'Wharf configuration', description: 'Configuration file of the Wharf registry (YAML).' },
);

/**
 * The validated, fully resolved configuration: every defaulted or derived key is present and
 * every path is absolute. `loadConfig` returns it deep-frozen.
 */
export type Config = Static<typeof ConfigSchema>;
