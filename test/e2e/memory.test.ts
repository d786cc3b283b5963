/**
 * Invariant 3, "stream, never buffer": pushing and pulling a blob far larger than any buffer
 * must not grow the server's memory with the blob's size. The server's peak resident set
 * (VmHWM) is read from /proc before and after moving a 768 MiB blob monolithically, in 64 MiB
 * chunks, and back out; it must grow by far less than the blob. A memory bound, not a timing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { RegistryProcess } from '../support/registry-process.js';

const MiB = 1024 * 1024;
const BLOB = 768 * MiB;
const GROWTH_LIMIT = 160 * MiB;

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/PID/status');
  return Number(m[1]) * 1024;
}

/** Deterministic bytes, `size` of them, generated as they are read (no blob-sized buffer here either). */
function* pattern(size: number, seed: number): Generator<Buffer> {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  for (let sent = 0, n = 0; sent < size; n++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - sent)));
    chunk.writeUInt32LE(n, 0); // every block differs
    sent += chunk.length;
    yield chunk;
  }
}

function digestOfPattern(size: number, seed: number): string {
  const h = createHash('sha256');
  for (const c of pattern(size, seed)) h.update(c);
  return `sha256:${h.digest('hex')}`;
}

function send(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  body?: Readable,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; digest: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const h = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, digest: `sha256:${h.digest('hex')}`, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

describe('memory stays flat for large blobs', { timeout: 300_000 }, () => {
  let server: RegistryProcess;
  before(async () => {
    server = await RegistryProcess.start({ target: 'wharf' });
  });
  after(async () => {
    await server?.stop();
  });

  test('monolithic push, chunked push and pull of 768 MiB grow peak RSS by < 160 MiB', async () => {
    const pid = server.pid!;
    // warm up: one small push/pull so lazily loaded code is in the baseline
    const small = await send(`${server.url}/v2/mem/warm/blobs/uploads/?digest=${digestOfPattern(MiB, 9)}`, 'POST', { 'content-length': MiB }, Readable.from(pattern(MiB, 9)));
    assert.equal(small.status, 201);
    const baseline = peakRss(pid);

    const d1 = digestOfPattern(BLOB, 1);
    const mono = await send(
      `${server.url}/v2/mem/big/blobs/uploads/?digest=${d1}`,
      'POST',
      { 'content-type': 'application/octet-stream', 'content-length': BLOB },
      Readable.from(pattern(BLOB, 1)),
    );
    assert.equal(mono.status, 201);

    const d2 = digestOfPattern(BLOB, 2);
    const start = await send(`${server.url}/v2/mem/big/blobs/uploads/`, 'POST', { 'content-length': 0 });
    assert.equal(start.status, 202);
    let location = String(start.headers.location);
    const chunk = 64 * MiB;
    const gen = pattern(BLOB, 2);
    for (let offset = 0; offset < BLOB; offset += chunk) {
      const parts: Buffer[] = [];
      for (let got = 0; got < chunk; got += MiB) parts.push(gen.next().value as Buffer);
      const res = await send(
        `${server.url}${location}`,
        'PATCH',
        { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk - 1}`, 'content-length': chunk },
        Readable.from(parts),
      );
      assert.equal(res.status, 202, `PATCH at ${offset}`);
      location = String(res.headers.location);
    }
    const sep = location.includes('?') ? '&' : '?';
    const done = await send(`${server.url}${location}${sep}digest=${d2}`, 'PUT', { 'content-length': 0 });
    assert.equal(done.status, 201);

    const pulled = await send(`${server.url}/v2/mem/big/blobs/${d1}`, 'GET', {});
    assert.equal(pulled.status, 200);
    assert.equal(pulled.bytes, BLOB);
    assert.equal(pulled.digest, d1);

    const growth = peakRss(pid) - baseline;
    console.log(`peak RSS: baseline ${Math.round(baseline / MiB)} MiB, growth ${Math.round(growth / MiB)} MiB`);
    assert.ok(growth < GROWTH_LIMIT, `peak RSS grew by ${Math.round(growth / MiB)} MiB moving ${BLOB / MiB} MiB blobs`);
  });
});
