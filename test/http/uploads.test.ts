import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { digestOf } from '../../src/domain/digest.js';
import { pushBlob, startHarness, type Harness } from './harness.js';
import { assertError, blobStatus, bytes, startUpload, withQuery } from './support.js';

const OCTET = { 'content-type': 'application/octet-stream' };
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('/v2/<name>/blobs/uploads', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  const patch = (url: string, payload: Buffer, range?: string, extra: Record<string, string> = {}) =>
    h.app.inject({ method: 'PATCH', url, payload, headers: { ...OCTET, ...(range ? { 'content-range': range } : {}), ...extra } });
  const put = (url: string, payload?: Buffer, headers: Record<string, string> = {}) =>
    h.app.inject({ method: 'PUT', url, ...(payload ? { payload, headers: { ...OCTET, ...headers } } : { headers }) });
  const status = (url: string) => h.app.inject({ method: 'GET', url });

  async function assertBlob(repo: string, digest: string, content: Buffer): Promise<void> {
    const res = await h.app.inject({ method: 'GET', url: `/v2/${repo}/blobs/${digest}` });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.rawPayload, content);
  }

  test('POST starts an upload: 202 with Location, Range 0-0 and Docker-Upload-UUID; GET status is 204', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v2/u/start/blobs/uploads/' });
    assert.equal(res.statusCode, 202);
    const id = String(res.headers['docker-upload-uuid']);
    assert.match(id, UUID_RE);
    assert.equal(res.headers.location, `/v2/u/start/blobs/uploads/${id}`);
    assert.equal(res.headers.range, '0-0');
    const st = await status(String(res.headers.location));
    assert.equal(st.statusCode, 204);
    assert.equal(st.headers.range, '0-0');
    assert.equal(st.headers.location, `/v2/u/start/blobs/uploads/${id}`);
    assert.equal(st.headers['docker-upload-uuid'], id);
    const noSlash = await h.app.inject({ method: 'POST', url: '/v2/u/start/blobs/uploads' });
    assert.equal(noSlash.statusCode, 202);
    assert.notEqual(noSlash.headers['docker-upload-uuid'], id);
  });

  test('monolithic POST ?digest= with the body: 201 with Location and Docker-Content-Digest', async () => {
    const content = bytes(5000);
    const digest = digestOf(content);
    const res = await h.app.inject({ method: 'POST', url: `/v2/u/mono/blobs/uploads/?digest=${digest}`, payload: content, headers: OCTET });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers.location, `/v2/u/mono/blobs/${digest}`);
    assert.equal(res.headers['docker-content-digest'], digest);
    await assertBlob('u/mono', digest, content);
  });

  test('monolithic POST with a wrong or malformed digest is DIGEST_INVALID and nothing becomes visible', async () => {
    const content = bytes(100);
    const claimed = digestOf(Buffer.from('something else'));
    assertError(
      await h.app.inject({ method: 'POST', url: `/v2/u/mono-bad/blobs/uploads/?digest=${claimed}`, payload: content, headers: OCTET }),
      400,
      'DIGEST_INVALID',
    );
    assertError(await h.app.inject({ method: 'POST', url: '/v2/u/mono-bad/blobs/uploads/?digest=sha256:zz', payload: content, headers: OCTET }), 400, 'DIGEST_INVALID');
    assert.equal(await blobStatus(h.app, 'u/mono-bad', claimed), 404);
    assert.equal(await blobStatus(h.app, 'u/mono-bad', digestOf(content)), 404);
    assert.equal(h.registry.uploadsInProgress, 0);
  });

  test('POST then PUT ?digest= with the whole body (monolithic in two requests)', async () => {
    const content = bytes(3000);
    const digest = digestOf(content);
    const { location } = await startUpload(h.app, 'u/twostep');
    const res = await put(withQuery(location, `digest=${digest}`), content);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers.location, `/v2/u/twostep/blobs/${digest}`);
    assert.equal(res.headers['docker-content-digest'], digest);
    await assertBlob('u/twostep', digest, content);
    assertError(await status(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('chunked upload: PATCHes with Content-Range in order, GET status, then PUT ?digest= without a body', async () => {
    const content = bytes(30);
    const digest = digestOf(content);
    let { location } = await startUpload(h.app, 'u/chunked');
    for (const [start, end] of [[0, 9], [10, 19], [20, 29]] as const) {
      const res = await patch(location, content.subarray(start, end + 1), `${start}-${end}`);
      assert.equal(res.statusCode, 202, res.body);
      assert.equal(res.headers.range, `0-${end}`);
      assert.equal(res.headers['content-length'], '0');
      location = String(res.headers.location);
      const st = await status(location);
      assert.equal(st.statusCode, 204);
      assert.equal(st.headers.range, `0-${end}`);
    }
    assert.equal(await blobStatus(h.app, 'u/chunked', digest), 404, 'nothing is visible before the PUT');
    const done = await put(withQuery(location, `digest=${digest}`));
    assert.equal(done.statusCode, 201, done.body);
    assert.equal(done.headers['docker-content-digest'], digest);
    await assertBlob('u/chunked', digest, content);
    assertError(await status(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(location, Buffer.from('x'), '30-30'), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('the final PUT may carry the last chunk, with or without Content-Range', async () => {
    for (const withRange of [true, false]) {
      const content = bytes(20);
      const digest = digestOf(content);
      const { location } = await startUpload(h.app, 'u/lastchunk');
      assert.equal((await patch(location, content.subarray(0, 12), '0-11')).statusCode, 202);
      const res = await put(withQuery(location, `digest=${digest}`), content.subarray(12), withRange ? { 'content-range': '12-19' } : {});
      assert.equal(res.statusCode, 201, res.body);
      await assertBlob('u/lastchunk', digest, content);
    }
  });

  test('a chunk out of order is 416 and leaves the upload where it was', async () => {
    const content = bytes(30);
    const { location } = await startUpload(h.app, 'u/order');
    assert.equal((await patch(location, content.subarray(0, 10), '0-9')).statusCode, 202);
    assertError(await patch(location, content.subarray(20, 30), '20-29'), 416, 'RANGE_INVALID');
    assertError(await patch(location, content.subarray(0, 10), '0-9'), 416, 'RANGE_INVALID');
    assertError(await patch(location, content.subarray(5, 15), '5-14'), 416, 'RANGE_INVALID');
    assertError(await put(withQuery(location, `digest=${digestOf(content)}`), content.subarray(20), { 'content-range': '20-29' }), 416, 'RANGE_INVALID');
    assert.equal((await status(location)).headers.range, '0-9');
    assert.equal((await patch(location, content.subarray(10, 30), '10-29')).statusCode, 202);
    assert.equal((await put(withQuery(location, `digest=${digestOf(content)}`))).statusCode, 201);
    await assertBlob('u/order', digestOf(content), content);
  });

  test('a Content-Range that disagrees with Content-Length, or is malformed, is 416 and writes nothing', async () => {
    const content = bytes(20);
    const { location } = await startUpload(h.app, 'u/mismatch');
    assertError(await patch(location, content.subarray(0, 10), '0-19'), 416, 'RANGE_INVALID');
    assertError(await patch(location, content.subarray(0, 10), '0-4'), 416, 'RANGE_INVALID');
    for (const bad of ['abc', '9-0', '-5', 'bytes=x-y']) assertError(await patch(location, content.subarray(0, 10), bad), 416, 'RANGE_INVALID');
    assert.equal((await status(location)).headers.range, '0-0');
    assert.equal((await patch(location, content, '0-19')).statusCode, 202);
    assert.equal((await put(withQuery(location, `digest=${digestOf(content)}`))).statusCode, 201);
    await assertBlob('u/mismatch', digestOf(content), content);
  });

  test('PATCH without Content-Range streams the body (also chunked transfer encoding)', async () => {
    const content = bytes(300_000);
    const { location } = await startUpload(h.app, 'u/stream');
    const first = await patch(location, content.subarray(0, 100_000));
    assert.equal(first.statusCode, 202, first.body);
    assert.equal(first.headers.range, '0-99999');
    const second = await h.app.inject({
      method: 'PATCH',
      url: String(first.headers.location),
      payload: Readable.from([content.subarray(100_000, 200_000), content.subarray(200_000)]),
      headers: OCTET,
    });
    assert.equal(second.statusCode, 202, second.body);
    assert.equal(second.headers.range, '0-299999');
    assert.equal((await put(withQuery(location, `digest=${digestOf(content)}`))).statusCode, 201);
    await assertBlob('u/stream', digestOf(content), content);
  });

  test('DELETE cancels an upload: 204, then every upload route is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const { location } = await startUpload(h.app, 'u/cancel');
    assert.equal((await patch(location, Buffer.from('abc'), '0-2')).statusCode, 202);
    const del = await h.app.inject({ method: 'DELETE', url: location });
    assert.equal(del.statusCode, 204);
    assertError(await status(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(location, Buffer.from('d'), '3-3'), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await put(withQuery(location, `digest=${digestOf(Buffer.from('abc'))}`)), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await h.app.inject({ method: 'DELETE', url: location }), 404, 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(await blobStatus(h.app, 'u/cancel', digestOf(Buffer.from('abc'))), 404);
  });

  test('PUT with a wrong digest is DIGEST_INVALID, shows no blob, and the upload can still complete', async () => {
    const content = bytes(64);
    const wrong = digestOf(Buffer.from('not it'));
    const { location } = await startUpload(h.app, 'u/wrongdigest');
    assert.equal((await patch(location, content, '0-63')).statusCode, 202);
    assertError(await put(withQuery(location, `digest=${wrong}`)), 400, 'DIGEST_INVALID');
    assert.equal(await blobStatus(h.app, 'u/wrongdigest', wrong), 404);
    assert.equal(await blobStatus(h.app, 'u/wrongdigest', digestOf(content)), 404);
    assert.equal((await status(location)).headers.range, '0-63');
    assert.equal((await put(withQuery(location, `digest=${digestOf(content)}`))).statusCode, 201);
    await assertBlob('u/wrongdigest', digestOf(content), content);
  });

  test('PUT without a digest, or with a malformed one, is DIGEST_INVALID', async () => {
    const content = bytes(16);
    const { location } = await startUpload(h.app, 'u/nodigest');
    assert.equal((await patch(location, content, '0-15')).statusCode, 202);
    assertError(await put(location), 400, 'DIGEST_INVALID');
    for (const d of ['', 'sha256:abc', `md5:${'a'.repeat(32)}`]) assertError(await put(withQuery(location, `digest=${d}`)), 400, 'DIGEST_INVALID');
    assert.equal((await status(location)).headers.range, '0-15');
  });

  test("an upload of repository A is unknown through repository B", async () => {
    const content = bytes(10);
    const { id, location } = await startUpload(h.app, 'u/owner');
    await pushBlob(h.app, 'u/intruder', bytes(5));
    const foreign = `/v2/u/intruder/blobs/uploads/${id}`;
    assertError(await status(foreign), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(foreign, content, '0-9'), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await put(withQuery(foreign, `digest=${digestOf(content)}`), content), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await h.app.inject({ method: 'DELETE', url: foreign }), 404, 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(await blobStatus(h.app, 'u/intruder', digestOf(content)), 404);
    assert.equal((await status(location)).statusCode, 204, 'the owner still has it');
    assert.equal((await put(withQuery(location, `digest=${digestOf(content)}`), content)).statusCode, 201);
  });

  test('garbage upload ids are BLOB_UPLOAD_UNKNOWN, never 500', async () => {
    const ids = ['..%2F..%2Fx', 'x'.repeat(5000), '%00', 'not-a-uuid', '00000000-0000-0000-0000-000000000000', 'a.b', '%E2%80%AE', 'DROP%20TABLE%20uploads'];
    const digest = digestOf(Buffer.from('x'));
    for (const id of ids) {
      const url = `/v2/u/garbage/blobs/uploads/${id}`;
      assertError(await status(url), 404, 'BLOB_UPLOAD_UNKNOWN');
      assertError(await patch(url, Buffer.from('x')), 404, 'BLOB_UPLOAD_UNKNOWN');
      assertError(await patch(url, Buffer.from('x'), '0-0'), 404, 'BLOB_UPLOAD_UNKNOWN');
      assertError(await put(withQuery(url, `digest=${digest}`), Buffer.from('x')), 404, 'BLOB_UPLOAD_UNKNOWN');
      assertError(await h.app.inject({ method: 'DELETE', url }), 404, 'BLOB_UPLOAD_UNKNOWN');
    }
  });

  test('mount with from: 201 when the source has the blob, a new upload (202) when it does not', async () => {
    const content = bytes(77);
    const digest = await pushBlob(h.app, 'u/mount-src', content);
    const res = await h.app.inject({ method: 'POST', url: `/v2/u/mount-dst/blobs/uploads/?mount=${digest}&from=u/mount-src` });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers.location, `/v2/u/mount-dst/blobs/${digest}`);
    assert.equal(res.headers['docker-content-digest'], digest);
    await assertBlob('u/mount-dst', digest, content);

    await pushBlob(h.app, 'u/mount-empty', bytes(3));
    const miss = await h.app.inject({ method: 'POST', url: `/v2/u/mount-dst2/blobs/uploads/?mount=${digest}&from=u/mount-empty` });
    assert.equal(miss.statusCode, 202, miss.body);
    assert.match(String(miss.headers.location), /^\/v2\/u\/mount-dst2\/blobs\/uploads\//);
    assert.equal(miss.headers.range, '0-0');
    assert.equal(await blobStatus(h.app, 'u/mount-dst2', digest), 404, 'a refused mount links nothing');
    const finish = await put(withQuery(String(miss.headers.location), `digest=${digest}`), content);
    assert.equal(finish.statusCode, 201, 'the upload the refused mount started is usable');

    const unknown = await h.app.inject({ method: 'POST', url: `/v2/u/mount-dst3/blobs/uploads/?mount=${digestOf(Buffer.from('nope'))}&from=u/mount-src` });
    assert.equal(unknown.statusCode, 202);
    assertError(await h.app.inject({ method: 'POST', url: '/v2/u/mount-dst3/blobs/uploads/?mount=sha256:bad&from=u/mount-src' }), 400, 'DIGEST_INVALID');
    assertError(await h.app.inject({ method: 'POST', url: `/v2/u/mount-dst3/blobs/uploads/?mount=${digest}&from=Bad//Name` }), 400, 'NAME_INVALID');
  });

  test('mount without from: 201 when the registry knows the blob, 202 otherwise', async () => {
    const content = bytes(40);
    const digest = await pushBlob(h.app, 'u/auto-src', content);
    const res = await h.app.inject({ method: 'POST', url: `/v2/u/auto-dst/blobs/uploads/?mount=${digest}` });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digest);
    await assertBlob('u/auto-dst', digest, content);
    const miss = await h.app.inject({ method: 'POST', url: `/v2/u/auto-dst/blobs/uploads/?mount=${digestOf(Buffer.from('unknown'))}` });
    assert.equal(miss.statusCode, 202);
    assert.ok(miss.headers['docker-upload-uuid']);
  });

  test('ten parallel monolithic pushes of the same blob all succeed and the blob is intact', async () => {
    const content = bytes(256 * 1024);
    const digest = digestOf(content);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        h.app.inject({ method: 'POST', url: `/v2/u/same/blobs/uploads/?digest=${digest}`, payload: content, headers: OCTET }),
      ),
    );
    for (const r of results) assert.equal(r.statusCode, 201, r.body);
    await assertBlob('u/same', digest, content);
    assert.equal(h.registry.uploadsInProgress, 0);
  });

  test('chunked upload of a sha512 digest', async () => {
    const content = bytes(1000);
    const digest = digestOf(content, 'sha512');
    const { location } = await startUpload(h.app, 'u/sha512');
    assert.equal((await patch(location, content.subarray(0, 500), '0-499')).statusCode, 202);
    assert.equal((await patch(location, content.subarray(500), '500-999')).statusCode, 202);
    assertError(await put(withQuery(location, `digest=${digestOf(content)}`.replace(/.$/, (c) => (c === '0' ? '1' : '0')))), 400, 'DIGEST_INVALID');
    const res = await put(withQuery(location, `digest=${digest}`));
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digest);
    await assertBlob('u/sha512', digest, content);
  });
});
