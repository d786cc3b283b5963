#!/usr/bin/env node
// Image insights benchmark (issue 11): analysing an image versus only decompressing its layers.
//
//   node --import tsx bench/insights.mjs [--size-mib N] [--multi-mib N] [--reps N] [--clean]
//
// Two gzip images, built once and cached under .bench/insights/:
//   single  one layer of N MiB (default 1024): libraries, Python sources, weights, apt lists
//   multi   an ML-shaped image of 5 layers (default 512 MiB): Debian-like base with dpkg status
//           and info/*.list, a CUDA-like toolkit, pip packages + a pip cache, the application with
//           a file deleted in the next layer, safetensors weights
// Per image, each mode runs in a fresh child process (so peak RSS is its own), median of N reps:
//   decompress       every layer through the shared decompressor (zlib), bytes dropped
//   insights         readLayers + LayerAccounting (hash every file, records) + analyse()
//   scan             walkLayers + buildInventory (what a scan does before matching)
//   scan+insights    ONE readLayers feeding FileViewConsumer and LayerAccounting, then both results
// Wall time (median and minimum) and CPU time of the process (all threads) are reported: on a
// shared machine CPU time is the steadier measure of the work.
// Targets (issue 11): insights <= 1.2x decompress, scan+insights <= 1.3x. Nothing is asserted;
// numbers are printed and written to .bench/insights-results.json.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};

// ------------------------------------------------------------------ child: one mode, one image
if (args[0] === '--child') {
  const [, mode, listFile] = args;
  const files = JSON.parse(readFileSync(listFile, 'utf8'));
  const { decompressLayer } = await import('../src/content/layers/decompress.ts');
  const { readLayers } = await import('../src/content/layers/layer-reader.ts');
  const { DEFAULT_WALK_LIMITS, FileViewConsumer, walkLayers } = await import('../src/content/layers/layer-walker.ts');
  const { buildInventory, wantPath } = await import('../src/content/inventory/collector.ts');
  const { LayerAccounting } = await import('../src/features/insights/layer-record.ts');
  const { analyse, parseConfigFacts } = await import('../src/features/insights/analysis.ts');
  const sources = files.map((f, i) => ({ digest: `sha256:${i}`, open: async () => createReadStream(f) }));
  const read = { maxEntries: Number.MAX_SAFE_INTEGER, maxUncompressedBytes: Number.MAX_SAFE_INTEGER, maxCompressionRatio: 250, maxZstdWindowBytes: 128 * 1024 * 1024 };
  const options = { bandwidthBitsPerSecond: 1e9, decompressBytesPerSecond: 200e6, weightsThresholdBytes: 100 * 1024 * 1024, hugeLayerBytes: 256 * 1024 * 1024 };
  const facts = parseConfigFacts({}, files.length);
  const t = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let detail = '';
  if (mode === 'decompress') {
    const drop = () => new Writable({ write(_c, _e, cb) { cb(); } });
    for (const f of files) {
      const { source, streams } = await decompressLayer(createReadStream(f), { compressed: 0, uncompressed: 0 }, { maxBytes: Number.MAX_SAFE_INTEGER, maxRatio: 250, ratioFloorBytes: 16 << 20, maxZstdWindowBytes: 128 << 20 });
      await pipeline([source, ...streams, drop()]);
    }
  } else if (mode === 'insights') {
    const acc = new LayerAccounting();
    await readLayers(sources, [acc], read);
    const a = analyse(acc.records, facts, options);
    detail = `${a.totals.files} files, ${a.findings.length} findings`;
  } else if (mode === 'scan') {
    const inv = buildInventory(await walkLayers(sources, wantPath, DEFAULT_WALK_LIMITS));
    detail = `${inv.packages.length} packages`;
  } else if (mode === 'scan+insights') {
    const view = new FileViewConsumer(wantPath, DEFAULT_WALK_LIMITS);
    const acc = new LayerAccounting();
    const summaries = await readLayers(sources, [view, acc], read);
    const inv = buildInventory(view.view(summaries));
    const a = analyse(acc.records, facts, options);
    detail = `${inv.packages.length} packages, ${a.findings.length} findings`;
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024, detail }));
  process.exit(0);
}

// ------------------------------------------------------------------ parent: build, run, report
const SIZE_MIB = Number(opt('--size-mib', '1024'));
const MULTI_MIB = Number(opt('--multi-mib', '512'));
const REPS = Number(opt('--reps', '3'));
const CACHE = join(ROOT, '.bench', 'insights');

/** deterministic pseudo-random bytes (fast: SHA-256 in counter mode, then repeated blocks for compressibility) */
function bytes(seed, n, compressible) {
  const out = Buffer.alloc(n);
  let block = 0;
  for (let at = 0; at < n; ) {
    const h = createHash('sha256').update(`${seed}:${block++}`).digest();
    if (compressible && block % 3 !== 0) {
      out.fill(h[0], at, Math.min(at + 4096, n));
      at += 4096;
    } else at += h.copy(out, at);
  }
  return out;
}
const words = 'import numpy torch tensor cuda kernel layer model train batch def return class self value shape'.split(' ');
const source = (seed, n) => Buffer.from(Array.from({ length: Math.ceil(n / 6) }, (_, i) => words[(i * 7 + seed) % words.length]).join(' ')).subarray(0, n);

/** streams a tar of `entries` (generated lazily) through gzip -6 into `file` */
async function writeLayer(file, entries) {
  const p = pack();
  const done = pipeline(p, createGzip({ level: 6 }), (await import('node:fs')).createWriteStream(file));
  for (const [name, make] of entries) {
    const body = make();
    await new Promise((res, rej) => p.entry({ name, size: body.length }, body, (e) => (e ? rej(e) : res())));
  }
  p.finalize();
  await done;
}

function files(prefix, total, each, make) {
  return Array.from({ length: Math.ceil(total / each) }, (_, i) => [`${prefix}${i}`, () => make(i, each)]);
}

async function ensure(name, build) {
  const dir = join(CACHE, name);
  const meta = join(dir, 'layers.json');
  if (existsSync(meta)) return JSON.parse(readFileSync(meta, 'utf8'));
  mkdirSync(dir, { recursive: true });
  console.error(`building ${name} under ${dir} (once) ...`);
  const layers = await build(dir);
  writeFileSync(meta, JSON.stringify(layers));
  return layers;
}

const MiB = 1024 * 1024;
const images = {
  single: () =>
    ensure(`single-${SIZE_MIB}mib`, async (dir) => {
      const t = SIZE_MIB * MiB;
      const f = join(dir, 'layer0.tar.gz');
      await writeLayer(f, [
        ...files('usr/lib/x86_64-linux-gnu/libbig', t * 0.35, 8 * MiB, (i, n) => bytes(`lib${i}`, n, true)),
        ...files('usr/local/lib/python3.11/site-packages/pkg/mod', t * 0.3, 24 * 1024, (i, n) => source(i, n)),
        ...files('models/shard-', t * 0.3, 64 * MiB, (i, n) => bytes(`w${i}`, n, false)),
        ...files('var/lib/apt/lists/list', t * 0.05, 1 * MiB, (i, n) => source(i + 7, n)),
      ]);
      return [f];
    }),
  multi: () =>
    ensure(`multi-${MULTI_MIB}mib`, async (dir) => {
      const t = MULTI_MIB * MiB;
      const status = Array.from({ length: 400 }, (_, i) => `Package: pkg${i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.${i}-1\n`).join('\n');
      const lists = Array.from({ length: 400 }, (_, i) => [`var/lib/dpkg/info/pkg${i}.list`, () => Buffer.from(Array.from({ length: 20 }, (_, j) => `/usr/lib/x86_64-linux-gnu/pkg${i}-${j}.so`).join('\n'))]);
      const site = 'usr/local/lib/python3.11/site-packages';
      const layers = [
        [['etc/os-release', () => Buffer.from('ID=debian\nVERSION_ID="12"\n')], ['var/lib/dpkg/status', () => Buffer.from(status)], ...lists, ...files('usr/lib/x86_64-linux-gnu/pkg0-', t * 0.1, 256 * 1024, (i, n) => bytes(`os${i}`, n, true))],
        [['usr/local/cuda-12.1/version.json', () => Buffer.from('{"cuda":{"version":"12.1.1"}}')], ...files('usr/local/cuda-12.1/lib64/libcublas.so.12.', t * 0.3, 16 * MiB, (i, n) => bytes(`cuda${i}`, n, true))],
        [[`${site}/torch/version.py`, () => Buffer.from("__version__ = '2.1.0+cu121'\ncuda = '12.1'\n")], ...files(`${site}/torch/lib/libtorch`, t * 0.15, 8 * MiB, (i, n) => bytes(`torch${i}`, n, true)), ...files(`${site}/numpy/mod`, t * 0.05, 16 * 1024, (i, n) => source(i, n)), ...files('root/.cache/pip/http/c', t * 0.05, 512 * 1024, (i, n) => bytes(`pip${i}`, n, false))],
        [...files('app/src/file', t * 0.05, 8 * 1024, (i, n) => source(i + 3, n)), ['app/data.tar', () => bytes('data', 16 * MiB, false)]],
        [['app/.wh.data.tar', () => Buffer.alloc(0)], ...files('models/model-', t * 0.3, 64 * MiB, (i, n) => bytes(`st${i}`, n, false)).map(([n, m]) => [`${n}.safetensors`, m])],
      ];
      const out = [];
      for (const [i, entries] of layers.entries()) {
        const f = join(dir, `layer${i}.tar.gz`);
        await writeLayer(f, entries);
        out.push(f);
      }
      return out;
    }),
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { node: process.version, reps: REPS, images: {} };
const modes = ['decompress', 'insights', 'scan', 'scan+insights'];
for (const [name, build] of Object.entries(images)) {
  const layerFiles = await build();
  const listFile = join(CACHE, `${name}.files.json`);
  writeFileSync(listFile, JSON.stringify(layerFiles));
  const compressed = layerFiles.reduce((n, f) => n + statSync(f).size, 0);
  const runs = Object.fromEntries(modes.map((m) => [m, []]));
  const cpuRuns = Object.fromEntries(modes.map((m) => [m, []]));
  const rss = {};
  const detail = {};
  for (let rep = 0; rep < REPS; rep++) {
    for (const mode of modes) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', mode, listFile], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
      if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
      const o = JSON.parse(r.stdout);
      runs[mode].push(o.ms);
      cpuRuns[mode].push(o.cpuMs);
      rss[mode] = Math.max(rss[mode] ?? 0, o.maxRssMiB);
      detail[mode] = o.detail;
    }
  }
  const m = Object.fromEntries(modes.map((k) => [k, median(runs[k])]));
  // on a shared machine the minimum is the run least disturbed by others; both are reported
  const least = Object.fromEntries(modes.map((k) => [k, Math.min(...runs[k])]));
  const ratios = (x) => ({ insights: x.insights / x.decompress, scan: x.scan / x.decompress, 'scan+insights': x['scan+insights'] / x.decompress });
  // CPU time (all threads: zlib runs on the thread pool) is the work done, whatever the machine's load
  const cpu = Object.fromEntries(modes.map((k) => [k, median(cpuRuns[k])]));
  results.images[name] = { layers: layerFiles.length, compressedBytes: compressed, medianMs: m, minMs: least, medianCpuMs: cpu, runsMs: runs, cpuRunsMs: cpuRuns, peakRssMiB: rss, detail, ratios: ratios(m), ratiosOfMinima: ratios(least), cpuRatios: ratios(cpu) };
  const line = (x) => `decompress ${x.decompress.toFixed(0)} ms, insights ${x.insights.toFixed(0)} ms (${ratios(x).insights.toFixed(2)}x), scan ${x.scan.toFixed(0)} ms (${ratios(x).scan.toFixed(2)}x), scan+insights ${x['scan+insights'].toFixed(0)} ms (${ratios(x)['scan+insights'].toFixed(2)}x)`;
  console.log(`${name}: ${layerFiles.length} layer(s), ${(compressed / MiB).toFixed(0)} MiB gzip; median: ${line(m)}; minima: ${line(least)}; CPU time (median): ${line(cpu)}; peak RSS MiB ${modes.map((k) => `${k} ${rss[k].toFixed(0)}`).join(', ')}; ${detail['scan+insights']}`);
}
mkdirSync(join(ROOT, '.bench'), { recursive: true });
writeFileSync(join(ROOT, '.bench', 'insights-results.json'), JSON.stringify(results, null, 2));
if (args.includes('--clean')) rmSync(CACHE, { recursive: true, force: true });
