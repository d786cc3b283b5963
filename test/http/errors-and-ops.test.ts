import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { digestOf } from '../../src/domain/digest.js';
import { pushBlob, pushImage, putManifest, startHarness, type Harness } from './harness.js';
import { assertError, bytes, startUpload, type ResponseLike } from './support.js';

/** Parses Prometheus text into samples: name, labels, value. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable metrics line ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function sample(all: ReturnType<typeof samples>, name: string, labels: Record<string, string> = {}): number | undefined {
  return all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('ping, error format and routing', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  test('GET and HEAD /v2/ answer 200 with Docker-Distribution-API-Version', async () => {
    const get = await h.app.inject({ method: 'GET', url: '/v2/' });
    assert.equal(get.statusCode, 200);
    assert.equal(get.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.deepEqual(JSON.parse(get.body), {});
    const head = await h.app.inject({ method: 'HEAD', url: '/v2/' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('every /v2 response carries Docker-Distribution-API-Version, errors included', async () => {
    const img = await pushImage(h.app, 'o/hdr', 'v1');
    const { location } = await startUpload(h.app, 'o/hdr');
    const responses = [
      await h.app.inject({ method: 'GET', url: '/v2/o/hdr/manifests/v1' }),
      await h.app.inject({ method: 'HEAD', url: `/v2/o/hdr/blobs/${img.config}` }),
      await h.app.inject({ method: 'GET', url: location }),
      await h.app.inject({ method: 'GET', url: '/v2/o/hdr/tags/list' }),
      await h.app.inject({ method: 'GET', url: '/v2/_catalog' }),
      await h.app.inject({ method: 'GET', url: `/v2/o/hdr/referrers/${img.digest}` }),
      await h.app.inject({ method: 'GET', url: '/v2/o/hdr/manifests/missing' }),
      await h.app.inject({ method: 'GET', url: '/v2/o/hdr/whatever' }),
      await h.app.inject({ method: 'PATCH', url: '/v2/o/hdr/manifests/v1' }),
      await h.app.inject({ method: 'GET', url: '/v2/BAD/manifests/v1' }),
    ];
    for (const r of responses) assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0', `${r.statusCode} ${r.body}`);
  });

  test('error bodies are {"errors":[{code,message,detail?}]} with the status of the error table', async () => {
    const img = await pushImage(h.app, 'o/fmt', 'v1');
    const cases: [ResponseLike, string][] = [
      [await h.app.inject({ method: 'GET', url: '/v2/o/fmt/manifests/nope' }), 'MANIFEST_UNKNOWN'],
      [await h.app.inject({ method: 'GET', url: `/v2/o/fmt/blobs/${digestOf(Buffer.from('?'))}` }), 'BLOB_UNKNOWN'],
      [await h.app.inject({ method: 'GET', url: '/v2/o/fmt/blobs/sha256:nothex' }), 'DIGEST_INVALID'],
      [await h.app.inject({ method: 'GET', url: '/v2/Nope/tags/list' }), 'NAME_INVALID'],
      [await h.app.inject({ method: 'GET', url: '/v2/o/unknown-repo/tags/list' }), 'NAME_UNKNOWN'],
      [await putManifest(h.app, 'o/fmt', '-tag', img.manifest), 'TAG_INVALID'],
      [await putManifest(h.app, 'o/fmt', 'v2', '{nope'), 'MANIFEST_INVALID'],
      [await h.app.inject({ method: 'GET', url: '/v2/o/fmt/blobs/uploads/nope' }), 'BLOB_UPLOAD_UNKNOWN'],
      [await h.app.inject({ method: 'GET', url: `/v2/o/fmt/blobs/${img.config}`, headers: { range: 'bytes=99999-' } }), 'RANGE_INVALID'],
      [await h.app.inject({ method: 'GET', url: '/v2/_catalog?n=x' }), 'PAGINATION_INVALID'],
      [await h.app.inject({ method: 'GET', url: '/v2/o/fmt/nothing-here' }), 'NOT_FOUND'],
      [await h.app.inject({ method: 'GET', url: '/not-v2' }), 'NOT_FOUND'],
      [await h.app.inject({ method: 'DELETE', url: '/v2/_catalog' }), 'METHOD_NOT_ALLOWED'],
    ];
    for (const [res, code] of cases) {
      assertError(res, ERROR_CODES[code as keyof typeof ERROR_CODES].status, code);
      const body = JSON.parse(res.body) as { errors: Record<string, unknown>[] };
      assert.deepEqual(Object.keys(body), ['errors']);
      assert.equal(body.errors.length, 1);
      for (const key of Object.keys(body.errors[0]!)) assert.ok(['code', 'message', 'detail'].includes(key), `unexpected key ${key}`);
      assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.body)));
    }
  });

  test('HEAD errors answer the status with no body', async () => {
    const res = await h.app.inject({ method: 'HEAD', url: '/v2/o/head/manifests/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.rawPayload.length, 0);
  });

  test('a path no route serves is 404 NOT_FOUND; a known path with the wrong method is 405 with Allow', async () => {
    for (const url of ['/v2/o/x/manifests/', '/v2/o/x/blobs/', '/v2/o/x/tags', '/v2/o/x/tags/list/extra', '/v2/o/x', '/v2x', '/nothing']) {
      assertError(await h.app.inject({ method: 'GET', url }), 404, 'NOT_FOUND');
    }
    const cases: [string, string, string][] = [
      ['PATCH', '/v2/o/x/manifests/latest', 'GET, HEAD, PUT, DELETE'],
      ['POST', '/v2/o/x/manifests/latest', 'GET, HEAD, PUT, DELETE'],
      ['DELETE', '/v2/_catalog', 'GET'],
      ['PUT', '/v2/o/x/tags/list', 'GET'],
      ['POST', `/v2/o/x/blobs/${digestOf(Buffer.from('x'))}`, 'GET, HEAD, DELETE'],
      ['DELETE', `/v2/o/x/referrers/${digestOf(Buffer.from('x'))}`, 'GET'],
      ['PUT', '/v2/o/x/blobs/uploads/', 'POST'],
    ];
    for (const [method, url, allow] of cases) {
      const res = await h.app.inject({ method: method as 'GET', url });
      assertError(res, 405, 'METHOD_NOT_ALLOWED');
      assert.equal(res.headers.allow, allow, `${method} ${url}`);
    }
  });

  test(
    'a path with malformed percent-encoding answers an OCI error body',
    async () => {
      for (const url of ['/v2/%E0%A4%A/manifests/x', '/v2/a/manifests/%ZZ', '/nothing/%']) {
        const res = await h.app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 400, res.body);
        const body = JSON.parse(res.body) as { errors?: { code: string }[] };
        assert.ok(Array.isArray(body.errors), `not an OCI error body: ${res.body}`);
      }
    },
  );

  test('x-request-id is echoed, or generated and unique when absent', async () => {
    const echoed = await h.app.inject({ method: 'GET', url: '/v2/', headers: { 'x-request-id': 'trace-abc-123' } });
    assert.equal(echoed.headers['x-request-id'], 'trace-abc-123');
    const err = await h.app.inject({ method: 'GET', url: '/v2/o/x/manifests/nope', headers: { 'x-request-id': 'trace-err' } });
    assert.equal(err.headers['x-request-id'], 'trace-err');
    const a = await h.app.inject({ method: 'GET', url: '/v2/' });
    const b = await h.app.inject({ method: 'GET', url: '/healthz' });
    assert.ok(a.headers['x-request-id'] && b.headers['x-request-id']);
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
  });

  test('/healthz and /readyz answer 200', async () => {
    const health = await h.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(JSON.parse(ready.body), { status: 'ready' });
  });
});

describe('/readyz when not ready', () => {
  test('503 while starting or draining, 200 once ready', async () => {
    let ready = false;
    const h = await startHarness({ isReady: () => ready });
    try {
      assert.equal((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
      assert.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness is not readiness');
      ready = true;
      assert.equal((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    } finally {
      await h.close();
    }
  });

  test('503 UNAVAILABLE when the blob store is unreachable, 200 again once it is back', async () => {
    const h = await startHarness();
    try {
      const root = join(h.dir, 'blobs');
      renameSync(root, `${root}.away`);
      const res = await h.app.inject({ method: 'GET', url: '/readyz' });
      assertError(res, 503, 'UNAVAILABLE');
      assert.match(res.body, /blob store/);
      renameSync(`${root}.away`, root);
      assert.equal((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    } finally {
      await h.close();
    }
  });

  test('503 UNAVAILABLE when the metadata database is unreachable', async () => {
    const h = await startHarness();
    try {
      await h.metadata.close();
      assertError(await h.app.inject({ method: 'GET', url: '/readyz' }), 503, 'UNAVAILABLE');
    } finally {
      // h.close() would close the database a second time
      await h.app.close();
      await h.registry.close().catch(() => undefined);
      rmSync(h.dir, { recursive: true, force: true });
    }
  });
});

describe('/metrics', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  test('counts requests per method, route and status, and blob bytes in and out', async () => {
    const blob = bytes(1000);
    const digest = await pushBlob(h.app, 'o/metrics', blob); // +1000 in
    const chunked = bytes(30);
    const { location } = await startUpload(h.app, 'o/metrics');
    const p1 = await h.app.inject({ method: 'PATCH', url: location, payload: chunked.subarray(0, 10), headers: { 'content-range': '0-9' } });
    assert.equal(p1.statusCode, 202);
    const done = await h.app.inject({ method: 'PUT', url: `${location}?digest=${digestOf(chunked)}`, payload: chunked.subarray(10) });
    assert.equal(done.statusCode, 201); // +30 in
    assert.equal((await h.app.inject({ method: 'GET', url: `/v2/o/metrics/blobs/${digest}` })).statusCode, 200); // +1000 out
    assert.equal((await h.app.inject({ method: 'GET', url: `/v2/o/metrics/blobs/${digest}`, headers: { range: 'bytes=0-9' } })).statusCode, 206); // +10
    assert.equal((await h.app.inject({ method: 'HEAD', url: `/v2/o/metrics/blobs/${digest}` })).statusCode, 200); // +0
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/o/metrics/manifests/nope' })).statusCode, 404);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v2/o/metrics/manifests/nope' })).statusCode, 404);
    assert.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);

    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^# TYPE wharf_http_request_duration_seconds histogram$/m);
    const all = samples(res.body);
    const count = (labels: Record<string, string>) => sample(all, 'wharf_http_request_duration_seconds_count', labels);
    assert.equal(count({ method: 'POST', route: 'upload.start', status: '201' }), 1);
    assert.equal(count({ method: 'POST', route: 'upload.start', status: '202' }), 1);
    assert.equal(count({ method: 'PATCH', route: 'upload.patch', status: '202' }), 1);
    assert.equal(count({ method: 'PUT', route: 'upload.put', status: '201' }), 1);
    assert.equal(count({ method: 'GET', route: 'blob.get', status: '200' }), 1);
    assert.equal(count({ method: 'GET', route: 'blob.get', status: '206' }), 1);
    assert.equal(count({ method: 'HEAD', route: 'blob.head', status: '200' }), 1);
    assert.equal(count({ method: 'GET', route: 'manifest.get', status: '404' }), 2);
    assert.equal(count({ method: 'GET', route: '/healthz', status: '200' }), 1);
    const inf = sample(all, 'wharf_http_request_duration_seconds_bucket', { method: 'GET', route: 'manifest.get', status: '404', le: '+Inf' });
    assert.equal(inf, 2);
    const sum = sample(all, 'wharf_http_request_duration_seconds_sum', { method: 'GET', route: 'manifest.get', status: '404' });
    assert.ok(sum !== undefined && sum >= 0 && sum < 60);
    assert.equal(sample(all, 'wharf_blob_bytes_received_total'), 1030);
    assert.equal(sample(all, 'wharf_blob_bytes_sent_total'), 1010);
    assert.equal(sample(all, 'wharf_uploads_in_progress'), 0);
  });
});

describe('request ids', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  test('an over-long or odd X-Request-Id is replaced by a generated one (it lands in every log line)', async () => {
    for (const bad of ['x'.repeat(6000), 'two words', 'line\tbreak', '<script>']) {
      const res = await h.app.inject({ method: 'GET', url: '/v2/', headers: { 'x-request-id': bad } });
      assert.equal(res.statusCode, 200);
      const id = String(res.headers['x-request-id']);
      assert.notEqual(id, bad);
      assert.match(id, /^req-[0-9a-f-]{36}$/);
    }
  });

  test('GET /v2 without the trailing slash is the ping too', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v2' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  });
});
