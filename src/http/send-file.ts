import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { BlobFile } from '../storage/blob/blob-store.js';

/**
 * Sends (a range of) a local blob file as the response body through a few reused buffers.
 *
 * Streaming a file with fs.ReadStream allocates a new buffer per chunk; at a GiB a second that is
 * hundreds of large short-lived buffers whose only cost is garbage collection (a CPU profile of a
 * 1 GiB pull spent more time in the collector than in the socket writes). Here a chunk's buffer
 * goes back to a shared pool once the socket has written it (the write callback), and the next
 * chunk is read while the current one is being written.
 *
 * The first chunk is read before anything is sent, so a file that cannot be read still gets a
 * proper error response. After that the response is the caller's no more (reply.hijack(); the
 * onResponse hooks still run): a read error mid-body destroys the connection, which the client
 * sees as a short body, as it would with a stream.
 */
export const CHUNK_BYTES = 2 * 1024 * 1024;
/** buffers kept for reuse across responses (idle memory at most CHUNK_BYTES * POOL_MAX) */
const POOL_MAX = 16;
const pool: Buffer[] = [];
const take = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
const give = (b: Buffer): void => {
  if (pool.length < POOL_MAX) pool.push(b);
};

/**
 * `start`..`end` inclusive. The reply's status and headers (content-length included) must be set.
 * Calls `onSent` once with the bytes the socket accepted (all of them when the response finished).
 */
export async function sendBlobFile(reply: FastifyReply, file: BlobFile, start: number, end: number, onSent: (bytes: number) => void): Promise<void> {
  const stop = end + 1;
  let buffer = take();
  let reading: Promise<number> | undefined;
  let n: number;
  try {
    n = start < stop ? await file.read(buffer, Math.min(CHUNK_BYTES, stop - start), start) : 0;
    if (n <= 0 && start < stop) throw new Error(`blob file ended at ${start}, before ${stop}`);
  } catch (err) {
    give(buffer);
    await file.close();
    throw err;
  }
  const res = reply.raw;
  reply.hijack();
  res.writeHead(reply.statusCode, reply.getHeaders() as Record<string, string | number | string[]>);
  let sent = 0;
  let closed = res.destroyed;
  // counted as the response ends, in its events (not after an await), so that whoever sees the
  // response complete also sees it counted
  let counted = false;
  const count = (bytes: number): void => {
    if (counted) return;
    counted = true;
    onSent(bytes);
  };
  const onFinish = (): void => count(stop - start);
  const onClose = (): void => {
    closed = true;
    count(res.writableFinished ? stop - start : sent);
  };
  res.once('finish', onFinish);
  res.once('close', onClose);
  try {
    let position = start;
    while (position < stop && !closed) {
      if (n <= 0) throw new Error(`blob file ended at ${position}, before ${stop}`);
      position += n;
      const chunk = buffer;
      const length = n;
      // the next chunk is read while this one is written
      if (position < stop) {
        buffer = take();
        reading = file.read(buffer, Math.min(CHUNK_BYTES, stop - position), position);
        // handled below, after the write; until then a failure must not count as unhandled
        reading.catch(() => undefined);
      } else reading = undefined;
      const flowing = res.write(length === chunk.length ? chunk : chunk.subarray(0, length), (err) => {
        if (!err) sent += length;
        give(chunk);
      });
      if (!flowing && !closed) await drained(res);
      if (reading) n = await reading;
      reading = undefined;
    }
    if (!closed) await finished(res);
  } catch (err) {
    res.destroy(err as Error);
  } finally {
    res.off('finish', onFinish);
    res.off('close', onClose);
    if (reading) await reading.catch(() => undefined);
    await file.close().catch(() => undefined);
    count(res.writableFinished ? stop - start : sent);
  }
}

/** Resolves on 'drain' or 'close', whichever comes first. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Ends the response; resolves once it finished or the connection closed. */
function finished(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('finish', done);
      res.off('close', done);
      resolve();
    };
    res.on('finish', done);
    res.on('close', done);
    res.end();
  });
}
