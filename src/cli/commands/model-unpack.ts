/**
 * Unpacks an archive layer of a model artifact (ModelPack `.tar[+gzip|+zstd]`, KitOps
 * `modelkit.*.v1.tar[+gzip]`) into a directory, as `wharf model pull` restores it: the blob's
 * bytes are hashed while they stream (the digest is checked at the end), decompressed by their
 * magic bytes with the shared bomb limits (content/layers/decompress.ts), and each regular file
 * and directory is written below the directory — a path that would leave it stops the pull.
 * Links and special entries are skipped and counted.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { decompressLayer } from '../../content/layers/decompress.js';
import { WharfError } from '../../errors/wharf-error.js';

export interface UnpackResult {
  files: number;
  bytes: number;
  skipped: number;
}

export async function unpackLayer(body: Readable, digest: string, dir: string, safeTarget: (dir: string, path: string) => string): Promise<UnpackResult> {
  const hash = createHash(digest.startsWith('sha512:') ? 'sha512' : 'sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const counts = { compressed: 0, uncompressed: 0 };
  const { source, streams } = await decompressLayer(body.pipe(hashing), counts, {
    maxBytes: Number.MAX_SAFE_INTEGER,
    maxRatio: 1000,
    ratioFloorBytes: 64 * 1024 * 1024,
    maxZstdWindowBytes: 128 * 1024 * 1024,
  });
  const result: UnpackResult = { files: 0, bytes: 0, skipped: 0 };
  const extract = tarExtract();
  extract.on('entry', (header, stream, next) => {
    const done = (err?: unknown): void => (err ? next(err as Error) : next());
    // when the archive fails, tar-stream destroys the current entry with that error: the pipeline reports it
    stream.on('error', () => undefined);
    const name = header.name.replace(/^\.\//, '');
    if (header.type === 'directory') {
      stream.resume();
      if (name === '' || name === '.' || name === './') return done();
      mkdir(safeTarget(dir, name.replace(/\/$/, '')), { recursive: true }).then(() => done(), done);
      return;
    }
    if (header.type !== 'file' && header.type !== 'contiguous-file') {
      result.skipped++;
      stream.resume();
      stream.on('end', () => done());
      return;
    }
    let target: string;
    try {
      target = safeTarget(dir, name);
    } catch (e) {
      stream.resume();
      return done(e);
    }
    mkdir(dirname(target), { recursive: true })
      .then(() => pipeline(stream, createWriteStream(target)))
      .then(() => chmod(target, (header.mode ?? 0o644) & 0o777))
      .then(() => {
        result.files++;
        result.bytes += header.size ?? 0;
        done();
      }, done);
  });
  await pipeline([source, ...streams, extract] as unknown as [Readable, NodeJS.WritableStream]);
  const got = `${digest.split(':')[0]}:${hash.digest('hex')}`;
  if (got !== digest) throw new WharfError('DIGEST_INVALID', `the layer's bytes have digest ${got}, not ${digest} (its files were written; pull again)`);
  return result;
}
