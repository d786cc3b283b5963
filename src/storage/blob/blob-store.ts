import type { Readable } from 'node:stream';
import type { Digest } from '../../domain/digest.js';

/**
 * Content-addressed bytes. The blob store knows nothing of repositories, manifests or who may read
 * what: the metadata DB is the source of truth for that (DESIGN.md invariant 1). A blob is present
 * here only once its bytes were verified and made durable (invariant 2); bytes here that no row
 * references are garbage that GC reclaims.
 */
export interface ByteRange {
  /** first byte, inclusive */
  start: number;
  /** last byte, inclusive */
  end: number;
}

export interface BlobStat {
  size: number;
}

/**
 * A blob opened for positional reads (a local file): lets the HTTP layer send it through a few
 * reused buffers instead of a stream that allocates one per chunk (see http/send-file.ts).
 */
export interface BlobFile {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into the start of `buffer`; resolves with the count (0 past the end). */
  read(buffer: Buffer, length: number, position: number): Promise<number>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface BlobStore {
  /** undefined when absent */
  stat(digest: Digest): Promise<BlobStat | undefined>;
  /** Streams the blob (or the inclusive range). Throws BLOB_UNKNOWN when absent. */
  open(digest: Digest, range?: ByteRange): Promise<Readable>;
  /** Idempotent: deleting an absent blob is not an error. */
  delete(digest: Digest): Promise<void>;
  /** Every digest present, in no particular order (fsck, GC). */
  list(): AsyncIterable<Digest>;
  /**
   * Present only on a store that hands out direct download URLs (an object store's presigned
   * GET, when configured): a URL serving the blob's bytes to whoever holds it, for a short time.
   * The caller checks access first. Ranges need no URL of their own: the client sends its Range
   * header to the URL.
   */
  presignGet?(digest: Digest): Promise<string>;
  /** Present only on a store of local files: the blob for positional reads. Throws BLOB_UNKNOWN when absent. */
  openFile?(digest: Digest): Promise<BlobFile>;
  /**
   * Readiness (/readyz): resolves when the store can serve, throws when it cannot (the data
   * directory is gone or not writable; the bucket is unreachable or the credentials refused).
   * Cheap: one syscall or one request.
   */
  ping(): Promise<void>;
}

export interface AppendOptions {
  /** stop and fail with BODY_TOO_LARGE / SIZE_INVALID past this many bytes in this append */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface CommitOptions {
  /** when given, the committed size must equal it (SIZE_INVALID otherwise) */
  expectedSize?: number;
}

/**
 * Upload sessions' bytes. An upload is written strictly in order; `append` starts at `offset`, which
 * the caller takes from the metadata DB (the upload's committed size), and anything past it from an
 * interrupted earlier append is discarded. `commit` verifies the digest over all bytes written,
 * makes them durable and moves them into the BlobStore atomically; after it the upload is gone.
 */
export interface UploadStore {
  create(id: string): Promise<void>;
  /** Writes `body` starting at `offset`; returns the upload's new total size. */
  append(id: string, offset: number, body: Readable, options?: AppendOptions): Promise<number>;
  /** Verifies, makes durable and publishes. Throws DIGEST_INVALID / SIZE_INVALID on mismatch (upload kept). */
  commit(id: string, size: number, digest: Digest, options?: CommitOptions): Promise<void>;
  /** Idempotent. */
  abort(id: string): Promise<void>;
  /** Upload ids with bytes in the store (reclaiming orphans after a crash). */
  listUploads(): AsyncIterable<string>;
}
