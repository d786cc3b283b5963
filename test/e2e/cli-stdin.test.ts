/**
 * The CLI's standard-input paths as a user runs them: the built binary (dist/cli/main.js) under a
 * real shell, with here-strings and pipes exactly as the README writes them, against a real
 * `wharf serve` with authentication on. (An injected stdin once hid that the real binary could not
 * read standard input at all: `wharf user create alice --password-stdin <<< 'pw'` failed.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, WHARF_MAIN, startRegistry, type RegistryProcess } from '../support/registry-process.js';

const ADMIN = { username: 'admin', password: 'admin password with spaces' };
let reg: RegistryProcess;
let dir: string;

interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `script` in bash with `wharf` on PATH as the built binary, in a private HOME and auth file. */
async function sh(script: string): Promise<ShellResult> {
  const bin = join(dir, 'bin');
  return await new Promise<ShellResult>((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: REPO_ROOT,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json'), WHARF_SERVER: reg.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-cli-stdin-'));
  // `wharf` on PATH runs the built binary, as `npx wharf` does
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'wharf'), `#!/bin/sh\nexec ${process.execPath} ${WHARF_MAIN} "$@"\n`, { mode: 0o755 });
  reg = await startRegistry({ credentials: ADMIN });
});
after(async () => {
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('--password-stdin through the built binary', () => {
  test("README quick start: wharf login ... --password-stdin <<< 'pw', then wharf user create alice --password-stdin <<< 'pw'", async () => {
    const login = await sh(`wharf login ${new URL(reg.url).host} -u admin --password-stdin <<< ${quote(ADMIN.password)}`);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded: admin/);
    const create = await sh(`wharf user create alice --password-stdin <<< 'alices password'`);
    assert.equal(create.code, 0, create.stderr);
    assert.match(create.stdout, /created user alice/);
    // the here-string's newline is not part of the password: alice logs in with exactly it
    const other = join(dir, 'alice-auth.json');
    const alice = await sh(`printf %s 'alices password' | REGISTRY_AUTH_FILE=${quote(other)} wharf login -u alice --password-stdin`);
    assert.equal(alice.code, 0, alice.stderr);
    assert.match(alice.stdout, /Login Succeeded: alice/);
  });

  test('wharf user set-password NAME --password-stdin from a pipe; the old password stops working', async () => {
    assert.equal((await sh(`wharf user create bob --password-stdin <<< 'bob first password'`)).code, 0);
    const set = await sh(`echo 'bob second password' | wharf user set-password bob --password-stdin`);
    assert.equal(set.code, 0, set.stderr);
    const other = join(dir, 'bob-auth.json');
    const old = await sh(`REGISTRY_AUTH_FILE=${quote(other)} wharf login -u bob --password-stdin <<< 'bob first password' || echo "exit $?"`);
    assert.match(old.stdout, /exit 1/);
    assert.match(old.stderr, /invalid username or password/);
    const fresh = await sh(`REGISTRY_AUTH_FILE=${quote(other)} wharf login -u bob --password-stdin <<< 'bob second password'`);
    assert.equal(fresh.code, 0, fresh.stderr);
  });

  test('empty or oversized standard input is a usage error (exit 2) and creates nothing', async () => {
    const empty = await sh(`wharf user create carol --password-stdin < /dev/null || echo "exit $?"`);
    assert.match(empty.stdout, /exit 2/);
    assert.match(empty.stderr, /standard input is empty/);
    const huge = await sh(`head -c 100000 /dev/zero | tr '\\0' 'x' | wharf user create carol --password-stdin || echo "exit $?"`);
    assert.match(huge.stdout, /exit 2/);
    assert.match(huge.stderr, /larger than 4096 bytes/);
    const list = await sh('wharf user list --output json');
    assert.equal(list.code, 0, list.stderr);
    const names = (JSON.parse(list.stdout) as { items: { name: string }[] }).items.map((u) => u.name);
    assert.ok(!names.includes('carol'), names.join(','));
  });

  test('wharf policy dry-run REPO --file - reads the policy from a pipe', async () => {
    const policy = JSON.stringify([{ name: 'old', action: { type: 'Delete' }, condition: { tagState: 'untagged' } }]);
    const r = await sh(`wharf repo create ml/stdin >/dev/null && printf %s ${quote(policy)} | wharf policy dry-run ml/stdin --file - --json`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout), r.stdout);
    const bad = await sh(`printf 'not json' | wharf policy dry-run ml/stdin --file - || echo "exit $?"`);
    assert.match(bad.stdout, /exit 2/);
    assert.match(bad.stderr, /is not JSON/);
  });
});
