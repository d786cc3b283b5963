/**
 * The insights service over a real registry (fs blobs, SQLite): analyses stored per manifest
 * digest and reused across tags and repositories; a multi-platform index analysed per platform;
 * Docker media types; layers already recorded are not read again (their bytes are deleted
 * first); scan and insights fed by one pass (each layer blob opened once); bombs and malformed
 * layers end the analysis with its error stored, and the job is not retried; on-push jobs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { ContentPasses } from '../../src/content/content-pass.js';
import { InsightsService } from '../../src/features/insights/insights-service.js';
import { SqlInsightsStore } from '../../src/features/insights/sql-insights-store.js';
import { ScanService } from '../../src/features/scan/scan-service.js';
import { SqlScanStore } from '../../src/features/scan/sql-scan-store.js';
import { JobRunner } from '../../src/jobs/job-runner.js';
import { SqlJobStore } from '../../src/storage/metadata/sql-job-store.js';
import type { Digest } from '../../src/domain/digest.js';
import { parseReference } from '../../src/domain/names.js';

const ref = (r: string) => parseReference(r);
import { pushBlob, startHarness, type Harness } from '../http/harness.js';
import { tarOf, zstdRleBomb } from '../content/support/layers.js';
import { buildImage, cleanImage, dirtyImage, type Built } from './support/ml-image.js';

let h: Harness;
const MiB = 1024 * 1024;

async function push(repo: string, tag: string, b: Built): Promise<void> {
  for (const [, bytes] of b.blobs) await pushBlob(h.app, repo, bytes);
  const res = await h.app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${tag}`, headers: { 'content-type': b.mediaType }, payload: b.manifest });
  assert.equal(res.statusCode, 201, res.body);
}

async function pushIndex(repo: string, tag: string, images: [Built, string][]): Promise<string> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map(([b, arch]) => ({ mediaType: b.mediaType, digest: b.manifestDigest, size: b.manifest.length, platform: { os: 'linux', architecture: arch } })),
    }),
  );
  const res = await h.app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${tag}`, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, payload: index });
  assert.equal(res.statusCode, 201, res.body);
  return res.headers['docker-content-digest'] as string;
}

function service(options: { passes?: ContentPasses } = {}) {
  return new InsightsService({
    registry: h.registry,
    store: new SqlInsightsStore(h.metadata.database),
    options: { weightsThresholdBytes: MiB, hugeLayerBytes: MiB, decompressBytesPerSecond: 50e6, bandwidthBitsPerSecond: 1e9 },
    ...options,
  });
}

/** Counts layer blob opens through the registry. */
function countOpens(): { counts: Map<string, number>; restore(): void } {
  const counts = new Map<string, number>();
  const original = h.registry.openBlob.bind(h.registry);
  h.registry.openBlob = (async (repo: string, digest: Digest, ...rest: unknown[]) => {
    counts.set(digest, (counts.get(digest) ?? 0) + 1);
    return (original as (...a: unknown[]) => unknown)(repo, digest, ...rest);
  }) as typeof h.registry.openBlob;
  return { counts, restore: () => void (h.registry.openBlob = original) };
}

before(async () => {
  h = await startHarness();
});
after(async () => h?.close());

describe('insights service', () => {
  test('stored per manifest digest: another tag and another repository reuse the analysis', async () => {
    const b = await buildImage(dirtyImage());
    await push('ml/dirty', 'v1', b);
    await push('ml/dirty', 'v1-again', b);
    await push('other/copy', 'latest', b);
    const insights = service();
    const r = await insights.analyse('ml/dirty', ref('v1'));
    assert.equal(r.images.length, 1);
    assert.deepEqual([r.digest, r.index, r.images[0]!.state, r.images[0]!.platform], [b.manifestDigest, null, 'done', null]);
    const first = r.images[0]!;
    assert.ok(first.analysis!.findings.length >= 10);
    const opens = countOpens();
    try {
      const again = await insights.analyse('other/copy', ref('latest'));
      assert.equal(opens.counts.size === 0 || [...opens.counts.keys()].every((d) => d === JSON.parse(b.manifest.toString()).config.digest), true, 'no layer read again');
      assert.deepEqual(again.images[0]!.analysis, first.analysis);
      assert.equal(again.images[0]!.analysedAt, first.analysedAt);
      const viaTag = await insights.report('ml/dirty', ref('v1-again'));
      assert.equal(viaTag.images[0]!.analysedAt, first.analysedAt);
    } finally {
      opens.restore();
    }
  });

  test('a repository that does not have the image learns nothing from its digest', async () => {
    const b = await buildImage(dirtyImage());
    await push('elsewhere/other', 'x', await buildImage(cleanImage()));
    await assert.rejects(service().report('elsewhere/other', { kind: 'digest', digest: b.manifestDigest as Digest }), (e: Error & { code?: string }) => e.code === 'MANIFEST_UNKNOWN');
  });

  test('a new image on the same base: only its new layers are read (the others are deleted first)', async () => {
    const base = dirtyImage();
    const b1 = await buildImage(base);
    const next = dirtyImage();
    next.layers[4]!.files = [{ name: 'app/server.py', content: 'print("v3")\n', category: 'application' }];
    const b2 = await buildImage(next);
    await push('ml/reuse', 'v1', b1);
    await push('ml/reuse', 'v2', b2);
    const insights = service();
    await insights.analyse('ml/reuse', ref('v1'));
    // the shared layers' bytes are gone: an analysis that read them would fail
    for (const l of b2.layers.slice(0, 4)) await h.blobs.delete(l.digest as never);
    const opens = countOpens();
    try {
      const r = await insights.analyse('ml/reuse', ref('v2'));
      assert.equal(r.images[0]!.state, 'done', JSON.stringify(r.images[0]!.error));
      assert.deepEqual([...opens.counts.keys()].filter((d) => d !== JSON.parse(b2.manifest.toString()).config.digest), [b2.layers[4]!.digest]);
      assert.deepEqual(r.images[0]!.analysis!.layers.map((l) => l.digest), b2.layers.map((l) => l.digest));
    } finally {
      opens.restore();
    }
  });

  test('a multi-platform index is analysed per platform; Docker media types', async () => {
    const amd = await buildImage(cleanImage());
    const armSpec = cleanImage();
    armSpec.architecture = 'arm64';
    armSpec.docker = true;
    armSpec.layers[2]!.files.push({ name: 'app/arm.txt', content: 'arm64\n', category: 'application' });
    const arm = await buildImage(armSpec);
    await push('ml/multi', 'amd', amd);
    await push('ml/multi', 'arm', arm);
    const indexDigest = await pushIndex('ml/multi', 'v1', [
      [amd, 'amd64'],
      [arm, 'arm64'],
    ]);
    const insights = service();
    const r = await insights.analyse('ml/multi', ref('v1'));
    assert.equal(r.digest, indexDigest);
    assert.deepEqual(r.index, { platforms: ['linux/amd64', 'linux/arm64'] });
    assert.deepEqual(r.images.map((i) => [i.platform, i.digest, i.state]), [
      ['linux/amd64', amd.manifestDigest, 'done'],
      ['linux/arm64', arm.manifestDigest, 'done'],
    ]);
    assert.equal(r.images[1]!.analysis!.totals.categories.application, r.images[0]!.analysis!.totals.categories.application + 6);
    const one = await insights.report('ml/multi', ref('v1'), 'linux/arm64');
    assert.deepEqual(one.images.map((i) => i.digest), [arm.manifestDigest]);
    await assert.rejects(insights.report('ml/multi', ref('v1'), 'linux/s390x'), (e: Error & { code?: string }) => e.code === 'RESOURCE_UNKNOWN');
  });

  test('scan and insights due for the same image share one pass: every layer blob opened once', async () => {
    const spec = dirtyImage();
    spec.layers[3]!.files.push({ name: 'app/one-pass.txt', content: 'unique to this test\n', category: 'application' });
    const b = await buildImage(spec);
    await push('ml/onepass', 'v1', b);
    const passes = new ContentPasses(pino({ level: 'silent' }));
    const scan = new ScanService({ registry: h.registry, store: new SqlScanStore(h.metadata.database), passes });
    const insights = service({ passes });
    const opens = countOpens();
    try {
      const report = await scan.scan('ml/onepass', ref('v1'));
      assert.equal(report.os?.id, 'debian');
      for (const l of b.layers) assert.equal(opens.counts.get(l.digest), 1, l.digest);
      // insights joined the scan's pass: its analysis is stored, reading nothing more
      const r = await insights.report('ml/onepass', ref('v1'));
      assert.equal(r.images[0]!.state, 'done');
      await insights.analyse('ml/onepass', ref('v1'));
      for (const l of b.layers) assert.equal(opens.counts.get(l.digest), 1, l.digest);
      assert.ok(r.images[0]!.analysis!.findings.some((f) => f.id === 'baked-weights'));
    } finally {
      opens.restore();
    }
    // and the other way round: insights leads, the scan joins
    const spec2 = cleanImage();
    spec2.layers[2]!.files.push({ name: 'app/other-way.txt', content: 'x\n', category: 'application' });
    const b2 = await buildImage(spec2);
    await push('ml/onepass', 'v2', b2);
    const opens2 = countOpens();
    try {
      await insights.analyse('ml/onepass', ref('v2'));
      // the inventory the scan stored by joining is matched before any report shows it (never a
      // "scanned, no findings" that no vulnerability data was compared with)
      const early = await scan.report('ml/onepass', ref('v2'));
      assert.notEqual(early.matchedAt, null);
      const report = await scan.scan('ml/onepass', ref('v2'));
      assert.equal(report.packageCount > 0, true);
      for (const l of b2.layers) assert.equal(opens2.counts.get(l.digest), 1, l.digest);
    } finally {
      opens2.restore();
    }
  });

  test('bombs and malformed layers end the analysis with its error stored, never a crash', async () => {
    const insights = service();
    const config = (n: number) => Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: Array(n).fill('sha256:' + '0'.repeat(64)) } }));
    const cases: [string, Buffer, RegExp][] = [
      ['gzip-bomb', gzipSync(Buffer.alloc(64 * MiB)), /expands more than/],
      ['zstd-bomb', zstdRleBomb(2000), /expands more than/],
      ['not-a-tar', Buffer.from('this is not a tar archive at all '.repeat(40)), /not a readable layer/],
      ['truncated', gzipSync(await tarOf([{ name: 'a', content: 'x'.repeat(5000) }])).subarray(0, 40), /not a readable layer/],
    ];
    for (const [name, layer, pattern] of cases) {
      const cfg = config(1);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(h.app, `bad/${name}`, cfg), size: cfg.length },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(h.app, `bad/${name}`, layer), size: layer.length }],
        }),
      );
      const res = await h.app.inject({ method: 'PUT', url: `/v2/bad/${name}/manifests/v1`, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, payload: manifest });
      assert.equal(res.statusCode, 201);
      const r = await insights.analyse(`bad/${name}`, ref('v1'));
      assert.equal(r.images[0]!.state, 'failed', name);
      assert.match(r.images[0]!.error!.message, pattern, name);
      assert.equal(r.images[0]!.analysis, null);
      const stored = await insights.report(`bad/${name}`, ref('v1'));
      assert.deepEqual(stored.images[0]!.error, r.images[0]!.error);
    }
    // an artifact is no image: a clear error, nothing stored
    const empty = Buffer.from('{}');
    const art = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/x-model', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: await pushBlob(h.app, 'bad/artifact', empty), size: 2 }, layers: [] }));
    assert.equal((await h.app.inject({ method: 'PUT', url: '/v2/bad/artifact/manifests/v1', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, payload: art })).statusCode, 201);
    await assert.rejects(insights.analyse('bad/artifact', ref('v1')), (e: Error & { code?: string }) => e.code === 'INSIGHTS_FAILED');
  });

  test('diff: layers shared and new, bytes to pull, packages added/removed/upgraded, files by category', async () => {
    const a = await buildImage(dirtyImage());
    const next = dirtyImage();
    const site = 'usr/local/lib/python3.11/site-packages';
    // layers 0-1 stay; the pip layer upgrades numpy, adds requests and drops the pip cache; the app changes
    next.layers[2]!.files = next.layers[2]!.files
      .filter((f) => !f.name.startsWith('root/.cache/pip'))
      .map((f) => (f.name === `${site}/numpy-1.26.0.dist-info/METADATA` ? { ...f, name: `${site}/numpy-1.26.4.dist-info/METADATA`, content: 'Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.4\n' } : f));
    next.layers[2]!.files.push({ name: `${site}/requests-2.31.0.dist-info/METADATA`, content: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n', category: 'python-packages' });
    next.layers[2]!.files.push({ name: `${site}/requests/api.py`, content: 'def get(): pass\n', category: 'python-packages' });
    next.layers[4]!.files = next.layers[4]!.files.map((f) => (f.name === 'app/server.py' ? { ...f, content: 'print("v2")\n' } : f));
    const b = await buildImage(next);
    await push('ml/diff', 'v1', a);
    await push('ml/diff', 'v2', b);
    const r = await service().diff({ repository: 'ml/diff', ref: ref('v1') }, { repository: 'ml/diff', ref: ref('v2') });
    assert.deepEqual([r.a.digest, r.b.digest], [a.manifestDigest, b.manifestDigest]);
    const d = r.diff;
    assert.deepEqual(d.layers.shared.map((l) => l.digest), [a.layers[0]!.digest, a.layers[1]!.digest, a.layers[3]!.digest]);
    assert.deepEqual(d.layers.onlyInB.map((l) => l.digest), [b.layers[2]!.digest, b.layers[4]!.digest]);
    assert.deepEqual(d.layers.onlyInA.map((l) => l.digest), [a.layers[2]!.digest, a.layers[4]!.digest]);
    assert.equal(d.pullBytes, b.layers[2]!.bytes.length + b.layers[4]!.bytes.length);
    assert.equal(d.pullSeconds, (d.pullBytes * 8) / 1e9);
    assert.deepEqual(d.packages.upgraded, [{ type: 'pypi', name: 'numpy', from: '1.26.0', to: '1.26.4' }]);
    assert.deepEqual(d.packages.added, [{ type: 'pypi', name: 'requests', version: '2.31.0' }]);
    assert.deepEqual(d.packages.removed, []);
    const len = (t: string) => Buffer.byteLength(t);
    const added = len('Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.4\n') + len('Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n') + len('def get(): pass\n');
    assert.deepEqual(d.files.byCategory['python-packages'], { added: 3, removed: 1, changed: 0, bytesAdded: added, bytesRemoved: len('Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.0\n') });
    assert.equal(d.files.byCategory.caches.removed, 1);
    assert.deepEqual([d.files.byCategory.application.changed, d.files.byCategory.application.added], [1, 0]);
    assert.equal(d.files.byCategory['model-weights'].changed, 0);
    const same = await service().diff({ repository: 'ml/diff', ref: ref('v1') }, { repository: 'ml/diff', ref: ref('v1') });
    assert.equal(same.diff.pullBytes, 0);
    assert.deepEqual(same.diff.files.changed, []);
  });

  test('a push enqueues an insights.image job; the job analyses once, concurrent requests share it', async () => {
    const dialect = 'sqlite';
    const jobStore = new SqlJobStore(h.metadata.database, dialect);
    const runner = new JobRunner({ store: jobStore, logger: pino({ level: 'silent' }), pollIntervalMs: 20 });
    const insights = service();
    insights.useJobs(runner);
    const spec = cleanImage();
    spec.layers[2]!.files.push({ name: 'app/pushed.txt', content: 'on push\n', category: 'application' });
    const b = await buildImage(spec);
    await push('ml/onpush', 'v1', b);
    await new Promise((r) => setTimeout(r, 50));
    const jobs = await jobStore.list({ limit: 100, kind: 'insights.image' });
    assert.ok(jobs.some((j) => JSON.stringify(j.payload).includes(b.manifestDigest)), JSON.stringify(jobs).slice(0, 500));
    await runner.start();
    try {
      for (let i = 0; i < 200; i++) {
        const r = await insights.report('ml/onpush', ref('v1'));
        if (r.images[0]!.state === 'done') break;
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal((await insights.report('ml/onpush', ref('v1'))).images[0]!.state, 'done');
      const [a, c] = await Promise.all([insights.analyse('ml/onpush', ref('v1'), { force: true }), insights.analyse('ml/onpush', ref('v1'), { force: true })]);
      assert.equal(a.images[0]!.analysedAt, c.images[0]!.analysedAt);
    } finally {
      await runner.stop();
    }
  });
});
