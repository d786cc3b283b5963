#!/usr/bin/env node
// Lazy-pull benchmark (issue 12): read one 1 MiB file from the middle of a ~1 GiB gzip layer
// through the file API, versus pulling the layer; and the index build rate versus plain
// decompression of the same layer.
//
//   node --import tsx bench/lazy-pull.mjs [--size-mib N] [--reps N] [--clean]
//
// Builds once (cached under .bench/lazy/): a tar of N MiB of 1 MiB files, alternately random
// (incompressible, like weights) and text (compressible), with models/target.bin (1 MiB) in the
// middle; gzip -6 by the gzip command. Then, on an in-process Wharf (createWharf: filesystem blob
// store, SQLite, listening on 127.0.0.1) whose blob store counts every byte it hands out:
//   push          the layer, a config and a manifest over /v2 (not timed)
//   decompress    gunzip of the layer file by Node's zlib, bytes dropped (median of reps)
//   index         POST /api/v1/file-indexes (one build: a layer is indexed once)
//   read cold     GET /api/v1/files/.../models/target.bin on a fresh process cache (zTOC loaded)
//   read warm     the same again (reps, median)
//   pull          GET /v2/<repo>/blobs/<layer> to the end (reps, median); and pull + gunzip
// The targets (issue 12): bytes read from the blob store <= 1% of the layer; read time <= 1/20
// of a full pull. Nothing is asserted; results go to stdout and .bench/lazy-results.json.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { pino } from 'pino';
import { pack } from 'tar-stream';
import { loadConfig } from '../src/config/index.ts';
import { createWharf } from '../src/main.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(args[i + 1]);
};
const SIZE_MIB = opt('size-mib', 1024);
const REPS = opt('reps', 3);
const CACHE = join(ROOT, '.bench', 'lazy');
const LAYER = join(CACHE, `layer-${SIZE_MIB}.tar.gz`);
const TARGET = join(CACHE, `target-${SIZE_MIB}.bin`);
const PASSWORD = 'bench-admin-password';
const AUTH = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MiB = 1024 * 1024;

async function buildLayer() {
  if (existsSync(LAYER) && existsSync(TARGET)) return;
  mkdirSync(CACHE, { recursive: true });
  const tarPath = join(CACHE, 'layer.tar');
  const p = pack();
  const out = pipeline(p, createWriteStream(tarPath));
  const text = Buffer.from('def forward(self, x):\n    return self.proj(torch.relu(self.fc(x))) + x  # residual\n'.repeat(13_000)).subarray(0, MiB);
  const target = randomBytes(MiB);
  writeFileSync(TARGET, target);
  const entry = (name, body) => new Promise((ok, bad) => p.entry({ name, size: body.length, mode: 0o644, mtime: new Date(0) }, body, (e) => (e ? bad(e) : ok())));
  for (let i = 0; i < SIZE_MIB - 1; i += 1) {
    if (i === Math.floor(SIZE_MIB / 2)) await entry('models/target.bin', target);
    await entry(`data/part-${String(i).padStart(5, '0')}.bin`, i % 2 === 0 ? randomBytes(MiB) : text);
  }
  p.finalize();
  await out;
  const r = spawnSync('sh', ['-c', `gzip -6 -n -c ${tarPath} > ${LAYER}.part && mv ${LAYER}.part ${LAYER}`], { stdio: 'inherit' });
  rmSync(tarPath, { force: true });
  if (r.status !== 0) throw new Error('gzip failed');
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  const v = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, v };
}

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

async function main() {
  await buildLayer();
  const layerSize = statSync(LAYER).size;
  const layerDigest = `sha256:${createHash('sha256').update(await readAll(createReadStream(LAYER))).digest('hex')}`;
  const targetHash = createHash('sha256').update(await readAll(createReadStream(TARGET))).digest('hex');
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-lazy-'));
  const config = loadConfig({ flags: { data: dir, listen: '127.0.0.1:0', 'auth.adminPassword': PASSWORD, 'gc.enabled': false } });
  const w = await createWharf(config, { logger: pino({ level: 'warn' }), announce: () => undefined });
  // count what the blob store hands out (the reads behind the file API and the pulls)
  let served = 0;
  const open = w.blobs.open.bind(w.blobs);
  w.blobs.open = async (digest, range) => {
    const s = await open(digest, range);
    s.on('data', (c) => (served += c.length));
    return s;
  };
  const base = await w.listen();
  try {
    const configBlob = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const configDigest = `sha256:${createHash('sha256').update(configBlob).digest('hex')}`;
    await upload(base, configDigest, configBlob);
    await upload(base, layerDigest, Readable.toWeb(createReadStream(LAYER)));
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBlob.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layerSize }],
    });
    const put = await fetch(`${base}/v2/bench/lazy/manifests/v1`, { method: 'PUT', headers: { authorization: AUTH, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
    if (put.status !== 201) throw new Error(`manifest: ${put.status} ${await put.text()}`);

    const decompress = [];
    let uncompressed = 0;
    for (let i = 0; i < REPS; i += 1) {
      let n = 0;
      const t = await timed(() => pipeline(createReadStream(LAYER), createGunzip(), new Writable({ write: (c, _e, cb) => ((n += c.length), cb()) })));
      decompress.push(t.ms);
      uncompressed = n;
    }

    const index = await timed(async () => {
      const r = await fetch(`${base}/api/v1/file-indexes/bench/lazy`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ reference: 'v1' }) });
      const body = await r.json();
      if (r.status !== 200) throw new Error(JSON.stringify(body));
      return body.images[0].layers[0];
    });

    const read = async () => {
      const before = served;
      const t = await timed(async () => {
        const r = await fetch(`${base}/api/v1/files/bench/lazy:v1/models/target.bin`, { headers: { authorization: AUTH } });
        const b = Buffer.from(await r.arrayBuffer());
        if (r.status !== 200 || createHash('sha256').update(b).digest('hex') !== targetHash) throw new Error(`read: ${r.status}`);
      });
      return { ms: t.ms, bytes: served - before };
    };
    const cold = await read();
    const warm = [];
    for (let i = 0; i < REPS; i += 1) warm.push(await read());

    const pull = [];
    const pullUnpack = [];
    for (let i = 0; i < REPS; i += 1) {
      pull.push((await timed(async () => pipeline(Readable.fromWeb((await fetch(`${base}/v2/bench/lazy/blobs/${layerDigest}`, { headers: { authorization: AUTH } })).body), sink()))).ms);
      pullUnpack.push(
        (await timed(async () => pipeline(Readable.fromWeb((await fetch(`${base}/v2/bench/lazy/blobs/${layerDigest}`, { headers: { authorization: AUTH } })).body), createGunzip(), sink()))).ms,
      );
    }
    const results = {
      layer: { compressedBytes: layerSize, uncompressedBytes: uncompressed },
      decompressMs: median(decompress),
      decompressMBps: uncompressed / 1e6 / (median(decompress) / 1000),
      indexMs: index.ms,
      indexMBps: uncompressed / 1e6 / (index.ms / 1000),
      ztoc: index.v.ztoc,
      readCold: { ms: cold.ms, blobStoreBytes: cold.bytes, percentOfLayer: (100 * cold.bytes) / layerSize },
      readWarm: { ms: median(warm.map((r) => r.ms)), blobStoreBytes: median(warm.map((r) => r.bytes)), percentOfLayer: (100 * median(warm.map((r) => r.bytes))) / layerSize },
      pullMs: median(pull),
      pullAndGunzipMs: median(pullUnpack),
    };
    results.readWarmVsPull = results.readWarm.ms / results.pullMs;
    results.readColdVsPull = results.readCold.ms / results.pullMs;
    console.log(JSON.stringify(results, null, 2));
    writeFileSync(join(ROOT, '.bench', 'lazy-results.json'), JSON.stringify(results, null, 2));
  } finally {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
    if (args.includes('--clean')) rmSync(CACHE, { recursive: true, force: true });
  }
}

async function upload(base, digest, body) {
  const r = await fetch(`${base}/v2/bench/lazy/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/octet-stream' },
    body,
    duplex: 'half',
  });
  if (r.status !== 201) throw new Error(`upload ${digest}: ${r.status} ${await r.text()}`);
}

async function readAll(stream) {
  const h = [];
  for await (const c of stream) h.push(c);
  return Buffer.concat(h);
}

await main();
