/**
 * Scale-out mode end to end: `wharf serve` processes sharing one PostgreSQL database and one S3
 * server (s3rver), nothing else. An upload goes on from one replica to the other, a push through
 * one is a pull through the other, tag races from both end consistent, a replica killed -9
 * mid-push loses nothing that completed, and a replica configured for presigned redirects sends
 * clients to the object store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import pg from 'pg';
import { buildImage, MT, randomLayer, sha256, type BuiltImage } from '../support/oci-layout.js';
import { errorCodes, RegistryClient } from '../support/registry-client.js';
import { e2eTarget, startRegistry, wharfBuilt, wharfCli, type RegistryProcess } from '../support/registry-process.js';
import { scaleOutSkipReason, startScaleOut, type ScaleOut } from '../support/scale-out.js';

const skip = e2eTarget() !== 'wharf' ? 'scale-out is Wharf' : !wharfBuilt() ? 'run npm run build first' : await scaleOutSkipReason();
const MiB = 1024 * 1024;

async function pushImage(client: RegistryClient, repo: string, tag: string, image: BuiltImage): Promise<void> {
  for (const [d, b] of image.blobs) if (d !== image.manifestDigest) await client.pushBlobPostPut(repo, b, d);
  await client.putManifest(repo, tag, image.manifest, MT.manifest);
}

async function pullImage(client: RegistryClient, repo: string, tag: string): Promise<{ manifest: Buffer; blobs: Map<string, Buffer> }> {
  const m = await client.getManifest(repo, tag);
  assert.equal(m.status, 200, m.body.toString());
  const parsed = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  const blobs = new Map<string, Buffer>();
  for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
    const b = await client.getBlob(repo, d);
    assert.equal(b.status, 200, `${d}: ${b.status}`);
    assert.equal(sha256(b.body), d);
    blobs.set(d, b.body);
  }
  return { manifest: m.body, blobs };
}

describe('replicas over PostgreSQL and S3', { skip, timeout: 300_000 }, () => {
  let so: ScaleOut;
  let a: RegistryProcess;
  let b: RegistryProcess;
  let ca: RegistryClient;
  let cb: RegistryClient;

  before(async () => {
    so = await startScaleOut();
    // both start at once: migrations and the bucket check must cope with a twin
    [a, b] = await Promise.all([startRegistry({ configFile: so.configFile, env: so.env }), startRegistry({ configFile: so.configFile, env: so.env })]);
    ca = new RegistryClient({ url: a.url });
    cb = new RegistryClient({ url: b.url });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await so?.stop();
  });

  test('a chunked upload started on one replica continues and completes on the other', async () => {
    const blob = randomBytes(21 * MiB); // parts of 8 MiB: the multipart upload spans both replicas
    const digest = sha256(blob);
    const chunks = [blob.subarray(0, 7 * MiB), blob.subarray(7 * MiB, 7 * MiB + 123), blob.subarray(7 * MiB + 123)];
    let location = await ca.startUpload('replicas/chunked');
    let offset = 0;
    for (const [i, chunk] of chunks.entries()) {
      const via = i % 2 === 0 ? ca : cb;
      const r = await via.request('PATCH', location, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}`, 'content-length': String(chunk.length) },
        body: chunk,
      });
      assert.equal(r.status, 202, r.body.toString());
      offset += chunk.length;
      assert.equal(r.headers.get('range'), `0-${offset - 1}`);
      location = r.headers.get('location')!;
      const status = await (i % 2 === 0 ? cb : ca).request('GET', location);
      assert.equal(status.headers.get('range'), `0-${offset - 1}`, 'the other replica sees the same progress');
    }
    const put = await cb.request('PUT', `${location}?digest=${digest}`, { headers: { 'content-length': '0' } });
    assert.equal(put.status, 201, put.body.toString());
    const got = await ca.getBlob('replicas/chunked', digest);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(blob));
  });

  test('parallel chunks to one upload through both replicas: one is refused, the upload goes on', async () => {
    const location = await ca.startUpload('replicas/parallel');
    // a chunk that keeps streaming into replica a...
    const slow = request(`${a.url}${location}`, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } });
    const slowDone = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      slow.on('error', reject);
    });
    slow.write(randomBytes(64 * 1024));
    await new Promise((r) => setTimeout(r, 300));
    // ...while another arrives at replica b
    const parallel = await cb.request('PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(10) });
    assert.equal(parallel.status, 400);
    assert.deepEqual(errorCodes(parallel.body), ['BLOB_UPLOAD_INVALID']);
    slow.end(randomBytes(1000));
    assert.equal(await slowDone, 202);
    const status = await cb.request('GET', location);
    assert.equal(status.headers.get('range'), `0-${64 * 1024 + 1000 - 1}`);
  });

  test('push through one replica, pull through the other; listings agree', async () => {
    const image = buildImage({ layers: [randomLayer(), randomLayer(), randomLayer()] });
    await pushImage(ca, 'replicas/app', 'v1', image);
    const pulled = await pullImage(cb, 'replicas/app', 'v1');
    assert.ok(pulled.manifest.equals(image.manifest));
    assert.deepEqual(await cb.tags('replicas/app'), ['v1']);
    const catalog = JSON.parse((await cb.request('GET', '/v2/_catalog')).body.toString()) as { repositories: string[] };
    assert.ok(catalog.repositories.includes('replicas/app'));
    // a cross-repository mount through b of a blob pushed through a
    const layer = image.layers[0]!.digest;
    const mount = await cb.request('POST', `/v2/replicas/other/blobs/uploads/?mount=${layer}&from=replicas/app`, { headers: { 'content-length': '0' } });
    assert.equal(mount.status, 201);
    assert.equal((await ca.headBlob('replicas/other', layer)).status, 200);
  });

  test('concurrent tag updates from both replicas end in one value and an unbroken history', async () => {
    const images = Array.from({ length: 12 }, () => buildImage({ layers: [randomLayer()] }));
    for (const image of images) await pushImage(ca, 'replicas/race', image.manifestDigest.slice(7, 19), image);
    const puts = await Promise.all(
      images.map((image, i) => (i % 2 ? ca : cb).request('PUT', '/v2/replicas/race/manifests/latest', {
        headers: { 'content-type': MT.manifest },
        body: image.manifest,
      })),
    );
    assert.deepEqual(puts.map((r) => r.status), images.map(() => 201), puts.map((r) => r.body.toString()).join('\n'));
    const [fromA, fromB] = [await ca.getManifest('replicas/race', 'latest'), await cb.getManifest('replicas/race', 'latest')];
    assert.ok(fromA.body.equals(fromB.body));
    const db = new pg.Client({ connectionString: so.db.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ old_digest: string | null; new_digest: string }>(
        `select e.old_digest, e.new_digest from tag_events e join repositories r on r.id = e.repository_id
          where r.name = 'replicas/race' and e.tag = 'latest' order by e.id`,
      );
      assert.equal(rows.length, 12, 'every put moved the tag once');
      assert.equal(rows[0]!.old_digest, null);
      for (let i = 1; i < rows.length; i++) assert.equal(rows[i]!.old_digest, rows[i - 1]!.new_digest);
      assert.equal(rows.at(-1)!.new_digest, sha256(fromA.body));
    } finally {
      await db.end();
    }
  });

  test('a replica killed -9 mid-push: the other serves everything that completed, and the push can be redone', async () => {
    const c = await startRegistry({ configFile: so.configFile, env: so.env });
    try {
      const cc = new RegistryClient({ url: c.url });
      const done = buildImage();
      await pushImage(cc, 'replicas/crash', 'done', done);
      // a big layer streaming into c when it dies
      const big = randomBytes(24 * MiB);
      const bigDigest = sha256(big);
      const location = await cc.startUpload('replicas/crash');
      const put = request(`${c.url}${location}?digest=${bigDigest}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(big.length) },
      });
      put.on('error', () => undefined);
      put.write(big.subarray(0, 12 * MiB));
      await new Promise((r) => setTimeout(r, 500));
      await c.kill9();
      put.destroy();

      const pulled = await pullImage(cb, 'replicas/crash', 'done');
      assert.ok(pulled.manifest.equals(done.manifest));
      assert.equal((await cb.headBlob('replicas/crash', bigDigest)).status, 404, 'nothing of the interrupted push is visible');
      await cb.pushBlobPostPut('replicas/crash', big, bigDigest);
      const again = await ca.getBlob('replicas/crash', bigDigest);
      assert.equal(createHash('sha256').update(again.body).digest('hex'), bigDigest.slice(7));
    } finally {
      await c.stop();
    }
    const r = wharfCli(['fsck', '--config', so.configFile, '--quick'], { env: so.env });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, / 0 problems/);
  });

  test('a replica with presigned redirects sends blob GETs to the object store; Range works there', async () => {
    const d = await startRegistry({
      configFile: so.configFile,
      env: { ...so.env, WHARF_STORAGE__BLOB__S3__PRESIGNED_REDIRECT__ENABLED: 'true', WHARF_STORAGE__BLOB__S3__PRESIGNED_REDIRECT__EXPIRES_SECONDS: '60' },
    });
    try {
      const cd = new RegistryClient({ url: d.url });
      const image = buildImage();
      await pushImage(ca, 'replicas/redirect', 'v1', image);
      const layer = image.layers[0]!;
      const res = await cd.getBlob('replicas/redirect', layer.digest);
      assert.equal(res.status, 307);
      const url = res.headers.get('location')!;
      assert.ok(url.startsWith(`${so.s3.endpoint}/${so.s3.bucket}/wharf/blobs/sha256/`), url);
      const direct = await fetch(url);
      assert.equal(direct.status, 200);
      assert.equal(sha256(Buffer.from(await direct.arrayBuffer())), layer.digest);
      const ranged = await fetch(url, { headers: { range: 'bytes=0-9' } });
      assert.equal(ranged.status, 206);
      assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(layer.blob.subarray(0, 10)));
      assert.equal((await cd.headBlob('replicas/redirect', layer.digest)).status, 200, 'HEAD is answered by Wharf');
      assert.equal((await cd.getBlob('replicas/elsewhere', layer.digest)).status, 404, 'no URL without access');
    } finally {
      await d.stop();
    }
  });
});
