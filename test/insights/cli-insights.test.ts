/**
 * End to end: the built server (dist/cli/main.js serve) with authentication, images written here
 * as OCI layouts and pushed with skopeo (--preserve-digests), the analysis made by the on-push job,
 * then `wharf insights` through the built binary: the terminal report, --output json, the CI
 * gate (--fail-on, --max-waste, --min-efficiency, --no-baked-weights: exit 4; the clean image
 * passes them all), a multi-platform index, the API's access (pull) and the metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeContainersEnv, type ContainersEnv } from '../support/containers-env.js';
import { have } from '../support/exec.js';
import { startRegistry, wharfBuilt, wharfCli, type RegistryProcess } from '../support/registry-process.js';
import { Skopeo } from '../support/skopeo.js';
import { buildImage, cleanImage, dirtyImage, expectedCategories, writeLayout, WEIGHTS, type Built } from './support/ml-image.js';

const skip = !have('skopeo') ? 'skopeo is not installed (bash scripts/install-test-deps.sh)' : !wharfBuilt() ? 'run npm run build first' : false;
const PASSWORD = 'insights-admin-password-1';

describe('wharf insights end to end', { skip, timeout: 900_000 }, () => {
  let reg: RegistryProcess;
  let cenv: ContainersEnv;
  let skopeo: Skopeo;
  let work: string;
  let env: Record<string, string>;
  let dirty: Built;
  let clean: Built;

  const cli = (args: string[]) => wharfCli(args, { env });
  const json = (args: string[]) => {
    const r = cli([...args, '--output', 'json']);
    return { ...r, body: r.stdout ? JSON.parse(r.stdout) : undefined };
  };

  before(async () => {
    reg = await startRegistry({
      credentials: { username: 'admin', password: PASSWORD },
      env: {
        WHARF_INSIGHTS__WEIGHTS_THRESHOLD_BYTES: String(1024 * 1024),
        WHARF_INSIGHTS__HUGE_LAYER_BYTES: String(1024 * 1024),
        WHARF_INSIGHTS__BANDWIDTH_BITS_PER_SECOND: '100000000',
        WHARF_INSIGHTS__DECOMPRESS_BYTES_PER_SECOND: '50000000',
      },
    });
    cenv = makeContainersEnv({ insecureRegistries: [reg.host] });
    skopeo = new Skopeo(cenv);
    work = mkdtempSync(join(tmpdir(), 'wharf-insights-e2e-'));
    const auth = { auths: { [reg.host]: { auth: Buffer.from(`admin:${PASSWORD}`).toString('base64') } } };
    writeFileSync(join(work, 'auth.json'), JSON.stringify(auth), { mode: 0o600 });
    env = { REGISTRY_AUTH_FILE: join(work, 'auth.json'), HOME: work, WHARF_SERVER: reg.url };
    dirty = await buildImage(dirtyImage());
    clean = await buildImage(cleanImage());
    const creds = ['--dest-creds', `admin:${PASSWORD}`];
    await skopeo.copy(writeLayout(join(work, 'dirty'), 'v1', [dirty]).ref, `docker://${reg.host}/ml/dirty:v1`, creds);
    await skopeo.copy(writeLayout(join(work, 'clean'), 'v1', [clean]).ref, `docker://${reg.host}/ml/clean:v1`, creds);
  });

  after(async () => {
    await reg?.stop();
    cenv?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const waitDone = async (repo: string) => {
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${reg.url}/api/v1/insights/${repo}?reference=v1`, { headers: reg.authHeaders() });
      const body = (await res.json()) as { images: { state: string }[] };
      if (body.images?.every((x) => x.state !== 'pending')) return body;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${repo} not analysed after push\n${reg.output.slice(-3000)}`);
  };

  test('a push is analysed by the on-push job; GET answers the stored analysis', async () => {
    const body = (await waitDone('ml/dirty')) as { digest: string; images: { state: string; digest: string; analysis: { totals: { categories: unknown } } }[] };
    assert.equal(body.digest, dirty.manifestDigest);
    assert.equal(body.images[0]!.state, 'done');
    assert.deepEqual(body.images[0]!.analysis.totals.categories, expectedCategories(dirtyImage()).totals);
    await waitDone('ml/clean');
  });

  test('the terminal report: layer table with bars, categories, findings sorted by saving', () => {
    const r = cli(['insights', 'ml/dirty:v1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`ml/dirty@${dirty.manifestDigest}`));
    assert.match(r.stdout, /LAYER\s+COMPRESSED\s+SIZE\s+FILES\s+SIZE BAR\s+CREATED BY/);
    assert.match(r.stdout, /█/);
    assert.match(r.stdout, /COPY model\.safetensors \/models\//);
    assert.match(r.stdout, /CATEGORY\s+BYTES\s+SHARE/);
    assert.match(r.stdout, /model-weights/);
    assert.match(r.stdout, /FINDINGS \(11, largest saving first\)/);
    const order = [...r.stdout.matchAll(/^(CRITICAL|HIGH|MEDIUM|LOW)\s+([a-z-]+):/gm)].map((m) => m[2]);
    // the layer re-pushed on every code change (weights and a library copy after COPY .) saves the most
    assert.equal(order[0], 'cache-busting');
    assert.equal(order.length, 11);
    assert.match(r.stdout, /cold start: .* at 0\.10 Gbit\/s = .* at 50 MB\/s/);
    assert.equal(r.stdout.includes('FAKE-KEY'), false, 'never the secret');
  });

  test('--output json is the API answer', () => {
    const r = json(['insights', 'ml/dirty:v1']);
    assert.equal(r.code, 0, r.stderr);
    const a = r.body.images[0].analysis;
    assert.deepEqual(
      a.findings.map((f: { id: string }) => f.id).sort(),
      ['baked-weights', 'cache-busting', 'caches-left', 'deleted-waste', 'devel-toolchain', 'duplicate-files', 'no-healthcheck', 'runs-as-root', 'secret', 'secret', 'torch-cuda-mismatch'],
    );
    assert.equal(a.findings.find((f: { id: string }) => f.id === 'baked-weights').evidence.bytes, WEIGHTS.length);
    assert.equal(a.coldStart.bandwidthBitsPerSecond, 1e8);
    assert.equal(a.coldStart.decompressBytesPerSecond, 5e7);
  });

  test('the CI gate: each rule exits 4 on the dirty image and passes the clean one', () => {
    const gates = [['--fail-on', 'high'], ['--fail-on', 'critical'], ['--max-waste', '1MB'], ['--min-efficiency', '95%'], ['--no-baked-weights']];
    for (const g of gates) {
      const bad = cli(['insights', 'ml/dirty:v1', ...g]);
      assert.equal(bad.code, 4, `${g.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, /breaks 1 insights rule/);
    }
    const good = cli(['insights', 'ml/clean:v1', '--fail-on', 'low', '--max-waste', '1MB', '--min-efficiency', '95%', '--no-baked-weights']);
    assert.equal(good.code, 0, `the clean image: ${good.stderr}`);
    const all = cli(['insights', 'ml/dirty:v1', '--fail-on', 'low', '--max-waste', '1MB', '--min-efficiency', '0.99', '--no-baked-weights']);
    assert.equal(all.code, 4);
    assert.match(all.stderr, /breaks 4 insights rule/);
    const c = json(['insights', 'ml/clean:v1', '--fail-on', 'low']);
    assert.deepEqual(c.body.images[0].analysis.findings, []);
    assert.equal(c.body.images[0].analysis.efficiency.score, 1);
    // usage errors
    assert.equal(cli(['insights', 'ml/dirty:v1', '--fail-on', 'severe']).code, 2);
    assert.equal(cli(['insights', 'ml/dirty:v1', '--max-waste', 'lots']).code, 2);
    assert.equal(cli(['insights', 'ml/dirty:v1', '--min-efficiency', '1.5']).code, 2);
  });

  test('a multi-platform index pushed with skopeo: one analysis per platform', async () => {
    const armSpec = cleanImage();
    armSpec.architecture = 'arm64';
    armSpec.layers[1]!.files.push({ name: 'etc/arm64', content: 'yes\n', category: 'other' });
    const arm = await buildImage(armSpec);
    const layout = writeLayout(join(work, 'multi'), 'v1', [clean, arm], ['amd64', 'arm64']);
    await skopeo.copy(layout.ref, `docker://${reg.host}/ml/multi:v1`, ['--all', '--dest-creds', `admin:${PASSWORD}`]);
    const r = json(['insights', 'ml/multi:v1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.body.digest, layout.indexDigest);
    assert.deepEqual(r.body.images.map((i: { platform: string; digest: string; state: string }) => [i.platform, i.digest, i.state]), [
      ['linux/amd64', clean.manifestDigest, 'done'],
      ['linux/arm64', arm.manifestDigest, 'done'],
    ]);
    const one = json(['insights', 'ml/multi:v1', '--platform', 'linux/arm64']);
    assert.deepEqual(one.body.images.map((i: { digest: string }) => i.digest), [arm.manifestDigest]);
    const text = cli(['insights', 'ml/multi:v1']);
    assert.match(text.stdout, /\(linux\/amd64\)[\s\S]*\(linux\/arm64\)/);
  });

  test('wharf diff: layers, bytes to pull, packages and files by category between two pushed images', async () => {
    const next = cleanImage();
    next.layers[1]!.files = next.layers[1]!.files.map((f) => (f.name.endsWith('numpy-1.26.0.dist-info/METADATA') ? { ...f, name: f.name.replace('1.26.0', '2.0.0'), content: 'Metadata-Version: 2.1\nName: numpy\nVersion: 2.0.0\n' } : f));
    next.layers[2]!.files.push({ name: 'app/model_card.md', content: '# card\n', category: 'application' });
    const v2 = await buildImage(next);
    await skopeo.copy(writeLayout(join(work, 'clean-v2'), 'v2', [v2]).ref, `docker://${reg.host}/ml/clean:v2`, ['--dest-creds', `admin:${PASSWORD}`]);
    const r = json(['diff', 'ml/clean:v1', 'ml/clean:v2']);
    assert.equal(r.code, 0, r.stderr);
    const d = r.body.diff;
    assert.deepEqual([r.body.a.digest, r.body.b.digest], [clean.manifestDigest, v2.manifestDigest]);
    assert.deepEqual(d.layers.shared.map((l: { digest: string }) => l.digest), [clean.layers[0]!.digest]);
    assert.equal(d.pullBytes, v2.layers[1]!.bytes.length + v2.layers[2]!.bytes.length);
    assert.deepEqual(d.packages.upgraded, [{ type: 'pypi', name: 'numpy', from: '1.26.0', to: '2.0.0' }]);
    assert.deepEqual([d.files.byCategory.application.added, d.files.byCategory['python-packages'].added, d.files.byCategory['python-packages'].removed], [1, 1, 1]);
    const text = cli(['diff', 'ml/clean:v1', 'ml/clean:v2']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /layers: 1 shared, 2 only in A, 2 only in B/);
    assert.match(text.stdout, /~ pypi numpy 1\.26\.0 -> 2\.0\.0/);
    assert.match(text.stdout, /CATEGORY\s+ADDED\s+REMOVED\s+CHANGED/);
    assert.equal(cli(['diff', 'ml/clean:v1', 'ml/nope:v1']).code, 1);
  });

  test('access is that of pulling; bad queries are clear errors; metrics count the analyses', async () => {
    const anon = await fetch(`${reg.url}/api/v1/insights/ml/dirty?reference=v1`);
    assert.equal(anon.status, 401);
    await anon.arrayBuffer();
    const missing = await fetch(`${reg.url}/api/v1/insights/ml/dirty`, { headers: reg.authHeaders() });
    assert.equal(missing.status, 400);
    await missing.arrayBuffer();
    const unknown = await fetch(`${reg.url}/api/v1/insights/ml/dirty?reference=nope`, { headers: reg.authHeaders() });
    assert.equal(unknown.status, 404);
    await unknown.arrayBuffer();
    const extra = await fetch(`${reg.url}/api/v1/insights/ml/dirty`, { method: 'POST', headers: { ...reg.authHeaders(), 'content-type': 'application/json' }, body: JSON.stringify({ reference: 'v1', sneaky: true }) });
    assert.equal(extra.status, 400);
    await extra.arrayBuffer();
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    assert.match(metrics, /wharf_insights_analyses_total\{result="done"\} [1-9]/);
    assert.match(metrics, /wharf_insights_analysis_duration_seconds_count [1-9]/);
  });
});
