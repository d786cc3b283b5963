/**
 * The one composition root: turns a validated Config into running parts. Nothing else
 * constructs stores, services or the HTTP app.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { parseListenAddress, type Config } from './config/index.js';
import { AuditLog } from './auth/audit-log.js';
import { Authenticator } from './auth/authenticator.js';
import { Authorizer } from './auth/authorizer.js';
import { IdentityService } from './auth/identity-service.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { PasswordHasher } from './auth/password-hasher.js';
import { TokenService } from './auth/token-service.js';
import { buildApp } from './http/app.js';
import { JobRunner } from './jobs/job-runner.js';
import { createLifecycleFeature, type LifecycleFeature } from './features/lifecycle/lifecycle-feature.js';
import { registerLifecycleJobs } from './features/lifecycle/lifecycle-jobs.js';
import type { LifecycleAudit } from './features/lifecycle/cleanup-service.js';
import { GarbageCollector } from './registry/gc.js';
import { SqlGcStore } from './storage/metadata/sql-gc-store.js';
import { SqlImageStore } from './storage/metadata/sql-image-store.js';
import { PypiService } from './features/pypi/pypi-service.js';
import { SqlPypiStore } from './features/pypi/sql-pypi-store.js';
import { ScanService } from './features/scan/scan-service.js';
import { SigningService } from './features/signing/signing-service.js';
import { SqlAttestorStore } from './features/signing/attestors.js';
import { DeployPolicyService } from './features/deploy-policy/deploy-policy-service.js';
import { ContentPasses } from './content/content-pass.js';
import { InsightsService } from './features/insights/insights-service.js';
import { SqlInsightsStore } from './features/insights/sql-insights-store.js';
import { ModelService } from './features/models/model-service.js';
import { SqlModelStore } from './features/models/sql-model-store.js';
import { DEFAULT_ACCOUNTING_LIMITS } from './features/insights/layer-record.js';
import { SqlScanStore } from './features/scan/sql-scan-store.js';
import { StreamingService } from './features/streaming/streaming-service.js';
import { SqlStreamingStore } from './features/streaming/sql-streaming-store.js';
import { SqlJobStore } from './storage/metadata/sql-job-store.js';
import type { HttpAuthDeps } from './http/auth-gate.js';
import { WharfMetrics } from './observability/metrics.js';
import { RegistryService } from './registry/registry-service.js';
import type { BlobStore, UploadStore } from './storage/blob/blob-store.js';
import { FsBlobStore } from './storage/blob/fs-blob-store.js';
import { S3BlobStore } from './storage/blob/s3-blob-store.js';
import type { MetadataStore } from './storage/metadata/metadata-store.js';
import { SqlIdentityStore } from './storage/metadata/sql-identity-store.js';
import { SqlMetadataStore } from './storage/metadata/sql-metadata-store.js';
import { SqlRepositorySettingsStore } from './storage/metadata/repository-settings-store.js';
import { openPostgresMetadataStore, openSqliteMetadataStore } from './storage/metadata/open-metadata-store.js';
import { WharfError } from './errors/wharf-error.js';
import { parseDigest } from './domain/digest.js';
import { parseReference } from './domain/names.js';

export interface Wharf {
  app: FastifyInstance;
  registry: RegistryService;
  metadata: MetadataStore;
  blobs: BlobStore & UploadStore;
  logger: Logger;
  /** background jobs: features register their handlers and schedules before listen() */
  jobs: JobRunner;
  /** online garbage collection (also scheduled as the gc.run job) */
  gc: GarbageCollector;
  /** repositories, cleanup policies, namespaces, usage (features/lifecycle) */
  lifecycle: LifecycleFeature;
  /** Python package repositories (features/pypi) */
  pypi: PypiService;
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

export interface Stores {
  metadata: MetadataStore;
  /** one object, both roles: uploads are published into the blobs of the same store */
  blobs: BlobStore & UploadStore;
  /** closes both (the DB pool, the object store's connections) */
  close(): Promise<void>;
}

/**
 * Opens the stores the config names (checking the bucket, migrating the DB); used by `serve` and
 * by operator commands (fsck works the same on every backend). Secrets given by reference (a file
 * or an environment variable) are read here, from `env`.
 */
export async function openStores(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<Stores> {
  const blob = config.storage.blob;
  let blobs: FsBlobStore | S3BlobStore;
  if (blob.driver === 's3' && blob.s3 !== undefined) {
    const s3 = blob.s3;
    const secretAccessKey = readSecret('storage.blob.s3', s3.secretAccessKeyFile, s3.secretAccessKeyEnv, env);
    blobs = new S3BlobStore({
      endpoint: s3.endpoint,
      region: s3.region,
      bucket: s3.bucket,
      prefix: s3.prefix,
      forcePathStyle: s3.forcePathStyle,
      credentials: s3.accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId: s3.accessKeyId, secretAccessKey } : undefined,
      partSizeBytes: s3.partSizeBytes,
      presignExpiresSeconds: s3.presignedRedirect?.enabled ? (s3.presignedRedirect.expiresSeconds ?? 300) : undefined,
    });
  } else {
    blobs = new FsBlobStore({ root: blob.path });
  }
  const closeBlobs = (): void => {
    if (blobs instanceof S3BlobStore) blobs.close();
  };
  let metadata: MetadataStore | undefined;
  try {
    await blobs.init();
    metadata = openMetadataStore(config, env);
    await metadata.migrate();
  } catch (e) {
    closeBlobs();
    await metadata?.close().catch(() => undefined);
    throw e;
  }
  const opened = metadata;
  return {
    metadata: opened,
    blobs,
    async close() {
      closeBlobs();
      await opened.close();
    },
  };
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

/**
 * Identity and access over the metadata DB: token keys loaded (or made), the first admin created
 * on a fresh DB. A generated admin password goes to `announce` (stdout), never to the log.
 */
export async function createAuth(
  config: Config,
  metadata: MetadataStore,
  logger: Logger,
  announce: (line: string) => void,
): Promise<HttpAuthDeps & { housekeeping(): Promise<void> }> {
  if (!(metadata instanceof SqlMetadataStore)) throw new WharfError('INTERNAL', 'identity tables need the SQL metadata store');
  const store = new SqlIdentityStore(metadata.database);
  const settings = new SqlRepositorySettingsStore(metadata.database);
  const hasher = new PasswordHasher();
  const { token, loginBackoff } = config.auth;
  const tokens = new TokenService({
    store,
    issuer: token.issuer,
    service: token.service,
    lifetimeSeconds: token.lifetimeSeconds,
    rotationSeconds: token.keyRotationSeconds,
  });
  await tokens.init();
  const throttle = new LoginThrottle(store, {
    freeFailures: loginBackoff.freeFailures,
    baseDelayMs: loginBackoff.baseDelaySeconds * 1000,
    maxDelayMs: loginBackoff.maxDelaySeconds * 1000,
  });
  const identity = new IdentityService(store, hasher);
  const admin = await identity.bootstrapAdmin(config.auth.adminPassword);
  if (admin.generatedPassword !== undefined) {
    announce(`wharf: created user "admin" with password ${admin.generatedPassword}\n` + 'wharf: it is shown only this once; change it with `wharf user set-password admin`\n');
  } else if (admin.created) {
    logger.info({ user: 'admin' }, 'created the admin user from auth.adminPassword');
  }
  if (!config.auth.enabled) logger.warn('auth.enabled is false: every request is served as an admin');
  return {
    enabled: config.auth.enabled,
    authenticator: new Authenticator({ store, hasher, throttle, tokens, refreshTokenLifetimeSeconds: token.refreshLifetimeSeconds }),
    authorizer: new Authorizer(settings),
    tokens,
    audit: new AuditLog(store, (err) => logger.error({ err }, 'writing audit events failed')),
    identity,
    settings,
    publicUrl: config.http.publicUrl?.replace(/\/$/, ''),
    /** expired refresh tokens, failed-login counts idle for a day, signing keys past their overlap */
    async housekeeping() {
      const now = Date.now();
      await store.deleteExpiredRefreshTokens(now);
      await store.deleteStaleLoginFailures(now - 86_400_000);
      await store.deleteSigningKeysVerifiableBefore(now);
    },
  };
}

/** The DB job table and this process's workers over it (DESIGN.md "Background work"). */
export function createJobRunner(config: Config, metadata: MetadataStore, logger: Logger): { store: SqlJobStore; runner: JobRunner } {
  if (!(metadata instanceof SqlMetadataStore)) throw new WharfError('INTERNAL', 'the job table needs the SQL metadata store');
  const store = new SqlJobStore(metadata.database, config.storage.metadata.driver === 'postgres' ? 'postgres' : 'sqlite');
  return { store, runner: new JobRunner({ store, logger: logger.child({ component: 'jobs' }) }) };
}

/** File access and lazy-pulling indexes (features/streaming) over the metadata DB, its index job on the runner. */
export function createStreaming(
  registry: RegistryService,
  metadata: MetadataStore,
  settings: ConstructorParameters<typeof StreamingService>[0]['settings'],
  runner: JobRunner,
  logger: Logger,
): StreamingService {
  if (!(metadata instanceof SqlMetadataStore)) throw new WharfError('INTERNAL', 'file indexes need the SQL metadata store');
  const streaming = new StreamingService({ registry, store: new SqlStreamingStore(metadata.database), settings, logger: logger.child({ component: 'streaming' }) });
  streaming.useJobs(runner);
  return streaming;
}

/** Vulnerability scanning (features/scan) over the metadata DB, its jobs on the runner; undefined when scan.enabled is false. */
export function createScan(
  config: Config,
  registry: RegistryService,
  metadata: MetadataStore,
  settings: ConstructorParameters<typeof ScanService>[0]['settings'],
  runner: JobRunner,
  logger: Logger,
  passes?: ContentPasses,
): ScanService | undefined {
  const c = config.scan;
  if (c?.enabled === false) return undefined;
  if (!(metadata instanceof SqlMetadataStore)) throw new WharfError('INTERNAL', 'scanning needs the SQL metadata store');
  const limits = Object.fromEntries(
    Object.entries({
      maxEntries: c?.maxLayerEntries,
      maxFileBytes: c?.maxFileBytes,
      maxBufferedBytes: c?.maxBufferedBytes,
      maxUncompressedBytes: c?.maxUncompressedBytes,
      maxCompressionRatio: c?.maxCompressionRatio,
    }).filter(([, v]) => v !== undefined),
  );
  const publicUrl = config.http.publicUrl;
  const scan = new ScanService({
    registry,
    store: new SqlScanStore(metadata.database),
    settings,
    limits,
    registryHost: publicUrl ? new URL(publicUrl).host : undefined,
    logger: logger.child({ component: 'scan' }),
    passes,
  });
  scan.useJobs(runner);
  return scan;
}

/**
 * Supply chain (issue 15): signatures verified against attestors (features/signing) and deploy
 * policies (features/deploy-policy) judged over facts from signing and the scanner, wired here so
 * neither feature imports the other. The registry's own host names (http.publicUrl, the listen
 * address) tell its images from other registries' at admission.
 */
export function createSupplyChain(config: Config, registry: RegistryService, metadata: MetadataStore, scan: ScanService | undefined, logger?: Logger): { signing: SigningService; deployPolicy: DeployPolicyService } {
  if (!(metadata instanceof SqlMetadataStore)) throw new WharfError('INTERNAL', 'the supply-chain tables need the SQL metadata store');
  let onAttestorsChanged = (): void => undefined;
  const signing = new SigningService({ registry, attestors: new SqlAttestorStore(metadata.database), onAttestorsChanged: () => onAttestorsChanged() });
  const hosts = [config.listen];
  if (config.http.publicUrl) hosts.push(new URL(config.http.publicUrl).host);
  const deployPolicy = new DeployPolicyService({
    database: metadata.database,
    registryHosts: hosts,
    facts: {
      resolve: async (repository, tag) => (await registry.getManifest(repository, parseReference(tag))).digest,
      signatures: (repository, digest) => signing.verifiedFacts(repository, parseDigest(digest)),
      scan: async (repository, digest) => {
        if (!scan) return undefined;
        try {
          const r = await scan.report(repository, { kind: 'digest', digest: parseDigest(digest) });
          return { scannedAt: Date.parse(r.scannedAt), findings: r.findings.map((f) => ({ severity: f.severity, fixable: f.fixed !== undefined && f.fixed !== '' })) };
        } catch (err) {
          if (err instanceof WharfError && err.code === 'RESOURCE_UNKNOWN') return undefined;
          throw err;
        }
      },
    },
  });
  // deleting an image deletes its cosign signature and attestation tags (after the delete's commit;
  // a crash in between leaves them, and `wharf signatures` of a deleted image cannot be asked)
  onAttestorsChanged = () => deployPolicy.invalidate();
  // a push or delete may add or remove signatures: the policy's cached facts of that repository go
  registry.onManifestPushed((e) => deployPolicy.invalidate(e.repository));
  registry.onManifestDeleted((e) => deployPolicy.invalidate(e.repository));
  registry.onManifestDeleted((e) => {
    void signing.deleteSignaturesOf(e.repository, e.digest).catch((err: unknown) => logger?.error({ err, repository: e.repository, digest: e.digest }, 'deleting signatures of a deleted image failed'));
  });
  return { signing, deployPolicy };
}

/**
 * Image insights (features/insights) over the metadata DB, its jobs on the runner; undefined when
 * insights.enabled is false. It shares `passes` with the scan: whichever reads an image first
 * feeds the other when it is due too (one decompression per layer).
 */
export function createInsights(config: Config, registry: RegistryService, metadata: MetadataStore, runner: JobRunner, passes: ContentPasses, metrics: WharfMetrics, logger: Logger): InsightsService | undefined {
  const c = config.insights;
  if (!c.enabled) return undefined;
  if (!(metadata instanceof SqlMetadataStore)) throw new WharfError('INTERNAL', 'insights need the SQL metadata store');
  const insights = new InsightsService({
    registry,
    store: new SqlInsightsStore(metadata.database),
    passes,
    options: {
      bandwidthBitsPerSecond: c.bandwidthBitsPerSecond,
      ...(c.decompressBytesPerSecond !== undefined ? { decompressBytesPerSecond: c.decompressBytesPerSecond } : {}),
      weightsThresholdBytes: c.weightsThresholdBytes,
      hugeLayerBytes: c.hugeLayerBytes,
      onPush: c.onPush,
      read: {
        maxEntries: Number.MAX_SAFE_INTEGER, // the per-layer cap marks the analysis partial instead
        maxUncompressedBytes: c.maxUncompressedBytes ?? 64 * 1024 ** 3,
        maxCompressionRatio: c.maxCompressionRatio ?? 250,
        maxZstdWindowBytes: 128 * 1024 * 1024,
      },
      accounting: { ...DEFAULT_ACCOUNTING_LIMITS, maxEntries: c.maxEntriesPerLayer },
    },
    metrics: {
      analysed: (result, seconds) => {
        metrics.insightsAnalyses.inc({ result });
        metrics.insightsDuration.observe(seconds);
      },
    },
    logger: logger.child({ component: 'insights' }),
  });
  insights.useJobs(runner);
  return insights;
}

/**
 * Online GC (registry/gc.ts) and the lifecycle feature (features/lifecycle) over the metadata DB:
 * the GC store is also the push path's blob holds, the feature gives the push policy and traffic
 * counter the RegistryService is built with. Audit is attached once auth exists (setAudit).
 */
export function createLifecycle(
  config: Config,
  metadata: MetadataStore,
  blobs: BlobStore,
  logger: Logger,
): { gcStore: SqlGcStore; gc: GarbageCollector; feature: LifecycleFeature; setAudit(audit: LifecycleAudit): void } {
  if (!(metadata instanceof SqlMetadataStore)) throw new WharfError('INTERNAL', 'lifecycle and GC need the SQL metadata store');
  const dialect = config.storage.metadata.driver === 'postgres' ? 'postgres' : 'sqlite';
  const gcStore = new SqlGcStore(metadata.database, dialect);
  const images = new SqlImageStore(metadata.database, dialect);
  let audit: LifecycleAudit | undefined;
  const feature = createLifecycleFeature({
    database: metadata.database,
    images,
    settings: new SqlRepositorySettingsStore(metadata.database),
    createRepositoriesOnPush: config.lifecycle.createRepositoriesOnPush,
    pricing: config.lifecycle.pricing,
    trafficFlushMs: config.lifecycle.trafficFlushSeconds * 1000,
    audit: { record: (e) => audit?.record(e) },
    onError: (err) => logger.error({ err }, 'writing pull counts failed'),
  });
  const gc = new GarbageCollector({
    store: gcStore,
    images,
    blobs,
    graceMs: config.gc.graceSeconds * 1000,
    untaggedManifests: config.gc.untaggedManifests,
    untaggedGraceMs: (config.gc.untaggedGraceSeconds ?? config.gc.graceSeconds) * 1000,
    sweepOrphanBytes: config.gc.sweepOrphanBytes,
    logger: logger.child({ component: 'gc' }),
  });
  return { gcStore, gc, feature, setAudit: (a) => (audit = a) };
}

/**
 * Who this replica is in upload leases: the same after a restart (so it can free what it held),
 * different from every other replica (host name, plus the listen address for several on one host).
 */
function replicaIdOf(config: Config): string {
  const { port } = parseListenAddress(config.listen);
  return `${hostname()}/${config.listen}${port === 0 ? `/${process.pid}` : ''}`;
}

export async function createWharf(
  config: Config,
  options: { logger?: Logger; env?: NodeJS.ProcessEnv; announce?: (line: string) => void } = {},
): Promise<Wharf> {
  const logger = options.logger ?? createLogger(config);
  const stores = await openStores(config, options.env);
  const { metadata, blobs } = stores;
  const lifecycle = createLifecycle(config, metadata, blobs, logger);
  if (!(metadata instanceof SqlMetadataStore)) throw new WharfError('INTERNAL', 'repository formats need the SQL metadata store');
  const repositories = new SqlRepositorySettingsStore(metadata.database);
  const registry = new RegistryService({
    metadata,
    blobs,
    uploads: blobs,
    manifestMaxBytes: config.http.bodyLimitManifest,
    replicaId: replicaIdOf(config),
    pushPolicy: lifecycle.feature.pushPolicy,
    holds: lifecycle.gcStore,
    traffic: lifecycle.feature.traffic,
    repositoryFormat: (name) => repositories.findFormat(name),
  });
  const metrics = new WharfMetrics({ uploadsInProgress: () => registry.uploadsInProgress });
  const auth = await createAuth(config, metadata, logger, options.announce ?? ((line) => process.stdout.write(line)));
  const jobs = createJobRunner(config, metadata, logger);
  const passes = new ContentPasses(logger.child({ component: 'content' }));
  const scan = createScan(config, registry, metadata, auth.settings, jobs.runner, logger, passes);
  const insights = createInsights(config, registry, metadata, jobs.runner, passes, metrics, logger);
  const models = new ModelService({ registry, store: new SqlModelStore(metadata.database), logger: logger.child({ component: 'models' }) });
  models.useJobs(jobs.runner);
  const pypi = new PypiService({
    registry,
    store: new SqlPypiStore(metadata.database),
    repositoryFormat: (name) => repositories.findFormat(name),
    maxUploadBytes: config.pypi.maxUploadBytes,
    vulnerabilities: scan ? (packages) => scan.matchPackages(packages) : undefined,
  });
  const streaming = createStreaming(registry, metadata, auth.settings, jobs.runner, logger);
  lifecycle.setAudit(auth.audit);
  registerLifecycleJobs(jobs.runner, lifecycle.feature.cleanup, { cleanupIntervalMs: config.lifecycle.cleanupIntervalSeconds * 1000 });
  jobs.runner.register('gc.run', async (payload, ctx) => {
    const dryRun = (payload as { dryRun?: unknown } | null)?.dryRun === true;
    await lifecycle.gc.run({ dryRun, trigger: 'schedule', signal: ctx.signal });
  });
  if (config.gc.enabled) jobs.runner.every('gc', config.gc.intervalSeconds * 1000, 'gc.run');
  const supplyChain = createSupplyChain(config, registry, metadata, scan, logger.child({ component: 'supply-chain' }));
  let ready = false;
  const tls = config.http.tls;
  const app = buildApp({
    logger,
    metadata,
    metrics,
    registry,
    auth,
    pagination: config.pagination,
    manifestBodyLimit: config.http.bodyLimitManifest,
    locationPrefix: config.http.publicUrl?.replace(/\/$/, '') ?? '',
    requestTimeoutMs: config.http.requestTimeoutSeconds * 1000,
    trustProxy: config.http.trustProxy,
    https: tls ? { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } : undefined,
    isReady: () => ready,
    blobs,
    jobs: jobs.store,
    scan,
    streaming,
    insights,
    models,
    lifecycle: lifecycle.feature,
    gc: lifecycle.gc,
    pypi,
    ...supplyChain,
  });

  const maxAgeMs = config.uploads.maxAgeSeconds * 1000;
  const reclaim = async (): Promise<void> => {
    try {
      const n = await registry.reclaimAbandonedUploads(maxAgeMs);
      if (n > 0) logger.info({ reclaimed: n }, 'abandoned uploads reclaimed');
    } catch (err) {
      logger.error({ err }, 'reclaiming abandoned uploads failed');
    }
    await auth.housekeeping().catch((err: unknown) => logger.error({ err }, 'identity housekeeping failed'));
    await lifecycle.gc.recover().catch((err: unknown) => logger.error({ err }, 'finishing an interrupted GC failed'));
  };
  const timer = setInterval(() => void reclaim(), config.uploads.reclaimIntervalSeconds * 1000);
  timer.unref();

  return {
    app,
    registry,
    metadata,
    blobs,
    logger,
    jobs: jobs.runner,
    gc: lifecycle.gc,
    lifecycle: lifecycle.feature,
    pypi,
    async listen() {
      // SQLite: this is the only process there can be, so every lease is a dead one's
      const released = await registry.releaseLeasesOfEarlierLife(config.storage.metadata.driver === 'sqlite');
      if (released > 0) logger.info({ released }, 'upload leases of an earlier run released');
      await reclaim();
      const { host, port } = parseListenAddress(config.listen);
      const address = await app.listen({ host, port });
      await jobs.runner.start();
      ready = true;
      return address;
    },
    async close() {
      ready = false;
      clearInterval(timer);
      await jobs.runner.stop();
      await app.close();
      await auth.audit.flush();
      await registry.close();
      await lifecycle.feature.close().catch((err: unknown) => logger.error({ err }, 'writing pull counts failed'));
      await stores.close();
    },
  };
}
