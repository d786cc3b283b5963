/**
 * The file API end to end through the real composition root (createWharf), on the filesystem and
 * on S3 (s3rver): images of several layers (gzip from two compressors, uncompressed tar; whiteouts,
 * an opaque directory, symbolic and hard links) pushed, indexed, then every file read through
 * GET /api/v1/files equals umoci's unpack of the same image (the reference extraction), every
 * directory listing equals the unpacked tree, Range / HEAD / ETag behave, paths cannot leave
 * the image, access is the pull rule, a layer is indexed once, and bad layers fail cleanly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { createWharf, type Wharf } from '../../src/main.js';
import { basic } from '../support/auth-stack.js';
import { buildImage, MT, writeImageLayout, type Layer } from '../support/oci-layout.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { gzipCli, mixedContent, tarOf, type Entry } from './support.js';

const PASSWORD = 'admin-password-1';
const ADMIN = { authorization: basic('admin', PASSWORD) };
const SPAN = 64 * 1024;

function layerOf(tar: Buffer, compression: 'gzip-cli' | 'gzip-node' | 'none'): Layer {
  const blob = compression === 'none' ? tar : compression === 'gzip-cli' ? gzipCli(tar, 6) : gzipSync(tar);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  return { blob, digest, diffId, descriptor: { mediaType: compression === 'none' ? 'application/vnd.oci.image.layer.v1.tar' : MT.layerGzip, digest, size: blob.length } };
}

async function sampleLayers(): Promise<Layer[]> {
  const base: Entry[] = [
    { name: 'etc/', type: 'directory' },
    { name: 'usr/', type: 'directory' },
    { name: 'usr/lib/', type: 'directory' },
    { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
    { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
    { name: 'etc/hostname', content: 'base\n' },
    { name: 'opt/', type: 'directory' },
    { name: 'opt/old/', type: 'directory' },
    { name: 'opt/old/gone.txt', content: 'hidden by an opaque directory above' },
    { name: 'var/', type: 'directory' },
    { name: 'var/removed.txt', content: 'whited out above' },
    { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
    { name: 'usr/bin/', type: 'directory' },
    { name: 'usr/bin/tool', content: mixedContent(300_000, 3), mode: 0o755 },
    { name: 'escape', type: 'symlink', linkname: '../../../../etc/passwd' },
    { name: 'loop-a', type: 'symlink', linkname: 'loop-b' },
    { name: 'loop-b', type: 'symlink', linkname: 'loop-a' },
    { name: 'abs', type: 'symlink', linkname: '/usr/lib' },
  ];
  const models: Entry[] = [{ name: 'models/', type: 'directory' }];
  for (let i = 0; i < 12; i += 1) models.push({ name: `models/shard-${i}.bin`, content: mixedContent(150_000 + i * 20_011, i) });
  models.push({ name: 'models/config.json', content: JSON.stringify({ hidden_size: 4096, layers: 32 }) });
  models.push({ name: 'models/config-link.json', type: 'link', linkname: 'models/config.json' });
  const top: Entry[] = [
    { name: 'opt/old/', type: 'directory' },
    { name: 'opt/old/.wh..wh..opq', content: '' },
    { name: 'opt/old/new.txt', content: 'after the opaque marker' },
    { name: 'var/.wh.removed.txt', content: '' },
    { name: 'etc/hostname', content: 'top\n' },
    { name: `deep/${'d'.repeat(110)}/file.txt`, content: 'a pax path' },
  ];
  return [layerOf(await tarOf(base), 'gzip-cli'), layerOf(await tarOf(models), 'gzip-node'), layerOf(await tarOf(top), 'none')];
}

interface Backend {
  name: string;
  flags(): Record<string, unknown>;
  env(): Record<string, string>;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

let s3: S3TestServer | undefined;
const backends: Backend[] = [
  { name: 'filesystem', flags: () => ({}), env: () => ({}) },
  {
    name: 'S3 (s3rver)',
    start: async () => {
      s3 = await startS3Server();
    },
    stop: async () => s3?.stop(),
    flags: () => ({
      'storage.blob.driver': 's3',
      'storage.blob.s3.endpoint': s3!.endpoint,
      'storage.blob.s3.region': s3!.region,
      'storage.blob.s3.bucket': s3!.bucket,
      'storage.blob.s3.forcePathStyle': true,
      'storage.blob.s3.accessKeyId': s3!.accessKeyId,
      'storage.blob.s3.secretAccessKeyEnv': 'TEST_S3_SECRET',
    }),
    env: () => ({ TEST_S3_SECRET: s3!.secretAccessKey }),
  },
];

for (const backend of backends) {
  describe(`file API on ${backend.name}`, () => {
    let w: Wharf;
    let dir: string;
    let layers: Layer[];
    let rootfs: string;
    let manifestDigest: string;

    const api = (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) =>
      w.app.inject({
        method: method as 'GET',
        url,
        headers: { ...ADMIN, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });

    async function push(repo: string, tag: string, image: ReturnType<typeof buildImage>): Promise<void> {
      for (const [digest, bytes] of image.blobs) {
        if (digest === image.manifestDigest) continue;
        const res = await w.app.inject({ method: 'POST', url: `/v2/${repo}/blobs/uploads/?digest=${digest}`, headers: { ...ADMIN, 'content-type': 'application/octet-stream' }, payload: bytes });
        assert.equal(res.statusCode, 201, res.body);
      }
      const res = await w.app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${tag}`, headers: { ...ADMIN, 'content-type': MT.manifest }, payload: image.manifest });
      assert.equal(res.statusCode, 201, res.body);
    }

    before(async () => {
      await backend.start?.();
      dir = mkdtempSync(join(tmpdir(), 'wharf-files-'));
      const config = loadConfig({ flags: { data: dir, listen: '127.0.0.1:0', 'auth.adminPassword': PASSWORD, 'gc.graceSeconds': 0, 'gc.untaggedManifests': true, ...backend.flags() } });
      w = await createWharf(config, { logger: pino({ level: 'silent' }), announce: () => undefined, env: { ...process.env, ...backend.env() } });
      layers = await sampleLayers();
      const image = buildImage({ layers });
      manifestDigest = image.manifestDigest;
      const layout = writeImageLayout({ dir: join(dir, 'layout'), tag: 'v1', image });
      rootfs = join(dir, 'rootfs');
      execFileSync('umoci', ['raw', 'unpack', '--image', `${layout.dir}:v1`, rootfs], { stdio: 'pipe' });
      await push('team/model', 'v1', image);
    });
    after(async () => {
      await w?.close();
      rmSync(dir, { recursive: true, force: true });
      await backend.stop?.();
    });

    test('before indexing, the file API says so (INDEX_NOT_READY), and the status lists the layers as missing', async () => {
      const res = await api('GET', '/api/v1/files/team/model:v1/etc/hostname');
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(JSON.parse(res.body).errors[0].code, 'INDEX_NOT_READY');
      const status = JSON.parse((await api('GET', '/api/v1/file-indexes/team/model?reference=v1')).body);
      assert.deepEqual(status.images[0].layers.map((l: { state: string }) => l.state), ['missing', 'missing', 'missing']);
    });

    test('indexing builds one zTOC per layer, stored in the repository and bound by an artifact listed as a referrer', async () => {
      const res = await api('POST', '/api/v1/file-indexes/team/model', { reference: 'v1' });
      assert.equal(res.statusCode, 200, res.body);
      const [img] = JSON.parse(res.body).images;
      assert.equal(img.digest, manifestDigest);
      assert.deepEqual(img.layers.map((l: { state: string; built: boolean }) => [l.state, l.built]), [['indexed', true], ['indexed', true], ['indexed', true]]);
      assert.deepEqual(img.layers.map((l: { ztoc: { algorithm: string } }) => l.ztoc.algorithm), ['gzip', 'gzip', 'uncompressed']);
      for (const l of img.layers) assert.equal((await api('HEAD', `/v2/team/model/blobs/${l.ztoc.digest}`)).statusCode, 200);
      const referrers = JSON.parse((await api('GET', `/v2/team/model/referrers/${manifestDigest}`)).body);
      assert.deepEqual(referrers.manifests.map((m: { artifactType: string }) => m.artifactType), ['application/vnd.wharf.file-index.v1+json']);
      // a layer is indexed once: again here, and in another repository holding the same layer
      const again = JSON.parse((await api('POST', '/api/v1/file-indexes/team/model', { reference: 'v1' })).body).images[0];
      assert.deepEqual(again.layers.map((l: { built: boolean }) => l.built), [false, false, false]);
      await push('team/copy', 'v1', buildImage({ layers }));
      const copy = JSON.parse((await api('POST', '/api/v1/file-indexes/team/copy', { reference: 'v1' })).body).images[0];
      assert.deepEqual(copy.layers.map((l: { state: string; built: boolean }) => [l.state, l.built]), [['indexed', false], ['indexed', false], ['indexed', false]]);
      assert.equal((await api('GET', '/api/v1/files/team/copy:v1/etc/hostname')).body, 'top\n');
    });

    test('every file equals the reference extraction (umoci unpack) and every listing equals its tree', async () => {
      let files = 0;
      const walk = async (rel: string): Promise<void> => {
        const listing = await api('GET', `/api/v1/files/team/model:v1/${rel}`);
        assert.equal(listing.statusCode, 200, `${rel}: ${listing.body}`);
        const body = JSON.parse(listing.body);
        const want = readdirSync(join(rootfs, rel)).sort();
        assert.deepEqual(body.entries.map((e: { name: string }) => e.name), want, `listing of /${rel}`);
        for (const e of body.entries as { name: string; type: string; size: number; linkname?: string }[]) {
          const path = rel === '' ? e.name : `${rel}/${e.name}`;
          const st = lstatSync(join(rootfs, path));
          if (st.isDirectory()) {
            assert.equal(e.type, 'dir', path);
            await walk(path);
          } else if (st.isSymbolicLink()) {
            assert.equal(e.type, 'symlink', path);
            assert.equal(e.linkname, readlinkSync(join(rootfs, path)), path);
          } else {
            const res = await api('GET', `/api/v1/files/team/model:v1/${path.split('/').map(encodeURIComponent).join('/')}`);
            assert.equal(res.statusCode, 200, `${path}: ${res.body}`);
            assert.ok(res.rawPayload.equals(readFileSync(join(rootfs, path))), `${path} equals the extraction`);
            assert.equal(Number(res.headers['content-length']), st.size, path);
            assert.equal(e.size, st.size, path);
            files += 1;
          }
        }
      };
      await walk('');
      assert.ok(files >= 18, `${files} files compared`);
    });

    test('whiteouts and opaque directories are applied; symbolic links resolve inside the image', async () => {
      assert.equal((await api('GET', '/api/v1/files/team/model:v1/var/removed.txt')).statusCode, 404);
      assert.deepEqual(JSON.parse((await api('GET', '/api/v1/files/team/model:v1/opt/old')).body).entries.map((e: { name: string }) => e.name), ['new.txt']);
      assert.equal((await api('GET', '/api/v1/files/team/model:v1/etc/os-release')).body, 'ID=debian\nVERSION_ID="12"\n');
      assert.equal((await api('GET', '/api/v1/files/team/model:v1/abs/os-release')).body, 'ID=debian\nVERSION_ID="12"\n', 'an absolute link starts at the image root');
      assert.equal((await api('GET', '/api/v1/files/team/model:v1/bin/tool')).rawPayload.length, 300_000);
      assert.equal((await api('GET', `/api/v1/files/team/model@${manifestDigest}/models/config-link.json`)).body, JSON.stringify({ hidden_size: 4096, layers: 32 }));
    });

    test('paths cannot leave the image: .., links climbing out, loops', async () => {
      for (const [path, code] of [
        ['escape', 'PATH_INVALID'],
        ['loop-a', 'PATH_INVALID'],
        ['nothing/here', 'FILE_UNKNOWN'],
        ['etc/hostname/x', 'FILE_UNKNOWN'],
      ]) {
        const res = await api('GET', `/api/v1/files/team/model:v1/${path}`);
        assert.equal(JSON.parse(res.body).errors?.[0]?.code, code, `${path}: ${res.body}`);
      }
      // a literal ../ is resolved away by URL parsing before routing (and then names no image)
      assert.equal((await api('GET', '/api/v1/files/team/model:v1/etc/../../etc/passwd')).statusCode >= 400, true);
      const dots = await api('GET', '/api/v1/files/team/model:v1/etc/%2e%2e/%2e%2e/etc/passwd');
      assert.match(JSON.parse(dots.body).errors[0].code, /^(NAME|PATH)_INVALID$/);
      // an encoded slash keeps the dots inside the path the handler gets: its own check refuses them
      const encoded = await api('GET', '/api/v1/files/team/model:v1/etc/..%2f..%2fetc%2fpasswd');
      assert.equal(JSON.parse(encoded.body).errors[0].code, 'PATH_INVALID', encoded.body);
    });

    test('Range reads (at span edges too), HEAD, ETag and If-None-Match', async () => {
      const shard = readFileSync(join(rootfs, 'models/shard-7.bin'));
      const url = '/api/v1/files/team/model:v1/models/shard-7.bin';
      const head = await api('HEAD', url);
      assert.equal(head.statusCode, 200);
      assert.equal(Number(head.headers['content-length']), shard.length);
      assert.equal(head.rawPayload.length, 0);
      const etag = String(head.headers.etag);
      for (const [start, end] of [
        [0, 0],
        [SPAN - 1, SPAN],
        [shard.length - 1, shard.length - 1],
        [12_345, 140_000],
      ] as const) {
        const res = await api('GET', url, undefined, { range: `bytes=${start}-${end}` });
        assert.equal(res.statusCode, 206);
        assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${shard.length}`);
        assert.ok(res.rawPayload.equals(shard.subarray(start, end + 1)), `${start}-${end}`);
      }
      const suffix = await api('GET', url, undefined, { range: 'bytes=-10' });
      assert.ok(suffix.rawPayload.equals(shard.subarray(shard.length - 10)));
      assert.equal((await api('GET', url, undefined, { range: `bytes=${shard.length}-` })).statusCode, 416);
      assert.equal((await api('GET', url, undefined, { 'if-none-match': etag })).statusCode, 304);
      assert.equal((await api('GET', '/api/v1/files/team/model:v1/etc/hostname')).headers.etag === etag, false);
    });

    test('access is the pull rule: anonymous is challenged, a user without a role refused, alike for existing and missing images and paths', async () => {
      for (const path of ['etc/hostname', 'no/such/file']) {
        const anon = await w.app.inject({ method: 'GET', url: `/api/v1/files/team/model:v1/${path}` });
        assert.equal(anon.statusCode, 401);
      }
      // a user without a role on the repository sees the same for a real image and path as for made-up ones
      const created = await api('POST', '/api/v1/users', { name: 'mallory', password: 'mallory-password-1' });
      assert.equal(created.statusCode, 201, created.body);
      const mallory = { authorization: basic('mallory', 'mallory-password-1') };
      const seen = [];
      for (const url of ['/api/v1/files/team/model:v1/etc/hostname', '/api/v1/files/team/model:v9/etc/hostname', '/api/v1/files/team/model:v1/no/such', '/api/v1/files/team/nothing:v1/etc/hostname']) {
        const r = await w.app.inject({ method: 'GET', url, headers: mallory });
        seen.push([r.statusCode, JSON.parse(r.body).errors?.[0]?.code]);
      }
      assert.equal(new Set(seen.map((x) => JSON.stringify(x))).size, 1, JSON.stringify(seen));
      assert.equal(seen[0]![0], 403);
      const other = await w.app.inject({ method: 'GET', url: '/api/v1/files/team/secret:v1/etc/hostname', headers: ADMIN });
      assert.equal(other.statusCode, 404);
      assert.match(JSON.parse(other.body).errors[0].code, /^(NAME|MANIFEST)_UNKNOWN$/);
      assert.equal(JSON.parse((await api('GET', '/api/v1/files/team/model/etc/hostname')).body).errors[0].code, 'NAME_INVALID');
    });

    test('concurrent index builds agree, concurrent reads each get their own bytes; malformed requests are clean errors', async () => {
      const image = buildImage({ layers: [layerOf(await tarOf([{ name: 'x/data.bin', content: mixedContent(400_000, 42) }]), 'gzip-cli')] });
      await push('team/race', 'v1', image);
      const builds = await Promise.all([1, 2, 3].map(() => api('POST', '/api/v1/file-indexes/team/race', { reference: 'v1' })));
      const ztocs = builds.map((b) => JSON.parse(b.body).images[0].layers[0].ztoc.digest);
      assert.equal(new Set(ztocs).size, 1, 'the same zTOC whoever built it');
      const data = mixedContent(400_000, 42);
      const reads = await Promise.all(
        Array.from({ length: 16 }, (_, i) => {
          const start = i * 23_456;
          return api('GET', '/api/v1/files/team/race:v1/x/data.bin', undefined, { range: `bytes=${start}-${start + 20_000}` }).then((r) => ({ r, start }));
        }),
      );
      for (const { r, start } of reads) assert.ok(r.rawPayload.equals(data.subarray(start, start + 20_001)), `range at ${start}`);
      for (const [url, status, code] of [
        ['/api/v1/files/team/race:v1/x?platform=nonsense', 400, 'BODY_INVALID'],
        ['/api/v1/files/team/race@sha256:zz/x', 400, 'DIGEST_INVALID'],
        ['/api/v1/files/team/race:bad%20tag/x', 400, 'TAG_INVALID'],
        ['/api/v1/files/team/race:v2/x', 404, 'MANIFEST_UNKNOWN'],
      ] as const) {
        const r = await api('GET', url);
        assert.equal(r.statusCode, status, `${url}: ${r.body}`);
        assert.equal(JSON.parse(r.body).errors[0].code, code, url);
      }
      const extra = await api('POST', '/api/v1/file-indexes/team/race', { reference: 'v1', nonsense: true });
      assert.equal(extra.statusCode, 400);
      const range = await api('GET', '/api/v1/files/team/race:v1/x/data.bin', undefined, { range: 'bytes=zz' });
      assert.equal(range.statusCode, 416);
    });

    test('a layer that cannot be indexed is reported and remembered, and the file API names it', async () => {
      const broken = layerOf(Buffer.from(gzipSync(Buffer.from('not a tar archive at all, just text'.repeat(40)))), 'none');
      broken.descriptor.mediaType = MT.layerGzip;
      await push('team/broken', 'v1', buildImage({ layers: [layers[0]!, broken] }));
      const res = await api('POST', '/api/v1/file-indexes/team/broken', { reference: 'v1' });
      const img = JSON.parse(res.body).images[0];
      assert.deepEqual(img.layers.map((l: { state: string }) => l.state), ['indexed', 'failed']);
      assert.match(img.layers[1].error, /checksum/);
      assert.equal(img.artifact, undefined, 'no artifact for a partly indexed image');
      const files = await api('GET', '/api/v1/files/team/broken:v1/etc/hostname');
      assert.equal(JSON.parse(files.body).errors[0].code, 'INDEX_NOT_READY');
      assert.match(JSON.parse(files.body).errors[0].message, /cannot be indexed/);
    });

    test('the zTOCs count in the repository usage and go with their image when GC collects it', async () => {
      const status = JSON.parse((await api('GET', '/api/v1/file-indexes/team/model?reference=v1')).body).images[0];
      const ztocs: { digest: string; size: number }[] = status.layers.map((l: { ztoc: { digest: string; size: number } }) => l.ztoc);
      const repo = JSON.parse((await api('GET', '/api/v1/repositories/team/model')).body);
      const layerBytes = layers.reduce((n, l) => n + l.blob.length, 0);
      const ztocBytes = ztocs.reduce((n, z) => n + z.size, 0);
      assert.ok(repo.usage.storedBytes >= layerBytes + ztocBytes, `${repo.usage.storedBytes} >= ${layerBytes} + ${ztocBytes}`);
      for (const z of ztocs) assert.ok(await w.blobs.stat(z.digest as never));
      // every image holding these layers goes (team/broken shares the first layer and its zTOC)
      for (const r of ['team/model', 'team/copy', 'team/broken']) {
        const head = await api('HEAD', `/v2/${r}/manifests/v1`);
        const del = await api('DELETE', `/v2/${r}/manifests/${head.headers['docker-content-digest']}`);
        assert.equal(del.statusCode, 202, del.body);
      }
      await w.gc.run({ trigger: 'test' });
      for (const z of ztocs) assert.equal(await w.blobs.stat(z.digest as never), undefined, `zTOC ${z.digest} collected`);
    });
  });
}
