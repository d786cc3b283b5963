/**
 * Real clients against Wharf with authentication on (the default): a service account's API key
 * works as the password for skopeo (--creds / --dest-creds), podman login, and ctr --user, through
 * the Docker token flow; without credentials, or outside its role, they are refused. Wharf only
 * (Distribution here has no auth configured).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WharfClient } from '../../src/client/wharf-client.js';
import { Containerd } from '../support/containerd.js';
import { makeContainersEnv, type ContainersEnv } from '../support/containers-env.js';
import { have, run } from '../support/exec.js';
import { writeImageLayout, type ImageLayout } from '../support/oci-layout.js';
import { e2eTarget, startRegistry, type RegistryProcess } from '../support/registry-process.js';
import { Skopeo } from '../support/skopeo.js';

const skip = e2eTarget() !== 'wharf' ? 'Wharf only' : !have('skopeo') ? 'skopeo is not installed' : false;
const ADMIN = { username: 'admin', password: 'e2e-admin-password' };

describe('real clients with authentication on', { skip, timeout: 300_000 }, () => {
  let reg: RegistryProcess;
  let cenv: ContainersEnv;
  let skopeo: Skopeo;
  let work: string;
  let image: ImageLayout;
  let ciKey: string;
  let readerKey: string;

  before(async () => {
    reg = await startRegistry({ credentials: ADMIN });
    cenv = makeContainersEnv({ insecureRegistries: [reg.host] });
    skopeo = new Skopeo(cenv);
    work = mkdtempSync(join(tmpdir(), 'wharf-e2e-auth-'));
    image = writeImageLayout({ dir: join(work, 'src'), tag: 'v1' });
    const admin = new WharfClient({ server: reg.url, ...ADMIN });
    await admin.createServiceAccount({ name: 'ci', description: 'pushes ml/*' });
    await admin.grant({ principal: 'ci', role: 'writer', scope: 'ml/*' });
    ciKey = (await admin.createKey('ci')).key!;
    await admin.createServiceAccount({ name: 'cluster' });
    await admin.grant({ principal: 'cluster', role: 'reader', scope: 'ml/app' });
    readerKey = (await admin.createKey('cluster', { expiresInDays: 7 })).key!;
  });
  after(async () => {
    await reg?.stop();
    cenv?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const docker = (ref: string): string => `docker://${reg.host}/${ref}`;

  test('skopeo: push with --dest-creds (API key), inspect with --creds; refused without', async () => {
    const anon = await skopeo.run(['copy', '--dest-tls-verify=false', image.ref, docker('ml/app:v1')]);
    assert.notEqual(anon.code, 0, 'anonymous push must fail');
    assert.match(anon.stderr, /unauthorized|authentication required|401/i);
    await skopeo.copy(image.ref, docker('ml/app:v1'), ['--dest-creds', `ci:${ciKey}`]);
    const raw = await skopeo.ok(['inspect', '--tls-verify=false', '--raw', '--creds', `cluster:${readerKey}`, docker('ml/app:v1')]);
    assert.equal(raw.stdout.trim(), image.image.manifest.toString('utf8').trim());
    const outside = await skopeo.run(['copy', '--dest-tls-verify=false', '--dest-creds', `ci:${ciKey}`, image.ref, docker('other/app:v1')]);
    assert.notEqual(outside.code, 0, 'the writer of ml/* may not push elsewhere');
    const readerPush = await skopeo.run(['copy', '--dest-tls-verify=false', '--dest-creds', `cluster:${readerKey}`, image.ref, docker('ml/app:v2')]);
    assert.notEqual(readerPush.code, 0, 'a reader may not push');
    const wrongKey = await skopeo.run(['inspect', '--tls-verify=false', '--raw', '--creds', `cluster:${ciKey}`, docker('ml/app:v1')]);
    assert.notEqual(wrongKey.code, 0, 'a key works only with its own account name');
  });

  test('podman login with the API key, then pull; logout, and pull is refused', { skip: have('podman') ? false : 'podman not installed' }, async () => {
    const podman = (args: string[]) => run('podman', [...cenv.storageFlags, ...args], { env: cenv.env, timeoutMs: 120_000 });
    const login = await podman(['login', '--tls-verify=false', '-u', 'cluster', '-p', readerKey, reg.host]);
    assert.equal(login.code, 0, login.stderr);
    const pull = await podman(['pull', '--tls-verify=false', `${reg.host}/ml/app:v1`]);
    assert.equal(pull.code, 0, `${pull.stderr}\n${reg.output.slice(-2000)}`);
    assert.equal((await podman(['logout', reg.host])).code, 0);
    await podman(['rmi', '-a', '-f']);
    const anon = await podman(['pull', '--tls-verify=false', `${reg.host}/ml/app:v1`]);
    assert.notEqual(anon.code, 0);
  });

  test('ctr --user pulls with the service account key; without it, refused', async (t) => {
    if (!have('ctr') || !have('containerd')) return t.skip('containerd not installed');
    let cd: Containerd;
    try {
      cd = await Containerd.start();
    } catch (err) {
      return t.skip(`containerd cannot run here: ${(err as Error).message.slice(0, 200)}`);
    }
    try {
      const ref = `${reg.host}/ml/app:v1`;
      const anon = await cd.ctr(['images', 'pull', '--plain-http', '--snapshotter', 'native', ref]);
      assert.notEqual(anon.code, 0, 'anonymous pull must fail');
      await cd.ctrOk(['images', 'pull', '--plain-http', '--snapshotter', 'native', '--user', `cluster:${readerKey}`, ref]);
      assert.equal(await cd.imageDigest(ref), image.image.manifestDigest);
      // a new tag: pushing what is already there would need no write at all (ctr checks first)
      await cd.ctrOk(['images', 'tag', ref, `${reg.host}/ml/app:v9`]);
      const push = await cd.ctr(['images', 'push', '--plain-http', '--user', `cluster:${readerKey}`, `${reg.host}/ml/app:v9`]);
      assert.notEqual(push.code, 0, 'a reader cannot push');
    } finally {
      await cd.stop();
    }
  });

  test('a public repository is pullable anonymously; the audit log saw the pushes and the denials', async () => {
    const admin = new WharfClient({ server: reg.url, ...ADMIN });
    await admin.setRepositoryPublic('ml/app', true);
    await skopeo.ok(['inspect', '--tls-verify=false', '--raw', docker('ml/app:v1')]);
    const pushes = await admin.audit({ action: 'manifest.push', repository: 'ml/app' });
    assert.ok(pushes.items.some((e) => e.actor === 'ci' && e.target === 'tag:v1' && e.digest === image.image.manifestDigest));
    const denied = await admin.audit({ result: 'denied', actor: 'ci' });
    assert.ok(denied.items.length > 0, 'the push to other/app was recorded as denied');
  });
});
