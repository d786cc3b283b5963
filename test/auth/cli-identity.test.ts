/**
 * The client commands of the `wharf` CLI (login, user, sa, role, audit, repo) in-process against a
 * listening app with authentication on, through src/client/. Credentials land in a private auth
 * file (REGISTRY_AUTH_FILE), as podman keeps them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { EXIT, type CliIO } from '../../src/cli/io.js';
import { startHarness, type Harness } from '../http/harness.js';
import { listen } from '../http/support.js';
import { TEST_ADMIN_PASSWORD } from '../support/auth-stack.js';

let h: Harness;
let server: string;
let dir: string;
let env: NodeJS.ProcessEnv;

async function wharf(args: string[], stdin?: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { env: { ...env, ...extraEnv }, out: (s) => void (out += s), err: (s) => void (err += s), readStdin: async () => stdin ?? '' };
  const code = await runCli(args, io);
  return { code, out, err };
}

before(async () => {
  h = await startHarness({ auth: {} });
  server = `http://127.0.0.1:${await listen(h.app)}`;
  dir = mkdtempSync(join(tmpdir(), 'wharf-cli-auth-'));
  env = { REGISTRY_AUTH_FILE: join(dir, 'auth.json'), HOME: dir, WHARF_SERVER: server };
});
after(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('wharf login and client commands', () => {
  test('commands without a login say so', async () => {
    const r = await wharf(['user', 'list']);
    assert.equal(r.code, EXIT.failure);
    assert.match(r.err, /not logged in/);
  });
  test('login refuses wrong credentials and stores good ones (0600), shared with podman\'s file format', async () => {
    const bad = await wharf(['login', '-u', 'admin', '--password-stdin'], 'wrong-password\n');
    assert.equal(bad.code, EXIT.failure);
    assert.match(bad.err, /invalid username or password/);
    const ok = await wharf(['login', server, '-u', 'admin', '--password-stdin'], `${TEST_ADMIN_PASSWORD}\n`);
    assert.equal(ok.code, EXIT.ok, ok.err);
    assert.match(ok.out, /Login Succeeded/);
    const file = JSON.parse(readFileSync(env.REGISTRY_AUTH_FILE!, 'utf8')) as { auths: Record<string, { auth: string }> };
    const host = new URL(server).host;
    assert.equal(Buffer.from(file.auths[host]!.auth, 'base64').toString(), `admin:${TEST_ADMIN_PASSWORD}`);
    assert.equal(statSync(env.REGISTRY_AUTH_FILE!).mode & 0o777, 0o600);
    const me = await wharf(['whoami', '--output', 'json']);
    assert.equal((JSON.parse(me.out) as { name: string; admin: boolean }).admin, true);
  });
  test('user, sa, key, role, repo and audit round trip with --output json', async () => {
    assert.equal((await wharf(['user', 'create', 'carol', '--password-stdin'], 'carol-password\n')).code, EXIT.ok);
    const users = JSON.parse((await wharf(['user', 'list', '--output', 'json'])).out) as { items: { name: string }[] };
    assert.deepEqual(users.items.map((u) => u.name), ['admin', 'carol']);
    assert.equal((await wharf(['sa', 'create', 'deployer', '--description', 'k8s'])).code, EXIT.ok);
    const key = JSON.parse((await wharf(['sa', 'key', 'create', 'deployer', '--expires-in-days', '30', '--output', 'json'])).out) as { key: string; id: string };
    assert.match(key.key, /^wharf_sa_/);
    const text = await wharf(['sa', 'key', 'list', 'deployer']);
    assert.match(text.out, new RegExp(key.id));
    assert.ok(!text.out.includes(key.key));
    const granted = await wharf(['role', 'grant', 'deployer', 'reader', 'ml/*', '--output', 'json']);
    assert.equal(granted.code, EXIT.ok, granted.err);
    const roles = JSON.parse((await wharf(['role', 'list', '--principal', 'deployer', '--output', 'json'])).out) as { items: { role: string; scope: string }[] };
    assert.deepEqual(roles.items.map((b) => `${b.role}@${b.scope}`), ['reader@ml/*']);
    const badRole = await wharf(['role', 'grant', 'deployer', 'owner', '*']);
    assert.equal(badRole.code, EXIT.usage, badRole.err);
    assert.equal((await wharf(['user', 'disable', 'carol'])).code, EXIT.ok);

    // the service account logs in with its key, like docker login would
    const saEnv = { REGISTRY_AUTH_FILE: join(dir, 'sa-auth.json') };
    writeFileSync(saEnv.REGISTRY_AUTH_FILE, '{"auths":{},"credHelpers":{"x":"y"}}');
    const saLogin = await wharf(['login', '-u', 'deployer', '--password-stdin'], key.key, saEnv);
    assert.equal(saLogin.code, EXIT.ok, saLogin.err);
    assert.deepEqual((JSON.parse(readFileSync(saEnv.REGISTRY_AUTH_FILE, 'utf8')) as { credHelpers: object }).credHelpers, { x: 'y' }, 'other keys kept');
    const denied = await wharf(['user', 'list'], undefined, saEnv);
    assert.equal(denied.code, EXIT.failure);
    assert.match(denied.err, /denied/);

    const audit = JSON.parse((await wharf(['audit', '--action', 'role.grant', '--output', 'json'])).out) as { items: { actor: string; target: string }[] };
    assert.equal(audit.items[0]!.actor, 'admin');
    assert.equal(audit.items[0]!.target, 'deployer');
    const human = await wharf(['audit', '--limit', '5']);
    assert.match(human.out, /^TIME\s+ACTOR\s+ACTION/);

    assert.equal((await wharf(['logout'])).code, EXIT.ok);
    assert.match((await wharf(['user', 'list'])).err, /not logged in/);
  });
});
