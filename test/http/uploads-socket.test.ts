/**
 * Upload behaviour that app.inject cannot show faithfully: bodies that arrive slowly, stop half-way
 * or are too large to buffer. These tests use a real socket.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { digestOf } from '../../src/domain/digest.js';
import { startHarness, type Harness } from './harness.js';
import { assertError, blobStatus, bytes, listen, rawRequest, startUpload, waitFor, withQuery } from './support.js';

const OCTET = { 'content-type': 'application/octet-stream' };

/** A request whose body the test writes piece by piece; `response` settles when the server answers or the socket fails. */
function openRequest(port: number, method: string, path: string, headers: http.OutgoingHttpHeaders) {
  const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false });
  const response = new Promise<{ statusCode: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
  });
  response.catch(() => undefined); // aborted on purpose in some tests
  return { req, response };
}

function write(req: http.ClientRequest, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => req.write(chunk, (err) => (err ? reject(err) : resolve())));
}

describe('uploads over a real socket', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await startHarness();
    port = await listen(h.app);
  });
  after(async () => h.close());

  const uploadFiles = () => readdirSync(join(h.dir, 'blobs', '_uploads'));

  test('a client aborting mid-PATCH leaves the upload resumable at its previous offset and nothing visible', async () => {
    const content = bytes(3 * 1024 * 1024);
    const digest = digestOf(content);
    const { location, id } = await startUpload(h.app, 's/abort');
    const first = await rawRequest(port, 'PATCH', location, { ...OCTET, 'content-range': '0-99' }, content.subarray(0, 100));
    assert.equal(first.statusCode, 202);

    for (const withRange of [true, false]) {
      const rest = content.length - 100;
      const headers: http.OutgoingHttpHeaders = withRange
        ? { ...OCTET, 'content-range': `100-${content.length - 1}`, 'content-length': rest }
        : { ...OCTET, 'transfer-encoding': 'chunked' };
      const { req } = openRequest(port, 'PATCH', location, headers);
      await write(req, content.subarray(100, 100 + 1024 * 1024));
      await waitFor(() => h.registry.uploadsInProgress === 1, 5000, 'the server to receive the chunk');
      await new Promise((r) => setTimeout(r, 50));
      req.destroy();
      await waitFor(() => h.registry.uploadsInProgress === 0, 5000, 'the server to notice the abort');

      const st = await rawRequest(port, 'GET', location);
      assert.equal(st.statusCode, 204);
      assert.equal(st.headers.range, '0-99', 'the interrupted chunk is not counted');
      assert.equal(await blobStatus(h.app, 's/abort', digest), 404);
    }
    assert.deepEqual(uploadFiles(), [id]);

    const resumed = await rawRequest(port, 'PATCH', location, { ...OCTET, 'content-range': `100-${content.length - 1}` }, content.subarray(100));
    assert.equal(resumed.statusCode, 202, resumed.body);
    assert.equal(resumed.headers.range, `0-${content.length - 1}`);
    const done = await rawRequest(port, 'PUT', withQuery(location, `digest=${digest}`));
    assert.equal(done.statusCode, 201, done.body);
    const get = await h.app.inject({ method: 'GET', url: `/v2/s/abort/blobs/${digest}` });
    assert.equal(digestOf(get.rawPayload), digest);
  });

  test('a client aborting a monolithic POST leaves no blob and no upload behind', async () => {
    const content = bytes(2 * 1024 * 1024);
    const digest = digestOf(content);
    const before = uploadFiles();
    const { req } = openRequest(port, 'POST', `/v2/s/abort-mono/blobs/uploads/?digest=${digest}`, { ...OCTET, 'content-length': content.length });
    await write(req, content.subarray(0, 512 * 1024));
    await waitFor(() => h.registry.uploadsInProgress === 1, 5000, 'the server to receive the body');
    req.destroy();
    await waitFor(() => h.registry.uploadsInProgress === 0, 5000, 'the server to notice the abort');
    await waitFor(() => uploadFiles().length === before.length, 5000, 'the upload file to be removed');
    assert.equal(await blobStatus(h.app, 's/abort-mono', digest), 404);
  });

  test('a second PATCH while one is in flight fails cleanly; the upload then completes with a verified digest', async () => {
    const content = bytes(1024 * 1024);
    const digest = digestOf(content);
    const half = 512 * 1024;
    const { location } = await startUpload(h.app, 's/concurrent');
    const a = openRequest(port, 'PATCH', location, { ...OCTET, 'content-range': `0-${half - 1}`, 'content-length': half });
    await write(a.req, content.subarray(0, 64 * 1024));
    await waitFor(() => h.registry.uploadsInProgress === 1, 5000, 'the first PATCH to start');

    const clash = [
      await rawRequest(port, 'PATCH', location, { ...OCTET, 'content-range': `0-${half - 1}` }, content.subarray(0, half)),
      await rawRequest(port, 'PATCH', location, { ...OCTET }, Buffer.from('garbage that must not land')),
      await rawRequest(port, 'PUT', withQuery(location, `digest=${digest}`), { ...OCTET }, content.subarray(half)),
    ];
    for (const res of clash) {
      assert.ok(res.statusCode === 400 || res.statusCode === 416, `${res.statusCode} ${res.body}`);
      assertError(res, res.statusCode, res.statusCode === 400 ? 'BLOB_UPLOAD_INVALID' : 'RANGE_INVALID');
    }
    a.req.end(content.subarray(64 * 1024, half));
    const first = await a.response;
    assert.equal(first.statusCode, 202, first.body);
    assert.equal(first.headers.range, `0-${half - 1}`);

    const second = await rawRequest(port, 'PATCH', location, { ...OCTET, 'content-range': `${half}-${content.length - 1}` }, content.subarray(half));
    assert.equal(second.statusCode, 202, second.body);
    const done = await rawRequest(port, 'PUT', withQuery(location, `digest=${digest}`));
    assert.equal(done.statusCode, 201, done.body);
    const get = await h.app.inject({ method: 'GET', url: `/v2/s/concurrent/blobs/${digest}` });
    assert.deepEqual(get.rawPayload, content);
  });

  test('a chunked-encoded chunk longer or shorter than its Content-Range is 416 and the upload stays where it was', async () => {
    const content = bytes(40);
    const { location } = await startUpload(h.app, 's/overrun');
    const chunked = { ...OCTET, 'transfer-encoding': 'chunked' };
    assert.equal((await rawRequest(port, 'PATCH', location, { ...OCTET, 'content-range': '0-9' }, content.subarray(0, 10))).statusCode, 202);
    for (const body of [content.subarray(10, 40), content.subarray(10, 15)]) {
      const res = await rawRequest(port, 'PATCH', location, { ...chunked, 'content-range': '10-19' }, body);
      assertError(res, 416, 'RANGE_INVALID');
      assert.equal((await rawRequest(port, 'GET', location)).headers.range, '0-9');
    }
    const last = await rawRequest(port, 'PUT', withQuery(location, `digest=${digestOf(content)}`), { ...chunked, 'content-range': '10-19' }, content.subarray(10));
    assertError(last, 416, 'RANGE_INVALID');
    assert.equal((await rawRequest(port, 'PATCH', location, { ...OCTET, 'content-range': '10-39' }, content.subarray(10))).statusCode, 202);
    assert.equal((await rawRequest(port, 'PUT', withQuery(location, `digest=${digestOf(content)}`))).statusCode, 201);
  });

  test('cancelling an upload while a PATCH streams into it: 204, the PATCH fails cleanly, the upload is gone', async () => {
    const { location } = await startUpload(h.app, 's/cancel-race');
    const a = openRequest(port, 'PATCH', location, { ...OCTET, 'transfer-encoding': 'chunked' });
    await write(a.req, bytes(64 * 1024));
    await waitFor(() => h.registry.uploadsInProgress === 1, 5000, 'the PATCH to start');
    assert.equal((await rawRequest(port, 'DELETE', location)).statusCode, 204);
    a.req.end(bytes(64 * 1024));
    const res = await a.response;
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
    assertError(await rawRequest(port, 'GET', location), 404, 'BLOB_UPLOAD_UNKNOWN');
    await waitFor(() => h.registry.uploadsInProgress === 0, 5000, 'the PATCH to finish');
  });

  test('upload ids with dot segments are refused cleanly', async () => {
    for (const path of ['/v2/s/dots/blobs/uploads/..', '/v2/s/dots/blobs/uploads/%2e%2e', '/v2/s/dots/blobs/uploads/%2e%2e%2f%2e%2e%2fwharf.db']) {
      const res = await rawRequest(port, 'GET', path);
      assertError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
      const patched = await rawRequest(port, 'PATCH', path, OCTET, 'x');
      assertError(patched, 404, 'BLOB_UPLOAD_UNKNOWN');
    }
  });

  test('a 160 MiB blob streams in (chunked) and out with flat memory', async () => {
    const MiB = 1024 * 1024;
    const total = 160;
    const base = bytes(MiB);
    const chunk = (i: number): Buffer => {
      const c = Buffer.from(base);
      c.writeUInt32BE(i, 0);
      return c;
    };
    const hash = createHash('sha256');
    for (let i = 0; i < total; i++) hash.update(chunk(i));
    const digest = `sha256:${hash.digest('hex')}`;

    let peak = 0;
    const baseline = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss - baseline);
    }, 10);
    try {
      const up = openRequest(port, 'POST', `/v2/s/big/blobs/uploads/?digest=${digest}`, { ...OCTET, 'transfer-encoding': 'chunked' });
      for (let i = 0; i < total; i++) {
        if (!up.req.write(chunk(i))) await new Promise((r) => up.req.once('drain', r));
      }
      up.req.end();
      const res = await up.response;
      assert.equal(res.statusCode, 201, res.body);

      const down = await new Promise<{ length: string | undefined; digest: string; bytes: number }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: `/v2/s/big/blobs/${digest}`, agent: false }, (r) => {
            const hh = createHash('sha256');
            let n = 0;
            r.on('data', (c: Buffer) => {
              hh.update(c);
              n += c.length;
            });
            r.on('end', () => resolve({ length: r.headers['content-length'], digest: `sha256:${hh.digest('hex')}`, bytes: n }));
            r.on('error', reject);
          })
          .on('error', reject);
      });
      assert.equal(down.length, String(total * MiB));
      assert.equal(down.bytes, total * MiB);
      assert.equal(down.digest, digest);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak < 100 * MiB, `memory grew by ${Math.round(peak / MiB)} MiB for a ${total} MiB blob`);
  });
});
