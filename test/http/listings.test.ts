import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../../src/domain/digest.js';
import { OCI_INDEX, OCI_MANIFEST, pushBlob, pushImage, putManifest, startHarness, type Harness } from './harness.js';
import { assertError, blobDesc, followPages, imageManifest, indexManifest, manifestDesc, tagsOf } from './support.js';

const TAGS = ['b', 'a', 'A', '10', '9', 'a-1', 'a.1', 'a_1', 'Z', '_x', 'latest', 'v1.0.0', 'v1.10.0', 'v1.2.0'];
const byCodePoint = (xs: string[]): string[] => [...xs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

describe('GET /v2/<name>/tags/list', () => {
  let h: Harness;
  let small: Harness;
  before(async () => {
    h = await startHarness();
    small = await startHarness({ maxPageSize: 5 });
    for (const app of [h.app, small.app]) {
      const img = await pushImage(app, 'l/tags', TAGS[0]!);
      for (const t of TAGS.slice(1)) assert.equal((await putManifest(app, 'l/tags', t, img.manifest)).statusCode, 201);
    }
  });
  after(async () => {
    await h.close();
    await small.close();
  });

  const get = (url: string) => h.app.inject({ method: 'GET', url });

  test('a repository without tags answers 200 with tags: []', async () => {
    await pushBlob(h.app, 'l/empty', Buffer.from('just a blob'));
    const res = await get('/v2/l/empty/tags/list');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(res.body), { name: 'l/empty', tags: [] });
    assert.equal(res.headers.link, undefined);

    const img = await pushImage(h.app, 'l/emptied', 'only');
    assert.equal((await h.app.inject({ method: 'DELETE', url: `/v2/l/emptied/manifests/${img.digest}` })).statusCode, 202);
    assert.deepEqual(JSON.parse((await get('/v2/l/emptied/tags/list')).body), { name: 'l/emptied', tags: [] });
  });

  test('an unknown repository is 404 NAME_UNKNOWN; an invalid name is NAME_INVALID', async () => {
    assertError(await get('/v2/l/nope/tags/list'), 404, 'NAME_UNKNOWN');
    assertError(await get('/v2/l/nope/tags/list?n=0'), 404, 'NAME_UNKNOWN');
    assertError(await get('/v2/L/Bad/tags/list'), 400, 'NAME_INVALID');
  });

  test('tags are in lexical (code point) order', async () => {
    const res = await get('/v2/l/tags/tags/list');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(res.body), { name: 'l/tags', tags: byCodePoint(TAGS) });
  });

  test('n and last paginate with a Link header; following the links reaches every tag exactly once', async () => {
    const sorted = byCodePoint(TAGS);
    const first = await get('/v2/l/tags/tags/list?n=3');
    assert.deepEqual(JSON.parse(first.body).tags, sorted.slice(0, 3));
    assert.equal(first.headers.link, `</v2/l/tags/tags/list?n=3&last=${sorted[2]}>; rel="next"`);
    const walk = await followPages(h.app, '/v2/l/tags/tags/list?n=3', 'tags');
    assert.deepEqual(walk.items, sorted);
    assert.equal(walk.pages, Math.ceil(sorted.length / 3));
    const exact = await followPages(h.app, `/v2/l/tags/tags/list?n=${sorted.length}`, 'tags');
    assert.deepEqual(exact.items, sorted);
    assert.equal(exact.pages, 1, 'no Link when nothing follows');

    const after = await get(`/v2/l/tags/tags/list?last=${sorted[4]}`);
    assert.deepEqual(JSON.parse(after.body).tags, sorted.slice(5));
    const between = await get('/v2/l/tags/tags/list?last=a0&n=2');
    assert.deepEqual(JSON.parse(between.body).tags, sorted.filter((t) => t > 'a0').slice(0, 2));
    const end = await get(`/v2/l/tags/tags/list?last=${sorted[sorted.length - 1]}&n=2`);
    assert.deepEqual(JSON.parse(end.body).tags, []);
    assert.equal(end.headers.link, undefined);
  });

  test('n=0 answers an empty list without a Link', async () => {
    const res = await get('/v2/l/tags/tags/list?n=0');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(res.body), { name: 'l/tags', tags: [] });
    assert.equal(res.headers.link, undefined);
  });

  test('a malformed n is 400 PAGINATION_INVALID', async () => {
    for (const n of ['abc', '-1', '1.5', '', '0x10', '1e3']) {
      assertError(await get(`/v2/l/tags/tags/list?n=${n}`), 400, 'PAGINATION_INVALID');
    }
    assertError(await get(`/v2/l/tags/tags/list?last=${'a'.repeat(300)}`), 400, 'PAGINATION_INVALID');
  });

  test('a huge n, or none, is clamped to the maximum page size and the Link carries the clamped n', async () => {
    const sorted = byCodePoint(TAGS);
    for (const q of ['?n=1000000', '?n=99999999999999999999', '']) {
      const res = await small.app.inject({ method: 'GET', url: `/v2/l/tags/tags/list${q}` });
      assert.equal(res.statusCode, 200, `${q}: ${res.body}`);
      assert.deepEqual(JSON.parse(res.body).tags, sorted.slice(0, 5), q);
      assert.equal(res.headers.link, `</v2/l/tags/tags/list?n=5&last=${sorted[4]}>; rel="next"`, q);
    }
    const walk = await followPages(small.app, '/v2/l/tags/tags/list?n=1000', 'tags');
    assert.deepEqual(walk.items, sorted);
  });
});

describe('GET /v2/_catalog', () => {
  let h: Harness;
  const repos = ['zeta', 'alpha', 'alpha/beta', 'alpha-gamma', 'team/app/api', 'team/app', 'x9'];
  before(async () => {
    h = await startHarness();
    for (const r of repos) await pushImage(h.app, r, 'latest');
  });
  after(async () => h.close());

  test('lists every repository in lexical order', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v2/_catalog' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(res.body), { repositories: byCodePoint(repos) });
  });

  test('paginates with n, last and Link; following the links reaches every repository exactly once', async () => {
    const sorted = byCodePoint(repos);
    const first = await h.app.inject({ method: 'GET', url: '/v2/_catalog?n=2' });
    assert.deepEqual(JSON.parse(first.body).repositories, sorted.slice(0, 2));
    assert.equal(first.headers.link, `</v2/_catalog?n=2&last=${encodeURIComponent(sorted[1]!)}>; rel="next"`);
    const walk = await followPages(h.app, '/v2/_catalog?n=2', 'repositories');
    assert.deepEqual(walk.items, sorted);
    assert.equal(walk.pages, Math.ceil(sorted.length / 2));
    const afterNested = await h.app.inject({ method: 'GET', url: '/v2/_catalog?last=team/app' });
    assert.deepEqual(JSON.parse(afterNested.body).repositories, sorted.filter((r) => r > 'team/app'));
  });

  test('n=0 is empty; a malformed n is 400 PAGINATION_INVALID', async () => {
    const zero = await h.app.inject({ method: 'GET', url: '/v2/_catalog?n=0' });
    assert.equal(zero.statusCode, 200);
    assert.deepEqual(JSON.parse(zero.body), { repositories: [] });
    assert.equal(zero.headers.link, undefined);
    assertError(await h.app.inject({ method: 'GET', url: '/v2/_catalog?n=many' }), 400, 'PAGINATION_INVALID');
  });

  test('a rejected push does not create a repository', async () => {
    const before = JSON.parse((await h.app.inject({ method: 'GET', url: '/v2/_catalog' })).body).repositories as string[];
    const wrong = digestOf(Buffer.from('claimed'));
    const res = await h.app.inject({ method: 'POST', url: `/v2/rejected/blobs/uploads/?digest=${wrong}`, payload: Buffer.from('actual') });
    assertError(res, 400, 'DIGEST_INVALID');
    assertError(await putManifest(h.app, 'rejected2', 'latest', '{'), 400, 'MANIFEST_INVALID');
    const after = JSON.parse((await h.app.inject({ method: 'GET', url: '/v2/_catalog' })).body).repositories as string[];
    assert.deepEqual(after, before);
  });
});

describe('GET /v2/<name>/referrers/<digest>', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  const referrers = (repo: string, digest: string, query = '') => h.app.inject({ method: 'GET', url: `/v2/${repo}/referrers/${digest}${query}` });

  function assertIndex(res: { statusCode: number; headers: Record<string, unknown>; body: string }): { manifests: Record<string, unknown>[] } {
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], OCI_INDEX);
    const body = JSON.parse(res.body) as { schemaVersion: number; mediaType: string; manifests: Record<string, unknown>[] };
    assert.equal(body.schemaVersion, 2);
    assert.equal(body.mediaType, OCI_INDEX);
    return body;
  }

  test('a subject without referrers, an unknown subject and an unknown repository answer an empty index', async () => {
    const img = await pushImage(h.app, 'r/none', 'v1');
    for (const [repo, d] of [['r/none', img.digest], ['r/none', digestOf(Buffer.from('?'))], ['r/nowhere', img.digest]] as const) {
      const res = await referrers(repo, d);
      assert.deepEqual(assertIndex(res).manifests, []);
      assert.equal(res.headers['oci-filters-applied'], undefined);
    }
  });

  test('artifacts with a subject are listed with artifactType (explicit or from config) and annotations; ?artifactType= filters', async () => {
    const repo = 'r/art';
    const subjectImg = await pushImage(h.app, repo, 'v1');
    const subject = manifestDesc(subjectImg.manifest);
    const empty = await blobDesc(h.app, repo, '{}', 'application/vnd.oci.empty.v1+json');
    const sbomLayer = await blobDesc(h.app, repo, '{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json');
    const annotations = { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'com.example.kind': 'sbom' };
    const sbom = imageManifest(empty, [sbomLayer], { artifactType: 'application/spdx+json', subject, annotations });
    assert.equal((await putManifest(h.app, repo, digestOf(sbom), sbom)).headers['oci-subject'], subjectImg.digest);
    const sigConfig = await blobDesc(h.app, repo, '{"critical":{}}', 'application/vnd.example.signature.config.v1+json');
    const sig = imageManifest(sigConfig, [await blobDesc(h.app, repo, 'signature bytes', 'application/octet-stream')], { subject });
    assert.equal((await putManifest(h.app, repo, 'sig', sig)).statusCode, 201);
    const bundle = indexManifest([], { artifactType: 'application/vnd.example.bundle', subject });
    assert.equal((await putManifest(h.app, repo, digestOf(bundle), bundle, OCI_INDEX)).statusCode, 201);
    const unrelated = await pushImage(h.app, repo, 'other'); // no subject

    const all = assertIndex(await referrers(repo, subjectImg.digest));
    const expected = [
      { mediaType: OCI_MANIFEST, digest: digestOf(sbom), size: sbom.length, artifactType: 'application/spdx+json', annotations },
      { mediaType: OCI_MANIFEST, digest: digestOf(sig), size: sig.length, artifactType: 'application/vnd.example.signature.config.v1+json' },
      { mediaType: OCI_INDEX, digest: digestOf(bundle), size: bundle.length, artifactType: 'application/vnd.example.bundle' },
    ];
    const byDigest = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.digest).localeCompare(String(b.digest));
    assert.deepEqual([...all.manifests].sort(byDigest), [...expected].sort(byDigest));
    assert.ok(!all.manifests.some((m) => m.digest === unrelated.digest));

    const filtered = await referrers(repo, subjectImg.digest, '?artifactType=application/spdx%2Bjson');
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(assertIndex(filtered).manifests, [expected[0]]);
    const none = await referrers(repo, subjectImg.digest, '?artifactType=application/vnd.example.nothing');
    assert.equal(none.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(assertIndex(none).manifests, []);
  });

  test('a subject that is an index has referrers too; deleting a referrer removes it from the list', async () => {
    const repo = 'r/idx';
    const child = await pushImage(h.app, repo, 'child');
    const index = indexManifest([manifestDesc(child.manifest)]);
    assert.equal((await putManifest(h.app, repo, 'multi', index, OCI_INDEX)).statusCode, 201);
    const art = await pushImage(h.app, repo, 'attestation', { artifactType: 'application/vnd.example.attestation', subject: manifestDesc(index, OCI_INDEX) });
    const list = assertIndex(await referrers(repo, digestOf(index)));
    assert.deepEqual(list.manifests.map((m) => [m.digest, m.artifactType]), [[art.digest, 'application/vnd.example.attestation']]);
    assert.deepEqual(assertIndex(await referrers(repo, child.digest)).manifests, []);

    assert.equal((await h.app.inject({ method: 'DELETE', url: `/v2/${repo}/manifests/${art.digest}` })).statusCode, 202);
    assert.deepEqual(assertIndex(await referrers(repo, digestOf(index))).manifests, []);
  });

  test('referrers are per repository', async () => {
    const img = await pushImage(h.app, 'r/home', 'v1');
    await pushImage(h.app, 'r/elsewhere', 'sig', { subject: manifestDesc(img.manifest) });
    assert.deepEqual(assertIndex(await referrers('r/home', img.digest)).manifests, []);
    assert.equal(assertIndex(await referrers('r/elsewhere', img.digest)).manifests.length, 1);
  });

  test('a malformed digest is 400 DIGEST_INVALID; an invalid name is NAME_INVALID', async () => {
    for (const d of ['sha256:xyz', 'latest', `md5:${'a'.repeat(32)}`]) assertError(await referrers('r/none', d), 400, 'DIGEST_INVALID');
    assertError(await referrers('R/none', digestOf(Buffer.from('x'))), 400, 'NAME_INVALID');
  });
});
