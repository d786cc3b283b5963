/**
 * A GC fixture over SQLite or PostgreSQL (a fresh schema per fixture) and a filesystem blob store,
 * with one injectable clock shared by the metadata store (created_at of blobs, links, manifests),
 * the GC store and the collector, so grace periods are tested by moving the clock, not by sleeping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { parseReference } from '../../src/domain/names.js';
import { GarbageCollector, type GarbageCollectorOptions } from '../../src/registry/gc.js';
import { RegistryService } from '../../src/registry/registry-service.js';
import { FsBlobStore } from '../../src/storage/blob/fs-blob-store.js';
import { createPostgresKysely, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import type { Database } from '../../src/storage/metadata/schema.js';
import { SqlGcStore, type SqlGcStoreOptions } from '../../src/storage/metadata/sql-gc-store.js';
import { SqlImageStore } from '../../src/storage/metadata/sql-image-store.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const HOUR = 3_600_000;

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
}

export interface PushedManifest extends Desc {
  config: string;
  layers: string[];
  /** the manifest's bytes, to push it again */
  content: Buffer;
}

export interface GcFixture {
  dialect: 'sqlite' | 'postgres';
  clock: { t: number };
  now: () => number;
  db: Kysely<Database>;
  metadata: SqlMetadataStore;
  blobs: FsBlobStore;
  gcStore: SqlGcStore;
  images: SqlImageStore;
  registry: RegistryService;
  /** a collector over this fixture's stores (grace 1 h unless given) */
  gc(options?: Partial<GarbageCollectorOptions>): GarbageCollector;
  /** another GC store over the same DB (a restarted process; on SQLite it shares nothing in memory) */
  newGcStore(options?: SqlGcStoreOptions): SqlGcStore;
  blob(repo: string, bytes: Buffer): Promise<string>;
  image(repo: string, ref: string | undefined, layers: Buffer[], extra?: Record<string, unknown>): Promise<PushedManifest>;
  index(repo: string, ref: string | undefined, children: Desc[]): Promise<Desc>;
  putManifest(repo: string, ref: string, content: Buffer, mediaType: string): Promise<Desc>;
  /** publishes bytes in the blob store without a row (what a crash between publish and commit leaves) */
  orphan(bytes: Buffer): Promise<string>;
  hasRow(digest: string): Promise<boolean>;
  hasBytes(digest: string): Promise<boolean>;
  hasLink(repo: string, digest: string): Promise<boolean>;
  hasManifest(repo: string, digest: string): Promise<boolean>;
  close(): Promise<void>;
}

export const T0 = Date.UTC(2030, 0, 1);

export function layer(label = ''): Buffer {
  return Buffer.concat([Buffer.from(`layer ${label} `), randomBytes(64)]);
}

export async function openGcFixture(dialect: 'sqlite' | 'postgres', pgUrl?: string, schema?: string): Promise<GcFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-gc-'));
  const clock = { t: T0 };
  const now = (): number => clock.t;
  let db: Kysely<Database>;
  let metadata: SqlMetadataStore;
  if (dialect === 'sqlite') {
    const opened = openSqliteMetadataStore({ path: join(dir, 'wharf.db') });
    db = opened.database;
    metadata = new SqlMetadataStore(db, 'sqlite', now);
  } else {
    db = createPostgresKysely({ connectionString: pgUrl!, poolSize: 8, schema });
    metadata = new SqlMetadataStore(db, 'postgres', now, schema);
  }
  await metadata.migrate();
  const blobs = new FsBlobStore({ root: join(dir, 'blobs'), fsync: false });
  await blobs.init();
  const newGcStore = (options: SqlGcStoreOptions = {}): SqlGcStore => new SqlGcStore(db, dialect, { now, ...options });
  const gcStore = newGcStore();
  const images = new SqlImageStore(db, dialect, now);
  const registry = new RegistryService({ metadata, blobs, uploads: blobs, holds: gcStore, now });

  const fx: GcFixture = {
    dialect,
    clock,
    now,
    db,
    metadata,
    blobs,
    gcStore,
    images,
    registry,
    gc: (options = {}) => new GarbageCollector({ store: gcStore, images, blobs, graceMs: HOUR, now, ...options }),
    newGcStore,
    async blob(repo, bytes) {
      const digest = digestOf(bytes);
      await registry.pushBlob(repo, digest, Readable.from([bytes]));
      return digest;
    },
    async putManifest(repo, ref, content, mediaType) {
      const r = await registry.putManifest(repo, parseReference(ref), content, mediaType);
      return { mediaType, digest: r.digest, size: content.length };
    },
    async image(repo, ref, layers, extra = {}) {
      const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomUUID() }));
      const config = await fx.blob(repo, configBytes);
      const layerDigests: string[] = [];
      for (const l of layers) layerDigests.push(await fx.blob(repo, l));
      const content = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configBytes.length },
          layers: layerDigests.map((d, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: layers[i]!.length })),
          ...extra,
        }),
      );
      const d = await fx.putManifest(repo, ref ?? digestOf(content), content, OCI_MANIFEST);
      return { ...d, config, layers: layerDigests, content };
    },
    async index(repo, ref, children) {
      const content = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.size })) }));
      return fx.putManifest(repo, ref ?? digestOf(content), content, OCI_INDEX);
    },
    async orphan(bytes) {
      const digest = digestOf(bytes) as Digest;
      const id = randomUUID();
      await blobs.create(id);
      const size = await blobs.append(id, 0, Readable.from([bytes]));
      await blobs.commit(id, size, digest);
      return digest;
    },
    hasRow: async (digest) => (await metadata.findBlob(digest as Digest)) !== undefined,
    hasBytes: async (digest) => (await blobs.stat(digest as Digest)) !== undefined,
    async hasLink(repo, digest) {
      const r = await db
        .selectFrom('repository_blobs as rb')
        .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
        .select('rb.digest')
        .where('r.name', '=', repo)
        .where('rb.digest', '=', digest)
        .executeTakeFirst();
      return r !== undefined;
    },
    hasManifest: async (repo, digest) => (await metadata.findManifest(repo, digest as Digest)) !== undefined,
    async close() {
      await registry.close();
      await metadata.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fx;
}
