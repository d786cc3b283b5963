/**
 * In-memory blob and upload store, for tests and ephemeral instances. Same contracts as the
 * filesystem store (the conformance suite proves it); bytes live in a Map keyed by digest.
 */
import { Readable } from 'node:stream';
import { algorithmOf, digestOf, type Digest } from '../../domain/digest.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { AppendOptions, BlobStat, BlobStore, ByteRange, CommitOptions, UploadStore } from './blob-store.js';

export class MemoryBlobStore implements BlobStore, UploadStore {
  private readonly blobs = new Map<string, Buffer>();
  private readonly uploads = new Map<string, Buffer[]>();

  async ping(): Promise<void> {}

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    const b = this.blobs.get(digest);
    return b ? { size: b.length } : undefined;
  }

  async open(digest: Digest, range?: ByteRange): Promise<Readable> {
    const b = this.blobs.get(digest);
    if (!b) throw new WharfError('BLOB_UNKNOWN', `blob ${digest} is not stored`);
    return Readable.from([range ? b.subarray(range.start, range.end + 1) : b]);
  }

  async delete(digest: Digest): Promise<void> {
    this.blobs.delete(digest);
  }

  async *list(): AsyncIterable<Digest> {
    yield* [...this.blobs.keys()] as Digest[];
  }

  async create(id: string): Promise<void> {
    if (this.uploads.has(id)) throw new Error(`upload ${id} exists`);
    this.uploads.set(id, []);
  }

  async append(id: string, offset: number, body: Readable, options: AppendOptions = {}): Promise<number> {
    const parts = this.uploads.get(id);
    if (!parts) throw new WharfError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is unknown`);
    let current = Buffer.concat(parts);
    if (current.length < offset) {
      throw new WharfError('RANGE_INVALID', `upload ${id} holds ${current.length} bytes but the session says ${offset}`);
    }
    current = current.subarray(0, offset);
    const incoming: Buffer[] = [];
    let written = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      written += chunk.length;
      if (options.maxBytes !== undefined && written > options.maxBytes) {
        throw new WharfError('BODY_TOO_LARGE', `body exceeds ${options.maxBytes} bytes`);
      }
      incoming.push(Buffer.from(chunk));
    }
    this.uploads.set(id, [current, ...incoming]);
    return offset + written;
  }

  async commit(id: string, size: number, digest: Digest, options: CommitOptions = {}): Promise<void> {
    const parts = this.uploads.get(id);
    if (!parts) throw new WharfError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is unknown`);
    const all = Buffer.concat(parts);
    if (all.length < size) throw new WharfError('BLOB_UPLOAD_INVALID', `upload ${id} is missing bytes`);
    const bytes = all.subarray(0, size);
    if (options.expectedSize !== undefined && options.expectedSize !== size) {
      throw new WharfError('SIZE_INVALID', `upload holds ${size} bytes, not ${options.expectedSize}`);
    }
    const actual = digestOf(bytes, algorithmOf(digest));
    if (actual !== digest) throw new WharfError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`);
    this.blobs.set(digest, Buffer.from(bytes));
    this.uploads.delete(id);
  }

  async abort(id: string): Promise<void> {
    this.uploads.delete(id);
  }

  async *listUploads(): AsyncIterable<string> {
    yield* [...this.uploads.keys()];
  }
}
