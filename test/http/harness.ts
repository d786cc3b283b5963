import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.js';
import { WharfMetrics } from '../../src/observability/metrics.js';
import { RegistryService } from '../../src/registry/registry-service.js';
import { FsBlobStore } from '../../src/storage/blob/fs-blob-store.js';
import { createPostgresKysely, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { digestOf } from '../../src/domain/digest.js';
import { buildAuthStack, type AuthStack, type AuthStackOptions } from '../support/auth-stack.js';
import { ScanService } from '../../src/features/scan/scan-service.js';
import { SqlScanStore } from '../../src/features/scan/sql-scan-store.js';
import { createLifecycleFeature, type LifecycleFeature } from '../../src/features/lifecycle/lifecycle-feature.js';
import { GarbageCollector } from '../../src/registry/gc.js';
import { SqlGcStore } from '../../src/storage/metadata/sql-gc-store.js';
import { SqlImageStore } from '../../src/storage/metadata/sql-image-store.js';
import { SqlRepositorySettingsStore } from '../../src/storage/metadata/repository-settings-store.js';

/** An app over a real fs blob store and SQLite in a scratch directory, driven by app.inject. */
export interface Harness {
  app: FastifyInstance;
  registry: RegistryService;
  metadata: SqlMetadataStore;
  blobs: FsBlobStore;
  dir: string;
  /** present when started with `auth` (test/support/auth-stack.ts); otherwise the registry is open */
  auth?: AuthStack;
  /** the scanner (/api/v1/scans, /sbom, /vulndb), without a job queue: re-matching runs inline */
  scan: ScanService;
  /** repositories, policies, usage (features/lifecycle), with the push policy on the registry */
  lifecycle: LifecycleFeature;
  /** online GC with a grace period of 0 (tests push, then collect at once) */
  gc: GarbageCollector;
  close(): Promise<void>;
}

export interface HarnessOptions {
  maxPageSize?: number;
  /** passed to buildApp: /readyz answers 503 while it returns false */
  isReady?: () => boolean;
  /** authentication on, admin user `admin` / TEST_ADMIN_PASSWORD */
  auth?: AuthStackOptions;
  /** lifecycle.createRepositoriesOnPush (default true) */
  createRepositoriesOnPush?: boolean;
  /** a clock for the lifecycle feature and GC (policies' ages, grace periods) */
  now?: () => number;
  /** metadata in this PostgreSQL database (a scratch one, test/support/postgres.ts) instead of SQLite */
  postgresUrl?: string;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-http-'));
  const blobs = new FsBlobStore({ root: join(dir, 'blobs'), fsync: false });
  await blobs.init();
  const dialect = options.postgresUrl ? 'postgres' : 'sqlite';
  const metadata = options.postgresUrl
    ? new SqlMetadataStore(createPostgresKysely({ connectionString: options.postgresUrl, poolSize: 6 }), 'postgres')
    : openSqliteMetadataStore({ path: join(dir, 'wharf.db') });
  await metadata.migrate();
  const gcStore = new SqlGcStore(metadata.database, dialect, { now: options.now });
  const images = new SqlImageStore(metadata.database, dialect, options.now);
  const lifecycle = createLifecycleFeature({
    database: metadata.database,
    images,
    settings: new SqlRepositorySettingsStore(metadata.database, options.now),
    createRepositoriesOnPush: options.createRepositoriesOnPush ?? true,
    pricing: { storagePerGiBMonth: 0.1, egressPerGiB: 0.12, currency: 'USD' },
    trafficFlushMs: 60_000,
    now: options.now,
    // auth is built below; the audit is only written after start
    audit: { record: (e) => auth?.audit.record(e) },
  });
  const gc = new GarbageCollector({ store: gcStore, images, blobs, graceMs: 0, untaggedManifests: true, now: options.now });
  const registry = new RegistryService({ metadata, blobs, uploads: blobs, pushPolicy: lifecycle.pushPolicy, holds: gcStore, traffic: lifecycle.traffic });
  const auth = options.auth ? await buildAuthStack(metadata, options.auth) : undefined;
  const metrics = new WharfMetrics({ uploadsInProgress: () => registry.uploadsInProgress, defaultMetrics: false });
  const scan = new ScanService({ registry, store: new SqlScanStore(metadata.database), ...(auth ? { settings: auth.settings } : {}) });
  const app = buildApp({
    logger: pino({ level: 'silent' }),
    metadata,
    metrics,
    registry,
    scan,
    lifecycle,
    gc,
    ...(auth ? { auth } : {}),
    pagination: { defaultPageSize: 100, maxPageSize: options.maxPageSize ?? 1000 },
    manifestBodyLimit: 4 * 1024 * 1024,
    ...(options.isReady ? { isReady: options.isReady } : {}),
    blobs,
  });
  await app.ready();
  return {
    app,
    registry,
    metadata,
    scan,
    lifecycle,
    gc,
    blobs,
    dir,
    auth,
    async close() {
      await app.close();
      await auth?.audit.flush();
      await registry.close();
      await lifecycle.close();
      await metadata.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export async function pushBlob(app: FastifyInstance, repo: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const res = await app.inject({
    method: 'POST',
    url: `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: bytes,
  });
  if (res.statusCode !== 201) throw new Error(`push blob: ${res.statusCode} ${res.body}`);
  return digest;
}

export interface PushedImage {
  manifest: Buffer;
  digest: string;
  config: string;
  layers: string[];
}

/** Pushes a config + layers and an OCI image manifest referencing them. */
export async function pushImage(
  app: FastifyInstance,
  repo: string,
  ref: string,
  extra: Record<string, unknown> = {},
  layerContents: Buffer[] = [Buffer.from(`layer of ${repo}:${ref} ${Math.random()}`)],
): Promise<PushedImage> {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const config = await pushBlob(app, repo, configBytes);
  const layers: string[] = [];
  for (const l of layerContents) layers.push(await pushBlob(app, repo, l));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configBytes.length },
      layers: layers.map((d, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: layerContents[i]!.length })),
      ...extra,
    }),
  );
  const res = await putManifest(app, repo, ref, manifest);
  if (res.statusCode !== 201) throw new Error(`push manifest: ${res.statusCode} ${res.body}`);
  return { manifest, digest: digestOf(manifest), config, layers };
}

export function putManifest(
  app: FastifyInstance,
  repo: string,
  ref: string,
  body: Buffer | string,
  contentType = OCI_MANIFEST,
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${ref}`, headers: { 'content-type': contentType }, payload: body });
}

export function errorCode(res: LightMyRequestResponse): string | undefined {
  try {
    return (JSON.parse(res.body) as { errors?: { code: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}
