/**
 * The contract every BlobStore + UploadStore backend must honour (src/storage/blob/blob-store.ts).
 * A backend's test file calls describeBlobStore with a factory that returns a fresh, empty store.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { WharfError } from '../../src/errors/wharf-error.js';
import type { BlobStore, UploadStore } from '../../src/storage/blob/blob-store.js';

export type TestBlobStore = BlobStore & UploadStore;
export interface BlobStoreFixture {
  store: TestBlobStore;
  cleanup(): Promise<void>;
}

export const isCode =
  (code: string) =>
  (err: unknown): boolean =>
    err instanceof WharfError && err.code === code;

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

export const body = (...chunks: Buffer[]): Readable => Readable.from(chunks, { objectMode: false });

/** Emits `chunks`, then fails as a dropped client connection would. */
export function failingBody(chunks: Buffer[]): Readable {
  let i = 0;
  return new Readable({
    read() {
      const next = chunks[i++];
      if (next) this.push(next);
      else this.destroy(new Error('connection reset by peer'));
    },
  });
}

/** create + one append + commit; returns the digest. */
export async function push(store: TestBlobStore, content: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<Digest> {
  const id = randomUUID();
  const digest = digestOf(content, algorithm);
  await store.create(id);
  assert.equal(await store.append(id, 0, body(content)), content.length);
  await store.commit(id, content.length, digest);
  return digest;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Deterministic 1 MiB chunks, so the expected digest can be computed without holding the blob. */
function* bigChunks(mib: number): Generator<Buffer> {
  for (let i = 0; i < mib; i++) {
    const seed = createHash('sha256').update(`chunk ${i}`).digest();
    yield Buffer.alloc(1024 * 1024).fill(seed);
  }
}

export function describeBlobStore(name: string, factory: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let fx: BlobStoreFixture;
    let store: TestBlobStore;
    beforeEach(async () => {
      fx = await factory();
      store = fx.store;
    });
    afterEach(async () => fx.cleanup());

    test('stat is undefined when absent and gives the size when present', async () => {
      const content = randomBytes(1234);
      assert.equal(await store.stat(digestOf(content)), undefined);
      const digest = await push(store, content);
      assert.deepEqual(await store.stat(digest), { size: 1234 });
    });

    test('open streams the whole blob and inclusive ranges', async () => {
      const content = randomBytes(100);
      const digest = await push(store, content);
      assert.deepEqual(await readAll(await store.open(digest)), content);
      const ranges: [number, number][] = [[0, 0], [99, 99], [10, 19], [42, 42], [0, 99], [1, 98]];
      for (const [start, end] of ranges) {
        assert.deepEqual(await readAll(await store.open(digest, { start, end })), content.subarray(start, end + 1), `${start}-${end}`);
      }
    });

    test('open of an absent blob throws BLOB_UNKNOWN', async () => {
      await assert.rejects(store.open(digestOf(randomBytes(8))), isCode('BLOB_UNKNOWN'));
      await assert.rejects(store.open(digestOf(randomBytes(8)), { start: 0, end: 0 }), isCode('BLOB_UNKNOWN'));
    });

    test('delete removes the blob and is idempotent', async () => {
      const keep = await push(store, randomBytes(10));
      const digest = await push(store, randomBytes(10));
      await store.delete(digest);
      assert.equal(await store.stat(digest), undefined);
      await assert.rejects(store.open(digest), isCode('BLOB_UNKNOWN'));
      await store.delete(digest);
      await store.delete(digestOf(randomBytes(8)));
      assert.deepEqual(await store.stat(keep), { size: 10 });
    });

    test('list yields every blob, of both algorithms, and not uploads in progress', async () => {
      assert.deepEqual(await collect(store.list()), []);
      const a = await push(store, randomBytes(3));
      const b = await push(store, randomBytes(4), 'sha512');
      const c = await push(store, randomBytes(5));
      await store.create(randomUUID());
      assert.deepEqual((await collect(store.list())).sort(), [a, b, c].sort());
      await store.delete(c);
      assert.deepEqual((await collect(store.list())).sort(), [a, b].sort());
    });

    test('create, append, commit: the blob is visible and the upload gone', async () => {
      const id = randomUUID();
      const content = randomBytes(5000);
      await store.create(id);
      assert.deepEqual(await collect(store.listUploads()), [id]);
      assert.equal(await store.append(id, 0, body(content)), 5000);
      await store.commit(id, 5000, digestOf(content));
      assert.deepEqual(await readAll(await store.open(digestOf(content))), content);
      assert.deepEqual(await collect(store.listUploads()), []);
      await assert.rejects(store.append(id, 5000, body(randomBytes(1))), isCode('BLOB_UPLOAD_UNKNOWN'));
      await assert.rejects(store.commit(id, 5000, digestOf(content)), isCode('BLOB_UPLOAD_UNKNOWN'));
    });

    test('chunked upload: appends return the running size', async () => {
      const id = randomUUID();
      const chunks = [randomBytes(1), randomBytes(65_536), randomBytes(0), randomBytes(777)];
      await store.create(id);
      let offset = 0;
      for (const chunk of chunks) {
        const next = await store.append(id, offset, body(...[chunk.subarray(0, 3), chunk.subarray(3)]));
        assert.equal(next, offset + chunk.length);
        offset = next;
      }
      const all = Buffer.concat(chunks);
      await store.commit(id, all.length, digestOf(all));
      assert.deepEqual(await readAll(await store.open(digestOf(all))), all);
    });

    test('an empty blob', async () => {
      const id = randomUUID();
      await store.create(id);
      assert.equal(await store.append(id, 0, body()), 0);
      await store.commit(id, 0, digestOf(Buffer.alloc(0)));
      assert.deepEqual(await store.stat(digestOf(Buffer.alloc(0))), { size: 0 });
      assert.equal((await readAll(await store.open(digestOf(Buffer.alloc(0))))).length, 0);
    });

    test('append past the stored bytes is RANGE_INVALID and changes nothing', async () => {
      const id = randomUUID();
      const first = randomBytes(10);
      await store.create(id);
      await store.append(id, 0, body(first));
      await assert.rejects(store.append(id, 11, body(randomBytes(5))), isCode('RANGE_INVALID'));
      await assert.rejects(store.append(id, 1000, body(randomBytes(5))), isCode('RANGE_INVALID'));
      const second = randomBytes(5);
      assert.equal(await store.append(id, 10, body(second)), 15);
      const all = Buffer.concat([first, second]);
      await store.commit(id, 15, digestOf(all));
      assert.deepEqual(await readAll(await store.open(digestOf(all))), all);
    });

    test('append before the end discards what followed (a re-sent chunk works)', async () => {
      const id = randomUUID();
      const [a, b, c] = [Buffer.from('AAAA'), Buffer.from('BBBB'), Buffer.from('CC')];
      await store.create(id);
      assert.equal(await store.append(id, 0, body(a)), 4);
      assert.equal(await store.append(id, 4, body(b)), 8);
      assert.equal(await store.append(id, 4, body(b)), 8); // re-sent after a lost response
      assert.equal(await store.append(id, 2, body(c)), 4); // rewound further
      await assert.rejects(store.commit(id, 8, digestOf(Buffer.from('AAAABBBB'))), (e) => e instanceof WharfError);
      await store.commit(id, 4, digestOf(Buffer.from('AACC')));
      assert.equal((await readAll(await store.open(digestOf(Buffer.from('AACC'))))).toString(), 'AACC');
    });

    test('commit with the wrong digest is DIGEST_INVALID: nothing published, upload kept', async () => {
      const id = randomUUID();
      const content = randomBytes(300);
      const wrong = digestOf(randomBytes(300));
      await store.create(id);
      await store.append(id, 0, body(content));
      await assert.rejects(store.commit(id, 300, wrong), isCode('DIGEST_INVALID'));
      await assert.rejects(store.commit(id, 300, digestOf(content, 'sha512').replace(/.$/, (c) => (c === '0' ? '1' : '0')) as Digest), isCode('DIGEST_INVALID'));
      assert.equal(await store.stat(wrong), undefined);
      assert.equal(await store.stat(digestOf(content)), undefined);
      assert.deepEqual(await collect(store.list()), []);
      assert.deepEqual(await collect(store.listUploads()), [id]);
      await store.commit(id, 300, digestOf(content));
      assert.deepEqual(await readAll(await store.open(digestOf(content))), content);
    });

    test('commit with a size that disagrees: expectedSize is SIZE_INVALID, missing bytes BLOB_UPLOAD_INVALID', async () => {
      const id = randomUUID();
      const content = randomBytes(64);
      await store.create(id);
      await store.append(id, 0, body(content));
      await assert.rejects(store.commit(id, 64, digestOf(content), { expectedSize: 65 }), isCode('SIZE_INVALID'));
      await assert.rejects(store.commit(id, 65, digestOf(content)), isCode('BLOB_UPLOAD_INVALID'));
      assert.equal(await store.stat(digestOf(content)), undefined);
      await store.commit(id, 64, digestOf(content), { expectedSize: 64 });
      assert.deepEqual(await store.stat(digestOf(content)), { size: 64 });
    });

    test('sha512 digests, whole and chunked', async () => {
      const content = randomBytes(4096);
      const digest = await push(store, content, 'sha512');
      assert.match(digest, /^sha512:[0-9a-f]{128}$/);
      assert.deepEqual(await readAll(await store.open(digest, { start: 100, end: 199 })), content.subarray(100, 200));
      const id = randomUUID();
      const other = randomBytes(2000);
      await store.create(id);
      await store.append(id, 0, body(other.subarray(0, 1000)));
      await store.append(id, 1000, body(other.subarray(1000)));
      await assert.rejects(store.commit(id, 2000, digestOf(randomBytes(2000), 'sha512')), isCode('DIGEST_INVALID'));
      await store.commit(id, 2000, digestOf(other, 'sha512'));
      assert.deepEqual(await store.stat(digestOf(other, 'sha512')), { size: 2000 });
      assert.equal(await store.stat(digestOf(other)), undefined);
    });

    test('maxBytes: at the limit is fine, past it BODY_TOO_LARGE, and the upload can go on', async () => {
      const id = randomUUID();
      const first = randomBytes(100);
      await store.create(id);
      assert.equal(await store.append(id, 0, body(first), { maxBytes: 100 }), 100);
      await assert.rejects(store.append(id, 100, body(randomBytes(60), randomBytes(60)), { maxBytes: 100 }), isCode('BODY_TOO_LARGE'));
      assert.deepEqual(await collect(store.list()), []);
      const rest = randomBytes(50);
      assert.equal(await store.append(id, 100, body(rest), { maxBytes: 100 }), 150);
      const all = Buffer.concat([first, rest]);
      await store.commit(id, 150, digestOf(all));
      assert.deepEqual(await readAll(await store.open(digestOf(all))), all);
    });

    test('an aborted signal stops the append; the upload can go on', async () => {
      const id = randomUUID();
      await store.create(id);
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(store.append(id, 0, body(randomBytes(10)), { signal: ac.signal }));
      const content = randomBytes(10);
      assert.equal(await store.append(id, 0, body(content)), 10);
      await store.commit(id, 10, digestOf(content));
      assert.deepEqual(await store.stat(digestOf(content)), { size: 10 });
    });

    test('abort removes the upload and is idempotent', async () => {
      const id = randomUUID();
      await store.create(id);
      await store.append(id, 0, body(randomBytes(10)));
      await store.abort(id);
      assert.deepEqual(await collect(store.listUploads()), []);
      await assert.rejects(store.append(id, 0, body(randomBytes(1))), isCode('BLOB_UPLOAD_UNKNOWN'));
      await store.abort(id);
      await store.abort(randomUUID());
      await assert.rejects(store.append(randomUUID(), 0, body(randomBytes(1))), isCode('BLOB_UPLOAD_UNKNOWN'));
    });

    test('committing a digest that is already present is fine (dedupe)', async () => {
      const content = randomBytes(2048);
      const digest = await push(store, content);
      assert.equal(await push(store, content), digest);
      assert.deepEqual(await readAll(await store.open(digest)), content);
      assert.deepEqual(await collect(store.list()), [digest]);
      assert.deepEqual(await collect(store.listUploads()), []);
    });

    test('a body that fails half-way publishes nothing; re-sending from the old offset works', async () => {
      const id = randomUUID();
      const first = randomBytes(1000);
      const second = randomBytes(6 * 1024 * 1024); // more than one write batch
      await store.create(id);
      await store.append(id, 0, body(first));
      const half = [second.subarray(0, 3 * 1024 * 1024), second.subarray(3 * 1024 * 1024, 5 * 1024 * 1024)];
      await assert.rejects(store.append(id, 1000, failingBody(half)), /connection reset/);
      assert.deepEqual(await collect(store.list()), []);
      assert.deepEqual(await collect(store.listUploads()), [id]);
      assert.equal(await store.append(id, 1000, body(second)), 1000 + second.length);
      const all = Buffer.concat([first, second]);
      await store.commit(id, all.length, digestOf(all));
      assert.deepEqual(await readAll(await store.open(digestOf(all))), all);
    });

    test('leftovers of a failed append past the committed size are ignored by commit', async () => {
      const id = randomUUID();
      const content = randomBytes(100);
      await store.create(id);
      await store.append(id, 0, body(content));
      await assert.rejects(store.append(id, 100, failingBody([randomBytes(5000)])));
      await store.commit(id, 100, digestOf(content));
      assert.deepEqual(await readAll(await store.open(digestOf(content))), content);
    });

    test('listUploads lists uploads in progress only', async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of [a, b, c]) await store.create(id);
      await store.append(b, 0, body(Buffer.from('x')));
      assert.deepEqual((await collect(store.listUploads())).sort(), [a, b, c].sort());
      await store.commit(b, 1, digestOf(Buffer.from('x')));
      await store.abort(c);
      assert.deepEqual(await collect(store.listUploads()), [a]);
    });

    test('a 64 MiB blob streamed from a generator round-trips with the right digest', async () => {
      const expected = createHash('sha256');
      for (const chunk of bigChunks(64)) expected.update(chunk);
      const digest = `sha256:${expected.digest('hex')}` as Digest;
      const id = randomUUID();
      await store.create(id);
      const chunks = bigChunks(64);
      const firstHalf = (function* () {
        for (let i = 0; i < 32; i++) yield chunks.next().value as Buffer;
      })();
      assert.equal(await store.append(id, 0, Readable.from(firstHalf)), 32 * 1024 * 1024);
      assert.equal(await store.append(id, 32 * 1024 * 1024, Readable.from(chunks)), 64 * 1024 * 1024);
      await store.commit(id, 64 * 1024 * 1024, digest);
      assert.deepEqual(await store.stat(digest), { size: 64 * 1024 * 1024 });
      const actual = createHash('sha256');
      let size = 0;
      for await (const chunk of await store.open(digest)) {
        actual.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      assert.equal(size, 64 * 1024 * 1024);
      assert.equal(`sha256:${actual.digest('hex')}`, digest);
      const lastChunk = [...bigChunks(64)][63]!;
      const tail = await readAll(await store.open(digest, { start: 64 * 1024 * 1024 - 10, end: 64 * 1024 * 1024 - 1 }));
      assert.deepEqual(tail, lastChunk.subarray(-10));
    });

    test('concurrent commits of the same content from two uploads both succeed', async () => {
      const content = randomBytes(3 * 1024 * 1024);
      const digest = digestOf(content);
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of ids) {
        await store.create(id);
        await store.append(id, 0, body(content));
      }
      const reading = store.open(await push(store, content)).then(readAll);
      await Promise.all(ids.map((id) => store.commit(id, content.length, digest)));
      assert.deepEqual(await reading, content, 'a reader during re-publishing sees intact bytes');
      assert.deepEqual(await readAll(await store.open(digest)), content);
      assert.deepEqual(await collect(store.list()), [digest]);
      assert.deepEqual(await collect(store.listUploads()), []);
    });
  });
}
