/**
 * Python package repositories with the clients people use (issue 17): twine uploads wheels and
 * sdists built here from a local source tree; pip installs them (hash-checked), respecting
 * Requires-Python and yanks, with and without credentials; pip downloads a pinned version; the
 * same roles as images decide who may read and upload. Against the built server with auth on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { WharfClient } from '../../src/client/wharf-client.js';
import { e2eTarget, startRegistry, type RegistryProcess } from '../support/registry-process.js';
import { buildDistributions, pip, pythonToolsMissing, show, twine, wharf } from './support.js';

const skip = e2eTarget() !== 'wharf' ? 'Wharf only' : pythonToolsMissing();
const ADMIN = { username: 'admin', password: 'pypi-admin-password' };

describe('pip and twine against a PyPI repository', { skip, timeout: 600_000 }, () => {
  let reg: RegistryProcess;
  let dir: string;
  let home: string;
  let admin: WharfClient;
  let ciKey: string;
  let readerKey: string;
  const d: Record<string, { wheel: string; sdist: string }> = {};

  const repoUrl = (repo: string) => `${reg.url}/pypi/${repo}/`;
  const index = (repo: string, creds?: string) => `http://${creds ? `${creds}@` : ''}${reg.host}/pypi/${repo}/simple/`;
  const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  const target = () => mkdtempSync(join(dir, 'site-'));
  const installed = (site: string) => readdirSync(site).filter((f) => f.endsWith('.dist-info')).sort();

  before(async () => {
    reg = await startRegistry({ credentials: ADMIN });
    dir = mkdtempSync(join(tmpdir(), 'wharf-pypi-'));
    home = join(dir, 'home');
    admin = new WharfClient({ server: reg.url, ...ADMIN });
    await admin.createRepository('ml/pylibs', {}, 'pypi');
    await admin.createRepository('ml/public-py', { public: true }, 'pypi');
    await admin.createRepository('ml/images', {});
    await admin.createServiceAccount({ name: 'ci', description: 'publishes ml/*' });
    await admin.grant({ principal: 'ci', role: 'writer', scope: 'ml/*' });
    ciKey = (await admin.createKey('ci')).key!;
    await admin.createServiceAccount({ name: 'trainer' });
    await admin.grant({ principal: 'trainer', role: 'reader', scope: 'ml/pylibs' });
    readerKey = (await admin.createKey('trainer')).key!;
    d.v1 = await buildDistributions(dir, home, 'ML_Utils', '1.0.0');
    d.v15 = await buildDistributions(dir, home, 'ML_Utils', '1.5.0');
    d.v2 = await buildDistributions(dir, home, 'ML_Utils', '2.0.0', '>=4.0');
    d.pub = await buildDistributions(dir, home, 'open-tool', '0.1.0');
  });
  after(async () => {
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('twine uploads wheels and sdists with a service-account key; a second upload of a file is refused as on PyPI', async () => {
    const files = [d.v1!.wheel, d.v1!.sdist, d.v15!.wheel, d.v15!.sdist, d.v2!.wheel, d.v2!.sdist];
    const up = await twine(home, ['--repository-url', repoUrl('ml/pylibs'), '-u', 'ci', '-p', ciKey, ...files]);
    assert.equal(up.code, 0, show(up));
    const again = await twine(home, ['--repository-url', repoUrl('ml/pylibs'), '-u', 'ci', '-p', ciKey, d.v1!.wheel]);
    assert.notEqual(again.code, 0);
    assert.match(again.stdout + again.stderr, /400 .*File already exists/s);
    const skipping = await twine(home, ['--skip-existing', '--repository-url', repoUrl('ml/pylibs'), '-u', 'ci', '-p', ciKey, d.v1!.wheel]);
    assert.equal(skipping.code, 0, show(skipping));
    assert.match(skipping.stdout + skipping.stderr, /Skipping .*already\s+exist/is);
    const listed = await admin.listPypiFiles('ml/pylibs');
    assert.deepEqual(listed.items.map((f) => f.filename).sort(), files.map((f) => basename(f)).sort());
    const wheel = listed.items.find((f) => f.filename === basename(d.v1!.wheel))!;
    assert.equal(wheel.digest, `sha256:${sha256(d.v1!.wheel)}`);
    assert.equal(wheel.requiresPython, '>=3.8');
    assert.equal(wheel.uploadedBy, 'ci');
    // the bytes count as the repository's storage like image layers
    const repo = await admin.getRepository('ml/pylibs');
    assert.equal(repo.format, 'pypi');
    const total = files.reduce((n, f) => n + readFileSync(f).length, 0);
    assert.equal(repo.usage.storedBytes, total);
  });

  test('pip installs with hash checking (--require-hashes), skipping a release whose Requires-Python excludes it', async () => {
    const req = join(dir, 'req.txt');
    writeFileSync(req, `ml-utils==1.5.0 --hash=sha256:${sha256(d.v15!.wheel)} --hash=sha256:${sha256(d.v15!.sdist)}\n`);
    const site = target();
    const r = await pip(home, ['install', '--require-hashes', '--no-deps', '--target', site, '--index-url', index('ml/pylibs', `trainer:${readerKey}`), '-r', req]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(installed(site), ['ML_Utils-1.5.0.dist-info']);
    assert.match(readFileSync(join(site, 'ml_utils', '__init__.py'), 'utf8'), /1\.5\.0/);
    // a wrong hash is refused by pip: the index's hashes are what pip checks against
    writeFileSync(req, `ml-utils==1.5.0 --hash=sha256:${'0'.repeat(64)}\n`);
    const bad = await pip(home, ['install', '--require-hashes', '--no-deps', '--only-binary', ':all:', '--target', target(), '--index-url', index('ml/pylibs', `trainer:${readerKey}`), '-r', req]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /DO NOT MATCH THE HASHES/);
    // unpinned: 2.0.0 requires Python >= 4, so the newest installable is 1.5.0
    const latest = target();
    const u = await pip(home, ['install', '--no-deps', '--target', latest, '--index-url', index('ml/pylibs', `trainer:${readerKey}`), 'ML.Utils']);
    assert.equal(u.code, 0, show(u));
    assert.deepEqual(installed(latest), ['ML_Utils-1.5.0.dist-info']);
  });

  test('wharf pypi yank hides a release from unpinned installs; == still installs it (with the reason); unyank restores it', async () => {
    const y = await wharf(home, reg.url, ['login', '-u', 'admin', '-p', ADMIN.password]);
    assert.equal(y.code, 0, show(y));
    const yank = await wharf(home, reg.url, ['pypi', 'yank', 'ml/pylibs', 'ml-utils', '1.5.0', '--reason', 'breaks <GPU> loading']);
    assert.equal(yank.code, 0, show(yank));
    assert.match(yank.stdout, /yanked ml-utils 1\.5\.0 \(2 files\)/);
    const latest = target();
    const u = await pip(home, ['install', '--no-deps', '--target', latest, '--index-url', index('ml/pylibs', `trainer:${readerKey}`), 'ml-utils']);
    assert.equal(u.code, 0, show(u));
    assert.deepEqual(installed(latest), ['ML_Utils-1.0.0.dist-info']);
    const pinned = target();
    const p = await pip(home, ['install', '--no-deps', '--target', pinned, '--index-url', index('ml/pylibs', `trainer:${readerKey}`), 'ml-utils==1.5.0']);
    assert.equal(p.code, 0, show(p));
    assert.deepEqual(installed(pinned), ['ML_Utils-1.5.0.dist-info']);
    assert.match(p.stderr + p.stdout, /yanked.*breaks <GPU> loading/is);
    const listed = await wharf(home, reg.url, ['pypi', 'list', 'ml/pylibs', 'ML_Utils']);
    assert.equal(listed.code, 0, show(listed));
    assert.match(listed.stdout, /1\.5\.0 .*yes: breaks <GPU> loading/);
    const un = await wharf(home, reg.url, ['pypi', 'unyank', 'ml/pylibs', 'ml-utils', '1.5.0']);
    assert.equal(un.code, 0, show(un));
    const again = target();
    const a = await pip(home, ['install', '--no-deps', '--target', again, '--index-url', index('ml/pylibs', `trainer:${readerKey}`), 'ml-utils']);
    assert.equal(a.code, 0, show(a));
    assert.deepEqual(installed(again), ['ML_Utils-1.5.0.dist-info']);
  });

  test('wharf pypi audit matches the releases against imported OSV PyPI data, like an image scan', async () => {
    const osv = join(dir, 'GHSA-test-0001.json');
    writeFileSync(
      osv,
      JSON.stringify({
        id: 'GHSA-test-0001',
        modified: '2024-01-01T00:00:00Z',
        summary: 'code execution when loading a checkpoint',
        affected: [{ package: { ecosystem: 'PyPI', name: 'ML_Utils' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.5.0' }] }] }],
        database_specific: { severity: 'HIGH' },
      }),
    );
    const imp = await wharf(home, reg.url, ['vulndb', 'import', osv]);
    assert.equal(imp.code, 0, show(imp));
    const audit = await wharf(home, reg.url, ['pypi', 'audit', 'ml/pylibs', '--output', 'json']);
    assert.equal(audit.code, 0, show(audit));
    const r = JSON.parse(audit.stdout) as { releases: number; findings: { id: string; installed: string; fixed?: string; package: { name: string } }[] };
    assert.equal(r.releases, 3);
    assert.deepEqual(r.findings.map((f) => [f.id, f.installed, f.fixed]), [['GHSA-test-0001', '1.0.0', '1.5.0']]);
    const gate = await wharf(home, reg.url, ['pypi', 'audit', 'ml/pylibs', 'ml-utils', '--fail-on', 'unknown']);
    assert.equal(gate.code, 4, show(gate));
    assert.match(gate.stdout, /GHSA-test-0001 +ML-Utils +1\.0\.0 +1\.5\.0/);
    const clean = await wharf(home, reg.url, ['pypi', 'audit', 'ml/pylibs', 'ml-utils', '1.5.0', '--fail-on', 'unknown']);
    assert.equal(clean.code, 0, show(clean));
  });

  test('pip download of a pinned version, and --extra-index-url next to another index', async () => {
    const out = mkdtempSync(join(dir, 'dl-'));
    const r = await pip(home, ['download', '--no-deps', '--only-binary', ':all:', '-d', out, '--index-url', index('ml/pylibs', `trainer:${readerKey}`), 'ml-utils==1.0.0']);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(readdirSync(out), [basename(d.v1!.wheel)]);
    assert.deepEqual(readFileSync(join(out, basename(d.v1!.wheel))), readFileSync(d.v1!.wheel));
    const up = await twine(home, ['--repository-url', repoUrl('ml/public-py'), '-u', 'ci', '-p', ciKey, d.pub!.wheel, d.pub!.sdist]);
    assert.equal(up.code, 0, show(up));
    // the public repository as the main index, the private one (with credentials) as the extra one
    const site = target();
    const e = await pip(home, ['install', '--no-deps', '--target', site, '--index-url', index('ml/public-py'), '--extra-index-url', index('ml/pylibs', `trainer:${readerKey}`), 'open-tool', 'ml-utils==1.0.0']);
    assert.equal(e.code, 0, show(e));
    assert.deepEqual(installed(site), ['ML_Utils-1.0.0.dist-info', 'open_tool-0.1.0.dist-info']);
  });

  test('access: anonymous only on a public repository; a reader may download, not upload; a format mismatch is refused', async () => {
    const anonPublic = target();
    const ok = await pip(home, ['install', '--no-deps', '--target', anonPublic, '--index-url', index('ml/public-py'), 'open-tool']);
    assert.equal(ok.code, 0, show(ok));
    const anonPrivate = await pip(home, ['install', '--no-deps', '--target', target(), '--index-url', index('ml/pylibs'), 'ml-utils']);
    // pip without a way to prompt sees no versions; the index said 401 with a Basic challenge
    assert.notEqual(anonPrivate.code, 0);
    assert.match(anonPrivate.stdout + anonPrivate.stderr, /from versions: none/);
    const page = await fetch(`${reg.url}/pypi/ml/pylibs/simple/ml-utils/`);
    assert.equal(page.status, 401);
    assert.match(page.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    const file = await fetch(`${reg.url}/pypi/ml/pylibs/files/${sha256(d.v1!.wheel)}/${basename(d.v1!.wheel)}`);
    assert.equal(file.status, 401);
    const wrongKey = await pip(home, ['install', '--no-deps', '--target', target(), '--index-url', index('ml/pylibs', `trainer:${readerKey}x`), 'ml-utils']);
    assert.notEqual(wrongKey.code, 0);
    assert.match(wrongKey.stdout + wrongKey.stderr, /from versions: none/);
    const readerUpload = await twine(home, ['--repository-url', repoUrl('ml/pylibs'), '-u', 'trainer', '-p', readerKey, d.pub!.wheel]);
    assert.notEqual(readerUpload.code, 0);
    assert.match(readerUpload.stdout + readerUpload.stderr, /403/);
    const anonUpload = await twine(home, ['--repository-url', repoUrl('ml/public-py'), '-u', '', '-p', '', d.v1!.wheel]);
    assert.notEqual(anonUpload.code, 0);
    assert.match(anonUpload.stdout + anonUpload.stderr, /401|403/);
    const toImages = await twine(home, ['--repository-url', repoUrl('ml/images'), '-u', 'ci', '-p', ciKey, d.pub!.wheel]);
    assert.notEqual(toImages.code, 0);
    assert.match(toImages.stdout + toImages.stderr, /409 .*not\s+Python\s+packages/s);
    assert.equal((await admin.listPypiFiles('ml/public-py')).items.length, 2);
    // an image push into the Python repository: refused before any byte is taken
    const push = await fetch(`${reg.url}/v2/ml/pylibs/blobs/uploads/`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`ci:${ciKey}`).toString('base64')}` } });
    assert.equal(push.status, 409);
    assert.equal(((await push.json()) as { errors: { code: string }[] }).errors[0]!.code, 'REPOSITORY_FORMAT_MISMATCH');
  });

  test('wharf pypi delete removes a version (its files leave the index); the name is free again', async () => {
    const del = await wharf(home, reg.url, ['pypi', 'delete', 'ml/pylibs', 'ml-utils', '2.0.0', '--yes']);
    assert.equal(del.code, 0, show(del));
    assert.match(del.stdout, /deleted 2 files/);
    const page = await fetch(`${reg.url}/pypi/ml/pylibs/simple/ml-utils/`, { headers: { authorization: `Basic ${Buffer.from(`trainer:${readerKey}`).toString('base64')}` } });
    const html = await page.text();
    assert.doesNotMatch(html, /2\.0\.0/);
    assert.match(html, /1\.0\.0/);
    const up = await twine(home, ['--repository-url', repoUrl('ml/pylibs'), '-u', 'ci', '-p', ciKey, d.v2!.wheel]);
    assert.equal(up.code, 0, show(up));
    assert.ok(existsSync(d.v2!.wheel));
  });
});
