/**
 * What is specific to the S3 store beyond the conformance suite: the key layout, multipart parts
 * and how small appends combine, an upload carried on by other processes (no shared memory),
 * rewinds, the large-object copy, abort of the multipart upload, presigned URLs, and errors.
 * Parts are made tiny here (s3rver does not enforce S3's 5 MiB minimum) so that the tests are fast.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { digestOf, encodedOf } from '../../src/domain/digest.js';
import { isWharfError } from '../../src/errors/wharf-error.js';
import { S3BlobStore, type S3BlobStoreOptions } from '../../src/storage/blob/s3-blob-store.js';
import type { UploadState } from '../../src/storage/blob/s3-upload-state.js';
import { body, failingBody, readAll } from '../conformance/blob-store-suite.js';
import { freePort } from '../support/registry-process.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';

const KiB = 1024;
let s3: S3TestServer;
before(async () => {
  s3 = await startS3Server();
});
after(() => s3.stop());

const stores: S3BlobStore[] = [];
after(() => stores.forEach((s) => s.close()));

/** A store over its own prefix; `replica()` gives another store (another process) over the same keys. */
function storeAt(prefix: string, options: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  const store = new S3BlobStore({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    prefix,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    partSizeBytes: 64 * KiB,
    ...options,
  });
  stores.push(store);
  return store;
}

function fresh(options: Partial<S3BlobStoreOptions> = {}): { store: S3BlobStore; prefix: string; replica(): S3BlobStore } {
  const prefix = `s-${randomBytes(4).toString('hex')}/`;
  return { store: storeAt(prefix, options), prefix, replica: () => storeAt(prefix, options) };
}

async function keys(prefix: string): Promise<string[]> {
  const out = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
}

async function stateOf(prefix: string, id: string): Promise<UploadState> {
  const out = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${prefix}uploads/${id}/state` }));
  return JSON.parse(await out.Body!.transformToString()) as UploadState;
}

describe('S3BlobStore', () => {
  test('layout: blobs under <prefix>blobs/<alg>/<hex>; nothing of the upload and no multipart upload left', async () => {
    const { store, prefix } = fresh();
    const openBefore = s3.openMultipartUploads().length;
    const content = randomBytes(300 * KiB); // several parts
    const id = randomUUID();
    await store.create(id);
    await store.append(id, 0, body(content));
    assert.ok((await stateOf(prefix, id)).parts.length >= 4);
    await store.commit(id, content.length, digestOf(content));
    assert.deepEqual(await keys(prefix), [`blobs/sha256/${encodedOf(digestOf(content))}`]);
    assert.equal(s3.openMultipartUploads().length, openBefore);
    const small = randomBytes(10);
    const id2 = randomUUID();
    await store.create(id2);
    await store.append(id2, 0, body(small));
    await store.commit(id2, 10, digestOf(small, 'sha512'));
    assert.ok((await keys(prefix)).includes(`blobs/sha512/${encodedOf(digestOf(small, 'sha512'))}`));
  });

  test('an upload started in one process goes on and completes in others (state in S3, not memory)', async () => {
    const { store: a, replica, prefix } = fresh();
    const [b, c] = [replica(), replica()];
    const chunks = [randomBytes(100 * KiB), randomBytes(7), randomBytes(90 * KiB), randomBytes(3 * KiB)];
    const id = randomUUID();
    await a.create(id);
    let offset = 0;
    for (const [i, chunk] of chunks.entries()) offset = await [a, b, a, b][i]!.append(id, offset, body(chunk));
    const all = Buffer.concat(chunks);
    assert.equal(offset, all.length);
    assert.deepEqual((await stateOf(prefix, id)).size, all.length);
    await assert.rejects(c.commit(id, all.length, digestOf(randomBytes(8))), (e) => isWharfError(e, 'DIGEST_INVALID'));
    await c.commit(id, all.length, digestOf(all)); // c saw no byte: it completes and re-reads
    assert.deepEqual(await readAll(await b.open(digestOf(all))), all);
  });

  test('small appends combine: one small object each, merged into parts as they reach the part size', async () => {
    const { store, prefix } = fresh();
    const id = randomUUID();
    await store.create(id);
    const pieces: Buffer[] = [];
    let offset = 0;
    for (let i = 0; i < 40; i++) {
      const piece = randomBytes(3 * KiB + i);
      pieces.push(piece);
      offset = await store.append(id, offset, body(piece));
      const state = await stateOf(prefix, id);
      assert.equal(state.size, offset);
      assert.ok(state.tail.length <= 32, 'segments are merged past the limit');
      assert.ok(state.tail.reduce((n, s) => n + s.size, 0) < 64 * KiB, 'the tail stays under one part');
      assert.ok(state.parts.every((p) => p.size === 64 * KiB), 'every part has exactly the part size');
    }
    const state = await stateOf(prefix, id);
    assert.ok(state.parts.length >= 1);
    const uploadObjects = (await keys(prefix)).filter((k) => k.startsWith(`uploads/${id}/`));
    assert.ok(uploadObjects.length <= 1 + state.tail.length + 3 * 32, 'replaced segments are deleted');
    const all = Buffer.concat(pieces);
    await store.commit(id, all.length, digestOf(all));
    assert.deepEqual(await readAll(await store.open(digestOf(all))), all);
  });

  test('rewinds: to an earlier append across parts (the DB was one append behind), inside the tail, not inside old parts', async () => {
    const { store, replica } = fresh();
    const id = randomUUID();
    const [a, b, c] = [randomBytes(150 * KiB), randomBytes(150 * KiB), randomBytes(20 * KiB)];
    await store.create(id);
    await store.append(id, 0, body(a));
    await store.append(id, a.length, body(b)); // its DB update "failed": the DB still says a.length
    const other = replica();
    assert.equal(await other.append(id, a.length, body(c)), a.length + c.length);
    await assert.rejects(other.append(id, 10 * KiB, body(c)), (e) => isWharfError(e, 'BLOB_UPLOAD_INVALID'));
    assert.equal(await other.append(id, a.length + 5, body(c)), a.length + 5 + c.length, 'inside the tail');
    const all = Buffer.concat([a, c.subarray(0, 5), c]);
    await store.commit(id, all.length, digestOf(all));
    assert.deepEqual(await readAll(await store.open(digestOf(all))), all);
  });

  test('a failed append changes nothing, even after it sent parts; commit truncates leftovers of an unrecorded append', async () => {
    const { store, prefix } = fresh();
    const id = randomUUID();
    const first = randomBytes(70 * KiB);
    await store.create(id);
    await store.append(id, 0, body(first));
    const before = await stateOf(prefix, id);
    await assert.rejects(store.append(id, first.length, failingBody([randomBytes(200 * KiB)])), /connection reset/);
    const after = await stateOf(prefix, id);
    assert.deepEqual({ ...after, multipart: undefined }, { ...before, multipart: undefined });
    await store.append(id, first.length, body(randomBytes(100 * KiB))); // never recorded in the DB
    await store.commit(id, first.length, digestOf(first));
    assert.deepEqual(await readAll(await store.open(digestOf(first))), first);
  });

  test('a wrong digest found by re-reading keeps the upload, which can go on and commit', async () => {
    const { store, replica } = fresh();
    const id = randomUUID();
    const head = randomBytes(200 * KiB);
    await store.create(id);
    await store.append(id, 0, body(head));
    const other = replica();
    await assert.rejects(other.commit(id, head.length, digestOf(randomBytes(4))), (e) => isWharfError(e, 'DIGEST_INVALID'));
    const rest = randomBytes(100 * KiB);
    assert.equal(await other.append(id, head.length, body(rest)), head.length + rest.length);
    const all = Buffer.concat([head, rest]);
    await store.commit(id, all.length, digestOf(all));
    assert.deepEqual(await readAll(await store.open(digestOf(all))), all);
  });

  test('blobs past the single-copy limit are published with UploadPartCopy', async () => {
    const { store, replica } = fresh({ maxCopyObjectBytes: 100 * KiB, copyPartSizeBytes: 48 * KiB });
    const content = randomBytes(333 * KiB);
    const id = randomUUID();
    await store.create(id);
    await store.append(id, 0, body(content));
    await store.commit(id, content.length, digestOf(content));
    assert.deepEqual(await readAll(await replica().open(digestOf(content))), content);
    assert.deepEqual(await store.stat(digestOf(content)), { size: content.length });
  });

  test('running hashes of uploads finished elsewhere do not pile up: the oldest go, and their commit re-reads', async () => {
    const { store, replica } = fresh({ maxCachedHashes: 2 });
    const contents = [randomBytes(1000), randomBytes(1001), randomBytes(1002)];
    const ids = contents.map(() => randomUUID());
    for (const [i, id] of ids.entries()) {
      await store.create(id);
      await store.append(id, 0, body(contents[i]!));
    }
    assert.equal(store.cachedHashes, 2);
    await replica().commit(ids[1]!, 1001, digestOf(contents[1]!)); // finished on another replica
    await store.commit(ids[0]!, 1000, digestOf(contents[0]!)); // evicted here: re-read
    await store.commit(ids[2]!, 1002, digestOf(contents[2]!));
    assert.equal(store.cachedHashes, 1, 'the entry of the upload committed elsewhere stays until evicted');
    for (const c of contents) assert.deepEqual(await readAll(await store.open(digestOf(c))), c);
  });

  test('abort aborts the multipart upload and deletes every object of the upload', async () => {
    const { store, replica, prefix } = fresh();
    const id = randomUUID();
    const openBefore = s3.openMultipartUploads().length;
    await store.create(id);
    await store.append(id, 0, body(randomBytes(200 * KiB)));
    assert.equal(s3.openMultipartUploads().length, openBefore + 1);
    await replica().abort(id); // another process: finds the multipart upload through the state
    assert.equal(s3.openMultipartUploads().length, openBefore);
    assert.deepEqual(await keys(`${prefix}uploads/`), []);
    await store.abort(id);
  });

  test('presigned GET URLs serve the blob, with ranges, only when configured', async () => {
    const { store, prefix } = fresh({ presignExpiresSeconds: 60 });
    const content = randomBytes(5000);
    const id = randomUUID();
    await store.create(id);
    await store.append(id, 0, body(content));
    await store.commit(id, content.length, digestOf(content));
    const url = await store.presignGet!(digestOf(content));
    assert.ok(url.startsWith(`${s3.endpoint}/${s3.bucket}/${prefix}blobs/sha256/`), url);
    const whole = await fetch(url);
    assert.equal(whole.status, 200);
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), content);
    const part = await fetch(url, { headers: { range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), content.subarray(10, 20));
    assert.equal(storeAt(prefix).presignGet, undefined, 'no URLs unless configured');
  });

  test('object store failures are UNAVAILABLE, named by what failed; malformed upload ids are unknown', async () => {
    const missingBucket = new S3BlobStore({
      endpoint: s3.endpoint,
      region: s3.region,
      bucket: 'no-such-bucket',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await assert.rejects(missingBucket.init(), (e) => isWharfError(e, 'UNAVAILABLE') && /check the bucket/.test(e.message));
    const down = new S3BlobStore({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      region: s3.region,
      bucket: s3.bucket,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'not-shown-anywhere' },
    });
    await assert.rejects(down.create(randomUUID()), (e) => isWharfError(e, 'UNAVAILABLE') && /write an upload state/.test(e.message) && !/not-shown/.test(e.message));
    await assert.rejects(down.open(digestOf(Buffer.from('x'))), (e) => isWharfError(e, 'UNAVAILABLE'));
    // readiness (/readyz) asks the object store, and fails while it is unreachable or the bucket is gone
    await assert.rejects(down.ping(), (e) => isWharfError(e, 'UNAVAILABLE'));
    await assert.rejects(missingBucket.ping(), (e) => isWharfError(e, 'UNAVAILABLE'));
    await fresh().store.ping();
    const { store } = fresh();
    for (const id of ['../x', 'a/b', '', 'x'.repeat(129)]) {
      await assert.rejects(store.create(id), (e) => isWharfError(e, 'BLOB_UPLOAD_UNKNOWN'), id);
    }
    missingBucket.close();
    down.close();
  });
});
