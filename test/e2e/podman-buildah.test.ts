/**
 * Real build/pull/push clients against a spawned registry: buildah (build from scratch, push),
 * podman (pull, push, platform selection from an index) and containerd's ctr (pull and push with
 * digests preserved) under a private containerd daemon. podman/buildah may re-serialize manifests,
 * so their checks compare layer diff_ids; skopeo and ctr keep bytes, so theirs compare digests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBlob, assertManifest } from '../support/assertions.js';
import { Containerd } from '../support/containerd.js';
import { makeContainersEnv, type ContainersEnv } from '../support/containers-env.js';
import { describe as describeExec, have, run, type ExecResult } from '../support/exec.js';
import { MT, parseJson, readTar, sha256, writeImageLayout, writeMultiArchLayout, type ImageLayout, type MultiArchLayout } from '../support/oci-layout.js';
import { RegistryClient } from '../support/registry-client.js';
import { startRegistry, type RegistryProcess } from '../support/registry-process.js';
import { Skopeo } from '../support/skopeo.js';

interface ImageConfig {
  architecture: string;
  rootfs: { diff_ids: string[] };
  config?: { Labels?: Record<string, string> };
}
interface ManifestJson {
  config: { digest: string };
  layers: { digest: string; mediaType: string }[];
}

let reg: RegistryProcess;
let client: RegistryClient;
let work: string;

before(async () => {
  reg = await startRegistry();
  client = new RegistryClient({ url: reg.url, headers: reg.authHeaders() });
  work = mkdtempSync(join(tmpdir(), 'wharf-e2e-clients-'));
});
after(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The image config the registry serves for repo:ref (via the manifest), with the manifest. */
async function registryConfig(repo: string, ref: string): Promise<{ manifest: ManifestJson; config: ImageConfig; digest: string }> {
  const m = await client.getManifest(repo, ref);
  assert.equal(m.status, 200, `GET /v2/${repo}/manifests/${ref} -> ${m.status}: ${m.body.toString('utf8')}`);
  const manifest = parseJson<ManifestJson>(m.body);
  const c = await client.getBlob(repo, manifest.config.digest);
  assert.equal(c.status, 200, `config blob ${manifest.config.digest} -> ${c.status}`);
  assert.equal(sha256(c.body), manifest.config.digest);
  return { manifest, config: parseJson<ImageConfig>(c.body), digest: sha256(m.body) };
}

describe('buildah and podman', { skip: have('buildah') && have('podman') ? false : 'buildah/podman not installed', timeout: 240_000 }, () => {
  let builder: ContainersEnv; // buildah's storage
  let puller: ContainersEnv; // podman's storage: separate, so a pull really fetches
  let skopeo: Skopeo;
  let builtDiffIds: string[];
  let fileContent: Buffer;
  const buildah = async (args: string[]): Promise<ExecResult> => await ok('buildah', [...builder.storageFlags, ...args], builder);
  const podman = async (args: string[]): Promise<ExecResult> => await ok('podman', [...puller.storageFlags, ...args], puller);
  async function ok(cmd: string, args: string[], cenv: ContainersEnv): Promise<ExecResult> {
    const r = await run(cmd, args, { env: { ...cenv.env, BUILDAH_ISOLATION: 'chroot' }, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`${describeExec(r)}\nserver output: ${reg.output.slice(-3000)}`);
    return r;
  }

  before(() => {
    builder = makeContainersEnv({ insecureRegistries: [reg.host] });
    puller = makeContainersEnv({ insecureRegistries: [reg.host] });
    skopeo = new Skopeo(puller);
  });
  after(() => {
    builder?.dispose();
    puller?.dispose();
  });

  test('buildah from scratch + copy + commit + push; the registry serves the image intact', async () => {
    const ctx = join(work, 'ctx');
    mkdirSync(ctx, { recursive: true });
    fileContent = randomBytes(256 * 1024);
    writeFileSync(join(ctx, 'payload.bin'), fileContent);
    writeFileSync(join(ctx, 'hello.txt'), 'hello from wharf e2e\n');

    const ctr = (await buildah(['from', '--signature-policy', builder.policy, 'scratch'])).stdout.trim();
    await buildah(['copy', ctr, join(ctx, 'payload.bin'), '/payload.bin']);
    await buildah(['copy', ctr, join(ctx, 'hello.txt'), '/etc/hello.txt']);
    await buildah(['config', '--label', 'org.example.e2e=wharf', '--arch', 'amd64', '--os', 'linux', ctr]);
    await buildah(['commit', '--signature-policy', builder.policy, ctr, 'localhost/e2e/built:v1']);
    const inspected = parseJson<{ OCIv1: ImageConfig }>((await buildah(['inspect', '--type', 'image', 'localhost/e2e/built:v1'])).stdout);
    builtDiffIds = inspected.OCIv1.rootfs.diff_ids;
    assert.ok(builtDiffIds.length >= 1, 'buildah image has layers');

    const digestFile = join(work, 'built.digest');
    await buildah(['push', '--tls-verify=false', '--signature-policy', builder.policy, '--digestfile', digestFile,
      'localhost/e2e/built:v1', `docker://${reg.host}/ns/built:v1`]);
    const pushedDigest = readFileSync(digestFile, 'utf8').trim();

    const { manifest, config, digest } = await registryConfig('ns/built', 'v1');
    assert.equal(digest, pushedDigest, 'manifest served by tag hashes to the digest buildah pushed');
    assert.deepEqual(config.rootfs.diff_ids, builtDiffIds, 'diff_ids in the pushed config');
    assert.equal(config.config?.Labels?.['org.example.e2e'], 'wharf');
    // The layer blobs are intact and contain the files (decompressing each must give its diff_id).
    const files = new Map<string, Buffer>();
    for (const [i, l] of manifest.layers.entries()) {
      const blob = await client.getBlob('ns/built', l.digest);
      assert.equal(blob.status, 200, `layer ${l.digest} -> ${blob.status}`);
      assert.equal(sha256(blob.body), l.digest, `layer ${l.digest} content`);
      for (const [name, content] of readTar(blob.body)) files.set(name, content);
      assert.ok(builtDiffIds[i], 'a diff_id per layer');
    }
    assert.ok(files.get('payload.bin')?.equals(fileContent), `payload.bin in the pushed layers (have: ${[...files.keys()].join(', ')})`);
    assert.equal(files.get('etc/hello.txt')?.toString('utf8'), 'hello from wharf e2e\n');
  });

  test('podman pull gets the same layer diff_ids and digest', async (t) => {
    if (!builtDiffIds) return t.skip('the buildah push test did not run');
    await podman(['pull', '--tls-verify=false', `${reg.host}/ns/built:v1`]);
    const info = parseJson<{ Digest: string; RootFS: { Layers: string[] }; Labels: Record<string, string> }[]>(
      (await podman(['inspect', '--type', 'image', `${reg.host}/ns/built:v1`])).stdout,
    )[0]!;
    assert.deepEqual(info.RootFS.Layers, builtDiffIds, 'diff_ids after podman pull');
    assert.equal(info.Labels['org.example.e2e'], 'wharf');
    const served = await registryConfig('ns/built', 'v1');
    assert.equal(info.Digest, served.digest, 'podman records the manifest digest the registry served');
  });

  test('podman push to another repository keeps the diff_ids', async (t) => {
    if (!builtDiffIds) return t.skip('the buildah push test did not run');
    await podman(['push', '--tls-verify=false', '--signature-policy', puller.policy, `${reg.host}/ns/built:v1`, `docker://${reg.host}/team/pushed:v1`]);
    const { config, manifest } = await registryConfig('team/pushed', 'v1');
    assert.deepEqual(config.rootfs.diff_ids, builtDiffIds, 'diff_ids after podman push');
    for (const l of manifest.layers) await assertBlob(client, 'team/pushed', l.digest);
    const insp = parseJson<{ rootfs: { diff_ids: string[] } }>((await skopeo.ok(['inspect', '--config', '--tls-verify=false', `docker://${reg.host}/team/pushed:v1`])).stdout);
    assert.deepEqual(insp.rootfs.diff_ids, builtDiffIds, 'skopeo inspect --config');
  });

  test('buildah push --format docker (schema 2) is served as such; podman pulls it by digest', async (t) => {
    if (!builtDiffIds) return t.skip('the buildah push test did not run');
    const digestFile = join(work, 'docker.digest');
    await buildah(['push', '--tls-verify=false', '--signature-policy', builder.policy, '--format', 'docker', '--digestfile', digestFile,
      'localhost/e2e/built:v1', `docker://${reg.host}/ns/built-docker:v1`]);
    const digest = readFileSync(digestFile, 'utf8').trim();
    const m = await client.getManifest('ns/built-docker', 'v1');
    assert.equal(m.status, 200, `GET manifest -> ${m.status}: ${m.body.toString('utf8')}`);
    assert.equal(m.headers.get('content-type'), MT.dockerManifest, 'Content-Type of a Docker schema 2 manifest');
    assert.equal(sha256(m.body), digest);
    const head = await client.request('HEAD', `/v2/ns/built-docker/manifests/${digest}`, { headers: { accept: MT.dockerManifest } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(m.body.length), 'HEAD Content-Length');
    assert.equal(head.headers.get('docker-content-digest'), digest);
    const { config } = await registryConfig('ns/built-docker', 'v1');
    assert.deepEqual(config.rootfs.diff_ids, builtDiffIds, 'diff_ids in the Docker-format config');

    await podman(['pull', '--tls-verify=false', `${reg.host}/ns/built-docker@${digest}`]);
    const info = parseJson<{ RepoDigests: string[]; RootFS: { Layers: string[] } }[]>(
      (await podman(['inspect', '--type', 'image', `${reg.host}/ns/built-docker@${digest}`])).stdout,
    )[0]!;
    // (same config as the OCI image pulled before, so podman files both manifests under one image)
    const ref = `${reg.host}/ns/built-docker@${digest}`;
    assert.ok(info.RepoDigests.includes(ref), `podman RepoDigests ${info.RepoDigests.join(', ')} lack ${ref}`);
    assert.deepEqual(info.RootFS.Layers, builtDiffIds, 'diff_ids after podman pull by digest');
  });

  test('podman pull --arch arm64 picks the arm64 manifest out of an image index', async () => {
    const multi = writeMultiArchLayout({ dir: join(work, 'multi-podman'), tag: 'multi' });
    await skopeo.copy(multi.ref, `docker://${reg.host}/ns/pmulti:multi`, ['--all']);
    await podman(['pull', '--tls-verify=false', '--arch', 'arm64', '--os', 'linux', `${reg.host}/ns/pmulti:multi`]);
    const info = parseJson<{ Architecture: string; RootFS: { Layers: string[] } }[]>(
      (await podman(['inspect', '--type', 'image', `${reg.host}/ns/pmulti:multi`])).stdout,
    )[0]!;
    assert.equal(info.Architecture, 'arm64');
    assert.deepEqual(info.RootFS.Layers, multi.images.arm64.layers.map((l) => l.diffId));
  });
});

describe('containerd ctr', { skip: have('ctr') && have('containerd') ? false : 'containerd/ctr not installed', timeout: 180_000 }, () => {
  let cd: Containerd | undefined;
  let skipReason: string | undefined;
  let cenv: ContainersEnv;
  let image: ImageLayout;
  let multi: MultiArchLayout;

  before(async () => {
    if (process.getuid?.() !== 0) {
      skipReason = 'a private containerd daemon needs root here';
      return;
    }
    try {
      cd = await Containerd.start();
    } catch (err) {
      skipReason = `containerd cannot run on this machine: ${(err as Error).message}`;
      return;
    }
    cenv = makeContainersEnv({ insecureRegistries: [reg.host] });
    const skopeo = new Skopeo(cenv);
    image = writeImageLayout({ dir: join(work, 'ctr-src'), tag: 'v1' });
    multi = writeMultiArchLayout({ dir: join(work, 'ctr-multi'), tag: 'm' });
    await skopeo.copy(image.ref, `docker://${reg.host}/ns/forctr:v1`);
    await skopeo.copy(multi.ref, `docker://${reg.host}/ns/forctr:m`, ['--all']);
  });
  after(async () => {
    await cd?.stop();
    cenv?.dispose();
  });

  test('ctr pull --plain-http of a skopeo-pushed image, then push to a new repository: bytes preserved', async (t) => {
    if (!cd) return t.skip(skipReason);
    const src = `${reg.host}/ns/forctr:v1`;
    await cd.ctrOk(['images', 'pull', '--plain-http', '--snapshotter', 'native', src]);
    assert.equal(await cd.imageDigest(src), image.image.manifestDigest, 'digest containerd resolved and pulled');
    // containerd checks every blob's digest while fetching; and has all of them now.
    const content = (await cd.ctrOk(['content', 'ls', '-q'])).stdout;
    for (const d of image.image.blobs.keys()) assert.ok(content.includes(d), `containerd content store has ${d}`);

    const dst = `${reg.host}/ctr/pushed:v1`;
    await cd.ctrOk(['images', 'tag', src, dst]);
    await cd.ctrOk(['images', 'push', '--plain-http', dst]);
    await assertManifest(client, 'ctr/pushed', 'v1', image.image.manifest, MT.manifest);
    for (const [d, b] of image.image.blobs) if (d !== image.image.manifestDigest) await assertBlob(client, 'ctr/pushed', d, b);
  });

  test('ctr pull --all-platforms of an index and push it back: index and both manifests preserved', async (t) => {
    if (!cd) return t.skip(skipReason);
    const src = `${reg.host}/ns/forctr:m`;
    await cd.ctrOk(['images', 'pull', '--plain-http', '--all-platforms', '--snapshotter', 'native', src]);
    assert.equal(await cd.imageDigest(src), multi.indexDigest);
    await cd.ctrOk(['images', 'push', '--plain-http', `${reg.host}/ctr/multi:m`, src]);
    await assertManifest(client, 'ctr/multi', 'm', multi.index, MT.index);
    for (const img of [multi.images.amd64, multi.images.arm64]) {
      await assertManifest(client, 'ctr/multi', img.manifestDigest, img.manifest, MT.manifest);
      for (const l of img.layers) await assertBlob(client, 'ctr/multi', l.digest, l.blob);
    }
  });
});
