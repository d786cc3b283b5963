/**
 * The one composition root: turns a validated Config into running parts. Nothing else
 * constructs stores, services or the HTTP app.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { parseListenAddress, type Config } from './config/index.js';
import { buildApp } from './http/app.js';
import { WharfMetrics } from './observability/metrics.js';
import { RegistryService } from './registry/registry-service.js';
import { FsBlobStore } from './storage/blob/fs-blob-store.js';
import type { MetadataStore } from './storage/metadata/metadata-store.js';
import { openPostgresMetadataStore, openSqliteMetadataStore } from './storage/metadata/open-metadata-store.js';
import { WharfError } from './errors/wharf-error.js';

export interface Wharf {
  app: FastifyInstance;
  registry: RegistryService;
  metadata: MetadataStore;
  blobs: FsBlobStore;
  logger: Logger;
  /** starts listening; resolves to the bound address, e.g. http://127.0.0.1:5000 */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({
    level: config.log.level,
    base: { service: 'wharf' },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.password', '*.secret'], censor: '[redacted]' },
  });
}

/**
 * Opens the stores the config names (migrating the DB); used by `serve` and by operator commands.
 * Secrets given by reference (a file or an environment variable) are read here, from `env`.
 */
export async function openStores(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<{ metadata: MetadataStore; blobs: FsBlobStore }> {
  const blobs = new FsBlobStore({ root: config.storage.blob.path });
  await blobs.init();
  const metadata = openMetadataStore(config, env);
  try {
    await metadata.migrate();
  } catch (e) {
    await metadata.close().catch(() => undefined);
    throw e;
  }
  return { metadata, blobs };
}

function openMetadataStore(config: Config, env: NodeJS.ProcessEnv): MetadataStore {
  const { driver, path, postgres } = config.storage.metadata;
  if (driver === 'sqlite' || postgres === undefined) return openSqliteMetadataStore({ path });
  return openPostgresMetadataStore({
    connectionString: postgres.url,
    host: postgres.host,
    port: postgres.port,
    database: postgres.database,
    user: postgres.user,
    password: readSecret('storage.metadata.postgres', postgres.passwordFile, postgres.passwordEnv, env),
    schema: postgres.schema,
    poolSize: postgres.poolSize,
    connectionTimeoutMs: postgres.connectTimeoutSeconds === undefined ? undefined : postgres.connectTimeoutSeconds * 1000,
  });
}

/** A secret given by reference: the file's content (without trailing newlines) or the variable's value. */
function readSecret(key: string, file: string | undefined, envName: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/[\r\n]+$/, '');
    } catch (e) {
      throw new WharfError('CONFIG_INVALID', `${key}: cannot read the secret file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (envName !== undefined) {
    const value = env[envName];
    if (value === undefined || value === '') throw new WharfError('CONFIG_INVALID', `${key}: environment variable ${envName} is not set`);
    return value;
  }
  return undefined;
}

export async function createWharf(config: Config, options: { logger?: Logger; env?: NodeJS.ProcessEnv } = {}): Promise<Wharf> {
  const logger = options.logger ?? createLogger(config);
  const { metadata, blobs } = await openStores(config, options.env);
  const registry = new RegistryService({ metadata, blobs, uploads: blobs, manifestMaxBytes: config.http.bodyLimitManifest });
  const metrics = new WharfMetrics({ uploadsInProgress: () => registry.uploadsInProgress });
  let ready = false;
  const tls = config.http.tls;
  const app = buildApp({
    logger,
    metadata,
    metrics,
    registry,
    pagination: config.pagination,
    manifestBodyLimit: config.http.bodyLimitManifest,
    locationPrefix: config.http.publicUrl?.replace(/\/$/, '') ?? '',
    requestTimeoutMs: config.http.requestTimeoutSeconds * 1000,
    trustProxy: config.http.trustProxy,
    https: tls ? { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } : undefined,
    isReady: () => ready,
  });

  const maxAgeMs = config.uploads.maxAgeSeconds * 1000;
  const reclaim = async (): Promise<void> => {
    try {
      const n = await registry.reclaimAbandonedUploads(maxAgeMs);
      if (n > 0) logger.info({ reclaimed: n }, 'abandoned uploads reclaimed');
    } catch (err) {
      logger.error({ err }, 'reclaiming abandoned uploads failed');
    }
  };
  const timer = setInterval(() => void reclaim(), config.uploads.reclaimIntervalSeconds * 1000);
  timer.unref();

  return {
    app,
    registry,
    metadata,
    blobs,
    logger,
    async listen() {
      await reclaim();
      const { host, port } = parseListenAddress(config.listen);
      const address = await app.listen({ host, port });
      ready = true;
      return address;
    },
    async close() {
      ready = false;
      clearInterval(timer);
      await app.close();
      await registry.close();
      await metadata.close();
    },
  };
}
