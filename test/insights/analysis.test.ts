/**
 * The analysis of the ML-shaped images of support/ml-image.ts, read the way the server reads
 * them (one pass: readLayers with LayerAccounting) and analysed from the records: every
 * category's bytes per layer, waste, dive's efficiency, cold start, and every finding exactly;
 * the clean image has none of them. Plus the parsers on their own (safetensors, secrets,
 * categories) with bad input.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readLayers } from '../../src/content/layers/layer-reader.js';
import { analyse, parseConfigFacts, type AnalysisOptions } from '../../src/features/insights/analysis.js';
import { categorize } from '../../src/features/insights/categories.js';
import { LayerAccounting } from '../../src/features/insights/layer-record.js';
import { parseSafetensorsHeader, SafetensorsHeaderReader } from '../../src/features/insights/safetensors.js';
import { SecretSniffer, secretKindOfPath } from '../../src/features/insights/secrets.js';
import { DEFAULT_INSIGHTS_OPTIONS } from '../../src/features/insights/insights-service.js';
import { buildImage, cleanImage, dirtyImage, expectedCategories, sizeOf, WEIGHTS, LIBTORCH, PRIVATE_KEY, type ImageSpec } from './support/ml-image.js';

const MiB = 1024 * 1024;
const OPTIONS: AnalysisOptions = { bandwidthBitsPerSecond: 100e6, decompressBytesPerSecond: 50e6, weightsThresholdBytes: MiB, hugeLayerBytes: MiB };

async function analyseSpec(spec: ImageSpec, options = OPTIONS) {
  const built = await buildImage(spec);
  const accounting = new LayerAccounting();
  let opens = 0;
  await readLayers(
    built.layers.map((l) => ({ digest: l.digest, open: async () => (opens++, Readable.from([l.bytes])) })),
    [accounting],
    DEFAULT_INSIGHTS_OPTIONS.read,
  );
  const facts = parseConfigFacts(JSON.parse(built.config.toString()), built.layers.length);
  return { built, opens, records: accounting.records, analysis: analyse(accounting.records, facts, options) };
}

describe('insights analysis of an ML-shaped image', () => {
  test('layer cake: sizes, file counts, created_by and every category per layer, exactly', async () => {
    const spec = dirtyImage();
    const { built, opens, analysis } = await analyseSpec(spec);
    assert.equal(opens, built.layers.length, 'each layer read once');
    const want = expectedCategories(spec);
    assert.deepEqual(analysis.layers.map((l) => l.categories), want.layers);
    assert.deepEqual(analysis.totals.categories, want.totals);
    assert.deepEqual(analysis.layers.map((l) => l.compression), ['gzip', 'gzip', 'zstd', 'none', 'gzip']);
    assert.deepEqual(analysis.layers.map((l) => l.compressedBytes), built.layers.map((l) => l.bytes.length));
    assert.deepEqual(analysis.layers.map((l) => l.uncompressedBytes), built.layers.map((l) => l.tar.length));
    // files, symlinks and hard links count; whiteouts and opaque markers do not
    assert.deepEqual(analysis.layers.map((l) => l.files), [15, 5, 7, 5, 3]);
    assert.deepEqual(analysis.layers.map((l) => l.createdBy), spec.layers.map((l) => l.createdBy));
    assert.deepEqual(analysis.pythonPackages, [{ name: 'numpy', bytes: want.layers[2]!['python-packages'] }]);
    assert.deepEqual(analysis.ml.frameworks.map((f) => [f.name, f.version, f.cuda]), [['torch', '2.1.0+cu121', '12.1']]);
    assert.equal(analysis.os?.id, 'debian');
    assert.equal(analysis.partial, false);
  });

  test('waste: overwritten and deleted files (whiteouts and an opaque directory), duplicates; dive efficiency', async () => {
    const spec = dirtyImage();
    const { analysis, built } = await analyseSpec(spec);
    const s = (layer: number, name: string) => sizeOf(spec, layer, name);
    const deleted = s(3, 'app/id_rsa') + s(3, 'app/data.tar') + s(3, 'opt/tmp/scratch');
    const overwritten = s(3, 'app/server.py') + s(0, 'var/lib/dpkg/status');
    assert.equal(analysis.waste.deletedBytes, deleted);
    assert.equal(analysis.waste.overwrittenBytes, overwritten);
    assert.equal(analysis.waste.duplicateBytes, LIBTORCH.length);
    assert.equal(analysis.waste.totalBytes, deleted + overwritten + LIBTORCH.length);
    assert.deepEqual(analysis.waste.top[0], { path: 'app/data.tar', layer: 3, bytes: s(3, 'app/data.tar'), reason: 'deleted', by: 4 });
    // dive: paths with more than one leaf node are server.py, id_rsa, data.tar and dpkg's status
    // (the opaque directory is no whiteout to dive, so opt/tmp/scratch is not counted there)
    const allFiles = spec.layers.reduce((n, l) => n + l.files.reduce((m, f) => m + (f.type === undefined || f.type === 'file' ? (Buffer.isBuffer(f.content) ? f.content.length : Buffer.byteLength(f.content ?? '')) : 0), 0), 0);
    const multi = [
      [s(3, 'app/server.py'), s(4, 'app/server.py')],
      [s(3, 'app/id_rsa'), 0],
      [s(3, 'app/data.tar'), 0],
      [s(0, 'var/lib/dpkg/status'), s(1, 'var/lib/dpkg/status')],
    ];
    const excess = multi.reduce((n, sizes) => n + sizes.reduce((a, b) => a + b, 0) - Math.min(...sizes), 0);
    assert.equal(analysis.efficiency.score, (allFiles - excess) / allFiles);
    const diveWasted = multi.reduce((n, sizes) => n + sizes.reduce((a, b) => a + b, 0), 0);
    assert.equal(analysis.efficiency.wastedBytes, diveWasted);
    assert.equal(analysis.efficiency.userWastedPercent, diveWasted / built.layers.slice(1).reduce((n, l) => n + l.tar.length, 0));
  });

  test('cold start: bytes to pull over the bandwidth plus bytes to decompress at the rate', async () => {
    const { analysis, built } = await analyseSpec(dirtyImage());
    const pull = built.layers.reduce((n, l) => n + l.bytes.length, 0);
    const unpacked = built.layers.reduce((n, l) => n + l.tar.length, 0);
    assert.deepEqual(analysis.coldStart, {
      pullBytes: pull,
      decompressBytes: unpacked,
      bandwidthBitsPerSecond: 100e6,
      decompressBytesPerSecond: 50e6,
      pullSeconds: (pull * 8) / 100e6,
      decompressSeconds: unpacked / 50e6,
      seconds: (pull * 8) / 100e6 + unpacked / 50e6,
    });
  });

  test('every finding, with evidence, fix and saving', async () => {
    const spec = dirtyImage();
    const { analysis } = await analyseSpec(spec);
    const s = (layer: number, name: string) => sizeOf(spec, layer, name);
    const byId = new Map(analysis.findings.map((f) => [`${f.id}${f.id === 'secret' ? `:${f.evidence.paths[0]}` : ''}`, f]));
    assert.deepEqual(
      [...byId.keys()].sort(),
      ['baked-weights', 'cache-busting', 'caches-left', 'deleted-waste', 'devel-toolchain', 'duplicate-files', 'no-healthcheck', 'runs-as-root', 'secret:app/.env', 'secret:app/id_rsa', 'torch-cuda-mismatch'],
    );
    const w = byId.get('baked-weights')!;
    assert.equal(w.severity, 'medium');
    assert.equal(w.evidence.bytes, WEIGHTS.length);
    assert.deepEqual(w.evidence.paths, ['models/model.safetensors']);
    assert.deepEqual(w.evidence.layers, [4]);
    assert.deepEqual(w.evidence.details?.safetensors, [{ path: 'models/model.safetensors', tensors: 3, parameters: 1024 * 1024 + 1024 + 512, dtypes: { F16: 1024 * 1024, F32: 1024, BF16: 512 } }]);
    assert.equal(w.saving.bytes, WEIGHTS.length);

    const tools = byId.get('devel-toolchain')!;
    assert.equal(tools.severity, 'medium');
    assert.equal(tools.evidence.bytes, s(0, 'usr/bin/gcc-12') + s(0, 'usr/lib/gcc/x86_64-linux-gnu/12/cc1') + s(0, 'usr/include/openssl/ssl.h') + s(0, 'usr/local/cuda-11.8/bin/nvcc'));
    assert.deepEqual(tools.evidence.details?.compilers, ['usr/bin/gcc-12', 'usr/lib/gcc/x86_64-linux-gnu/12/cc1', 'usr/local/cuda-11.8/bin/nvcc']);
    assert.match(tools.fix, /-runtime/);

    const caches = byId.get('caches-left')!;
    assert.deepEqual(caches.evidence.details?.byKind, {
      'apt-lists': s(1, 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages'),
      'deb-archives': s(1, 'var/cache/apt/archives/python3.11_3.11.2-6_amd64.deb'),
      pycache: s(2, 'usr/local/lib/python3.11/site-packages/numpy/__pycache__/__init__.cpython-311.pyc'),
      pip: s(2, 'root/.cache/pip/http-v2/a/b/c/d/e/0123456789abcdef'),
    });
    assert.equal(caches.evidence.bytes, expectedCategories(spec).totals.caches);
    assert.match(caches.fix, /rm -rf \/var\/lib\/apt\/lists/);
    assert.match(caches.fix, /--no-cache-dir/);

    const waste = byId.get('deleted-waste')!;
    assert.equal(waste.evidence.bytes, analysis.waste.deletedBytes + analysis.waste.overwrittenBytes);
    assert.deepEqual(waste.evidence.layers, [0, 3]);
    assert.equal(byId.get('duplicate-files')!.evidence.bytes, LIBTORCH.length);
    assert.deepEqual(byId.get('duplicate-files')!.evidence.paths, ['app/vendor/libtorch_cpu.so']);

    const key = byId.get('secret:app/id_rsa')!;
    assert.deepEqual([key.severity, key.evidence.layers, key.evidence.details], ['critical', [3], { kind: 'private-key', deleted: true }]);
    const env = byId.get('secret:app/.env')!;
    assert.deepEqual(env.evidence.details, { kind: 'env-file', deleted: false });
    // the secret itself is nowhere in the analysis
    const text = JSON.stringify(analysis);
    assert.equal(text.includes('FAKE-KEY'), false);
    assert.equal(text.includes('hf_FAKE'), false);

    assert.deepEqual(byId.get('runs-as-root')!.evidence.details, { user: '' });
    assert.deepEqual(byId.get('no-healthcheck')!.evidence.details, { exposedPorts: ['8000/tcp'] });
    const busting = byId.get('cache-busting')!;
    assert.deepEqual(busting.evidence.layers, [3, 4]);
    assert.equal(busting.saving.bytes, analysis.layers[4]!.uncompressedBytes);
    const torch = byId.get('torch-cuda-mismatch')!;
    assert.deepEqual(torch.evidence.details, { torch: '2.1.0+cu121', torchCuda: '12.1', baseCuda: '11.8.0', torchBundlesCuda: false });
    assert.equal(torch.severity, 'high');

    // sorted by saving, then severity
    for (let i = 1; i < analysis.findings.length; i++) assert.ok(analysis.findings[i - 1]!.saving.bytes >= analysis.findings[i]!.saving.bytes);
    for (const f of analysis.findings) {
      assert.ok(f.fix.length > 10 && f.fix.split('\n').length <= 2, f.id);
      if (f.saving.bytes > 0) assert.ok(f.saving.seconds > 0 && f.saving.compressedBytes > 0, f.id);
    }
  });

  test('the clean counterpart has no finding, no waste and no caches', async () => {
    const spec = cleanImage();
    const { analysis } = await analyseSpec(spec);
    assert.deepEqual(analysis.findings, []);
    assert.equal(analysis.waste.totalBytes, 0);
    assert.equal(analysis.efficiency.score, 1);
    assert.deepEqual(analysis.totals.categories, expectedCategories(spec).totals);
    for (const c of ['caches', 'model-weights', 'build-tools', 'cuda'] as const) assert.equal(analysis.totals.categories[c], 0);
  });

  test('thresholds: weights under the threshold and small layers are no findings', async () => {
    const { analysis } = await analyseSpec(dirtyImage(), { ...OPTIONS, weightsThresholdBytes: 100 * MiB, hugeLayerBytes: 100 * MiB });
    const ids = analysis.findings.map((f) => f.id);
    assert.equal(ids.includes('baked-weights'), false);
    assert.equal(ids.includes('cache-busting'), false);
  });

  test('a layer record cap marks the analysis partial', async () => {
    const built = await buildImage(dirtyImage());
    const accounting = new LayerAccounting({ ...(await import('../../src/features/insights/layer-record.js')).DEFAULT_ACCOUNTING_LIMITS, maxEntries: 4 });
    await readLayers(built.layers.map((l) => ({ digest: l.digest, open: async () => Readable.from([l.bytes]) })), [accounting], DEFAULT_INSIGHTS_OPTIONS.read);
    const analysis = analyse(accounting.records, parseConfigFacts(JSON.parse(built.config.toString()), 5), OPTIONS);
    assert.equal(analysis.partial, true);
    assert.ok(analysis.layers.every((l) => l.partial === l.files >= 4 || l.partial));
    assert.match(analysis.warnings.join('\n'), /partial/);
  });
});

describe('insights parsers', () => {
  test('safetensors headers: good, oversized, past the end, not JSON, bad offsets', () => {
    const read = (b: Buffer, cap = 1024 * 1024, chunk = 3) => {
      const r = new SafetensorsHeaderReader(b.length, cap);
      for (let i = 0; i < b.length; i += chunk) r.write(b.subarray(i, i + chunk));
      return r.result();
    };
    assert.deepEqual(read(WEIGHTS, 1024 * 1024, 7), { tensors: 3, dtypes: { F16: 1048576, F32: 1024, BF16: 512 }, parameters: 1024 * 1024 + 1024 + 512, headerBytes: WEIGHTS.readUInt32LE(0) });
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(2n ** 62n);
    assert.match(read(huge).error!, /over the 1048576-byte limit/);
    const past = Buffer.alloc(16);
    past.writeBigUInt64LE(100n);
    assert.match(read(past, 1000).error!, /past the end/);
    assert.match(read(Buffer.alloc(5)).error!, /shorter than/);
    assert.match(parseSafetensorsHeader('{"a":', 100, 5).error!, /not JSON/);
    assert.match(parseSafetensorsHeader('[1]', 100, 3).error!, /not a JSON object/);
    assert.match(parseSafetensorsHeader('{"t":{"dtype":"F16","shape":[2],"data_offsets":[0,400]}}', 100, 50).error!, /outside the file/);
    assert.match(parseSafetensorsHeader('{"t":{"dtype":"F16","shape":[-1],"data_offsets":[0,4]}}', 100, 50).error!, /bad shape/);
  });

  test('secrets by path and by content; never the match', () => {
    assert.equal(secretKindOfPath('app/.env'), 'env-file');
    assert.equal(secretKindOfPath('app/.env.production'), 'env-file');
    assert.equal(secretKindOfPath('app/.env.example'), undefined);
    assert.equal(secretKindOfPath('root/.aws/credentials'), 'aws-credentials');
    assert.equal(secretKindOfPath('home/u/.ssh/id_ed25519'), 'private-key');
    assert.equal(secretKindOfPath('home/u/.ssh/id_ed25519.pub'), undefined);
    const sniff = (path: string, text: string) => {
      const s = new SecretSniffer(path, 64 * 1024);
      s.write(Buffer.from(text));
      return s.result();
    };
    assert.equal(sniff('srv/key.pem', PRIVATE_KEY), 'private-key');
    assert.equal(sniff('srv/conf.ini', 'aws_access_key_id = AKIAABCDEFGHIJKLMNOP\n'), 'aws-credentials');
    assert.equal(sniff('srv/sa.json', '{"type": "service_account", "project_id": "x", "private_key": "-----BEGIN..."}'), 'gcp-service-account-key');
    assert.equal(sniff('srv/ci.sh', `export GH=ghp_${'a'.repeat(36)}`), 'github-token');
    assert.equal(sniff('srv/readme.txt', 'no secrets here, just -----BEGIN CERTIFICATE-----'), undefined);
    assert.equal(sniff('usr/lib/python3/site-packages/x/test_key.pem', PRIVATE_KEY), undefined, 'libraries are not sniffed');
  });

  test('categories: the order of the rules', () => {
    const owners = new Map([
      ['usr/lib/x86_64-linux-gnu/libcudnn.so.8', 'libcudnn8'],
      ['usr/share/doc/libc6/changelog.gz', 'libc6'],
      ['usr/lib/python3/dist-packages/numpy/__init__.py', 'python3-numpy'],
      ['usr/bin/gcc-12', 'gcc-12'],
    ]);
    const o = { owner: (p: string) => owners.get(p) };
    const cases: [string, string][] = [
      ['root/.cache/huggingface/hub/models--bert/blobs/abc123', 'model-weights'],
      ['root/.cache/huggingface/hub/models--bert/refs/main', 'caches'],
      ['root/.cache/torch/hub/checkpoints/resnet50.pth', 'model-weights'],
      ['var/cache/apt/pkgcache.bin', 'caches'],
      ['opt/conda/pkgs/numpy-1.26.0/info/index.json', 'caches'],
      ['root/.npm/_cacache/content-v2/sha512/ab', 'caches'],
      ['usr/share/doc/libc6/changelog.gz', 'docs'],
      ['usr/share/locale/de/LC_MESSAGES/x.mo', 'docs'],
      ['usr/bin/gcc-12', 'build-tools'],
      ['usr/local/cuda-12.1/include/cuda.h', 'build-tools'],
      ['usr/local/cuda-12.1/targets/x86_64-linux/lib/libcudart_static.a', 'build-tools'],
      ['usr/lib/x86_64-linux-gnu/libcudnn.so.8', 'cuda'],
      ['usr/local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12', 'cuda'],
      ['usr/local/lib/python3.11/site-packages/jaxlib/xla_extension.so', 'ml-frameworks'],
      ['usr/local/lib/python3.11/site-packages/torchvision.libs/libpng.so', 'ml-frameworks'],
      ['usr/lib/python3/dist-packages/numpy/__init__.py', 'os-packages'],
      ['usr/local/lib/python3.11/site-packages/transformers/modeling_utils.py', 'python-packages'],
      ['workspace/train.py', 'application'],
      ['etc/hostname', 'other'],
    ];
    for (const [path, want] of cases) assert.equal(categorize(path, o), want, path);
  });
});
