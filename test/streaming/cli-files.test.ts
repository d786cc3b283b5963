/**
 * wharf ls / cat / cp / index as a user runs them: the built binary under bash (pipes, files)
 * against a real `wharf serve` with auth on; the image pushed by skopeo from an OCI layout into a
 * repository created with --index-on-push, so the index is built by the streaming.index job.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { makeContainersEnv, type ContainersEnv } from '../support/containers-env.js';
import { buildImage, MT, writeImageLayout, type Layer } from '../support/oci-layout.js';
import { REPO_ROOT, WHARF_MAIN, startRegistry, type RegistryProcess } from '../support/registry-process.js';
import { Skopeo } from '../support/skopeo.js';
import { mixedContent, tarOf } from './support.js';

const ADMIN = { username: 'admin', password: 'admin-password-files' };
let reg: RegistryProcess;
let dir: string;
let cenv: ContainersEnv;
const shards = Array.from({ length: 6 }, (_, i) => mixedContent(200_000 + i * 70_001, 100 + i));

async function sh(script: string): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: REPO_ROOT,
      env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}`, HOME: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json'), WHARF_SERVER: reg.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr });
    });
  });
}

function gzLayer(tar: Buffer): Layer {
  const blob = gzipSync(tar);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  return { blob, digest, diffId: `sha256:${createHash('sha256').update(tar).digest('hex')}`, descriptor: { mediaType: MT.layerGzip, digest, size: blob.length } };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-cli-files-'));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'wharf'), `#!/bin/sh\nexec ${process.execPath} ${WHARF_MAIN} "$@"\n`, { mode: 0o755 });
  reg = await startRegistry({ credentials: ADMIN });
  cenv = makeContainersEnv({ insecureRegistries: [reg.host] });
  const login = await sh(`wharf login -u admin --password-stdin <<< '${ADMIN.password}'`);
  assert.equal(login.code, 0, login.stderr);
  const create = await sh('wharf repo create team/model --index-on-push');
  assert.equal(create.code, 0, create.stderr);
  const base = await tarOf([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' },
    { name: 'usr/', type: 'directory' },
    { name: 'usr/bin/', type: 'directory' },
    { name: 'usr/bin/python3', content: mixedContent(90_000, 7), mode: 0o755 },
  ]);
  const models = await tarOf([{ name: 'models/', type: 'directory' }, ...shards.map((content, i) => ({ name: `models/shard-${i}.bin`, content }))]);
  const layout = writeImageLayout({ dir: join(dir, 'layout'), tag: 'v1', image: buildImage({ layers: [gzLayer(base), gzLayer(models)] }) });
  await new Skopeo(cenv).copy(layout.ref, `docker://${reg.host}/team/model:v1`, ['--dest-creds', `${ADMIN.username}:${ADMIN.password}`]);
});
after(async () => {
  await reg?.stop();
  cenv?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('wharf ls / cat / cp / index (built binary)', () => {
  test('index on push: the job indexes the pushed image; wharf ls lists the root', async () => {
    let r = await sh('wharf ls team/model:v1');
    for (let i = 0; i < 100 && r.code !== 0; i += 1) {
      await new Promise((res) => setTimeout(res, 100));
      r = await sh('wharf ls team/model:v1');
    }
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'etc/\nmodels/\nusr/\n');
    const l = await sh('wharf ls -l team/model:v1 /usr/bin');
    assert.match(l.stdout.toString(), /^-rwxr-xr-x\s+0\s+0\s+90000\s+2023-11-14 22:13:20\s+python3\n$/);
    const file = await sh('wharf ls -l team/model:v1 /usr/bin/python3');
    assert.match(file.stdout.toString(), /^-rwxr-xr-x\s+0\s+0\s+90000\s+2023-11-14 22:13:20\s+python3\n$/, 'a file is listed with its own entry');
    const json = await sh('wharf ls team/model:v1 /models --output json');
    assert.deepEqual(JSON.parse(json.stdout.toString()).entries.map((e: { size: number }) => e.size), shards.map((s) => s.length));
  });

  test('wharf cat writes the bytes to a pipe', async () => {
    assert.equal((await sh('wharf cat team/model:v1 /etc/os-release')).stdout.toString(), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n');
    const r = await sh('wharf cat team/model:v1 /models/shard-4.bin | sha256sum');
    assert.equal(r.stdout.toString().split(' ')[0], createHash('sha256').update(shards[4]!).digest('hex'));
  });

  test('wharf cp copies to a file or into a directory; a failed copy leaves nothing', async () => {
    mkdirSync(join(dir, 'out'));
    assert.equal((await sh(`wharf cp team/model:v1:/models/shard-2.bin ${dir}/out/`)).code, 0);
    assert.ok(readFileSync(join(dir, 'out', 'shard-2.bin')).equals(shards[2]!));
    assert.equal((await sh(`wharf cp team/model:v1:/etc/os-release ${dir}/out/release.txt`)).code, 0);
    assert.match(readFileSync(join(dir, 'out', 'release.txt'), 'utf8'), /bookworm/);
    const missing = await sh(`wharf cp team/model:v1:/etc/shadow ${dir}/out/shadow`);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no such file or directory in the image/);
    assert.equal(existsSync(join(dir, 'out', 'shadow')), false);
    assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['release.txt', 'shard-2.bin']);
    const usage = await sh(`wharf cp team/model:v1 ${dir}/out/x`);
    assert.notEqual(usage.code, 0);
  });

  test('wharf index reports the layers as indexed (built once, by the job)', async () => {
    const r = await sh('wharf index team/model:v1 --output json');
    assert.equal(r.code, 0, r.stderr);
    const images = JSON.parse(r.stdout.toString()).images;
    assert.deepEqual(images[0].layers.map((l: { state: string; built: boolean }) => [l.state, l.built]), [['indexed', false], ['indexed', false]]);
  });
});
