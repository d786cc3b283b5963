/**
 * /api/v1/usage (issue 5) over HTTP on SQLite: per repository logical, stored, unique and shared
 * bytes and images, exactly, for images sharing layers across repositories; registry totals,
 * dedup ratio and namespace rollups; pulls and egress after the traffic counter flushes (manifest
 * GETs by tag and digest, Range, HEAD, concurrent pulls, an aborted download); period selection
 * and its 400s; quotas shown with their usage; who sees what.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { digestOf } from '../../src/domain/digest.js';
import { startHarness, OCI_MANIFEST, type Harness } from '../http/harness.js';
import { listen } from '../http/support.js';
import { ADMIN, apiError, caller, json } from './support.js';
import { basic } from '../support/auth-stack.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Digest } from '../../src/domain/digest.js';
import { buildApp } from '../../src/http/app.js';
import { WharfMetrics } from '../../src/observability/metrics.js';
import { RegistryService } from '../../src/registry/registry-service.js';
import { FsBlobStore } from '../../src/storage/blob/fs-blob-store.js';
import { openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { pushBlob } from '../http/harness.js';

const CONFIG = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
const C = CONFIG.length;
const layer = (fill: string, n: number) => Buffer.alloc(n, fill);
const BASE = layer('b', 1000);
const U1 = layer('1', 100);
const U2 = layer('2', 200);
const U3 = layer('3', 300);
const U4 = layer('4', 400);

interface Pushed {
  digest: string;
  size: number;
}

/** Pushes CONFIG + layers and a manifest, with `headers` (auth), returning the manifest's digest and size. */
async function push(app: FastifyInstance, repo: string, tag: string, layers: Buffer[], headers: Record<string, string> = {}, extra: object = {}): Promise<Pushed> {
  for (const b of [CONFIG, ...layers]) {
    const r = await app.inject({ method: 'POST', url: `/v2/${repo}/blobs/uploads/?digest=${digestOf(b)}`, headers: { ...headers, 'content-type': 'application/octet-stream' }, payload: b });
    assert.equal(r.statusCode, 201, r.body);
  }
  const m = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(CONFIG), size: C },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(l), size: l.length })),
      ...extra,
    }),
  );
  const r = await app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${tag}`, headers: { ...headers, 'content-type': OCI_MANIFEST }, payload: m });
  assert.equal(r.statusCode, 201, r.body);
  return { digest: digestOf(m), size: m.length };
}

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

describe('usage: storage numbers', () => {
  let h: Harness;
  let a1: Pushed, a2: Pushed, l1: Pushed, s1: Pushed, sig: Pushed;
  before(async () => {
    h = await startHarness({ auth: { enabled: false } });
    a1 = await push(h.app, 'team/app', 'v1', [BASE, U1]);
    a2 = await push(h.app, 'team/app', 'v2', [BASE, U2]);
    l1 = await push(h.app, 'team/lib', 'v1', [BASE, U3]);
    s1 = await push(h.app, 'solo', 'v1', [U4]);
    // a referrer (a signature-like artifact) of solo:v1: not an image, but stored and counted
    sig = await push(h.app, 'solo', 'sig', [], {}, { subject: { mediaType: OCI_MANIFEST, digest: s1.digest, size: s1.size }, artifactType: 'application/vnd.example.sig' });
    json(await caller(h.app)('PUT', '/api/v1/namespaces/team', { quotaBytes: 10_000 }));
    json(await caller(h.app)('PATCH', '/api/v1/repositories/team/app', { quotaBytes: 5_000 }));
  });
  after(() => h?.close());

  test('per repository: logical, stored, unique, shared, attributed, images, tags, quotas', async () => {
    const r = json(await caller(h.app)('GET', '/api/v1/usage'));
    assert.deepEqual(
      r.repositories.map((x: { repository: string }) => x.repository),
      ['solo', 'team/app', 'team/lib'],
    );
    const [solo, app, lib] = r.repositories;
    // team/app: CONFIG (in 3 repositories) and BASE (in 2) shared; U1, U2 only here
    assert.equal(app.storedBytes, C + 1000 + 100 + 200);
    assert.equal(app.uniqueBytes, 300);
    assert.equal(app.sharedBytes, C + 1000);
    // each manifest with its config and layers: BASE and CONFIG count once per image
    assert.equal(app.logicalBytes, a1.size + C + 1000 + 100 + (a2.size + C + 1000 + 200));
    assert.equal(app.manifestBytes, a1.size + a2.size);
    assert.equal(app.attributedBytes, Math.round(C / 3 + 1000 / 2 + 300));
    assert.equal(app.images, 2);
    assert.equal(app.tags, 2);
    assert.equal(app.quotaBytes, 5_000);
    const teamStored = C + 1000 + 100 + 200 + 300;
    assert.deepEqual(app.quotas, [
      { scope: 'repository', name: 'team/app', quotaBytes: 5_000, usedBytes: C + 1300 },
      { scope: 'namespace', name: 'team', quotaBytes: 10_000, usedBytes: teamStored },
    ]);
    assert.equal(lib.storedBytes, C + 1300);
    assert.equal(lib.uniqueBytes, 300);
    assert.equal(lib.sharedBytes, C + 1000);
    assert.equal(lib.logicalBytes, l1.size + C + 1300);
    assert.equal(lib.images, 1);
    assert.deepEqual(lib.quotas, [{ scope: 'namespace', name: 'team', quotaBytes: 10_000, usedBytes: teamStored }]);
    // solo: the referrer is a manifest (stored, in logical) but not an image
    assert.equal(solo.storedBytes, C + 400);
    assert.equal(solo.uniqueBytes, 400);
    assert.equal(solo.sharedBytes, C);
    assert.equal(solo.logicalBytes, s1.size + C + 400 + (sig.size + C));
    assert.equal(solo.images, 1);
    assert.equal(solo.tags, 2);
    assert.equal(solo.quotaBytes, null);
    assert.deepEqual(solo.quotas, []);
    for (const x of r.repositories) assert.equal(x.uniqueBytes + x.sharedBytes, x.storedBytes);

    // totals: every blob once plus every manifest row; dedup ratio = logical / physical
    const physical = C + 1000 + 100 + 200 + 300 + 400 + a1.size + a2.size + l1.size + s1.size + sig.size;
    const logical = app.logicalBytes + lib.logicalBytes + solo.logicalBytes;
    assert.equal(r.totals.physicalBytes, physical);
    assert.equal(r.totals.blobs, 6);
    assert.equal(r.totals.logicalBytes, logical);
    assert.equal(r.totals.storedBytes, app.storedBytes + lib.storedBytes + solo.storedBytes);
    assert.equal(r.totals.dedupRatio, round4(logical / physical));
    assert.ok(r.totals.dedupRatio > 1);
    assert.equal(r.totals.repositories, 3);
    assert.equal(r.totals.images, 4);
    // namespace rollup: distinct bytes of team/* (what the namespace quota counts)
    assert.deepEqual(
      r.namespaces.map((n: object) => ({ ...n, monthlyCost: undefined })),
      [{ namespace: 'team', repositories: 2, storedBytes: teamStored, logicalBytes: app.logicalBytes + lib.logicalBytes, images: 3, pulls: 0, egressBytes: 0, quotaBytes: 10_000, monthlyCost: undefined }],
    );
    assert.deepEqual(r.pricing, { storagePerGiBMonth: 0.1, egressPerGiB: 0.12, currency: 'USD' });
  });

  test('?repository= narrows to one repository; unknown and malformed names are errors', async () => {
    const api = caller(h.app);
    const r = json(await api('GET', '/api/v1/usage?repository=team/lib'));
    assert.deepEqual(r.repositories.map((x: { repository: string }) => x.repository), ['team/lib']);
    assert.ok(r.totals, 'an admin still gets the registry totals');
    apiError(await api('GET', '/api/v1/usage?repository=team/nope'), 404, 'RESOURCE_UNKNOWN');
    assert.equal((await api('GET', '/api/v1/usage?repository=Bad..Name')).statusCode, 400);
  });

  test('malformed periods and parameters: 400 with what is wrong, nothing else looked at', async () => {
    const api = caller(h.app);
    const cases: [string, RegExp][] = [
      ['days=abc', /days must be a whole number from 1 to 366/],
      ['days=0', /days must be a whole number from 1 to 366, not 0/],
      ['days=367', /not 367/],
      ['days=1.5', /days must be a whole number/],
      ['days=-3', /days must be a whole number/],
      ['from=2024-02-30', /from must be a UTC date YYYY-MM-DD/],
      ['from=2024-13-01', /from must be a UTC date/],
      ['from=yesterday', /from must be a UTC date/],
      ['from=2024-01-01&to=2024-1-5', /to must be a UTC date/],
      ['from=2024-03-01&to=2024-02-01', /from \(2024-03-01\) is after to \(2024-02-01\)/],
      ['to=2024-02-01', /to needs from/],
      ['days=3&from=2024-01-01', /not both/],
      ['from=2020-01-01&to=2024-01-01', /at most 366/],
      ['from=2999-01-01', /is after today/],
      ['month=3', /month/],
    ];
    for (const [q, re] of cases) {
      const e = apiError(await api('GET', `/api/v1/usage?${q}`), 400, 'BODY_INVALID');
      assert.match(e.message, re, q);
    }
  });
});

describe('usage: pulls and egress', () => {
  let clock = Date.UTC(2024, 0, 10, 12);
  let h: Harness;
  let a1: Pushed;
  before(async () => {
    h = await startHarness({ auth: { enabled: false }, now: () => clock });
    a1 = await push(h.app, 'team/app', 'v1', [BASE, U1]);
    await push(h.app, 'team/lib', 'v1', [BASE, U3]);
  });
  after(() => h?.close());

  const get = (url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => h.app.inject({ method, url, headers: { accept: OCI_MANIFEST, ...headers } });
  const usageOf = async (q: string, repo: string) => (json(await caller(h.app)('GET', `/api/v1/usage?${q}`)).repositories as { repository: string; pulls: number; egressBytes: number }[]).find((r) => r.repository === repo)!;

  test('manifest GETs by tag and digest are pulls; blob bytes as sent (Range); HEAD counts nothing', async () => {
    assert.equal((await get('/v2/team/app/manifests/v1')).statusCode, 200);
    assert.equal((await get(`/v2/team/app/manifests/${a1.digest}`)).statusCode, 200);
    assert.equal((await get('/v2/team/app/manifests/v1', {}, 'HEAD')).statusCode, 200);
    assert.equal((await get(`/v2/team/app/blobs/${digestOf(U1)}`)).statusCode, 200);
    const ranged = await get(`/v2/team/app/blobs/${digestOf(BASE)}`, { range: 'bytes=100-349' });
    assert.equal(ranged.statusCode, 206);
    assert.equal(ranged.rawPayload.length, 250);
    assert.equal((await get(`/v2/team/app/blobs/${digestOf(BASE)}`, {}, 'HEAD')).statusCode, 200);
    // failures count nothing
    assert.equal((await get('/v2/team/app/manifests/nope')).statusCode, 404);
    assert.equal((await get(`/v2/team/app/blobs/${digestOf(U3)}`)).statusCode, 404);
    assert.equal((await get(`/v2/team/app/blobs/${digestOf(BASE)}`, { range: 'bytes=5000-6000' })).statusCode, 416);
    // still in the counter's memory: the usage read flushes it first
    const app = await usageOf('days=1', 'team/app');
    assert.equal(app.pulls, 2);
    assert.equal(app.egressBytes, 2 * a1.size + 100 + 250);
    assert.equal((await usageOf('days=1', 'team/lib')).pulls, 0);
  });

  test('concurrent pulls are all counted, across flushes', async () => {
    const before = await usageOf('days=1', 'team/lib');
    const n = 60;
    const work = Array.from({ length: n }, (_, i) =>
      (async () => {
        assert.equal((await get('/v2/team/lib/manifests/v1')).statusCode, 200);
        assert.equal((await get(`/v2/team/lib/blobs/${digestOf(U3)}`)).statusCode, 200);
        // flushes interleaved with the counting
        if (i % 7 === 0) await h.lifecycle.traffic.flush();
      })(),
    );
    await Promise.all(work);
    const lib = await usageOf('days=1', 'team/lib');
    const manifest = (await get('/v2/team/lib/manifests/v1', {}, 'HEAD')).headers['content-length'];
    assert.equal(lib.pulls - before.pulls, n);
    assert.equal(lib.egressBytes - before.egressBytes, n * (Number(manifest) + 300));
  });

  test('the period selects UTC days; egress is scaled to 30 days for the monthly estimate', async () => {
    const day10 = await usageOf('days=1', 'team/app');
    clock = Date.UTC(2024, 0, 12, 0, 30);
    assert.equal((await get('/v2/team/app/manifests/v1')).statusCode, 200);
    assert.deepEqual(await usageOf('days=1', 'team/app'), { ...(await usageOf('days=1', 'team/app')), pulls: 1, egressBytes: a1.size });
    assert.equal((await usageOf('days=2', 'team/app')).pulls, 1, 'day 11 and 12');
    assert.equal((await usageOf('days=3', 'team/app')).pulls, day10.pulls + 1);
    assert.equal((await usageOf('from=2024-01-10&to=2024-01-10', 'team/app')).pulls, day10.pulls);
    assert.equal((await usageOf('from=2024-01-11&to=2024-01-11', 'team/app')).pulls, 0);
    assert.equal((await usageOf('from=2024-01-10', 'team/app')).pulls, day10.pulls + 1);
    // `to` past today is today
    const r = json(await caller(h.app)('GET', '/api/v1/usage?from=2024-01-10&to=2024-03-01'));
    assert.deepEqual(r.period, { from: '2024-01-10T00:00:00.000Z', to: new Date(clock).toISOString(), days: 3 });
    const past = json(await caller(h.app)('GET', '/api/v1/usage?from=2024-01-01&to=2024-01-10'));
    assert.deepEqual(past.period, { from: '2024-01-01T00:00:00.000Z', to: '2024-01-11T00:00:00.000Z', days: 10 });
    const d = json(await caller(h.app)('GET', '/api/v1/usage?days=30'));
    assert.deepEqual(d.period, { from: '2023-12-14T00:00:00.000Z', to: new Date(clock).toISOString(), days: 30 });
    // cost: storage of attributed + manifest bytes, egress scaled by 30 / days
    const app = d.repositories.find((x: { repository: string }) => x.repository === 'team/app');
    const GiB = 2 ** 30;
    const storage = ((app.attributedBytes + app.manifestBytes) / GiB) * 0.1;
    const egress = (app.egressBytes / GiB) * 0.12;
    assert.deepEqual(app.monthlyCost, { storage: round4(storage), egress: round4(egress), total: round4(storage + egress) });
    const three = json(await caller(h.app)('GET', '/api/v1/usage?days=3')).repositories.find((x: { repository: string }) => x.repository === 'team/app');
    assert.equal(three.monthlyCost.egress, round4((three.egressBytes / GiB) * 10 * 0.12));
    assert.equal(d.totals.pulls, d.repositories.reduce((n: number, x: { pulls: number }) => n + x.pulls, 0));
    assert.equal(d.totals.egressBytes, d.repositories.reduce((n: number, x: { egressBytes: number }) => n + x.egressBytes, 0));
  });

  test('an aborted download counts what was sent, not the whole blob', async () => {
    const big = Buffer.alloc(48 * 2 ** 20, 'z');
    await push(h.app, 'big/one', 'v1', [big]);
    const port = await listen(h.app);
    const before = (await usageOf('days=1', 'big/one')).egressBytes;
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/v2/big/one/blobs/${digestOf(big)}` }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
    });
    // the server sees the socket close a moment later
    let sent = 0;
    for (let i = 0; i < 100 && sent === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      sent = (await usageOf('days=1', 'big/one')).egressBytes - before;
    }
    assert.ok(sent > 0, 'something was sent');
    assert.ok(sent < big.length, `counted ${sent} of ${big.length} bytes`);
  });
});

describe('usage: who sees what', () => {
  let h: Harness;
  const admin = () => caller(h.app, ADMIN);
  before(async () => {
    h = await startHarness({ auth: {} });
    const auth = { authorization: basic(ADMIN.name, ADMIN.password) };
    await push(h.app, 'team/app', 'v1', [BASE, U1], auth);
    await push(h.app, 'secret/model', 'v1', [BASE, U2], auth);
    json(await admin()('POST', '/api/v1/users', { name: 'rd', password: 'rd-password-1' }), 201);
    json(await admin()('POST', '/api/v1/role-bindings', { principal: 'rd', role: 'reader', scope: 'team/*' }), 201);
    json(await admin()('POST', '/api/v1/users', { name: 'nobody', password: 'nobody-password-1' }), 201);
  });
  after(() => h?.close());

  test('admins see every repository, totals and namespaces', async () => {
    const r = json(await admin()('GET', '/api/v1/usage'));
    assert.deepEqual(r.repositories.map((x: { repository: string }) => x.repository), ['secret/model', 'team/app']);
    assert.equal(r.totals.repositories, 2);
    assert.deepEqual(r.namespaces.map((n: { namespace: string }) => n.namespace), ['secret', 'team']);
  });

  test('a reader sees only what it may pull: no other names, sizes, totals or rollups', async () => {
    const rd = caller(h.app, { name: 'rd', password: 'rd-password-1' });
    const res = await rd('GET', '/api/v1/usage');
    const r = json(res);
    assert.deepEqual(r.repositories.map((x: { repository: string }) => x.repository), ['team/app']);
    assert.equal(r.totals, undefined);
    assert.equal(r.namespaces, undefined);
    assert.doesNotMatch(res.body, /secret/);
    // the shared base layer shows as shared, without saying with whom
    assert.equal(r.repositories[0].sharedBytes, C + 1000);
    const other = apiError(await rd('GET', '/api/v1/usage?repository=secret/model'), 404, 'RESOURCE_UNKNOWN');
    const missing = apiError(await rd('GET', '/api/v1/usage?repository=secret/none'), 404, 'RESOURCE_UNKNOWN');
    assert.equal(other.message.replace('model', 'X'), missing.message.replace('none', 'X'), 'the same answer for hidden and missing');
    const nobody = json(await caller(h.app, { name: 'nobody', password: 'nobody-password-1' })('GET', '/api/v1/usage'));
    assert.deepEqual(nobody.repositories, []);
    assert.equal(nobody.totals, undefined);
  });

  test('anonymous callers are refused', async () => {
    assert.equal((await caller(h.app)('GET', '/api/v1/usage')).statusCode, 401);
  });
});

describe('usage: presigned redirects', () => {
  test('a 307 to the object store counts what the client asks for (its Range); HEAD nothing', async () => {
    class Presigning extends FsBlobStore {
      async presignGet(digest: Digest): Promise<string> {
        return `https://objects.example/${digest}`;
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'wharf-usage-redirect-'));
    const metadata = openSqliteMetadataStore({ path: join(dir, 'wharf.db') });
    await metadata.migrate();
    const blobs = new Presigning({ root: join(dir, 'blobs'), fsync: false });
    await blobs.init();
    const served: number[] = [];
    const traffic = { manifestServed: () => undefined, blobServed: (_r: string, _d: Digest, bytes: number) => void served.push(bytes) };
    const registry = new RegistryService({ metadata, blobs, uploads: blobs, traffic });
    const app = buildApp({ logger: pino({ level: 'silent' }), metadata, metrics: new WharfMetrics({ defaultMetrics: false }), registry, pagination: { defaultPageSize: 100, maxPageSize: 1000 }, manifestBodyLimit: 4 << 20 });
    await app.ready();
    try {
      const digest = await pushBlob(app, 'team/app', Buffer.alloc(1000, 'r'));
      for (const [method, range, status] of [
        ['GET', undefined, 307],
        ['GET', 'bytes=2-5', 307],
        ['GET', 'bytes=900-', 307],
        ['HEAD', undefined, 200],
      ] as const) {
        const res = await app.inject({ method, url: `/v2/team/app/blobs/${digest}`, headers: range ? { range } : {} });
        assert.equal(res.statusCode, status);
      }
      assert.deepEqual(served, [1000, 4, 100]);
    } finally {
      await app.close();
      await registry.close();
      await metadata.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
