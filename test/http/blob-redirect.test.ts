/**
 * Blob GET with a blob store that hands out presigned URLs (S3 with presignedRedirect): 307 to the
 * URL, only after the repository is checked; HEAD and stores without URLs serve bytes as before.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { buildApp } from '../../src/http/app.js';
import { WharfMetrics } from '../../src/observability/metrics.js';
import { RegistryService } from '../../src/registry/registry-service.js';
import { FsBlobStore } from '../../src/storage/blob/fs-blob-store.js';
import { openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { errorCode, pushBlob } from './harness.js';

/** An fs store that also hands out (fake) presigned URLs, as S3BlobStore does when configured. */
class PresigningFsBlobStore extends FsBlobStore {
  readonly signed: Digest[] = [];
  async presignGet(digest: Digest): Promise<string> {
    this.signed.push(digest);
    return `https://objects.example/bucket/blobs/${digest.replace(':', '/')}?X-Amz-Signature=abc`;
  }
}

describe('GET blob with presigned redirects', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-redirect-'));
  let app: FastifyInstance;
  let registry: RegistryService;
  let metrics: WharfMetrics;
  let blobs: PresigningFsBlobStore;
  const metadata = openSqliteMetadataStore({ path: join(dir, 'wharf.db') });
  before(async () => {
    blobs = new PresigningFsBlobStore({ root: join(dir, 'blobs'), fsync: false });
    await blobs.init();
    await metadata.migrate();
    registry = new RegistryService({ metadata, blobs, uploads: blobs });
    metrics = new WharfMetrics({ defaultMetrics: false });
    app = buildApp({ logger: pino({ level: 'silent' }), metadata, metrics, registry, pagination: { defaultPageSize: 100, maxPageSize: 1000 }, manifestBodyLimit: 4 << 20 });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await registry.close();
    await metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('GET answers 307 to the presigned URL; the Range header is left to the client', async () => {
    const bytes = Buffer.from('layer bytes');
    const digest = await pushBlob(app, 'team/app', bytes);
    for (const headers of [{}, { range: 'bytes=2-5' }]) {
      const res = await app.inject({ method: 'GET', url: `/v2/team/app/blobs/${digest}`, headers });
      assert.equal(res.statusCode, 307);
      assert.equal(res.headers.location, `https://objects.example/bucket/blobs/${digest.replace(':', '/')}?X-Amz-Signature=abc`);
      assert.equal(res.headers['docker-content-digest'], digest);
      assert.equal(res.body, '');
    }
    assert.match(await metrics.registry.metrics(), /wharf_blob_redirects_total 2/);
  });

  test('HEAD is answered by the registry itself', async () => {
    const bytes = Buffer.from('head me');
    const digest = await pushBlob(app, 'team/app', bytes);
    const res = await app.inject({ method: 'HEAD', url: `/v2/team/app/blobs/${digest}` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(bytes.length));
  });

  test('no URL for a repository that does not link the blob (knowing a digest grants nothing)', async () => {
    const digest = await pushBlob(app, 'team/secret', Buffer.from('secret layer'));
    const before = blobs.signed.length;
    const res = await app.inject({ method: 'GET', url: `/v2/team/other/blobs/${digest}` });
    assert.equal(res.statusCode, 404);
    assert.equal(errorCode(res), 'BLOB_UNKNOWN');
    assert.equal(blobs.signed.length, before, 'nothing was signed');
    const unknown = await app.inject({ method: 'GET', url: `/v2/team/app/blobs/${digestOf(Buffer.from('never pushed'))}` });
    assert.equal(unknown.statusCode, 404);
  });
});
