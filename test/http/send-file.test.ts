/**
 * Blob GETs from local files go through send-file.ts (reused buffers, the next chunk read while
 * one is written): bytes exact across its chunks, with ranges on and across chunk edges,
 * over a real socket; a file whose size disagrees with its row is a 500 before any success
 * header; a read failing mid-body cuts the connection (a short body, never a wrong one) and
 * counts what was sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { truncateSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import Fastify from 'fastify';
import { digestOf } from '../../src/domain/digest.js';
import { CHUNK_BYTES, sendBlobFile } from '../../src/http/send-file.js';
import type { BlobFile } from '../../src/storage/blob/blob-store.js';
import { pushBlob, startHarness, type Harness } from './harness.js';
import { assertError } from './support.js';

/** the chunk size of send-file.ts: the edges the ranges below straddle */
const MiB = CHUNK_BYTES;

function fetchRaw(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), aborted: aborted || !res.complete }));
    }).on('error', reject);
  });
}

describe('blob GET from local files', () => {
  let h: Harness;
  let base: string;
  const content = randomBytes(3 * MiB + 12345);
  let digest: string;
  before(async () => {
    h = await startHarness();
    digest = await pushBlob(h.app, 'sf/repo', content);
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => h.close());

  test('whole blob and ranges on and across the chunk edges are exact over a socket', async () => {
    const whole = await fetchRaw(`${base}/v2/sf/repo/blobs/${digest}`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-length'], String(content.length));
    assert.ok(whole.body.equals(content), 'whole body');
    const cases: [number, number][] = [
      [0, MiB - 1],
      [MiB - 1, MiB],
      [MiB, 2 * MiB - 1],
      [MiB - 7, 3 * MiB + 5],
      [3 * MiB, content.length - 1],
      [content.length - 1, content.length - 1],
    ];
    for (const [start, end] of cases) {
      const r = await fetchRaw(`${base}/v2/sf/repo/blobs/${digest}`, { range: `bytes=${start}-${end}` });
      assert.equal(r.status, 206, `${start}-${end}`);
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${content.length}`);
      assert.ok(r.body.equals(content.subarray(start, end + 1)), `${start}-${end}`);
    }
    // many at once share the buffer pool without mixing bytes
    const all = await Promise.all(Array.from({ length: 12 }, () => fetchRaw(`${base}/v2/sf/repo/blobs/${digest}`)));
    for (const r of all) assert.ok(r.body.equals(content));
  });

  test('a file whose size disagrees with its row is 500 INTERNAL, without the success headers', async () => {
    const small = randomBytes(5000);
    const d = await pushBlob(h.app, 'sf/other', small);
    const hex = d.slice('sha256:'.length);
    truncateSync(join(h.dir, 'blobs', 'sha256', hex.slice(0, 2), hex), 100);
    const res = await h.app.inject({ method: 'GET', url: `/v2/sf/other/blobs/${d}` });
    assertError(res, 500, 'INTERNAL');
    assert.equal(res.headers['cache-control'], undefined);
    assert.equal(res.headers.etag, undefined);
    assert.equal(digestOf(small), d);
  });
});

describe('sendBlobFile', () => {
  test('a read failing mid-body cuts the connection and counts only what was sent', async () => {
    const size = 4 * MiB;
    let reads = 0;
    let closedFile = 0;
    const file: BlobFile = {
      size,
      async read(buffer, length) {
        if (++reads === 3) throw new Error('disk went away');
        buffer.fill(7, 0, length);
        return length;
      },
      async close() {
        closedFile++;
      },
    };
    const app = Fastify();
    let counted: number | undefined;
    app.get('/f', async (_req, reply) => {
      reply.code(200).header('content-length', size);
      await sendBlobFile(reply, file, 0, size - 1, (n) => (counted = n));
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const r = await fetchRaw(`${base}/f`);
      assert.equal(r.status, 200);
      assert.ok(r.aborted, 'the client sees the response cut short');
      assert.ok(r.body.length < size && r.body.every((b) => b === 7), `a short body of the right bytes (${r.body.length})`);
      for (let i = 0; i < 50 && counted === undefined; i++) await new Promise((res) => setTimeout(res, 10));
      assert.ok(counted !== undefined && counted < size && counted <= r.body.length + MiB, `counted ${counted}`);
      assert.equal(closedFile, 1);
    } finally {
      await app.close();
    }
  });

  test('the first read failing is an ordinary error response: nothing sent yet', async () => {
    const file: BlobFile = {
      size: 10,
      async read() {
        throw new Error('EIO');
      },
      async close() {},
    };
    const app = Fastify();
    app.get('/f', async (_req, reply) => {
      reply.code(200).header('content-length', 10);
      await sendBlobFile(reply, file, 0, 9, () => undefined);
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/f' });
      assert.equal(res.statusCode, 500);
    } finally {
      await app.close();
    }
  });
});
