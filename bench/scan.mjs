#!/usr/bin/env node
// Scanner benchmark (issue 6): inventory a ~1 GiB image versus only decompressing its layers.
//
//   node --import tsx bench/scan.mjs [--size-mib N] [--reps N] [--only gzip,zstd] [--clean]
//
// Builds a synthetic ML image once (cached under .bench/scan/): a Debian-like base with a real
// dpkg status, a CUDA-like layer of large semi-compressible libraries and headers, a Python layer
// of 300 packages (dist-info METADATA + source files), and a weights layer of poorly compressible
// data; compressed with gzip -6 (Node's zlib) or zstd -3 (the zstd command). Then, per variant,
// median of N repetitions of:
//   decompress   every layer through the scanner's own decompressor (zlib / fzstd), bytes dropped
//   tar          decompress + tar-stream parse, every entry drained (no inventory)
//   inventory    walkLayers + buildInventory (what a scan does before matching)
// The target (issue 6) is inventory <= 1.5 x decompress. Nothing is asserted; numbers are printed
// and written to .bench/scan-results.json. --clean removes the cached image afterwards.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { pack } from 'tar-stream';
import { decompressLayer } from '../src/content/layers/decompress.ts';
import { DEFAULT_WALK_LIMITS, walkLayers } from '../src/content/layers/layer-walker.ts';
import { buildInventory, wantPath } from '../src/content/inventory/collector.ts';
import { extract } from 'tar-stream';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const SIZE_MIB = Number(opt('--size-mib', '1024'));
const REPS = Number(opt('--reps', '3'));
const ONLY = opt('--only', 'gzip,zstd').split(',');
const CACHE = join(ROOT, '.bench', 'scan', `${SIZE_MIB}mib`);
const hasZstd = spawnSync('zstd', ['--version']).status === 0;

const WORDS = 'import numpy torch tensor cuda kernel layer model train batch optimizer gradient loss def return class self value index shape float int'.split(' ');
function text(n, seed) {
  let s = seed >>> 0 || 1;
  const out = [];
  let len = 0;
  while (len < n) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const w = WORDS[(s >>> 0) % WORDS.length];
    out.push(w);
    len += w.length + 1;
  }
  return Buffer.from(out.join(' ')).subarray(0, n);
}
/** a library-like blob: random runs mixed with repeated ones (gzip ~2-3x, like real .so files) */
function semiBinary(n) {
  const b = Buffer.alloc(n);
  const chunk = 4096;
  for (let at = 0; at < n; at += chunk) {
    if ((at / chunk) % 3 === 0) randomBytes(Math.min(chunk, n - at)).copy(b, at);
    else b.fill((at / chunk) & 0xff, at, Math.min(at + chunk, n));
  }
  return b;
}

function dpkgStatus(n) {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += `Package: pkg${i}\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: ${100 + i}\nMaintainer: Someone <someone@example.invalid>\nArchitecture: amd64\nSource: src${i % 200}\nVersion: 1.${i}.0-1+deb12u1\nDescription: package ${i}\n a description line\n another one\n\n`;
  }
  return s;
}

async function tarOf(entries) {
  const p = pack();
  const chunks = [];
  p.on('data', (c) => chunks.push(c));
  const done = new Promise((r) => p.on('end', r));
  for (const [name, body] of entries) p.entry({ name, size: body.length }, body);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function buildLayers() {
  const total = SIZE_MIB * 1024 * 1024;
  const base = [['etc/os-release', Buffer.from('ID=debian\nVERSION_ID="12"\n')], ['var/lib/dpkg/status', Buffer.from(dpkgStatus(500))]];
  for (let i = 0; base.reduce((n, [, b]) => n + b.length, 0) < total * 0.1; i++) base.push([`usr/share/doc/pkg${i}/README`, text(8192, i + 1)]);
  const cuda = [['usr/local/cuda-12.1/version.json', Buffer.from('{"cuda":{"name":"CUDA SDK","version":"12.1.1"}}')], ['usr/include/cudnn_version.h', Buffer.from('#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 0\n')]];
  for (let i = 0; cuda.reduce((n, [, b]) => n + b.length, 0) < total * 0.35; i++) cuda.push([`usr/local/cuda-12.1/lib64/libcu${i}.so.12.1.105`, semiBinary(10 * 1024 * 1024)]);
  const site = 'usr/local/lib/python3.11/site-packages';
  const python = [];
  for (let p = 0; python.reduce((n, [, b]) => n + b.length, 0) < total * 0.3; p++) {
    python.push([`${site}/pkg${p}-1.${p}.0.dist-info/METADATA`, Buffer.from(`Metadata-Version: 2.1\nName: pkg${p}\nVersion: 1.${p}.0\nLicense: MIT\n\nlong description\n`)]);
    for (let f = 0; f < 30; f++) python.push([`${site}/pkg${p}/mod${f}.py`, text(30 * 1024, p * 100 + f + 1)]);
  }
  const weights = [];
  for (let i = 0; weights.reduce((n, [, b]) => n + b.length, 0) < total * 0.25; i++) weights.push([`models/weights-${i}.bin`, randomBytes(32 * 1024 * 1024)]);
  return Promise.all([base, cuda, python, weights].map(tarOf));
}

async function ensureImage() {
  const meta = join(CACHE, 'layers.json');
  if (existsSync(meta)) return JSON.parse(readFileSync(meta, 'utf8'));
  mkdirSync(CACHE, { recursive: true });
  console.error(`building a ${SIZE_MIB} MiB image under ${CACHE} (once) ...`);
  const tars = await buildLayers();
  const out = { tarBytes: tars.reduce((n, t) => n + t.length, 0), gzip: [], zstd: [] };
  tars.forEach((t, i) => {
    const g = join(CACHE, `layer${i}.tar.gz`);
    writeFileSync(g, gzipSync(t, { level: 6 }));
    out.gzip.push(g);
    if (hasZstd) {
      const z = join(CACHE, `layer${i}.tar.zst`);
      const r = spawnSync('zstd', ['-3', '-q', '-f', '-T2', '-o', z], { input: t, maxBuffer: 2 * 1024 ** 3 });
      if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr}`);
      out.zstd.push(z);
    }
  });
  writeFileSync(meta, JSON.stringify(out));
  return out;
}

const drop = () => new Writable({ write(_c, _e, cb) { cb(); } });
const limits = { maxBytes: Number.MAX_SAFE_INTEGER, maxRatio: DEFAULT_WALK_LIMITS.maxCompressionRatio, ratioFloorBytes: 16 * 1024 * 1024, maxZstdWindowBytes: DEFAULT_WALK_LIMITS.maxZstdWindowBytes };

async function decompressOnly(files) {
  for (const f of files) {
    const { source, streams } = await decompressLayer(createReadStream(f), { compressed: 0, uncompressed: 0 }, limits);
    await pipeline([source, ...streams, drop()]);
  }
}

async function tarOnly(files) {
  for (const f of files) {
    const { source, streams } = await decompressLayer(createReadStream(f), { compressed: 0, uncompressed: 0 }, limits);
    const ex = extract();
    ex.on('entry', (_h, s, next) => {
      s.on('end', next);
      s.resume();
    });
    await pipeline([source, ...streams, ex]);
  }
}

async function inventory(files) {
  const view = await walkLayers(files.map((f, i) => ({ digest: `sha256:${i}`, open: async () => createReadStream(f) })), wantPath);
  return buildInventory(view);
}

async function time(fn) {
  const t = process.hrtime.bigint();
  const r = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, r };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const image = await ensureImage();
const results = { sizeMiB: SIZE_MIB, tarBytes: image.tarBytes, reps: REPS, node: process.version, variants: {} };
for (const variant of ONLY) {
  const files = image[variant];
  if (!files || files.length === 0) {
    console.error(`${variant}: skipped (no zstd command)`);
    continue;
  }
  const compressed = files.reduce((n, f) => n + statSync(f).size, 0);
  const runs = { decompress: [], tar: [], inventory: [] };
  let packages = 0;
  for (let rep = 0; rep < REPS; rep++) {
    runs.decompress.push((await time(() => decompressOnly(files))).ms);
    runs.tar.push((await time(() => tarOnly(files))).ms);
    const inv = await time(() => inventory(files));
    runs.inventory.push(inv.ms);
    packages = inv.r.packages.length;
  }
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
  const least = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, Math.min(...v)]));
  results.variants[variant] = { compressedBytes: compressed, medianMs: m, minMs: least, runsMs: runs, packages, ratio: m.inventory / m.decompress, ratioOfMinima: least.inventory / least.decompress };
  const mbps = (ms) => ((image.tarBytes / 1024 / 1024) / (ms / 1000)).toFixed(0);
  console.log(
    `${variant}: ${(compressed / 1024 / 1024).toFixed(0)} MiB compressed, ${(image.tarBytes / 1024 / 1024).toFixed(0)} MiB tar; ` +
      `decompress ${m.decompress.toFixed(0)} ms (${mbps(m.decompress)} MiB/s), tar ${m.tar.toFixed(0)} ms, inventory ${m.inventory.toFixed(0)} ms ` +
      `(${packages} packages): inventory / decompress = ${(m.inventory / m.decompress).toFixed(2)}x median, ${(least.inventory / least.decompress).toFixed(2)}x of minima (target <= 1.5x)`,
  );
}
mkdirSync(join(ROOT, '.bench'), { recursive: true });
writeFileSync(join(ROOT, '.bench', 'scan-results.json'), JSON.stringify(results, null, 2));
if (args.includes('--clean')) rmSync(CACHE, { recursive: true, force: true });
