import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { digestOf } from '../../src/domain/digest.js';
import { OCI_INDEX, OCI_MANIFEST, pushBlob, pushImage, putManifest, startHarness, type Harness } from './harness.js';
import {
  assertError,
  blobDesc,
  imageManifest,
  indexManifest,
  listen,
  manifestDesc,
  manifestStatus,
  rawRequest,
  tagDigest,
  tagsOf,
  type Desc,
} from './support.js';

const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

describe('/v2/<name>/manifests/<reference>', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await startHarness();
    port = await listen(h.app);
  });
  after(async () => h.close());

  /** A fresh config + layer in `repo`, for hand-built manifests. */
  async function parts(repo: string): Promise<{ config: Desc; layer: Desc }> {
    const config = await blobDesc(h.app, repo, `{"architecture":"amd64","os":"linux","n":${Math.random()}}`, OCI_CONFIG);
    const layer = await blobDesc(h.app, repo, `layer ${Math.random()}`, OCI_LAYER);
    return { config, layer };
  }

  test('PUT by tag answers 201 with Location and digest; GET and HEAD by tag and digest return the exact bytes', async () => {
    const { config, layer } = await parts('m/basic');
    // odd but valid formatting: the registry must keep these bytes, not re-serialise them
    const body = Buffer.from(`{\n  "schemaVersion": 2,  "mediaType": "${OCI_MANIFEST}",\n "config": ${JSON.stringify(config)}, "layers": [${JSON.stringify(layer)}]}\n`);
    const digest = digestOf(body);
    const put = await putManifest(h.app, 'm/basic', 'v1', body);
    assert.equal(put.statusCode, 201, put.body);
    assert.equal(put.headers.location, `/v2/m/basic/manifests/${digest}`);
    assert.equal(put.headers['docker-content-digest'], digest);
    for (const ref of ['v1', digest]) {
      const get = await h.app.inject({ method: 'GET', url: `/v2/m/basic/manifests/${ref}` });
      assert.equal(get.statusCode, 200);
      assert.deepEqual(get.rawPayload, body);
      assert.equal(get.headers['content-type'], OCI_MANIFEST);
      assert.equal(get.headers['docker-content-digest'], digest);
      assert.equal(get.headers['content-length'], String(body.length));
      const head = await h.app.inject({ method: 'HEAD', url: `/v2/m/basic/manifests/${ref}` });
      assert.equal(head.statusCode, 200);
      assert.equal(head.rawPayload.length, 0);
      assert.equal(head.headers['content-type'], OCI_MANIFEST);
      assert.equal(head.headers['docker-content-digest'], digest);
      assert.equal(head.headers['content-length'], String(body.length));
    }
  });

  test('Content-Type of a GET is the stored media type, also when the body has no mediaType field', async () => {
    const { config, layer } = await parts('m/ctype');
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [layer] }));
    assert.equal((await putManifest(h.app, 'm/ctype', 'bare', body, OCI_MANIFEST)).statusCode, 201);
    const get = await h.app.inject({ method: 'GET', url: '/v2/m/ctype/manifests/bare' });
    assert.equal(get.headers['content-type'], OCI_MANIFEST);
  });

  test('PUT by sha256 digest stores an untagged manifest; content must match the digest', async () => {
    const { config, layer } = await parts('m/bydigest');
    const body = imageManifest(config, [layer]);
    const digest = digestOf(body);
    const put = await putManifest(h.app, 'm/bydigest', digest, body);
    assert.equal(put.statusCode, 201, put.body);
    assert.equal(put.headers['docker-content-digest'], digest);
    assert.equal(put.headers.location, `/v2/m/bydigest/manifests/${digest}`);
    assert.deepEqual((await h.app.inject({ method: 'GET', url: `/v2/m/bydigest/manifests/${digest}` })).rawPayload, body);
    assert.deepEqual(await tagsOf(h.app, 'm/bydigest'), []);

    const other = imageManifest(config, [layer], { annotations: { a: 'b' } });
    const wrong = await putManifest(h.app, 'm/bydigest', digest.replace(/.$/, (c) => (c === '0' ? '1' : '0')), other);
    assertError(wrong, 400, 'DIGEST_INVALID');
    assert.equal(await manifestStatus(h.app, 'm/bydigest', digestOf(other)), 404);
  });

  test('PUT by sha512 digest: stored and served under the sha512 digest; a mismatch is DIGEST_INVALID', async () => {
    const { config, layer } = await parts('m/sha512');
    const body = imageManifest(config, [layer]);
    const digest = digestOf(body, 'sha512');
    const put = await putManifest(h.app, 'm/sha512', digest, body);
    assert.equal(put.statusCode, 201, put.body);
    assert.equal(put.headers['docker-content-digest'], digest);
    assert.equal(put.headers.location, `/v2/m/sha512/manifests/${digest}`);
    const get = await h.app.inject({ method: 'GET', url: `/v2/m/sha512/manifests/${digest}` });
    assert.equal(get.statusCode, 200);
    assert.deepEqual(get.rawPayload, body);
    assert.equal(get.headers['docker-content-digest'], digest);

    const other = imageManifest(config, [layer], { annotations: { x: 'y' } });
    assertError(await putManifest(h.app, 'm/sha512', digest, other), 400, 'DIGEST_INVALID');
    assert.equal(await manifestStatus(h.app, 'm/sha512', digestOf(other, 'sha512')), 404);
  });

  test('an OCI index over pushed manifests is accepted; a child not pushed is MANIFEST_BLOB_UNKNOWN', async () => {
    const amd = await pushImage(h.app, 'm/index', 'amd64');
    const arm = await pushImage(h.app, 'm/index', 'arm64');
    const children = [
      manifestDesc(amd.manifest, OCI_MANIFEST, { platform: { architecture: 'amd64', os: 'linux' } }),
      manifestDesc(arm.manifest, OCI_MANIFEST, { platform: { architecture: 'arm64', os: 'linux' } }),
    ];
    const index = indexManifest(children);
    const put = await putManifest(h.app, 'm/index', 'multi', index, OCI_INDEX);
    assert.equal(put.statusCode, 201, put.body);
    const get = await h.app.inject({ method: 'GET', url: '/v2/m/index/manifests/multi' });
    assert.equal(get.headers['content-type'], OCI_INDEX);
    assert.deepEqual(get.rawPayload, index);

    const ghost = Buffer.from('{"schemaVersion":2,"never":"pushed"}');
    const bad = indexManifest([...children, manifestDesc(ghost)], { annotations: { v: '2' } });
    assertError(await putManifest(h.app, 'm/index', 'multi', bad, OCI_INDEX), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal(await tagDigest(h.app, 'm/index', 'multi'), digestOf(index));
    assert.equal(await manifestStatus(h.app, 'm/index', digestOf(bad)), 404);
  });

  test('a manifest referencing a missing blob, or a blob only another repository has, is MANIFEST_BLOB_UNKNOWN', async () => {
    const old = await pushImage(h.app, 'm/refs', 'latest');
    const { config, layer } = await parts('m/refs');
    const missing = { mediaType: OCI_LAYER, digest: digestOf(Buffer.from('never uploaded')), size: 14 };
    assertError(await putManifest(h.app, 'm/refs', 'latest', imageManifest(config, [layer, missing])), 400, 'MANIFEST_BLOB_UNKNOWN');
    const missingConfig = { ...config, digest: digestOf(Buffer.from('no config')) };
    assertError(await putManifest(h.app, 'm/refs', 'latest', imageManifest(missingConfig, [layer])), 400, 'MANIFEST_BLOB_UNKNOWN');

    const elsewhere = await blobDesc(h.app, 'm/other-repo', 'only in the other repository', OCI_LAYER);
    assertError(await putManifest(h.app, 'm/refs', 'latest', imageManifest(config, [elsewhere])), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal(await tagDigest(h.app, 'm/refs', 'latest'), old.digest);
    assert.deepEqual(await tagsOf(h.app, 'm/refs'), ['latest']);
  });

  test('a reference whose declared size is wrong is MANIFEST_INVALID', async () => {
    const old = await pushImage(h.app, 'm/size', 'latest');
    const { config, layer } = await parts('m/size');
    const body = imageManifest(config, [{ ...layer, size: layer.size + 1 }]);
    assertError(await putManifest(h.app, 'm/size', 'latest', body), 400, 'MANIFEST_INVALID');
    assert.equal(await tagDigest(h.app, 'm/size', 'latest'), old.digest);
    assert.equal(await manifestStatus(h.app, 'm/size', digestOf(body)), 404);
  });

  test('malformed, schema 1, unknown and mismatched manifests are MANIFEST_INVALID and change nothing', async () => {
    const old = await pushImage(h.app, 'm/bad', 'latest');
    const { config, layer } = await parts('m/bad');
    const valid = JSON.parse(imageManifest(config, [layer]).toString()) as Record<string, unknown>;
    const cases: [string, string, string][] = [
      ['not JSON', '{"schemaVersion": 2,', OCI_MANIFEST],
      ['a JSON array', '[]', OCI_MANIFEST],
      ['empty body', '', OCI_MANIFEST],
      ['schema 1 content type', JSON.stringify({ ...valid, mediaType: undefined }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
      ['schema 1 body', JSON.stringify({ schemaVersion: 1, name: 'm/bad', tag: 'latest', fsLayers: [] }), 'application/json'],
      ['schemaVersion 3', JSON.stringify({ ...valid, schemaVersion: 3 }), OCI_MANIFEST],
      ['unknown media type', JSON.stringify({ ...valid, mediaType: 'application/vnd.example.thing+json' }), 'application/vnd.example.thing+json'],
      ['Content-Type differs from mediaType', JSON.stringify(valid), OCI_INDEX],
      ['layers not an array', JSON.stringify({ ...valid, layers: {} }), OCI_MANIFEST],
      ['descriptor with a bad digest', JSON.stringify({ ...valid, layers: [{ ...layer, digest: 'sha256:xyz' }] }), OCI_MANIFEST],
      ['negative size', JSON.stringify({ ...valid, layers: [{ ...layer, size: -1 }] }), OCI_MANIFEST],
      ['index with layers', JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], layers: [] }), OCI_INDEX],
      ['annotation not a string', JSON.stringify({ ...valid, annotations: { a: 1 } }), OCI_MANIFEST],
    ];
    for (const [what, body, ct] of cases) {
      const res = await putManifest(h.app, 'm/bad', 'latest', body, ct);
      assertError(res, 400, 'MANIFEST_INVALID');
      assert.equal(await tagDigest(h.app, 'm/bad', 'latest'), old.digest, `${what} moved the tag`);
      if (body.length > 0) assert.equal(await manifestStatus(h.app, 'm/bad', digestOf(Buffer.from(body))), 404, `${what} was stored`);
    }
    assert.deepEqual(await tagsOf(h.app, 'm/bad'), ['latest']);
  });

  test('a manifest over 4 MiB is MANIFEST_INVALID and not stored, with or without Content-Length', async () => {
    const { config, layer } = await parts('m/huge');
    const body = imageManifest(config, [layer], { annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } });
    assertError(await putManifest(h.app, 'm/huge', 'big', body), 400, 'MANIFEST_INVALID');
    const streamed = await h.app.inject({
      method: 'PUT',
      url: '/v2/m/huge/manifests/big',
      headers: { 'content-type': OCI_MANIFEST },
      payload: Readable.from([body.subarray(0, 3_000_000), body.subarray(3_000_000)]),
    });
    assertError(streamed, 400, 'MANIFEST_INVALID');
    assert.equal(await manifestStatus(h.app, 'm/huge', digestOf(body)), 404);
    assert.equal(await tagDigest(h.app, 'm/huge', 'big'), undefined);
    assert.deepEqual(await tagsOf(h.app, 'm/huge'), []);
  });

  test('invalid tags are TAG_INVALID on PUT; on GET and HEAD they name no manifest (404 MANIFEST_UNKNOWN, as the OCI conformance suite expects); 128 characters is the longest tag', async () => {
    const img = await pushImage(h.app, 'm/tags', 'ok');
    for (const tag of ['-bad', '.bad', '.INVALID_MANIFEST_NAME', 'a'.repeat(129), 'ta+g', 'tag%2Fx']) {
      assertError(await putManifest(h.app, 'm/tags', tag, img.manifest), 400, 'TAG_INVALID');
      assertError(await h.app.inject({ method: 'GET', url: `/v2/m/tags/manifests/${tag}` }), 404, 'MANIFEST_UNKNOWN');
      const head = await h.app.inject({ method: 'HEAD', url: `/v2/m/tags/manifests/${tag}` });
      assert.equal(head.statusCode, 404);
      assert.equal(head.body, '');
    }
    assert.deepEqual(await tagsOf(h.app, 'm/tags'), ['ok']);
    const longest = `_${'A'.repeat(127)}`;
    assert.equal((await putManifest(h.app, 'm/tags', longest, img.manifest)).statusCode, 201);
    assert.equal(await tagDigest(h.app, 'm/tags', longest), img.digest);
  });

  test('invalid repository names are NAME_INVALID (over a real socket too, where paths are not normalised)', async () => {
    const body = '{}';
    for (const name of ['UPPER', 'a'.repeat(256), 'a//b', 'a/', '_a', 'a/-b', 'a%2Fb']) {
      assertError(await putManifest(h.app, name, 'latest', body), 400, 'NAME_INVALID');
      assertError(await h.app.inject({ method: 'GET', url: `/v2/${name}/manifests/latest` }), 400, 'NAME_INVALID');
    }
    for (const path of ['/v2/../etc/manifests/latest', '/v2/%2e%2e/manifests/latest', '/v2/a/%2e%2e/b/manifests/latest', '/v2/a/../b/manifests/latest']) {
      assertError(await rawRequest(port, 'GET', path), 400, 'NAME_INVALID');
      assertError(await rawRequest(port, 'PUT', path, { 'content-type': OCI_MANIFEST }, body), 400, 'NAME_INVALID');
    }
    const longest = 'a'.repeat(255);
    assert.equal((await h.app.inject({ method: 'GET', url: `/v2/${longest}/manifests/latest` })).statusCode, 404);
  });

  test('GET of an unknown tag or digest is MANIFEST_UNKNOWN; so is a malformed digest (it names no manifest)', async () => {
    await pushImage(h.app, 'm/unknown', 'here');
    assertError(await h.app.inject({ method: 'GET', url: '/v2/m/unknown/manifests/absent' }), 404, 'MANIFEST_UNKNOWN');
    assertError(await h.app.inject({ method: 'GET', url: `/v2/m/unknown/manifests/${digestOf(Buffer.from('x'))}` }), 404, 'MANIFEST_UNKNOWN');
    assertError(await h.app.inject({ method: 'GET', url: '/v2/m/never-pushed/manifests/here' }), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await h.app.inject({ method: 'HEAD', url: '/v2/m/unknown/manifests/absent' })).statusCode, 404);
    for (const ref of ['sha256:xyz', `md5:${'a'.repeat(32)}`, `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(64)}`]) {
      assertError(await h.app.inject({ method: 'GET', url: `/v2/m/unknown/manifests/${ref}` }), 404, 'MANIFEST_UNKNOWN');
    }
  });

  test('DELETE by digest answers 202 and removes the manifest and every tag on it', async () => {
    const img = await pushImage(h.app, 'm/del', 'one');
    assert.equal((await putManifest(h.app, 'm/del', 'two', img.manifest)).statusCode, 201);
    const keep = await pushImage(h.app, 'm/del', 'keep');
    const del = await h.app.inject({ method: 'DELETE', url: `/v2/m/del/manifests/${img.digest}` });
    assert.equal(del.statusCode, 202);
    assertError(await h.app.inject({ method: 'GET', url: `/v2/m/del/manifests/${img.digest}` }), 404, 'MANIFEST_UNKNOWN');
    assertError(await h.app.inject({ method: 'GET', url: '/v2/m/del/manifests/one' }), 404, 'MANIFEST_UNKNOWN');
    assert.deepEqual(await tagsOf(h.app, 'm/del'), ['keep']);
    assert.equal(await tagDigest(h.app, 'm/del', 'keep'), keep.digest);
    assertError(await h.app.inject({ method: 'DELETE', url: `/v2/m/del/manifests/${img.digest}` }), 404, 'MANIFEST_UNKNOWN');
    assertError(await h.app.inject({ method: 'DELETE', url: `/v2/m/nowhere/manifests/${img.digest}` }), 404, 'MANIFEST_UNKNOWN');
    assertError(await h.app.inject({ method: 'DELETE', url: '/v2/m/del/manifests/sha256:bad' }), 400, 'DIGEST_INVALID');
  });

  test('DELETE by tag removes only the tag', async () => {
    const img = await pushImage(h.app, 'm/deltag', 'a');
    assert.equal((await putManifest(h.app, 'm/deltag', 'b', img.manifest)).statusCode, 201);
    assert.equal((await h.app.inject({ method: 'DELETE', url: '/v2/m/deltag/manifests/a' })).statusCode, 202);
    assert.equal(await tagDigest(h.app, 'm/deltag', 'a'), undefined);
    assert.equal(await tagDigest(h.app, 'm/deltag', 'b'), img.digest);
    assert.equal(await manifestStatus(h.app, 'm/deltag', img.digest), 200);
    assert.deepEqual(await tagsOf(h.app, 'm/deltag'), ['b']);
    assertError(await h.app.inject({ method: 'DELETE', url: '/v2/m/deltag/manifests/a' }), 404, 'MANIFEST_UNKNOWN');
    assertError(await h.app.inject({ method: 'DELETE', url: '/v2/m/deltag/manifests/-a' }), 400, 'TAG_INVALID');
  });

  test('re-PUT of the same manifest is idempotent; PUT of another manifest moves the tag', async () => {
    const first = await pushImage(h.app, 'm/move', 'latest');
    const again = await putManifest(h.app, 'm/move', 'latest', first.manifest);
    assert.equal(again.statusCode, 201);
    assert.equal(again.headers['docker-content-digest'], first.digest);
    assert.deepEqual(await tagsOf(h.app, 'm/move'), ['latest']);
    const second = await pushImage(h.app, 'm/move', 'latest');
    assert.notEqual(second.digest, first.digest);
    assert.equal(await tagDigest(h.app, 'm/move', 'latest'), second.digest);
    assert.equal(await manifestStatus(h.app, 'm/move', first.digest), 200, 'the old manifest stays by digest');
    assert.deepEqual(await tagsOf(h.app, 'm/move'), ['latest']);
  });

  test('a manifest with a subject answers 201 with OCI-Subject, even when the subject is not pushed yet', async () => {
    const img = await pushImage(h.app, 'm/subject', 'v1');
    const subject = manifestDesc(img.manifest);
    const sig = await pushImage(h.app, 'm/subject', 'sig', { subject });
    const res = await putManifest(h.app, 'm/subject', 'sig', sig.manifest);
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['oci-subject'], img.digest);

    const future = { mediaType: OCI_MANIFEST, digest: digestOf(Buffer.from('not pushed yet')), size: 14 };
    const { config, layer } = await parts('m/subject');
    const early = await putManifest(h.app, 'm/subject', 'early', imageManifest(config, [layer], { subject: future }));
    assert.equal(early.statusCode, 201, early.body);
    assert.equal(early.headers['oci-subject'], future.digest);
    const plain = await putManifest(h.app, 'm/subject', 'plain', imageManifest(config, [layer]));
    assert.equal(plain.headers['oci-subject'], undefined);
  });

  test('Docker schema 2 manifests and manifest lists are stored and served with their media types', async () => {
    const config = await blobDesc(h.app, 'm/docker', '{"architecture":"amd64","os":"linux"}', 'application/vnd.docker.container.image.v1+json');
    const layer = await blobDesc(h.app, 'm/docker', 'docker layer', 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config, layers: [layer] }));
    assert.equal((await putManifest(h.app, 'm/docker', 'img', manifest, DOCKER_MANIFEST)).statusCode, 201);
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: DOCKER_LIST,
        manifests: [{ ...manifestDesc(manifest, DOCKER_MANIFEST), platform: { architecture: 'amd64', os: 'linux' } }],
      }),
    );
    assert.equal((await putManifest(h.app, 'm/docker', 'list', list, DOCKER_LIST)).statusCode, 201);
    for (const [tag, body, mt] of [['img', manifest, DOCKER_MANIFEST], ['list', list, DOCKER_LIST]] as const) {
      const get = await h.app.inject({ method: 'GET', url: `/v2/m/docker/manifests/${tag}` });
      assert.equal(get.headers['content-type'], mt);
      assert.deepEqual(get.rawPayload, body);
    }
    const noLayers = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config, layers: [] }));
    assertError(await putManifest(h.app, 'm/docker', 'img', noLayers, DOCKER_MANIFEST), 400, 'MANIFEST_INVALID');
    assert.equal(await tagDigest(h.app, 'm/docker', 'img'), digestOf(manifest));
  });

  test('parallel PUTs of different manifests to one tag all succeed or fail cleanly; the tag ends on one of them', async () => {
    const config = await blobDesc(h.app, 'm/race', '{"architecture":"amd64","os":"linux"}', OCI_CONFIG);
    const layer = await blobDesc(h.app, 'm/race', 'race layer', OCI_LAYER);
    const bodies = Array.from({ length: 24 }, (_, i) => imageManifest(config, [layer], { annotations: { i: String(i) } }));
    const results = await Promise.all(bodies.map((b) => putManifest(h.app, 'm/race', 'latest', b)));
    for (const r of results) assert.ok(r.statusCode === 201 || (r.statusCode >= 400 && r.statusCode < 500), `${r.statusCode} ${r.body}`);
    const winners: string[] = bodies.filter((_, i) => results[i]!.statusCode === 201).map((b) => digestOf(b));
    assert.ok(winners.length > 0);
    const final = await tagDigest(h.app, 'm/race', 'latest');
    assert.ok(final !== undefined && winners.includes(final), `tag resolves to ${final}`);
    const get = await h.app.inject({ method: 'GET', url: '/v2/m/race/manifests/latest' });
    assert.equal(digestOf(get.rawPayload), final);
    assert.deepEqual(await tagsOf(h.app, 'm/race'), ['latest']);
  });

  test('parallel PUTs of one new manifest under many tags all succeed', async () => {
    const config = await blobDesc(h.app, 'm/fanout', '{"architecture":"arm64","os":"linux"}', OCI_CONFIG);
    const layer = await blobDesc(h.app, 'm/fanout', 'fanout layer', OCI_LAYER);
    const body = imageManifest(config, [layer]);
    const tags = Array.from({ length: 16 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    const results = await Promise.all(tags.map((t) => putManifest(h.app, 'm/fanout', t, body)));
    for (const r of results) assert.equal(r.statusCode, 201, r.body);
    for (const t of tags) assert.equal(await tagDigest(h.app, 'm/fanout', t), digestOf(body));
    assert.deepEqual(await tagsOf(h.app, 'm/fanout'), tags);
  });

  test('an index child with the wrong declared size is MANIFEST_INVALID', async () => {
    const child = await pushImage(h.app, 'm/idxsize', 'child');
    const index = indexManifest([{ ...manifestDesc(child.manifest), size: child.manifest.length + 7 }]);
    assertError(await putManifest(h.app, 'm/idxsize', 'multi', index, OCI_INDEX), 400, 'MANIFEST_INVALID');
    assert.equal(await tagDigest(h.app, 'm/idxsize', 'multi'), undefined);
  });

  test('a blob holding the bytes of a manifest is not a manifest of the repository', async () => {
    const img = await pushImage(h.app, 'm/blobnotmanifest', 'x');
    await pushBlob(h.app, 'm/blobnotmanifest2', img.manifest);
    assertError(await h.app.inject({ method: 'GET', url: `/v2/m/blobnotmanifest2/manifests/${img.digest}` }), 404, 'MANIFEST_UNKNOWN');
  });
});
