/**
 * Filesystem blob and upload store.
 *
 *   <root>/<algorithm>/<first two hex>/<hex>   verified, durable blobs (never modified in place)
 *   <root>/_uploads/<upload id>                  bytes of an upload in progress
 *
 * Both live on the same filesystem so that publishing a blob is one rename(2): the upload file is
 * fsynced, renamed into place, and the parent directory fsynced. A crash at any instant leaves
 * either no blob or the whole verified blob (DESIGN.md invariant 2); a leftover upload file is
 * reclaimed with its session.
 *
 * Hashing is incremental: each upload keeps its running sha256 in memory, keyed by the offset it
 * has reached. That cache is only an optimisation — after a restart, or if an append failed
 * half-way, commit re-reads the file to compute the digest.
 */
import { createReadStream } from 'node:fs';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Hash } from 'node:crypto';
import { algorithmOf, encodedOf, newHasher, type Digest, parseDigest, digestFromHash } from '../../domain/digest.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { AppendOptions, BlobFile, BlobStat, BlobStore, ByteRange, CommitOptions, UploadStore } from './blob-store.js';

const WRITE_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * While a large body streams in, written bytes are flushed to disk every this many bytes, in the
 * background, so the fsync that publishing needs finds little left to do instead of stalling on
 * gigabytes of dirty pages at the end.
 */
const SYNC_EVERY_BYTES = 64 * 1024 * 1024;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
const UPLOAD_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

interface HashState {
  offset: number;
  hash: Hash;
}

export interface FsBlobStoreOptions {
  root: string;
  /** fsync files and directories before publishing (default true; tests may turn it off) */
  fsync?: boolean;
}

export class FsBlobStore implements BlobStore, UploadStore {
  private readonly blobsDir: string;
  private readonly uploadsDir: string;
  private readonly fsync: boolean;
  private readonly hashes = new Map<string, HashState>();

  constructor(options: FsBlobStoreOptions) {
    this.blobsDir = options.root;
    this.uploadsDir = join(options.root, '_uploads');
    this.fsync = options.fsync ?? true;
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
  }

  async ping(): Promise<void> {
    await access(this.uploadsDir, constants.R_OK | constants.W_OK);
  }

  private blobPath(digest: Digest): string {
    const hex = encodedOf(digest);
    return join(this.blobsDir, algorithmOf(digest), hex.slice(0, 2), hex);
  }

  private uploadPath(id: string): string {
    if (!UPLOAD_ID_RE.test(id)) throw new WharfError('BLOB_UPLOAD_UNKNOWN', 'upload id is malformed');
    return join(this.uploadsDir, id);
  }

  // --- BlobStore ---

  async stat(digest: Digest): Promise<BlobStat | undefined> {
    try {
      const st = await stat(this.blobPath(digest));
      return { size: st.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async open(digest: Digest, range?: ByteRange): Promise<Readable> {
    let fh: FileHandle;
    try {
      fh = await open(this.blobPath(digest), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new WharfError('BLOB_UNKNOWN', `blob ${digest} is not stored`);
      throw e;
    }
    // createReadStream takes ownership of the handle and closes it on end, error or destroy.
    return fh.createReadStream({ start: range?.start, end: range?.end, highWaterMark: READ_CHUNK_BYTES });
  }

  async openFile(digest: Digest): Promise<BlobFile> {
    let fh: FileHandle;
    try {
      fh = await open(this.blobPath(digest), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new WharfError('BLOB_UNKNOWN', `blob ${digest} is not stored`);
      throw e;
    }
    let size: number;
    try {
      size = (await fh.stat()).size;
    } catch (e) {
      await fh.close();
      throw e;
    }
    let closed: Promise<void> | undefined;
    return {
      size,
      read: async (buffer, length, position) => (await fh.read(buffer, 0, length, position)).bytesRead,
      close: () => (closed ??= fh.close()),
    };
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  async *list(): AsyncIterable<Digest> {
    for (const algorithm of await readdirOrEmpty(this.blobsDir)) {
      if (algorithm.startsWith('_')) continue;
      for (const prefix of await readdirOrEmpty(join(this.blobsDir, algorithm))) {
        for (const hex of await readdirOrEmpty(join(this.blobsDir, algorithm, prefix))) {
          try {
            yield parseDigest(`${algorithm}:${hex}`);
          } catch {
            // not a blob (stray file); fsck reports strays separately
          }
        }
      }
    }
  }

  // --- UploadStore ---

  async create(id: string): Promise<void> {
    const fh = await open(this.uploadPath(id), 'wx');
    await fh.close();
    this.hashes.set(id, { offset: 0, hash: newHasher('sha256') });
  }

  async append(id: string, offset: number, body: Readable, options: AppendOptions = {}): Promise<number> {
    const path = this.uploadPath(id);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new WharfError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is unknown`);
      throw e;
    }
    let state = this.hashes.get(id);
    if (state && state.offset !== offset) state = undefined;
    this.hashes.delete(id); // re-set only when this append completes cleanly
    try {
      const { size } = await fh.stat();
      if (size < offset) {
        throw new WharfError('RANGE_INVALID', `upload ${id} holds ${size} bytes but the session says ${offset}`);
      }
      if (size > offset) await fh.truncate(offset); // leftovers of an interrupted append
      const written = await writeStream(fh, offset, body, state?.hash, options, this.fsync ? SYNC_EVERY_BYTES : 0);
      if (state) this.hashes.set(id, { offset: offset + written, hash: state.hash });
      return offset + written;
    } finally {
      await fh.close();
    }
  }

  async commit(id: string, size: number, digest: Digest, options: CommitOptions = {}): Promise<void> {
    const path = this.uploadPath(id);
    const state = this.hashes.get(id);
    this.hashes.delete(id);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new WharfError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is unknown`);
      throw e;
    }
    try {
      const st = await fh.stat();
      if (st.size > size) await fh.truncate(size);
      else if (st.size < size) throw new WharfError('BLOB_UPLOAD_INVALID', `upload ${id} is missing bytes`);
      if (options.expectedSize !== undefined && options.expectedSize !== size) {
        throw new WharfError('SIZE_INVALID', `upload holds ${size} bytes, not ${options.expectedSize}`);
      }
      const algorithm = algorithmOf(digest);
      let actual: Digest;
      if (state && state.offset === size && algorithm === 'sha256') {
        actual = digestFromHash('sha256', state.hash);
      } else {
        actual = await hashFile(path, algorithm);
      }
      if (actual !== digest) {
        throw new WharfError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${digest}`);
      }
      if (this.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    const target = this.blobPath(digest);
    await mkdir(dirname(target), { recursive: true });
    await rename(path, target); // replaces an identical existing blob atomically
    if (this.fsync) await fsyncDir(dirname(target));
  }

  async abort(id: string): Promise<void> {
    this.hashes.delete(id);
    await rm(this.uploadPath(id), { force: true });
  }

  async *listUploads(): AsyncIterable<string> {
    for (const name of await readdirOrEmpty(this.uploadsDir)) {
      if (UPLOAD_ID_RE.test(name)) yield name;
    }
  }
}

/**
 * Streams `body` into the file at `offset`, feeding `hash` on the way. Writes are batched into
 * ~4 MiB writev calls with one batch in flight while the next fills, so disk and hashing overlap
 * and memory stays bounded per upload.
 */
async function writeStream(
  fh: FileHandle,
  offset: number,
  body: Readable,
  hash: Hash | undefined,
  options: AppendOptions,
  syncEveryBytes: number,
): Promise<number> {
  let position = offset;
  let written = 0;
  let unsynced = 0;
  let syncing: Promise<unknown> = Promise.resolve();
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (batchBytes === 0) return;
    const buffers = batch;
    const at = position;
    position += batchBytes;
    batch = [];
    batchBytes = 0;
    await inFlight;
    const write = writeAll(fh, buffers, at);
    // Awaited at the next flush; until then a failed write (ENOSPC) must not count as an
    // unhandled rejection, which would take the whole process down.
    write.catch(() => undefined);
    inFlight = write;
    unsynced += position - at;
    if (syncEveryBytes > 0 && unsynced >= syncEveryBytes) {
      unsynced = 0;
      const previous = syncing;
      syncing = Promise.all([previous, write]).then(() => fh.datasync());
      syncing.catch(() => undefined);
    }
  };
  for await (const chunk of body as AsyncIterable<Buffer>) {
    options.signal?.throwIfAborted();
    written += chunk.length;
    if (options.maxBytes !== undefined && written > options.maxBytes) {
      throw new WharfError('BODY_TOO_LARGE', `body exceeds ${options.maxBytes} bytes`);
    }
    hash?.update(chunk);
    batch.push(chunk);
    batchBytes += chunk.length;
    if (batchBytes >= WRITE_BATCH_BYTES) await flush();
  }
  await flush();
  await inFlight;
  await syncing;
  return written;
}

async function writeAll(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await fh.writev(pending, at);
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const b of pending) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    pending = rest;
  }
}

export async function hashFile(path: string, algorithm: 'sha256' | 'sha512'): Promise<Digest> {
  const hash = newHasher(algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) {
    hash.update(chunk as Buffer);
  }
  return digestFromHash(algorithm, hash);
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    // absent, or a stray file where a directory belongs: nothing to list here
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}
