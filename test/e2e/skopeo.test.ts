/**
 * skopeo against a spawned registry (Wharf, or CNCF Distribution with WHARF_E2E_TARGET=distribution):
 * byte-exact round trips of OCI layouts (single image and a two-platform index), list-tags,
 * inspect --raw, delete, and copies between repositories of the same registry (cross-repo mount).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBlob, assertManifest, assertOciError } from '../support/assertions.js';
import { makeContainersEnv, type ContainersEnv } from '../support/containers-env.js';
import { have } from '../support/exec.js';
import {
  MT, parseJson, resolveLayoutTag, sha256, walkLayout, writeArtifactLayout, writeImageLayout, writeMultiArchLayout, type ImageLayout,
} from '../support/oci-layout.js';
import { RegistryClient } from '../support/registry-client.js';
import { e2eTarget, startRegistry, type RegistryProcess } from '../support/registry-process.js';
import { Skopeo } from '../support/skopeo.js';

const skip = have('skopeo') ? false : 'skopeo is not installed (bash scripts/install-test-deps.sh)';

describe('skopeo', { skip, timeout: 240_000 }, () => {
  let reg: RegistryProcess;
  let cenv: ContainersEnv;
  let skopeo: Skopeo;
  let client: RegistryClient;
  let work: string;
  let image: ImageLayout;

  before(async () => {
    reg = await startRegistry();
    cenv = makeContainersEnv({ insecureRegistries: [reg.host] });
    skopeo = new Skopeo(cenv);
    client = new RegistryClient({ url: reg.url, headers: reg.authHeaders() });
    work = mkdtempSync(join(tmpdir(), 'wharf-e2e-skopeo-'));
    image = writeImageLayout({ dir: join(work, 'src'), tag: 'v1' });
  });

  after(async () => {
    await reg?.stop();
    cenv?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const docker = (repoAndRef: string): string => `docker://${reg.host}/${repoAndRef}`;
  const failMsg = (what: string): string => `${what}\nserver output:\n${reg.output.slice(-4000)}`;

  test('copy an OCI layout in and out again: manifest and every blob byte-identical', async () => {
    await skopeo.copy(image.ref, docker('ns/repo:v1'));

    // What the registry serves, over raw HTTP.
    await assertManifest(client, 'ns/repo', 'v1', image.image.manifest, MT.manifest);
    await assertManifest(client, 'ns/repo', image.image.manifestDigest, image.image.manifest, MT.manifest);
    for (const [digest, bytes] of image.image.blobs) {
      if (digest === image.image.manifestDigest) continue;
      await assertBlob(client, 'ns/repo', digest, bytes);
    }

    // And back out through skopeo into a fresh layout.
    const out = join(work, 'out-single');
    await skopeo.copy(docker('ns/repo:v1'), `oci:${out}:v1`);
    const root = resolveLayoutTag(out, 'v1');
    assert.equal(root.digest, image.image.manifestDigest, failMsg('manifest digest changed in the round trip'));
    assert.equal(root.mediaType, MT.manifest);
    const pulled = walkLayout(out, root);
    assert.deepEqual([...pulled.keys()].sort(), [...image.image.blobs.keys()].sort(), 'set of blobs after the round trip');
    for (const [digest, bytes] of image.image.blobs) assert.ok(pulled.get(digest)?.equals(bytes), `blob ${digest} differs`);
  });

  test('multi-arch image index with --all: index digest and both platform manifests round-trip', async () => {
    const multi = writeMultiArchLayout({ dir: join(work, 'src-multi'), tag: 'multi' });
    await skopeo.copy(multi.ref, docker('ns/multi:multi'), ['--all']);

    await assertManifest(client, 'ns/multi', 'multi', multi.index, MT.index);
    for (const img of [multi.images.amd64, multi.images.arm64]) {
      await assertManifest(client, 'ns/multi', img.manifestDigest, img.manifest, MT.manifest);
      for (const l of img.layers) await assertBlob(client, 'ns/multi', l.digest, l.blob);
      await assertBlob(client, 'ns/multi', img.configDigest, img.config);
    }

    const out = join(work, 'out-multi');
    await skopeo.copy(docker('ns/multi:multi'), `oci:${out}:multi`, ['--all']);
    const root = resolveLayoutTag(out, 'multi');
    assert.equal(root.digest, multi.indexDigest, 'index digest after the round trip');
    assert.equal(root.mediaType, MT.index);
    const pulled = walkLayout(out, root);
    const expected = new Map<string, Buffer>([[multi.indexDigest, multi.index]]);
    for (const img of [multi.images.amd64, multi.images.arm64]) for (const [d, b] of img.blobs) expected.set(d, b);
    assert.deepEqual([...pulled.keys()].sort(), [...expected.keys()].sort(), 'set of blobs after the round trip');
    for (const [d, b] of expected) assert.ok(pulled.get(d)?.equals(b), `blob ${d} differs`);

    // Selecting one platform from the index (no --all) yields that platform's manifest, unchanged.
    const armOut = join(work, 'out-arm64');
    await skopeo.copy(docker('ns/multi:multi'), `oci:${armOut}:arm`, ['--override-arch', 'arm64', '--override-os', 'linux']);
    assert.equal(resolveLayoutTag(armOut, 'arm').digest, multi.images.arm64.manifestDigest, 'platform selected from the index');
  });

  test('list-tags lists every tag of the repository', async () => {
    for (const tag of ['v2', 'latest', 'a-b_c.d']) await skopeo.copy(docker('ns/repo:v1'), docker(`ns/repo:${tag}`));
    const r = await skopeo.ok(['list-tags', '--tls-verify=false', docker('ns/repo')]);
    const listed = parseJson<{ Repository: string; Tags: string[] }>(r.stdout);
    assert.equal(listed.Repository, `${reg.host}/ns/repo`);
    assert.deepEqual([...listed.Tags].sort(), ['a-b_c.d', 'latest', 'v1', 'v2'], failMsg('tags listed by skopeo'));
    // A retag does not change what the tags point at.
    await assertManifest(client, 'ns/repo', 'a-b_c.d', image.image.manifest, MT.manifest);
  });

  test('list-tags follows pagination (Link headers) through 250 tags', async (t) => {
    const tags = Array.from({ length: 250 }, (_, i) => `page-${String(i).padStart(3, '0')}`);
    await skopeo.copy(docker('ns/repo:v1'), docker(`ns/paged:${tags[0]}`));
    for (let i = 0; i < tags.length; i += 25) {
      await Promise.all(tags.slice(i, i + 25).map((t) => client.putManifest('ns/paged', t, image.image.manifest, MT.manifest)));
    }
    const r = await skopeo.ok(['list-tags', '--tls-verify=false', docker('ns/paged')]);
    const listed = parseJson<{ Tags: string[] }>(r.stdout).Tags;
    assert.equal(listed.length, tags.length, `skopeo listed ${listed.length} tags`);
    assert.deepEqual([...listed].sort(), tags);
    if (e2eTarget() === 'distribution') return t.skip('Distribution 2.8 ignores ?n= on tags/list');
    // A small page size over raw HTTP: a Link to the next page, and no tag twice or missing.
    const seen: string[] = [];
    let next: string | undefined = '/v2/ns/paged/tags/list?n=100';
    for (let pages = 0; next !== undefined && pages < 10; pages++) {
      const page = await client.request('GET', next);
      assert.equal(page.status, 200, `GET ${next} -> ${page.status}: ${page.body.toString('utf8')}`);
      seen.push(...parseJson<{ tags: string[] }>(page.body).tags);
      next = /<([^>]+)>;\s*rel="?next"?/.exec(page.headers.get('link') ?? '')?.[1];
    }
    assert.deepEqual(seen, tags, 'pages of n=100, in lexical order, cover every tag once');
  });

  test('an OCI 1.1 artifact with a subject, copied by skopeo, is listed by the referrers API', async (t) => {
    const subject = { mediaType: MT.manifest, digest: image.image.manifestDigest, size: image.image.manifest.length };
    const art = writeArtifactLayout({ subject, dir: join(work, 'src-artifact'), tag: 'sbom' });
    await skopeo.copy(art.ref, docker('ns/repo:sbom'));
    await assertManifest(client, 'ns/repo', art.manifestDigest, art.manifest, MT.manifest);
    await assertBlob(client, 'ns/repo', sha256(art.blob), art.blob);
    if (e2eTarget() === 'distribution') return t.skip('Distribution 2.8 has no referrers API');
    const r = await client.request('GET', `/v2/ns/repo/referrers/${image.image.manifestDigest}`);
    assert.equal(r.status, 200, `GET referrers -> ${r.status}: ${r.body.toString('utf8')}`);
    assert.equal(r.headers.get('content-type'), MT.index);
    const index = parseJson<{ manifests: { digest: string; artifactType?: string; size: number }[] }>(r.body);
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.artifactType, m.size]), [[art.manifestDigest, art.artifactType, art.manifest.length]]);
    const filtered = await client.request('GET', `/v2/ns/repo/referrers/${image.image.manifestDigest}?artifactType=application/x-other`);
    assert.equal(filtered.status, 200);
    assert.deepEqual(parseJson<{ manifests: unknown[] }>(filtered.body).manifests, [], 'artifactType filter');
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
  });

  test('inspect --raw returns the exact manifest bytes; inspect reports digest and layers', async () => {
    const raw = await skopeo.ok(['inspect', '--raw', '--tls-verify=false', docker('ns/repo:v1')]);
    assert.equal(sha256(raw.stdout.trimEnd()), image.image.manifestDigest, `inspect --raw output: ${raw.stdout}`);

    const info = parseJson<{ Digest: string; Layers: string[]; Architecture: string; Os: string }>(
      (await skopeo.ok(['inspect', '--tls-verify=false', docker('ns/repo:v1')])).stdout,
    );
    assert.equal(info.Digest, image.image.manifestDigest);
    assert.deepEqual(info.Layers, image.image.layers.map((l) => l.digest));
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');

    const cfg = await skopeo.ok(['inspect', '--raw', '--config', '--tls-verify=false', docker('ns/repo:v1')]);
    assert.equal(sha256(cfg.stdout.trimEnd()), image.image.configDigest, 'inspect --raw --config');
  });

  test('delete removes the manifest: GET by digest and by tag then 404 MANIFEST_UNKNOWN', async () => {
    const victim = writeImageLayout({ dir: join(work, 'src-victim'), tag: 'doomed' });
    await skopeo.copy(victim.ref, docker('ns/victim:doomed'));
    await assertManifest(client, 'ns/victim', 'doomed', victim.image.manifest, MT.manifest);

    await skopeo.ok(['delete', '--tls-verify=false', docker(`ns/victim@${victim.image.manifestDigest}`)]);

    const byDigest = await client.getManifest('ns/victim', victim.image.manifestDigest);
    assertOciError(byDigest, 404, 'MANIFEST_UNKNOWN', `GET /v2/ns/victim/manifests/${victim.image.manifestDigest} after delete`);
    const head = await client.request('HEAD', `/v2/ns/victim/manifests/${victim.image.manifestDigest}`);
    assertOciError(head, 404, 'MANIFEST_UNKNOWN', `HEAD /v2/ns/victim/manifests/${victim.image.manifestDigest} after delete`);
    const byTag = await client.getManifest('ns/victim', 'doomed');
    assert.equal(byTag.status, 404, `GET by tag after deleting the manifest -> ${byTag.status}: ${byTag.body.toString('utf8')}`);
    const insp = await skopeo.run(['inspect', '--raw', '--tls-verify=false', docker(`ns/victim@${victim.image.manifestDigest}`)]);
    assert.notEqual(insp.code, 0, 'skopeo inspect of a deleted manifest must fail');
    assert.match(insp.stderr, /manifest unknown|MANIFEST_UNKNOWN|not found/i);

    // The other repositories are untouched.
    await assertManifest(client, 'ns/repo', 'v1', image.image.manifest, MT.manifest);
  });

  test('copy between two repositories of the same registry (cross-repo blob mount)', async () => {
    const received = async (): Promise<number | undefined> => {
      if (e2eTarget() !== 'wharf') return undefined;
      const text = (await client.request('GET', '/metrics')).body.toString('utf8');
      return Number(/^wharf_blob_bytes_received_total (\d+)/m.exec(text)?.[1] ?? NaN);
    };
    const before = await received();
    await skopeo.copy(docker('ns/repo:v1'), docker('other/copy:v1'));
    const after = await received();
    if (before !== undefined && after !== undefined) {
      // skopeo mounts the layers (it re-uploads only the config): no layer byte crosses the wire again
      assert.ok(after - before <= image.image.config.length, `${after - before} blob bytes uploaded for a cross-repo copy (config is ${image.image.config.length})`);
    }
    await assertManifest(client, 'other/copy', 'v1', image.image.manifest, MT.manifest);
    for (const [digest, bytes] of image.image.blobs) {
      if (digest !== image.image.manifestDigest) await assertBlob(client, 'other/copy', digest, bytes);
    }

    // The mount itself, over raw HTTP: POST ?mount=&from= answers 201 with the blob's Location.
    const fresh = writeImageLayout({ dir: join(work, 'src-mount'), tag: 'm' });
    await skopeo.copy(fresh.ref, docker('ns/mount-src:m'));
    const layer = fresh.image.layers[0]!;
    const before404 = await client.headBlob('ns/mount-dst', layer.digest);
    assert.equal(before404.status, 404, 'blob must not be visible in a repository it was never pushed or mounted to');
    const mount = await client.request('POST', `/v2/ns/mount-dst/blobs/uploads/?mount=${layer.digest}&from=ns/mount-src`);
    assert.equal(mount.status, 201, `mount -> ${mount.status}: ${mount.body.toString('utf8')}`);
    assert.ok(mount.headers.get('location')?.includes(`/v2/ns/mount-dst/blobs/${layer.digest}`), `Location: ${mount.headers.get('location')}`);
    assert.equal(mount.headers.get('docker-content-digest'), layer.digest);
    await assertBlob(client, 'ns/mount-dst', layer.digest, layer.blob);

    // Copying the whole image across now needs only the remaining blobs and the manifest.
    await skopeo.copy(docker('ns/mount-src:m'), docker('ns/mount-dst:m'));
    await assertManifest(client, 'ns/mount-dst', 'm', fresh.image.manifest, MT.manifest);
  });
});
