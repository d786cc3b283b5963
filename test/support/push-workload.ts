/**
 * A concurrent push workload for crash tests: each pusher uploads random blobs (single POST,
 * POST+PUT, or chunked PATCH uploads) and an OCI manifest referencing them, then tags it, in a loop,
 * recording exactly which operations the server acknowledged (201) and which were in flight.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { request } from 'node:http';
import { MT, sha256 } from './oci-layout.js';
import { HttpError, RegistryClient } from './registry-client.js';

const MiB = 1024 * 1024;

export interface BlobRecord {
  repo: string;
  digest: string;
  size: number;
  method: string;
}

export interface ManifestRecord {
  repo: string;
  tag: string;
  digest: string;
  bytes: Buffer;
  blobs: BlobRecord[];
}

export interface WorkloadLog {
  /** Blobs whose final upload request answered 201. */
  ackedBlobs: BlobRecord[];
  /** Blobs whose upload was started but never acknowledged. */
  unackedBlobs: BlobRecord[];
  /** Manifests whose PUT answered 201. */
  ackedManifests: ManifestRecord[];
  /** Manifests whose PUT was sent but not acknowledged. */
  unackedManifests: ManifestRecord[];
  /** Errors that happened before the server was killed: real failures. */
  errorsBeforeKill: string[];
}

export function emptyLog(): WorkloadLog {
  return { ackedBlobs: [], unackedBlobs: [], ackedManifests: [], unackedManifests: [], errorsBeforeKill: [] };
}

/** A shared pool of random bytes; each blob is a unique 32-byte prefix plus a slice of the pool. */
const POOL = randomBytes(33 * MiB);

export function randomBlob(size: number): Buffer {
  const start = randomInt(0, POOL.length - size + 1);
  return Buffer.concat([randomBytes(32), POOL.subarray(start, start + size - 32)]);
}

/** A size between min and max, log-uniform (many small, some large). */
export function logUniform(min: number, max: number): number {
  return Math.round(Math.exp(Math.log(min) + Math.random() * (Math.log(max) - Math.log(min))));
}

export interface WorkloadOptions {
  url: string;
  headers?: Record<string, string>;
  pushers: number;
  /** Upper bound on images per pusher. */
  maxImages: number;
  minBlob?: number;
  maxBlob?: number;
  tagPrefix: string;
  /** A blob every image also includes as its first layer: all pushers upload it concurrently (dedup races). */
  sharedBlob?: Buffer;
  /** Set once the kill starts; errors after it are expected. */
  killed: () => boolean;
  /** Called just before each blob- or manifest-creating request is sent. */
  beforeCommit?: (kind: 'blob' | 'manifest') => void;
}

/** Runs the pushers until each has pushed maxImages or failed (after the kill); resolves when all have stopped. */
export async function runWorkload(options: WorkloadOptions, log: WorkloadLog): Promise<void> {
  const client = new RegistryClient({ url: options.url, headers: options.headers, beforeCommit: options.beforeCommit });
  const pusher = async (p: number): Promise<void> => {
    const repo = `crash/p${p}`;
    for (let i = 0; i < options.maxImages; i++) {
      if (options.killed()) return;
      const tag = `${options.tagPrefix}-p${p}-${i}`;
      try {
        await pushImage(client, repo, tag, options, log);
      } catch (err) {
        if (!options.killed()) log.errorsBeforeKill.push(`${repo}:${tag}: ${err instanceof HttpError ? err.message : String((err as Error).stack ?? err)}`);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: options.pushers }, (_, p) => pusher(p)));
}

async function pushImage(client: RegistryClient, repo: string, tag: string, options: WorkloadOptions, log: WorkloadLog): Promise<void> {
  const layers: BlobRecord[] = [];
  if (options.sharedBlob) layers.push(await pushBlob(client, repo, options.sharedBlob, log));
  const nLayers = randomInt(1, 3);
  for (let l = 0; l < nLayers; l++) {
    const bytes = randomBlob(logUniform(options.minBlob ?? MiB, options.maxBlob ?? 32 * MiB));
    layers.push(await pushBlob(client, repo, bytes, log));
  }
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(() => sha256(randomBytes(8))) }, tag }),
  );
  const configRec = await pushBlob(client, repo, config, log);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: MT.config, digest: configRec.digest, size: configRec.size },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
    }),
  );
  const rec: ManifestRecord = { repo, tag, digest: sha256(manifest), bytes: manifest, blobs: [configRec, ...layers] };
  log.unackedManifests.push(rec);
  await client.putManifest(repo, tag, manifest, MT.manifest);
  log.unackedManifests.splice(log.unackedManifests.indexOf(rec), 1);
  log.ackedManifests.push(rec);
}

async function pushBlob(client: RegistryClient, repo: string, bytes: Buffer, log: WorkloadLog): Promise<BlobRecord> {
  const kind = randomInt(0, 3);
  const method = kind === 0 ? 'single-post' : kind === 1 ? 'post-put' : 'chunked';
  const rec: BlobRecord = { repo, digest: sha256(bytes), size: bytes.length, method };
  log.unackedBlobs.push(rec);
  if (kind === 0) await client.pushBlobSinglePost(repo, bytes, rec.digest);
  else if (kind === 1) await client.pushBlobPostPut(repo, bytes, rec.digest);
  else await client.pushBlobChunked(repo, bytes, logUniform(256 * 1024, 8 * MiB), rec.digest);
  log.unackedBlobs.splice(log.unackedBlobs.indexOf(rec), 1);
  log.ackedBlobs.push(rec);
  return rec;
}

/**
 * Sends a request whose body is only partly transmitted: headers announce `total` bytes but only
 * `sent` are written, then the request hangs (until the server dies). Resolves once `sent` bytes are flushed;
 * rejects if the server answers 201 (a blob created from a body it has not fully received).
 */
export async function hangingUpload(url: string, method: string, headers: Record<string, string>, body: Buffer, sent: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, 'content-length': String(body.length) } });
    req.on('error', () => undefined); // the server is killed under it
    req.on('response', (res) => {
      res.resume();
      // Answering early is fine (e.g. 202 to a POST that ignores its body), creating the blob is not.
      if (res.statusCode === 201) reject(new Error(`${method} ${url}: server answered 201 to a body it has not fully received`));
    });
    req.write(body.subarray(0, sent), (err) => (err ? reject(err) : setTimeout(resolve, 200)));
  });
}
