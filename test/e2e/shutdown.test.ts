/**
 * Graceful shutdown: on SIGTERM the server stops taking new connections, lets a request in
 * flight (a blob upload still streaming) finish and commit, then exits 0 — and the blob is there
 * after a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, RegistryProcess, WHARF_MAIN } from '../support/registry-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGTERM drains an upload in flight, then exits 0', { timeout: 60_000 }, async () => {
  const data = mkdtempSync(join(tmpdir(), 'wharf-shutdown-'));
  const port = await freePort();
  const child = spawn(process.execPath, [WHARF_MAIN, 'serve', '--listen', `127.0.0.1:${port}`, '--data', data], {
    // auth off: this test is about draining, and pushes anonymously
    env: { ...process.env, WHARF_LOG_LEVEL: 'info', WHARF_AUTH__ENABLED: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
      if (ok) break;
      assert.ok(i < 100, `server did not start: ${log}`);
      await sleep(100);
    }
    const parts = Array.from({ length: 10 }, (_, i) => Buffer.alloc(256 * 1024, i));
    const digest = `sha256:${createHash('sha256').update(Buffer.concat(parts)).digest('hex')}`;
    const total = parts.reduce((n, p) => n + p.length, 0);

    const response = new Promise<number>((resolve, reject) => {
      const req = request(
        `http://127.0.0.1:${port}/v2/drain/me/blobs/uploads/?digest=${digest}`,
        { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': total } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      void (async () => {
        req.write(parts[0]);
        await sleep(300); // the upload is now in flight
        child.kill('SIGTERM');
        for (const p of parts.slice(1)) {
          await sleep(50);
          req.write(p);
        }
        req.end();
      })();
    });

    assert.equal(await response, 201, log);
    assert.equal(await exited, 0, log);
    assert.match(log, /shutting down/);

    const again = await RegistryProcess.start({ target: 'wharf', dataDir: data });
    try {
      const res = await fetch(`${again.url}/v2/drain/me/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(total));
    } finally {
      await again.stop();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
  }
});
