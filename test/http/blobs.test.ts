import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf, parseDigest } from '../../src/domain/digest.js';
import { pushBlob, putManifest, startHarness, type Harness } from './harness.js';
import { assertError, blobStatus, bytes, imageManifest } from './support.js';

describe('/v2/<name>/blobs/<digest>', () => {
  let h: Harness;
  const content = bytes(1000);
  let digest: string;
  before(async () => {
    h = await startHarness();
    digest = await pushBlob(h.app, 'b/repo', content);
  });
  after(async () => h.close());

  const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers });

  test('GET returns the exact bytes with Content-Length, Docker-Content-Digest and Accept-Ranges', async () => {
    const res = await get(`/v2/b/repo/blobs/${digest}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, content);
    assert.equal(res.headers['content-length'], '1000');
    assert.equal(res.headers['docker-content-digest'], digest);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.equal(res.headers['accept-ranges'], 'bytes');
  });

  test('HEAD answers the same headers and no body', async () => {
    const res = await h.app.inject({ method: 'HEAD', url: `/v2/b/repo/blobs/${digest}` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.rawPayload.length, 0);
    assert.equal(res.headers['content-length'], '1000');
    assert.equal(res.headers['docker-content-digest'], digest);
    const ranged = await h.app.inject({ method: 'HEAD', url: `/v2/b/repo/blobs/${digest}`, headers: { range: 'bytes=0-9' } });
    assert.equal(ranged.statusCode, 200, 'HEAD ignores Range');
  });

  test('a Range answers 206 with Content-Range and exactly the bytes asked for', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-9', 0, 9],
      ['bytes=10-', 10, 999],
      ['bytes=990-5000', 990, 999],
      ['bytes=999-999', 999, 999],
      ['bytes=-5', 995, 999],
      ['bytes=-5000', 0, 999],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(`/v2/b/repo/blobs/${digest}`, { range });
      assert.equal(res.statusCode, 206, `${range}: ${res.body}`);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/1000`, range);
      assert.equal(res.headers['content-length'], String(end - start + 1), range);
      assert.deepEqual(res.rawPayload, content.subarray(start, end + 1), range);
      assert.equal(res.headers['docker-content-digest'], digest);
    }
  });

  test('an unsatisfiable or malformed Range is 416 RANGE_INVALID', async () => {
    for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=9-5', 'bytes=-0', 'bytes=abc', 'bytes=-', 'bytes=1-2-3']) {
      const res = await get(`/v2/b/repo/blobs/${digest}`, { range });
      assertError(res, 416, 'RANGE_INVALID');
      assert.equal(res.headers['content-range'], 'bytes */1000', `${range}: a 416 names the size (RFC 9110 15.5.17)`);
    }
  });

  test('a Range in a unit other than bytes is ignored; the bytes unit is case-insensitive (RFC 9110 14.1-14.2)', async () => {
    const other = await get(`/v2/b/repo/blobs/${digest}`, { range: 'items=0-1' });
    assert.equal(other.statusCode, 200, other.body);
    assert.deepEqual(other.rawPayload, content);
    const upper = await get(`/v2/b/repo/blobs/${digest}`, { range: 'Bytes=0-9' });
    assert.equal(upper.statusCode, 206, upper.body);
    assert.deepEqual(upper.rawPayload, content.subarray(0, 10));
  });

  test('several ranges are ignored: the whole blob is served', async () => {
    const res = await get(`/v2/b/repo/blobs/${digest}`, { range: 'bytes=0-1,5-6' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, content);
  });

  test('a malformed digest is 400 DIGEST_INVALID on GET, HEAD and DELETE', async () => {
    for (const d of ['sha256:xyz', `sha256:${'A'.repeat(64)}`, `md5:${'a'.repeat(32)}`, 'nocolon', `sha512:${'a'.repeat(64)}`, `sha256:${'a'.repeat(65)}`]) {
      assertError(await get(`/v2/b/repo/blobs/${d}`), 400, 'DIGEST_INVALID');
      assertError(await h.app.inject({ method: 'DELETE', url: `/v2/b/repo/blobs/${d}` }), 400, 'DIGEST_INVALID');
      assert.equal((await h.app.inject({ method: 'HEAD', url: `/v2/b/repo/blobs/${d}` })).statusCode, 400);
    }
  });

  test('an unknown blob is 404 BLOB_UNKNOWN; HEAD answers 404 without a body', async () => {
    const unknown = digestOf(Buffer.from('never pushed'));
    assertError(await get(`/v2/b/repo/blobs/${unknown}`), 404, 'BLOB_UNKNOWN');
    assertError(await get(`/v2/b/repo/blobs/${unknown}`, { range: 'bytes=0-1' }), 404, 'BLOB_UNKNOWN');
    const head = await h.app.inject({ method: 'HEAD', url: `/v2/b/repo/blobs/${unknown}` });
    assert.equal(head.statusCode, 404);
    assert.equal(head.rawPayload.length, 0);
    assertError(await get(`/v2/b/no-such-repo/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });

  test('a blob pushed to repository A is invisible through repository B (isolation)', async () => {
    const secret = bytes(64);
    const d = await pushBlob(h.app, 'b/tenant-a', secret);
    await pushBlob(h.app, 'b/tenant-b', bytes(10)); // B exists, just without that blob
    assert.equal(await blobStatus(h.app, 'b/tenant-a', d), 200);
    assertError(await get(`/v2/b/tenant-b/blobs/${d}`), 404, 'BLOB_UNKNOWN');
    assertError(await get(`/v2/b/tenant-b/blobs/${d}`, { range: 'bytes=0-3' }), 404, 'BLOB_UNKNOWN');
    assert.equal(await blobStatus(h.app, 'b/tenant-b', d), 404);
    assertError(await h.app.inject({ method: 'DELETE', url: `/v2/b/tenant-b/blobs/${d}` }), 404, 'BLOB_UNKNOWN');
    assert.equal(await blobStatus(h.app, 'b/tenant-a', d), 200, 'a refused DELETE through B leaves A alone');
  });

  test('DELETE unlinks the blob from that repository only (202, then 404); DELETE of an unknown blob is 404', async () => {
    const shared = bytes(200);
    const d = await pushBlob(h.app, 'b/del-a', shared);
    await pushBlob(h.app, 'b/del-b', shared);
    const del = await h.app.inject({ method: 'DELETE', url: `/v2/b/del-a/blobs/${d}` });
    assert.equal(del.statusCode, 202);
    assertError(await get(`/v2/b/del-a/blobs/${d}`), 404, 'BLOB_UNKNOWN');
    assert.equal(await blobStatus(h.app, 'b/del-a', d), 404);
    assertError(await h.app.inject({ method: 'DELETE', url: `/v2/b/del-a/blobs/${d}` }), 404, 'BLOB_UNKNOWN');
    const other = await get(`/v2/b/del-b/blobs/${d}`);
    assert.equal(other.statusCode, 200);
    assert.deepEqual(other.rawPayload, shared);
    assertError(await h.app.inject({ method: 'DELETE', url: `/v2/b/del-a/blobs/${digestOf(Buffer.from('?'))}` }), 404, 'BLOB_UNKNOWN');
    assertError(await h.app.inject({ method: 'DELETE', url: `/v2/b/nowhere/blobs/${d}` }), 404, 'BLOB_UNKNOWN');
  });

  test('after a blob is deleted from a repository, manifests there may not reference it', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = bytes(32);
    const cd = await pushBlob(h.app, 'b/del-ref', config);
    const ld = await pushBlob(h.app, 'b/del-ref', layer);
    assert.equal((await h.app.inject({ method: 'DELETE', url: `/v2/b/del-ref/blobs/${ld}` })).statusCode, 202);
    const manifest = imageManifest(
      { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
      [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: layer.length }],
    );
    assertError(await putManifest(h.app, 'b/del-ref', 'latest', manifest), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('a blob whose bytes are gone answers 404 without the long-lived cache headers of a blob', async () => {
    // the row says linked but the bytes are missing (a DELETE or GC racing the GET, or damage fsck reports)
    const d = await pushBlob(h.app, 'b/gone', bytes(50));
    await h.blobs.delete(parseDigest(d));
    const res = await get(`/v2/b/gone/blobs/${d}`);
    assertError(res, 404, 'BLOB_UNKNOWN');
    assert.equal(res.headers['cache-control'], undefined, 'a proxy would keep this 404 for a year');
    assert.equal(res.headers.etag, undefined);
  });

  test('sha512 and empty blobs are served by their digest', async () => {
    const data = bytes(300);
    const d512 = digestOf(data, 'sha512');
    const put = await h.app.inject({ method: 'POST', url: `/v2/b/algo/blobs/uploads/?digest=${d512}`, payload: data, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.statusCode, 201, put.body);
    const res = await get(`/v2/b/algo/blobs/${d512}`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['docker-content-digest'], d512);
    assert.deepEqual(res.rawPayload, data);
    assert.equal(await blobStatus(h.app, 'b/algo', digestOf(data)), 404, 'the sha256 of the same bytes was never pushed here');

    const empty = await pushBlob(h.app, 'b/algo', Buffer.alloc(0));
    const e = await get(`/v2/b/algo/blobs/${empty}`);
    assert.equal(e.statusCode, 200);
    assert.equal(e.headers['content-length'], '0');
    assert.equal(e.rawPayload.length, 0);
  });
});
