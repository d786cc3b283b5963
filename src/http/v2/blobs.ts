import type { Readable } from 'node:stream';
import { parseDigest } from '../../domain/digest.js';
import { parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import { hasBody } from '../body.js';
import { parseContentRange, parseRangeHeader } from '../range.js';
import { sendBlobFile } from '../send-file.js';
import type { V2Context } from './route-table.js';

export async function getBlob(ctx: V2Context, head: boolean): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const digest = parseDigest(ctx.params[1]);
  const { registry, metrics } = ctx.options;
  if (!head) {
    // scale-out with presigned redirects: the client fetches the bytes (and any Range of them)
    // from the object store itself; 307 keeps the method and the client's headers
    const url = await registry.blobDownloadUrl(name, digest);
    if (url !== undefined) {
      metrics.blobRedirects.inc();
      // the object store serves it: counted as what the client asks for (its Range, which the 307
      // makes it send again to the object store), since what it then receives is not seen here
      registry.noteBlobServed(name, digest, requestedBytes(ctx.request.headers.range, (await registry.statBlob(name, digest)).size));
      await ctx.reply.code(307).header('location', url).header('docker-content-digest', digest).header('content-length', 0).send();
      return;
    }
  }
  const blob = await registry.statBlob(name, digest);
  const range = head ? undefined : rangeOf(ctx.request.headers.range, blob.size);
  // open before any success header is set: if the bytes are gone, the 404 must not carry a
  // year-long Cache-Control and the blob's ETag. A local file is sent through reused buffers
  // (send-file.ts); anything else (an object store) streams.
  const file = head ? undefined : await registry.openBlobFile(name, digest);
  const stream = head || file ? undefined : await registry.openBlob(name, digest, range);
  if (file && file.size !== blob.size) {
    await file.close();
    throw new WharfError('INTERNAL', `blob ${digest} has ${file.size} bytes on disk, not the ${blob.size} recorded (run wharf fsck)`);
  }
  ctx.reply
    .header('content-type', 'application/octet-stream')
    .header('docker-content-digest', digest)
    .header('etag', `"${digest}"`)
    .header('accept-ranges', 'bytes')
    .header('cache-control', 'max-age=31536000');
  if (head) {
    await ctx.reply.code(200).header('content-length', blob.size).send();
    return;
  }
  const length = range ? range.end - range.start + 1 : blob.size;
  metrics.bytesOut.inc(length);
  ctx.reply.header('content-length', length);
  if (range) ctx.reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`);
  else ctx.reply.code(200);
  if (file) {
    await sendBlobFile(ctx.reply, file, range?.start ?? 0, range?.end ?? blob.size - 1, (bytes) => registry.noteBlobServed(name, digest, bytes));
    return;
  }
  countSent(ctx, stream!, length, (bytes) => registry.noteBlobServed(name, digest, bytes));
  await ctx.reply.send(stream);
}

/**
 * Egress (usage and cost): calls `note` once with the bytes sent — `length` when the response
 * finished, else (the client went away) the bytes the blob stream handed to the response so far.
 */
function countSent(ctx: V2Context, stream: Readable, length: number, note: (bytes: number) => void): void {
  const res = ctx.reply.raw;
  let sent = 0;
  let done = false;
  const once = (bytes: number) => {
    if (done) return;
    done = true;
    note(bytes);
  };
  // the response emits 'pipe' as the stream is piped into it: count what flows (pipe keeps the back-pressure)
  res.once('pipe', (src: Readable) => {
    if (src === stream) src.on('data', (chunk: Buffer) => void (sent += chunk.length));
  });
  res.once('finish', () => once(length));
  res.once('close', () => once(res.writableFinished ? length : Math.min(sent, length)));
}

/** Bytes a GET with this Range header asks for (0 for a range the object store will refuse). */
function requestedBytes(header: string | undefined, size: number): number {
  try {
    const r = parseRangeHeader(header, size);
    return r ? r.end - r.start + 1 : size;
  } catch {
    return 0;
  }
}

/** The requested range; a 416 always carries the blob's size (for `Content-Range: bytes *\/size`). */
function rangeOf(header: string | undefined, size: number): { start: number; end: number } | undefined {
  try {
    return parseRangeHeader(header, size);
  } catch (err) {
    if (err instanceof WharfError && err.code === 'RANGE_INVALID') throw new WharfError('RANGE_INVALID', err.message, { size });
    throw err;
  }
}

export async function deleteBlob(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const digest = parseDigest(ctx.params[1]);
  await ctx.options.registry.deleteBlob(name, digest);
  await ctx.reply.code(202).header('content-length', 0).send();
}

function uploadLocation(ctx: V2Context, name: string, id: string): string {
  return `${ctx.options.locationPrefix ?? ''}/v2/${name}/blobs/uploads/${id}`;
}

/** Range header of upload responses: the inclusive range received so far ("0-0" when empty, as clients expect). */
function receivedRange(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

async function sendBlobCreated(ctx: V2Context, name: string, digest: string): Promise<void> {
  await ctx.reply
    .code(201)
    .header('location', `${ctx.options.locationPrefix ?? ''}/v2/${name}/blobs/${digest}`)
    .header('docker-content-digest', digest)
    .header('content-length', 0)
    .send();
}

async function sendUploadState(ctx: V2Context, status: number, name: string, id: string, size: number): Promise<void> {
  await ctx.reply
    .code(status)
    .header('location', uploadLocation(ctx, name, id))
    .header('range', receivedRange(size))
    .header('docker-upload-uuid', id)
    .header('content-length', 0)
    .send();
}

export async function startUpload(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const { registry, metrics } = ctx.options;
  const mount = ctx.query.get('mount');
  if (mount !== null) {
    const digest = parseDigest(mount);
    const fromParam = ctx.query.get('from');
    const from = fromParam === null ? undefined : parseRepoName(fromParam);
    // a mount reads the source: only for who may pull it (its roles and its token's scope); without
    // `from`, any repository's blob could be linked: only for who may pull them all (invariant 4).
    // Anyone else gets an ordinary upload, the same answer as for a blob the source lacks.
    const { gate } = ctx.options;
    const principal = ctx.request.principal;
    const mountable =
      from !== undefined
        ? await gate.holds(principal, [{ kind: 'repository', name: from, actions: ['pull'] }])
        : gate.mayMountUnscoped(principal);
    const blob = mountable ? await registry.mountBlob(name, digest, from) : undefined;
    if (blob) {
      ctx.request.raw.resume();
      await sendBlobCreated(ctx, name, digest);
      return;
    }
    // not mountable: fall through and start an ordinary upload, as the spec asks
  }
  const digestParam = ctx.query.get('digest');
  if (digestParam !== null && mount === null) {
    const digest = parseDigest(digestParam);
    const declared = ctx.request.headers['content-length'];
    const blob = await registry.pushBlob(name, digest, ctx.request.raw);
    if (declared !== undefined && Number(declared) !== blob.size) {
      throw new WharfError('SIZE_INVALID', `received ${blob.size} bytes, Content-Length said ${declared}`);
    }
    metrics.bytesIn.inc(blob.size);
    await sendBlobCreated(ctx, name, digest);
    return;
  }
  ctx.request.raw.resume();
  const upload = await registry.startUpload(name);
  await sendUploadState(ctx, 202, name, upload.id, 0);
}

function chunkRange(ctx: V2Context): { start: number; end: number } | undefined {
  const range = parseContentRange(ctx.request.headers['content-range']);
  const declared = ctx.request.headers['content-length'];
  if (range && declared !== undefined && Number(declared) !== range.end - range.start + 1) {
    throw new WharfError('RANGE_INVALID', `Content-Range covers ${range.end - range.start + 1} bytes but Content-Length is ${declared}`);
  }
  return range;
}

export async function patchUpload(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const id = ctx.params[1]!;
  const { registry, metrics } = ctx.options;
  const range = chunkRange(ctx);
  const before = (await registry.getUpload(name, id)).size;
  const upload = await registry.appendUpload(name, id, ctx.request.raw, range);
  metrics.bytesIn.inc(upload.size - before);
  await sendUploadState(ctx, 202, name, id, upload.size);
}

export async function putUpload(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const id = ctx.params[1]!;
  const digest = parseDigest(ctx.query.get('digest') ?? '');
  const { registry, metrics } = ctx.options;
  const body = hasBody(ctx.request);
  const range = body ? chunkRange(ctx) : undefined;
  const before = body ? (await registry.getUpload(name, id)).size : 0;
  const blob = await registry.completeUpload(name, id, digest, body ? ctx.request.raw : undefined, range);
  if (body) metrics.bytesIn.inc(blob.size - before);
  await sendBlobCreated(ctx, name, digest);
}

export async function getUploadStatus(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  const id = ctx.params[1]!;
  const upload = await ctx.options.registry.getUpload(name, id);
  await sendUploadState(ctx, 204, name, id, upload.size);
}

export async function cancelUpload(ctx: V2Context): Promise<void> {
  const name = parseRepoName(ctx.params[0]);
  await ctx.options.registry.cancelUpload(name, ctx.params[1]!);
  await ctx.reply.code(204).send();
}
