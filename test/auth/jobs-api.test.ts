/**
 * /api/v1/jobs through the real composition root: a job enqueued on the runner of a started
 * instance runs, and admins (only) see it with its state; bad ids and filters are clean errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { createWharf } from '../../src/main.js';
import { basic } from '../support/auth-stack.js';

test('jobs run on the instance runner and are listed to admins only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-jobs-api-'));
  const config = loadConfig({ flags: { data: dir, listen: '127.0.0.1:0', 'auth.adminPassword': 'admin-password-1' } });
  const w = await createWharf(config, { logger: pino({ level: 'silent' }), announce: () => undefined });
  try {
    const ran: unknown[] = [];
    w.jobs.register('test.echo', async (payload) => {
      ran.push(payload);
    });
    w.jobs.register('test.broken', async () => {
      throw new Error('no such thing');
    });
    await w.listen();
    const admin = { authorization: basic('admin', 'admin-password-1') };
    await w.jobs.enqueue('test.echo', { hello: 'world' });
    const broken = await w.jobs.enqueue('test.broken', {}, { maxAttempts: 1 });
    for (let i = 0; i < 100 && ran.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(ran, [{ hello: 'world' }]);

    let list: { jobs: { id: number; kind: string; state: string; lastError: string | null }[] } = { jobs: [] };
    for (let i = 0; i < 100; i++) {
      const res = await w.app.inject({ method: 'GET', url: '/api/v1/jobs', headers: admin });
      assert.equal(res.statusCode, 200, res.body);
      list = JSON.parse(res.body);
      if (list.jobs.every((j) => j.state === 'succeeded' || j.state === 'failed')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const byKind = Object.fromEntries(list.jobs.map((j) => [j.kind, j]));
    assert.equal(byKind['test.echo']?.state, 'succeeded');
    assert.equal(byKind['test.broken']?.state, 'failed');
    assert.equal(byKind['test.broken']?.lastError, 'no such thing');

    const failedOnly = JSON.parse((await w.app.inject({ method: 'GET', url: '/api/v1/jobs?state=failed', headers: admin })).body);
    assert.deepEqual(failedOnly.jobs.map((j: { kind: string }) => j.kind), ['test.broken']);
    const one = await w.app.inject({ method: 'GET', url: `/api/v1/jobs/${broken!.id}`, headers: admin });
    assert.equal(JSON.parse(one.body).kind, 'test.broken');

    assert.equal((await w.app.inject({ method: 'GET', url: '/api/v1/jobs/999999', headers: admin })).statusCode, 404);
    assert.equal((await w.app.inject({ method: 'GET', url: '/api/v1/jobs/abc', headers: admin })).statusCode, 404);
    assert.equal((await w.app.inject({ method: 'GET', url: '/api/v1/jobs?state=bogus', headers: admin })).statusCode, 400);
    assert.equal((await w.app.inject({ method: 'GET', url: '/api/v1/jobs?limit=-1', headers: admin })).statusCode, 400);
    assert.equal((await w.app.inject({ method: 'GET', url: '/api/v1/jobs' })).statusCode, 401);
  } finally {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
