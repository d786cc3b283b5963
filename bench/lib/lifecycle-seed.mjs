// Seeding for the lifecycle benchmark (bench/lifecycle.mjs): the same images, blobs and garbage
// written into Wharf's embedded stores and into CNCF Distribution 2.8's filesystem layout,
// without going through HTTP (that would take hours for 100,000 blobs).
//
// Wharf is seeded through its own RegistryService over its own SqlMetadataStore and FsBlobStore
// (imported from dist/), i.e. the exact code a push runs, so the state left is what real pushes
// leave. Only two things differ from `wharf serve`: the SQLite connection runs with
// synchronous=OFF and the blob store without fsync while seeding (durability of the seed is
// irrelevant; the file is closed and `sync`ed afterwards), and the store's clock is replaced so
// that pushes happen "in the past" (days ago, each image at its own time when asked).
//
// Distribution's layout is written directly: blobs/sha256/<2 hex>/<hex>/data for every blob and
// manifest; repositories/<name>/_layers/sha256/<hex>/link for every blob pushed into a repository;
// _manifests/revisions/sha256/<hex>/link per manifest; _manifests/tags/<tag>/current/link and
// .../index/sha256/<hex>/link per tag. A manifest deleted through the API leaves its blobs, its
// layer links and an empty revision directory (2.8 removes only the revision's link file and the
// tag directories), which is what is written for deleted images.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(join(ROOT, 'package.json'));
/** Wharf's build (see WHARF_DIST in lifecycle-util.mjs) */
const WHARF_DIST = process.env.BENCH_WHARF_DIST ?? join(ROOT, 'dist');

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

export const sha256 = (buf) => `sha256:${createHash('sha256').update(buf).digest('hex')}`;

/** A random blob of `min`..`max` bytes: { body, digest }. */
export function randomBlob(min = 1024, max = 4096) {
  const body = randomBytes(min + Math.floor(Math.random() * (max - min + 1)));
  return { body, digest: sha256(body) };
}

/** An OCI image: a config blob (unique through `label`) and an image manifest over `layers`. */
export function makeImage(label, layers) {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { 'bench.image': label } }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }),
  );
  const configBlob = { body: config, digest: sha256(config) };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configBlob.digest, size: config.length },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.body.length })),
    }),
  );
  return { config: configBlob, layers, manifest, digest: sha256(manifest) };
}

/** Runs fn(i) for i in [0, n) with `concurrency` in flight; rejects on the first failure. */
export async function pool(n, concurrency, fn) {
  let next = 0;
  let failed;
  const worker = async () => {
    while (failed === undefined && next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (failed !== undefined) throw failed;
}

// ---------------------------------------------------------------------------------------------
// Wharf

/**
 * Opens Wharf's stores on `dataDir` (layout of `wharf serve --data dataDir`: wharf.db, blobs/)
 * for seeding. `at(t, fn)` runs fn with the stores' clock at t (ms); outside it the clock is
 * `defaultNow()`. Returns { pushBlob, putManifest, deleteManifest, touchPulled, at, close }.
 */
export async function openWharfSeeder(dataDir, { defaultNow = () => Date.now() } = {}) {
  const dist = (p) => import(join(WHARF_DIST, p));
  const [{ SqlMetadataStore }, { withStatementCache }, { FsBlobStore }, { RegistryService }] = await Promise.all([
    dist('storage/metadata/sql-metadata-store.js'),
    dist('storage/metadata/sqlite-statement-cache.js'),
    dist('storage/blob/fs-blob-store.js'),
    dist('registry/registry-service.js'),
  ]);
  const BetterSqlite3 = require('better-sqlite3');
  const { Kysely, SqliteDialect } = require('kysely');

  mkdirSync(dataDir, { recursive: true });
  const database = new BetterSqlite3(join(dataDir, 'wharf.db'));
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = OFF'); // seeding only; wharf serve uses FULL
  database.pragma('foreign_keys = ON');
  const clock = new AsyncLocalStorage();
  const now = () => clock.getStore() ?? defaultNow();
  const db = new Kysely({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  const metadata = new SqlMetadataStore(db, 'sqlite', now);
  await metadata.migrate();
  const blobs = new FsBlobStore({ root: join(dataDir, 'blobs'), fsync: false });
  await blobs.init();
  const registry = new RegistryService({ metadata, blobs, uploads: blobs, now });
  return {
    at: (t, fn) => clock.run(t, fn),
    /** a monolithic blob push (startUpload + completeUpload), as PUT ?digest= does */
    pushBlob: (repo, blob) => registry.pushBlob(repo, blob.digest, Readable.from([blob.body])),
    putManifest: (repo, image, tag) =>
      registry.putManifest(repo, tag === undefined ? { kind: 'digest', digest: image.digest } : { kind: 'tag', tag }, image.manifest, OCI_MANIFEST),
    deleteManifest: (repo, digest) => registry.deleteManifest(repo, { kind: 'digest', digest }),
    touchPulled: (repo, digest, at) => metadata.touchManifestPulled(repo, digest, at),
    async pushImage(repo, image, tag) {
      await pool(1 + image.layers.length, 4, (i) => this.pushBlob(repo, i === 0 ? image.config : image.layers[i - 1]));
      await this.putManifest(repo, image, tag);
    },
    async close() {
      await registry.close();
      database.pragma('wal_checkpoint(TRUNCATE)');
      await metadata.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Distribution 2.8 filesystem layout

export class DistributionLayout {
  /** root: the filesystem driver's rootdirectory */
  constructor(root) {
    this.v2 = join(root, 'docker', 'registry', 'v2');
    this.written = new Set();
  }

  hex(digest) {
    return digest.slice('sha256:'.length);
  }

  writeFile(path, content) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }

  blobPath(digest) {
    const h = this.hex(digest);
    return join(this.v2, 'blobs', 'sha256', h.slice(0, 2), h, 'data');
  }

  /** bytes under blobs/ (once per digest: content-addressed) */
  writeBlob(digest, body) {
    if (this.written.has(digest)) return;
    this.written.add(digest);
    this.writeFile(this.blobPath(digest), body);
  }

  repoDir(repo) {
    return join(this.v2, 'repositories', repo);
  }

  /** a blob pushed into `repo`: its bytes and the repository's layer link */
  pushBlob(repo, blob) {
    this.writeBlob(blob.digest, blob.body);
    this.writeFile(join(this.repoDir(repo), '_layers', 'sha256', this.hex(blob.digest), 'link'), blob.digest);
  }

  /** a manifest PUT (by tag, or by digest when tag is undefined) after its blobs */
  putManifest(repo, image, tag) {
    this.writeBlob(image.digest, image.manifest);
    const m = join(this.repoDir(repo), '_manifests');
    this.writeFile(join(m, 'revisions', 'sha256', this.hex(image.digest), 'link'), image.digest);
    if (tag !== undefined) {
      this.writeFile(join(m, 'tags', tag, 'current', 'link'), image.digest);
      this.writeFile(join(m, 'tags', tag, 'index', 'sha256', this.hex(image.digest), 'link'), image.digest);
    }
  }

  pushImage(repo, image, tag) {
    this.pushBlob(repo, image.config);
    for (const l of image.layers) this.pushBlob(repo, l);
    this.putManifest(repo, image, tag);
  }

  /**
   * What DELETE /v2/<repo>/manifests/<digest> leaves in 2.8: blobs and layer links stay, the
   * revision directory stays without its link file, the image's tags are gone.
   */
  pushDeletedImage(repo, image) {
    this.pushBlob(repo, image.config);
    for (const l of image.layers) this.pushBlob(repo, l);
    this.writeBlob(image.digest, image.manifest);
    mkdirSync(join(this.repoDir(repo), '_manifests', 'revisions', 'sha256', this.hex(image.digest)), { recursive: true });
  }
}
