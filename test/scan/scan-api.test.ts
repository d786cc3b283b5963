/**
 * End to end over /api/v1: push an ML image built here (Debian packages, CUDA, Python and npm
 * packages, gzip and zstd layers), import real OSV advisories (ndjson and a zip archive), scan,
 * read the report, re-match after a new import without reading layers again, SBOMs in both
 * formats, an SBOM attached as a referrer, scan-on-push through the job queue, bad input.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { JobRunner } from '../../src/jobs/job-runner.js';
import { SqlJobStore } from '../../src/storage/metadata/sql-job-store.js';
import { startHarness, pushImage, type Harness } from '../http/harness.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';
import { mlImageLayers } from '../content/support/fixtures.js';
import { gzip, tarOf } from '../content/support/layers.js';
import { zipOf } from './support/zip.js';

const OSV_DIR = join(import.meta.dirname, '..', 'fixtures', 'osv');
const osvFiles = readdirSync(OSV_DIR).filter((f) => f.endsWith('.json'));
const ADMIN = basic('admin', TEST_ADMIN_PASSWORD);

let h: Harness;
let image: Awaited<ReturnType<typeof pushImage>>;

function api(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const raw = Buffer.isBuffer(body) || typeof body === 'string';
  return h.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: ADMIN, ...(body !== undefined && !raw ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { payload: raw ? body : JSON.stringify(body) } : {}),
  });
}

const ndjson = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

before(async () => {
  h = await startHarness({ auth: {} });
  // every layer is declared tar+gzip; the last one is really zstd (told apart by its magic bytes)
  image = await pushImageAs(h, 'ml/trainer', 'v1', await mlImageLayers());
});
after(async () => h?.close());

async function pushImageAs(harness: Harness, repo: string, tag: string, layers: Buffer[]) {
  // the harness pushes without credentials; this app adds the admin's to every request
  type InjectOptions = { headers?: Record<string, string> } & Record<string, unknown>;
  const app = { inject: (o: InjectOptions) => harness.app.inject({ ...o, headers: { ...(o.headers ?? {}), authorization: ADMIN } } as never) };
  return pushImage(app as unknown as Harness['app'], repo, tag, {}, layers);
}

describe('scanning over the API', () => {
  test('importing OSV records as ndjson records the source and counts', async () => {
    const records = osvFiles.filter((f) => f !== 'ALPINE-CVE-2023-5363.json').map((f) => JSON.parse(readFileSync(join(OSV_DIR, f), 'utf8')));
    const res = await api('POST', '/api/v1/vulndb/imports?source=fixtures', ndjson([...records, { not: 'osv' }]) + 'not json\n', { 'content-type': 'application/x-ndjson' });
    assert.equal(res.statusCode, 201, res.body);
    const r = JSON.parse(res.body);
    assert.equal(r.records, records.length + 2);
    assert.equal(r.added, records.length);
    assert.equal(r.rejected, 2);
    assert.equal(r.errors.length, 2);
    const status = JSON.parse((await api('GET', '/api/v1/vulndb')).body);
    assert.equal(status.advisories, records.length);
    assert.equal(status.imports[0].source, 'fixtures');
    assert.equal(status.imports[0].newestRecord, '2023-10-03T18:00:00.000Z');
  });

  test('a zip archive as OSV publishes them', async () => {
    const zip = zipOf([
      { name: 'ALPINE-CVE-2023-5363.json', content: readFileSync(join(OSV_DIR, 'ALPINE-CVE-2023-5363.json')) },
      { name: 'README.txt', content: 'not a record' },
    ]);
    const res = await api('POST', '/api/v1/vulndb/imports?source=alpine-v3.18.zip', zip, { 'content-type': 'application/zip' });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual([JSON.parse(res.body).added, JSON.parse(res.body).rejected], [1, 0]);
  });

  test('scan: findings with ids, aliases, installed and fixed versions, severity and layer', async () => {
    const res = await api('POST', '/api/v1/scans/ml/trainer', { reference: 'v1' });
    assert.equal(res.statusCode, 200, res.body);
    const report = JSON.parse(res.body);
    assert.equal(report.digest, image.digest);
    assert.equal(report.os.id, 'debian');
    const byId = Object.fromEntries(report.findings.map((f: { id: string }) => [f.id, f]));
    assert.deepEqual(Object.keys(byId).sort(), ['DSA-5514-1', 'GHSA-35jh-r3h4-6jhm', 'GHSA-j8r2-6x86-q33q', 'PYSEC-2021-66', 'PYSEC-2022-43015', 'PYSEC-2023-74']);
    const glibc = byId['DSA-5514-1'];
    assert.deepEqual([glibc.package.name, glibc.package.sourceName, glibc.installed, glibc.fixed, glibc.layer, glibc.layerDigest], ['libc6', 'glibc', '2.36-9+deb12u1', '2.36-9+deb12u3', 0, image.layers[0]]);
    assert.ok(glibc.aliases.includes('CVE-2023-4911'));
    const lodash = byId['GHSA-35jh-r3h4-6jhm'];
    assert.deepEqual([lodash.severity, lodash.score, lodash.fixed, lodash.layer], ['HIGH', 7.2, '4.17.21', 3]);
    assert.deepEqual([byId['GHSA-j8r2-6x86-q33q'].severity, byId['GHSA-j8r2-6x86-q33q'].fixed], ['MEDIUM', '2.31.0']);
    assert.equal(byId['PYSEC-2022-43015'].installed, '1.13.0+cu117');
    assert.deepEqual(report.summary, { CRITICAL: 0, HIGH: 1, MEDIUM: 1, LOW: 0, UNKNOWN: 4 });
    assert.deepEqual(report.ml.frameworks.map((f: { name: string; cuda: string }) => [f.name, f.cuda]), [['torch', '11.7']]);
    assert.equal(report.layers.length, 4);
    assert.deepEqual(report.layers.map((l: { compression: string }) => l.compression), ['gzip', 'gzip', 'gzip', 'zstd']);
    const again = JSON.parse((await api('GET', '/api/v1/scans/ml/trainer?reference=v1')).body);
    assert.deepEqual(again.summary, report.summary);
    const byDigest = await api('GET', `/api/v1/scans/ml/trainer?reference=${image.digest}`);
    assert.equal(byDigest.statusCode, 200);
  });

  test('a multi-platform index: the platform asked for (default linux/amd64) is scanned', async () => {
    const child = (digest: string, size: number, architecture: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size, platform: { os: 'linux', architecture } });
    const arm = await pushImageAs(h, 'ml/trainer', 'arm', [gzip(await tarOf([{ name: 'app/node_modules/lodash/package.json', content: '{"name":"lodash","version":"4.17.21"}' }]))]);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [child(arm.digest, arm.manifest.length, 'arm64'), child(image.digest, image.manifest.length, 'amd64')] }));
    const put = await h.app.inject({ method: 'PUT', url: '/v2/ml/trainer/manifests/multi', headers: { authorization: ADMIN, 'content-type': 'application/vnd.oci.image.index.v1+json' }, payload: index });
    assert.equal(put.statusCode, 201, put.body);
    const amd = JSON.parse((await api('POST', '/api/v1/scans/ml/trainer', { reference: 'multi' })).body);
    assert.deepEqual([amd.digest, amd.index.platform], [image.digest, 'linux/amd64']);
    const armReport = JSON.parse((await api('POST', '/api/v1/scans/ml/trainer', { reference: 'multi', platform: 'linux/arm64' })).body);
    assert.deepEqual([armReport.digest, armReport.findings.length], [arm.digest, 0]);
    assert.equal((await api('POST', '/api/v1/scans/ml/trainer', { reference: 'multi', platform: 'linux/s390x' })).statusCode, 422);
  });

  test('new vulnerability data re-matches stored inventories without reading layers, and marks new findings', async () => {
    for (const l of image.layers) await h.blobs.delete(l as never); // the layers are gone: only the inventory is left
    const record = {
      id: 'WHARF-TEST-2024-0001',
      modified: '2024-03-01T00:00:00Z',
      aliases: ['CVE-2099-0001'],
      summary: 'test-only advisory against the openssl source package',
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.13-1~deb12u1' }] }] }],
    };
    const res = await api('POST', '/api/v1/vulndb/imports?source=test', ndjson([record]), { 'content-type': 'application/x-ndjson' });
    assert.equal(res.statusCode, 201, res.body);
    const imported = JSON.parse(res.body);
    assert.deepEqual(imported.rematch, { inventories: 2, newFindings: 1 }, 'both stored inventories (amd64 and arm64) re-matched; one new finding');
    const report = JSON.parse((await api('GET', '/api/v1/scans/ml/trainer?reference=v1')).body);
    const fresh = report.findings.filter((f: { firstSeenImport: number | null }) => f.firstSeenImport === imported.id);
    assert.deepEqual(fresh.map((f: { id: string; package: { name: string }; layer: number; severity: string }) => [f.id, f.package.name, f.layer, f.severity]), [
      ['WHARF-TEST-2024-0001', 'libssl3', 1, 'CRITICAL'],
    ]);
    assert.equal(report.summary.CRITICAL, 1);
    const same = JSON.parse((await api('POST', '/api/v1/vulndb/imports?source=test', ndjson([record]), { 'content-type': 'application/x-ndjson' })).body);
    assert.deepEqual([same.added, same.unchanged, same.rematch.newFindings], [0, 1, 0], 'the same record again changes nothing');
  });

  test('SBOMs: SPDX 2.3 and CycloneDX 1.6 with purls and layers', async () => {
    const spdxRes = await api('GET', '/api/v1/sbom/ml/trainer?reference=v1&format=spdx');
    assert.equal(spdxRes.statusCode, 200, spdxRes.body);
    assert.match(spdxRes.headers['content-type'] as string, /^application\/spdx\+json/);
    const spdx = JSON.parse(spdxRes.body);
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    assert.equal(spdx.dataLicense, 'CC0-1.0');
    assert.match(spdx.documentNamespace, /^https:\/\//);
    const purls = spdx.packages.flatMap((p: { externalRefs?: { referenceLocator: string }[] }) => (p.externalRefs ?? []).map((r) => r.referenceLocator));
    assert.ok(purls.includes('pkg:pypi/requests@2.28.1'));
    assert.ok(purls.includes('pkg:npm/lodash@4.17.20'));
    assert.ok(purls.some((p: string) => p.startsWith('pkg:oci/trainer@sha256')));
    const ids = new Set(spdx.packages.map((p: { SPDXID: string }) => p.SPDXID));
    assert.equal(ids.size, spdx.packages.length, 'SPDX ids are unique');
    for (const r of spdx.relationships) assert.ok(r.spdxElementId === 'SPDXRef-DOCUMENT' || ids.has(r.spdxElementId));
    const cdx = JSON.parse((await api('GET', '/api/v1/sbom/ml/trainer?reference=v1&format=cyclonedx')).body);
    assert.deepEqual([cdx.bomFormat, cdx.specVersion, cdx.version], ['CycloneDX', '1.6', 1]);
    assert.match(cdx.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(cdx.metadata.component.type, 'container');
    const libc = cdx.components.find((c: { name: string }) => c.name === 'libc6');
    assert.deepEqual(libc.properties.find((p: { name: string }) => p.name === 'wharf:layer:digest').value, image.layers[0]);
    assert.equal(cdx.components.find((c: { type: string }) => c.type === 'operating-system').version, '12');
  });

  test('an SBOM attached as a referrer of the image', async () => {
    // the layers were deleted above; attaching needs only the inventory
    const res = await api('POST', '/api/v1/sbom/ml/trainer', { reference: 'v1', format: 'cyclonedx' });
    assert.equal(res.statusCode, 201, res.body);
    const attached = JSON.parse(res.body);
    assert.equal(attached.subject, image.digest);
    const referrers = JSON.parse((await api('GET', `/v2/ml/trainer/referrers/${image.digest}?artifactType=application/vnd.cyclonedx%2Bjson`)).body);
    assert.deepEqual(referrers.manifests.map((m: { digest: string }) => m.digest), [attached.digest]);
  });

  test('scan on push, through the job queue, when the repository asks for it', async () => {
    const runner = new JobRunner({ store: new SqlJobStore(h.metadata.database, 'sqlite'), logger: pino({ level: 'silent' }) });
    h.scan.useJobs(runner);
    const first = await pushImageAs(h, 'ml/auto', 'v1', [gzip(await tarOf([{ name: 'app/node_modules/lodash/package.json', content: '{"name":"lodash","version":"4.17.15"}' }]))]);
    assert.equal((await api('PATCH', '/api/v1/repositories/ml/auto', { scanOnPush: true })).statusCode, 200);
    assert.equal(JSON.parse((await api('GET', '/api/v1/repositories/ml/auto')).body).scanOnPush, true);
    assert.equal((await api('GET', `/api/v1/scans/ml/auto?reference=${first.digest}`)).statusCode, 404, 'pushed before scanOnPush: not scanned');
    const second = await pushImageAs(h, 'ml/auto', 'v2', [gzip(await tarOf([{ name: 'app/node_modules/lodash/package.json', content: '{"name":"lodash","version":"4.17.19"}' }]))]);
    await new Promise((r) => setTimeout(r, 50)); // the push listener enqueues after the response
    assert.ok((await runner.drain()) >= 1);
    const report = JSON.parse((await api('GET', '/api/v1/scans/ml/auto?reference=v2')).body);
    assert.equal(report.digest, second.digest);
    assert.deepEqual(report.findings.map((f: { id: string }) => f.id), ['GHSA-35jh-r3h4-6jhm']);
  });
});

describe('scanning: bad input', () => {
  test('unknown tags, non-images, malicious layers', async () => {
    assert.equal((await api('POST', '/api/v1/scans/ml/trainer', { reference: 'nope' })).statusCode, 404);
    assert.equal((await api('POST', '/api/v1/scans/ml/trainer', { reference: 'Bad Tag!' })).statusCode, 400);
    assert.equal((await api('POST', '/api/v1/scans/ml/trainer', {})).statusCode, 400);
    const bomb = gzip(await tarOf([{ name: 'zeros', content: Buffer.alloc(64 * 1024 * 1024) }]));
    await pushImageAs(h, 'ml/bomb', 'v1', [bomb]);
    const res = await api('POST', '/api/v1/scans/ml/bomb', { reference: 'v1' });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(JSON.parse(res.body).errors[0].code, 'SCAN_FAILED');
    await pushImageAs(h, 'ml/junk', 'v1', [Buffer.from('definitely not a tar archive '.repeat(100))]);
    const junk = await api('POST', '/api/v1/scans/ml/junk', { reference: 'v1' });
    assert.equal(junk.statusCode, 422, junk.body);
    assert.match(JSON.parse(junk.body).errors[0].message, /not a readable layer/);
  });

  test('bad OSV uploads', async () => {
    const notZip = await api('POST', '/api/v1/vulndb/imports?source=x', Buffer.from('PK? no'), { 'content-type': 'application/zip' });
    assert.equal(notZip.statusCode, 400, notZip.body);
    const wrongType = await api('POST', '/api/v1/vulndb/imports?source=x', 'hello', { 'content-type': 'text/csv' });
    assert.equal(wrongType.statusCode, 415, wrongType.body);
    const noSource = await api('POST', '/api/v1/vulndb/imports', '{}\n', { 'content-type': 'application/x-ndjson' });
    assert.equal(noSource.statusCode, 400, noSource.body);
  });
});
