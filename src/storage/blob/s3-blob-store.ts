/**
 * S3-compatible blob and upload store (AWS S3, MinIO, Ceph RGW, GCS's XML API), for scale-out mode.
 *
 *   <prefix>blobs/<algorithm>/<hex>        verified blobs, written once (content-addressed)
 *   <prefix>uploads/<id>/state             the upload's state (JSON, s3-upload-state.ts): the
 *                                          commit point of every append
 *   <prefix>uploads/<id>/tail-<token>      bytes after the last multipart part, immutable
 *   <prefix>uploads/<id>/data-<token>      key the upload's multipart upload completes into
 *
 * Replicas share nothing but S3 and the DB, and the next PATCH of an upload may reach another
 * replica, so everything an append leaves behind is in S3: no process memory is needed to go on.
 *
 * Appends. S3 multipart parts must be >= 5 MiB (all but the last), while a client may PATCH a
 * few bytes at a time. An append streams its body into a buffer of one part (partSize, default
 * 8 MiB; all parts but the last are exactly that size, so the largest blob is 10,000 parts);
 * whenever the tail segments plus the buffer reach a part, they become the next part of the
 * upload's multipart upload (created when the first part is cut; one part upload in flight while
 * the next fills).
 * What is left at the end (less than a part) is written as a new tail segment, and a new state
 * listing parts and segments is written: only then has the append happened. Small appends thus
 * cost one small object each, and their bytes are read back once, when they join a part. More
 * than MAX_SEGMENTS segments are merged into one. Memory: at most two parts per running append.
 *
 * Rewinds. The DB's size of an upload, not the store's, is the truth: an append whose DB update
 * failed is undone by the next append starting earlier. A failed append writes no state, so its
 * parts (numbered after the state's) and segments are simply unreferenced. Going back inside the
 * tail re-reads the kept prefix of the cut segment; going back into parts is possible to the last
 * HISTORY_LIMIT states, which the state keeps as checkpoints (parts cannot be read back, so
 * an offset inside a part that no kept state ends before is BLOB_UPLOAD_INVALID).
 *
 * Commit. The digest is checked from the running hash when this process saw every byte of the
 * current version (a cache keyed by the state's version, like the fs store's); otherwise from the
 * bytes: the multipart upload is completed into data-<token> first (the state then records that
 * object as the tail, so the upload survives a wrong digest or a crash) and read back. Publishing
 * is a server-side copy to blobs/<alg>/<hex> (CopyObject; UploadPartCopy in parallel parts past
 * 5 GiB). A blob key is only ever written with verified bytes, and S3 writes are atomic per
 * object, so concurrent identical commits and readers are safe. Then the upload's objects go.
 *
 * Abort (and the reaper, for abandoned uploads) aborts the multipart upload before deleting the
 * objects, so no part outlives its upload; a crash between creating a multipart upload and
 * recording it leaves one that only a bucket lifecycle rule (AbortIncompleteMultipartUpload,
 * docs/deploy.md) reclaims. Two appends to one upload at once are kept apart by the registry's
 * lease on the upload row, not here.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { algorithmOf, digestFromHash, encodedOf, parseDigest, type Digest } from '../../domain/digest.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { AppendOptions, BlobStat, BlobStore, ByteRange, CommitOptions, UploadStore } from './blob-store.js';
import {
  HISTORY_LIMIT,
  checkpointOf,
  newState,
  parseState,
  referencedKeys,
  restore,
  rewindPoint,
  sumSizes,
  type Part,
  type Segment,
  type UploadState,
} from './s3-upload-state.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** S3's smallest part (all but the last) */
export const MIN_PART_BYTES = 5 * MiB;
const UPLOAD_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
/** S3's most parts per multipart upload: the largest blob is MAX_PARTS x partSize */
const MAX_PARTS = 10_000;
/** tail segments kept apart before they are merged into one object */
const MAX_SEGMENTS = 32;
const CONTENT_TYPE = 'application/octet-stream';


export interface S3BlobStoreOptions {
  bucket: string;
  /** key prefix, e.g. "registry/" ("" by default); a missing trailing slash is added */
  prefix?: string;
  region: string;
  /** e.g. http://minio:9000; omitted for AWS */
  endpoint?: string;
  /** bucket in the path (MinIO, Ceph, most self-hosted) instead of the host name */
  forcePathStyle?: boolean;
  /** omitted: the SDK's default chain (environment, shared files, instance/pod roles) */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** bytes per part (and the in-memory buffer of an append); default 8 MiB */
  partSizeBytes?: number;
  /** largest object published with one CopyObject (S3's limit is 5 GiB); larger ones copy in parts */
  maxCopyObjectBytes?: number;
  /** part size of such a copy (default 512 MiB) */
  copyPartSizeBytes?: number;
  /** running hashes kept in memory (a few hundred bytes each; default 10,000); past this the least
   * recently appended go, and their commit re-reads the bytes */
  maxCachedHashes?: number;
  /** when set, presignGet hands out URLs valid this long */
  presignExpiresSeconds?: number;
  /** an existing client (tests); otherwise one is built from the options above */
  client?: S3Client;
}

interface HashState {
  version: string;
  offset: number;
  hash: Hash;
}

export class S3BlobStore implements BlobStore, UploadStore {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  /** every part but the last has exactly this size (some S3-compatible stores require equal parts) */
  readonly partSize: number;
  private readonly maxCopyObjectBytes: number;
  private readonly copyPartSize: number;
  private readonly hashes = new Map<string, HashState>();
  private readonly maxCachedHashes: number;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    const prefix = (options.prefix ?? '').replace(/^\/+/, '');
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.partSize = options.partSizeBytes ?? 8 * MiB;
    this.maxCopyObjectBytes = options.maxCopyObjectBytes ?? 5 * GiB;
    this.copyPartSize = options.copyPartSizeBytes ?? 512 * MiB;
    this.maxCachedHashes = options.maxCachedHashes ?? 10_000;
    const expiresIn = options.presignExpiresSeconds;
    if (expiresIn !== undefined) {
      this.presignGet = (digest) =>
        wrap('presign a URL', getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }), { expiresIn }));
    }
    this.client =
      options.client ??
      new S3Client({
        region: options.region,
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle ?? false,
        credentials: options.credentials,
        // The SDK's default CRC32 checksums on every PUT are not understood by many S3-compatible
        // servers (older MinIO and Ceph, GCS): send them only where S3 requires one.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
  }

  /** Checks that the bucket is there and reachable with these credentials. */
  async init(): Promise<void> {
    await wrap('check the bucket', this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  /** Readiness: the bucket answers HeadBucket with these credentials. */
  async ping(): Promise<void> {
    await this.init();
  }

  close(): void {
    this.client.destroy();
  }

  private blobKey(digest: Digest): string {
    return `${this.prefix}blobs/${algorithmOf(digest)}/${encodedOf(digest)}`;
  }

  private uploadDir(id: string): string {
    if (!UPLOAD_ID_RE.test(id)) throw new WharfError('BLOB_UPLOAD_UNKNOWN', 'upload id is malformed');
    return `${this.prefix}uploads/${id}/`;
  }

  // --- BlobStore ---

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }));
      return { size: head.ContentLength ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw storeError('stat a blob', e);
    }
  }

  async open(digest: Digest, range?: ByteRange): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return out.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw new WharfError('BLOB_UNKNOWN', `blob ${digest} is not stored`);
      throw storeError('read a blob', e);
    }
  }

  async delete(digest: Digest): Promise<void> {
    await wrap('delete a blob', this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) })));
  }

  async *list(): AsyncIterable<Digest> {
    const root = `${this.prefix}blobs/`;
    for await (const page of this.listPages(root)) {
      for (const object of page.Contents ?? []) {
        const [algorithm, hex, ...rest] = (object.Key ?? '').slice(root.length).split('/');
        if (rest.length > 0) continue;
        try {
          yield parseDigest(`${algorithm}:${hex}`);
        } catch {
          // not a blob (stray object); fsck reports strays separately
        }
      }
    }
  }

  /**
   * A URL that fetches the blob straight from the object store until it expires; defined only
   * when the store is configured to hand them out (BlobStore contract). The Range header the
   * client sends along is not part of the signature, so one URL serves every range.
   */
  readonly presignGet?: (digest: Digest) => Promise<string>;

  // --- UploadStore ---

  async create(id: string): Promise<void> {
    const state = newState(token());
    await this.writeState(id, state);
    this.hashes.set(id, { version: state.version, offset: 0, hash: createHash('sha256') });
  }

  async append(id: string, offset: number, body: Readable, options: AppendOptions = {}): Promise<number> {
    let state = await this.readState(id);
    if (offset > state.size) {
      throw new WharfError('RANGE_INVALID', `upload ${id} holds ${state.size} bytes but the session says ${offset}`);
    }
    const point = rewindPoint(state, offset);
    if (!point) {
      throw new WharfError(
        'BLOB_UPLOAD_INVALID',
        `upload ${id} cannot go back to byte ${offset}: the bytes before it were sent to the object store in parts; start the upload again`,
      );
    }
    if (point.index > 0) {
      // Back to an older state: make it the current one before any part is overwritten, so the
      // stored state never names a part this append replaces.
      const restored = restore(state, point.index, token());
      await this.writeState(id, restored);
      await this.deleteUnreferenced(state, restored);
      state = restored;
    }
    const cached = this.hashes.get(id);
    const hash = cached && cached.version === state.version && cached.offset === offset ? cached.hash.copy() : undefined;

    const writer = new AppendWriter(this, id, state, point.checkpoint.partCount);
    let written = 0;
    try {
      options.signal?.throwIfAborted();
      await writer.keepTail(offset - point.partsEnd);
      for await (const chunk of body as AsyncIterable<Buffer>) {
        options.signal?.throwIfAborted();
        written += chunk.length;
        if (options.maxBytes !== undefined && written > options.maxBytes) {
          throw new WharfError('BODY_TOO_LARGE', `body exceeds ${options.maxBytes} bytes`);
        }
        hash?.update(chunk);
        await writer.write(chunk);
      }
      const { parts, tail } = await writer.finish();
      const next: UploadState = {
        v: 1,
        version: token(),
        size: offset + written,
        multipart: writer.multipart,
        parts: [...state.parts.slice(0, point.checkpoint.partCount), ...parts],
        tail,
        history: [checkpointOf(state), ...state.history].slice(0, HISTORY_LIMIT),
      };
      await this.writeState(id, next);
      await this.deleteUnreferenced(state, next);
      this.hashes.delete(id); // re-inserted last: the map's order is least recently appended first
      if (hash) this.hashes.set(id, { version: next.version, offset: next.size, hash });
      // uploads finished or abandoned on other replicas never come back to delete their entry
      while (this.hashes.size > this.maxCachedHashes) this.hashes.delete(this.hashes.keys().next().value!);
      return next.size;
    } catch (e) {
      await writer.settle();
      throw e;
    }
  }

  async commit(id: string, size: number, digest: Digest, options: CommitOptions = {}): Promise<void> {
    let state = await this.readState(id);
    if (state.size < size) throw new WharfError('BLOB_UPLOAD_INVALID', `upload ${id} is missing bytes`);
    if (options.expectedSize !== undefined && options.expectedSize !== size) {
      throw new WharfError('SIZE_INVALID', `upload holds ${size} bytes, not ${options.expectedSize}`);
    }
    if (state.size > size) {
      await this.append(id, size, Readable.from([])); // leftovers of an append the DB never recorded
      state = await this.readState(id);
    }
    const cached = this.hashes.get(id);
    const known =
      cached && cached.version === state.version && cached.offset === size && algorithmOf(digest) === 'sha256'
        ? digestFromHash('sha256', cached.hash.copy())
        : undefined;
    if (known !== undefined && known !== digest) {
      throw new WharfError('DIGEST_INVALID', `uploaded content has digest ${known}, not ${digest}`);
    }
    if (state.parts.length > 0) state = await this.completeMultipart(id, state);
    if (known === undefined) {
      const actual = await this.hashSegments(state.tail, algorithmOf(digest));
      if (actual !== digest) throw new WharfError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`);
    }
    await this.publish(state.tail, this.blobKey(digest));
    this.hashes.delete(id);
    await this.removeUpload(id, undefined);
  }

  async abort(id: string): Promise<void> {
    this.hashes.delete(id);
    let state: UploadState | undefined;
    try {
      state = await this.readState(id);
    } catch (e) {
      if (!(e instanceof WharfError && e.code === 'BLOB_UPLOAD_UNKNOWN')) throw e;
    }
    await this.removeUpload(id, state?.multipart);
  }

  async *listUploads(): AsyncIterable<string> {
    const root = `${this.prefix}uploads/`;
    for await (const page of this.listPages(root, '/')) {
      for (const p of page.CommonPrefixes ?? []) {
        const id = (p.Prefix ?? '').slice(root.length).replace(/\/$/, '');
        if (UPLOAD_ID_RE.test(id)) yield id;
      }
    }
  }

  /** running hashes held (tests) */
  get cachedHashes(): number {
    return this.hashes.size;
  }

  // --- internals (AppendWriter uses the ones not marked private) ---

  newKey(id: string, kind: 'tail' | 'data'): string {
    return `${this.uploadDir(id)}${kind}-${token()}`;
  }

  async createMultipart(key: string): Promise<string> {
    const out = await wrap('start a multipart upload', this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: CONTENT_TYPE })));
    if (!out.UploadId) throw new WharfError('UNAVAILABLE', 'object store: no UploadId in CreateMultipartUpload');
    return out.UploadId;
  }

  async uploadPart(key: string, uploadId: string, n: number, bytes: Buffer): Promise<Part> {
    const out = await wrap(
      'upload a part',
      this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: bytes, ContentLength: bytes.length })))
    ;
    return { n, size: bytes.length, etag: out.ETag ?? '' };
  }

  async putObject(key: string, bytes: Buffer): Promise<void> {
    await wrap('write an object', this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length, ContentType: CONTENT_TYPE })));
  }

  async readObject(key: string): Promise<Buffer> {
    const out = await wrap('read an object', this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  /** Streams the first `length` bytes of an object. */
  async streamObject(key: string, length: number): Promise<Readable> {
    const out = await wrap('read an object', this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${length - 1}` })));
    return out.Body as Readable;
  }

  async writeState(id: string, state: UploadState): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(state));
    await wrap('write an upload state', this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: `${this.uploadDir(id)}state`, Body: bytes, ContentLength: bytes.length, ContentType: 'application/json' })));
  }

  private async readState(id: string): Promise<UploadState> {
    const key = `${this.uploadDir(id)}state`;
    let text: string;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      text = await out.Body!.transformToString();
    } catch (e) {
      if (isNotFound(e)) throw new WharfError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is unknown`);
      throw storeError('read an upload state', e);
    }
    try {
      return parseState(text);
    } catch (e) {
      throw new WharfError('BLOB_UPLOAD_INVALID', `upload ${id} has an unreadable state`, undefined, { cause: e });
    }
  }

  /**
   * Completes the multipart upload with the tail as its last part. The bytes do not change, so
   * the version (and a cached hash) stays; the state then names the completed object as its tail.
   */
  private async completeMultipart(id: string, state: UploadState): Promise<UploadState> {
    const multipart = state.multipart!;
    const parts = [...state.parts];
    if (sumSizes(state.tail) > 0) {
      const last = Buffer.concat(await Promise.all(state.tail.map((s) => this.readObject(s.key)))); // < one part
      parts.push(await this.uploadPart(multipart.key, multipart.uploadId, parts.length + 1, last));
    }
    await wrap(
      'complete a multipart upload',
      this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: multipart.key,
        UploadId: multipart.uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
      })))
    ;
    const next: UploadState = { ...state, multipart: undefined, parts: [], tail: [{ key: multipart.key, size: state.size }], history: [] };
    await this.writeState(id, next);
    await this.deleteUnreferenced(state, next);
    return next;
  }

  private async hashSegments(tail: Segment[], algorithm: 'sha256' | 'sha512'): Promise<Digest> {
    const hash = createHash(algorithm);
    for (const segment of tail) {
      if (segment.size === 0) continue;
      for await (const chunk of await this.streamObject(segment.key, segment.size)) hash.update(chunk as Buffer);
    }
    return digestFromHash(algorithm, hash);
  }

  /** Writes the verified bytes (the tail of a state with no parts) at `target`. */
  private async publish(tail: Segment[], target: string): Promise<void> {
    const segments = tail.filter((s) => s.size > 0);
    if (segments.length === 1) return this.copy(segments[0]!, target);
    // several small segments (together less than one part) or none: write them as one object
    const bytes = Buffer.concat(await Promise.all(segments.map((s) => this.readObject(s.key))));
    await this.putObject(target, bytes);
  }

  /** Server-side copy; in parallel UploadPartCopy parts past maxCopyObjectBytes (S3: 5 GiB). */
  private async copy(source: Segment, target: string): Promise<void> {
    const copySource = `${this.bucket}/${encodeURIComponent(source.key).replace(/%2F/g, '/')}`;
    if (source.size <= this.maxCopyObjectBytes) {
      await wrap('copy an object', this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: target, CopySource: copySource, ContentType: CONTENT_TYPE, MetadataDirective: 'REPLACE' })));
      return;
    }
    const uploadId = await this.createMultipart(target);
    try {
      const ranges: { n: number; start: number; end: number }[] = [];
      for (let start = 0, n = 1; start < source.size; start += this.copyPartSize, n++) {
        ranges.push({ n, start, end: Math.min(source.size, start + this.copyPartSize) - 1 });
      }
      const parts: { PartNumber: number; ETag: string }[] = [];
      await forEachLimit(ranges, 4, async (r) => {
        const out = await wrap(
          'copy a part',
          this.client.send(new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: target,
            UploadId: uploadId,
            PartNumber: r.n,
            CopySource: copySource,
            CopySourceRange: `bytes=${r.start}-${r.end}`,
          })))
        ;
        parts.push({ PartNumber: r.n, ETag: out.CopyPartResult?.ETag ?? '' });
      });
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      await wrap(
        'complete a multipart copy',
        this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId: uploadId, MultipartUpload: { Parts: parts } })))
      ;
    } catch (e) {
      await this.abortMultipart(target, uploadId).catch(() => undefined);
      throw e;
    }
  }

  private async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (e) {
      if (nameOf(e) === 'NoSuchUpload') return; // aborted or completed already
      throw storeError('abort a multipart upload', e);
    }
  }

  /** Aborts the multipart upload (if any), then deletes every object of the upload, its state last. */
  private async removeUpload(id: string, multipart: UploadState['multipart']): Promise<void> {
    if (multipart) await this.abortMultipart(multipart.key, multipart.uploadId);
    const dir = this.uploadDir(id);
    const keys: string[] = [];
    for await (const page of this.listPages(dir)) for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    const stateKey = `${dir}state`;
    await forEachLimit(
      keys.filter((k) => k !== stateKey),
      8,
      (key) => wrap('delete an upload object', this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))),
    );
    await wrap('delete an upload state', this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: stateKey })));
  }

  /** Deletes tail objects `before` needed and `after` does not (best effort: leftovers go with the upload). */
  private async deleteUnreferenced(before: UploadState, after: UploadState): Promise<void> {
    const keep = referencedKeys(after);
    const stale = [...referencedKeys(before)].filter((k) => !keep.has(k));
    await forEachLimit(stale, 8, (key) => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined));
  }

  private async *listPages(prefix: string, delimiter?: string): AsyncIterable<ListObjectsV2CommandOutput> {
    let continuationToken: string | undefined;
    do {
      const page = await wrap(
        'list objects',
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: continuationToken })))
      ;
      yield page;
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }
}

/**
 * The bytes of one append on their way to S3: a kept prefix of the tail, then the body. Whole
 * tail segments stay where they are until a part needs them; bytes accumulate in memory until
 * they (with those segments) make a part.
 */
class AppendWriter {
  multipart: UploadState['multipart'];
  private segments: Segment[] = [];
  private segmentBytes = 0;
  private buffer: Buffer[] = [];
  private bufferBytes = 0;
  private readonly parts: Part[] = [];
  private nextPart: number;
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: S3BlobStore,
    private readonly id: string,
    private readonly state: UploadState,
    keptParts: number,
  ) {
    this.multipart = state.multipart;
    this.nextPart = keptParts + 1;
  }

  /** Keeps the first `bytes` of the state's tail: whole segments by reference, a cut one by re-reading it. */
  async keepTail(bytes: number): Promise<void> {
    let left = bytes;
    const whole: Segment[] = [];
    let cut: Segment | undefined;
    for (const s of this.state.tail) {
      if (left <= 0) break;
      if (s.size <= left) whole.push(s);
      else cut = s;
      left -= Math.min(s.size, left);
    }
    const cutBytes = cut ? bytes - sumSizes(whole) : 0;
    if (sumSizes(whole) + cutBytes < this.store.partSize) {
      this.segments = whole;
      this.segmentBytes = sumSizes(whole);
      if (cut) for await (const chunk of await this.store.streamObject(cut.key, cutBytes)) await this.write(chunk as Buffer);
      return;
    }
    // a large kept tail (a completed object after a failed commit): stream it through into parts
    for (const s of whole) for await (const chunk of await this.store.streamObject(s.key, s.size)) await this.write(chunk as Buffer);
    if (cut) for await (const chunk of await this.store.streamObject(cut.key, cutBytes)) await this.write(chunk as Buffer);
  }

  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.buffer.push(chunk);
    this.bufferBytes += chunk.length;
    while (this.segmentBytes + this.bufferBytes >= this.store.partSize) await this.cutPart();
  }

  /** Makes the next part of exactly partSize bytes: the held segments, then buffered bytes. */
  private async cutPart(): Promise<void> {
    if (this.nextPart > MAX_PARTS) {
      throw new WharfError('BODY_TOO_LARGE', `blob exceeds ${MAX_PARTS} parts of ${this.store.partSize} bytes, the most this store takes`);
    }
    const held = await Promise.all(this.segments.map((s) => this.store.readObject(s.key)));
    const joined = Buffer.concat([...held, ...this.buffer]);
    const bytes = joined.subarray(0, this.store.partSize);
    const rest = joined.subarray(this.store.partSize);
    this.segments = [];
    this.segmentBytes = 0;
    this.buffer = rest.length > 0 ? [rest] : [];
    this.bufferBytes = rest.length;
    await this.inFlight; // one part in flight while the next fills
    if (!this.multipart) {
      const key = this.store.newKey(this.id, 'data');
      this.multipart = { key, uploadId: await this.store.createMultipart(key) };
      // recorded at once (the bytes, and so the version, are unchanged) so abort finds it
      await this.store.writeState(this.id, { ...this.state, multipart: this.multipart });
    }
    const { key, uploadId } = this.multipart;
    const n = this.nextPart++;
    const upload = this.store.uploadPart(key, uploadId, n, bytes).then((part) => {
      this.parts.push(part);
    });
    upload.catch(() => undefined); // awaited by the next cut or by finish; never unhandled
    this.inFlight = upload;
  }

  /** Waits for the part in flight; writes what is left as a tail segment. */
  async finish(): Promise<{ parts: Part[]; tail: Segment[] }> {
    await this.inFlight;
    let tail = this.segments;
    if (this.bufferBytes > 0 || tail.length >= MAX_SEGMENTS) {
      const held = tail.length >= MAX_SEGMENTS ? await Promise.all(tail.map((s) => this.store.readObject(s.key))) : [];
      if (held.length > 0) tail = [];
      const bytes = Buffer.concat([...held, ...this.buffer]);
      const key = this.store.newKey(this.id, 'tail');
      await this.store.putObject(key, bytes);
      tail = [...tail, { key, size: bytes.length }];
    }
    return { parts: this.parts, tail };
  }

  /** After a failure: let the part in flight settle, so nothing is left running. */
  async settle(): Promise<void> {
    await this.inFlight.catch(() => undefined);
  }
}

function token(): string {
  return randomBytes(8).toString('hex');
}

function nameOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? (e as { name?: string }).name : undefined;
}

function isNotFound(e: unknown): boolean {
  const name = nameOf(e);
  return name === 'NoSuchKey' || name === 'NotFound';
}

/** Awaits an S3 call; its failures become UNAVAILABLE (retryable for the client), named by what failed. */
async function wrap<T>(what: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    throw storeError(what, e);
  }
}

function storeError(what: string, e: unknown): WharfError {
  if (e instanceof WharfError) return e;
  const name = nameOf(e) ?? 'error';
  const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return new WharfError('UNAVAILABLE', `object store: could not ${what} (${name}${status ? ` ${status}` : ''})`, undefined, { cause: e });
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
