/**
 * The first start (main.ts createAuth): an admin is created once, with WHARF_ADMIN_PASSWORD or a
 * generated password printed once to stdout (the `announce` callback) and never to the JSON log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { createWharf } from '../../src/main.js';
import { basic } from '../support/auth-stack.js';

function capture(): { logger: pino.Logger; text: () => string } {
  let out = '';
  const stream = new Writable({ write: (c, _e, cb) => { out += String(c); cb(); } });
  return { logger: pino({ level: 'trace' }, stream), text: () => out };
}

test('a generated admin password is announced once, never logged, and works', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-first-'));
  try {
    const config = loadConfig({ flags: { data: dir, listen: '127.0.0.1:0' } });
    const lines: string[] = [];
    const log = capture();
    const w = await createWharf(config, { logger: log.logger, announce: (l) => lines.push(l) });
    const password = /password (\S+)/.exec(lines.join(''))?.[1];
    assert.ok(password && password.length >= 20, lines.join(''));
    const ok = await w.app.inject({ method: 'GET', url: '/v2/', headers: { authorization: basic('admin', password) } });
    assert.equal(ok.statusCode, 200);
    await w.close();
    assert.ok(!log.text().includes(password), 'the password reached the log');

    const again: string[] = [];
    const w2 = await createWharf(config, { logger: capture().logger, announce: (l) => again.push(l) });
    assert.deepEqual(again, [], 'announced only at the first start');
    assert.equal((await w2.app.inject({ method: 'GET', url: '/v2/' })).statusCode, 401, 'deny by default');
    await w2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('WHARF_ADMIN_PASSWORD sets the first admin password; later starts ignore it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-first-'));
  try {
    const lines: string[] = [];
    const first = loadConfig({ env: { WHARF_ADMIN_PASSWORD: 'chosen-admin-pw' }, flags: { data: dir } });
    const w = await createWharf(first, { logger: capture().logger, announce: (l) => lines.push(l) });
    assert.deepEqual(lines, []);
    assert.equal((await w.app.inject({ method: 'GET', url: '/api/v1/whoami', headers: { authorization: basic('admin', 'chosen-admin-pw') } })).statusCode, 200);
    await w.close();
    const second = loadConfig({ env: { WHARF_ADMIN_PASSWORD: 'another-password' }, flags: { data: dir } });
    const w2 = await createWharf(second, { logger: capture().logger, announce: () => undefined });
    assert.equal((await w2.app.inject({ method: 'GET', url: '/api/v1/whoami', headers: { authorization: basic('admin', 'another-password') } })).statusCode, 401);
    await w2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
