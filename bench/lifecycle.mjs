#!/usr/bin/env node
// Lifecycle benchmark (issue 5): garbage collection and cleanup policies, Wharf vs CNCF
// Distribution 2.8 side by side in one run. See bench/README.md ("Lifecycle benchmark").
//
//   npm run build && node bench/lifecycle.mjs [--blobs N] [--garbage F] [--images N] [--quick]
//
// 1. GC: N small blobs (1-4 KiB) over images in 8 repositories, a fraction F garbage (layers of
//    deleted images and never-referenced uploads), seeded identically into both registries.
//    Distribution collects offline (`docker-registry garbage-collect`: the registry must be
//    stopped or read-only); Wharf online (POST /api/v1/gc) once idle and once while pushers push
//    new images and a probe GETs manifests.
// 2. Policy: one repository with N images; Wharf evaluates an ECR and an Artifact Registry
//    cleanup policy (dry runs) and applies the ECR one; the baseline is the script a Distribution
//    user runs instead (tags/list, HEAD each tag, DELETE each manifest), run against both.
// Imports Wharf's stores from dist/ (seeding) and runs dist/cli/main.js: build first.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { distributionVersion } from './lib/servers.mjs';
import { CheckError } from './lib/http.mjs';
import { gcScenario, GC_GRACE_SECONDS } from './lib/lifecycle-gc.mjs';
import { policyScenario } from './lib/lifecycle-policy.mjs';
import { log, ROOT, WHARF_ENTRY } from './lib/lifecycle-util.mjs';

const USAGE = `usage: node bench/lifecycle.mjs [options]

  --blobs N             GC: blobs seeded (default 100000; --quick 5000)
  --garbage F           GC: fraction of them garbage (default 0.1)
  --images N            policy: images in the repository (default 10000; --quick 1000)
  --only gc|policy      run one scenario
  --pushers N           GC: concurrent pushers during Wharf's GC (default 4)
  --baseline S          GC: seconds of pushing measured before GC starts (default 15; --quick 5)
  --reps N              policy: dry-run repetitions, median reported (default 3)
  --script-concurrency N  policy: requests in flight of the tags/HEAD/DELETE script (default 4)
  --script-max S        policy: stop the script's DELETE phase after S s (default 1200); the
                        figures are then for the deletions done, and the table says so
  --sample N            images pulled and checked at each verification (default 200)
  --settle-max S        wait up to S s for a quiet machine before each measurement (default 20)
  --quick               small sizes (5,000 blobs, 1,000 images): a smoke run
  --keep-tmp            keep the data directories (.bench/tmp/lifecycle-*)
  --json FILE           results file (default .bench/lifecycle-<timestamp>.json)
`;

function parseArgs(argv) {
  const o = { blobs: undefined, garbage: 0.1, images: undefined, only: undefined, pushers: 4, baselineSec: undefined, reps: 3, scriptConcurrency: 4, scriptMaxSec: 1200, sample: 200, settleMaxMs: 20_000, quick: false, keepTmp: false, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const flag = a.split('=')[0];
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) die(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const v = Number(val());
      if (!Number.isInteger(v) || v < 1) die(`${flag} takes a positive integer`);
      return v;
    };
    if (flag === '--blobs') o.blobs = int();
    else if (flag === '--garbage') o.garbage = Number(val());
    else if (flag === '--images') o.images = int();
    else if (flag === '--only') o.only = val();
    else if (flag === '--pushers') o.pushers = int();
    else if (flag === '--baseline') o.baselineSec = int();
    else if (flag === '--reps') o.reps = int();
    else if (flag === '--script-concurrency') o.scriptConcurrency = int();
    else if (flag === '--sample') o.sample = int();
    else if (flag === '--script-max') o.scriptMaxSec = int();
    else if (flag === '--settle-max') o.settleMaxMs = Number(val()) * 1000;
    else if (flag === '--quick') o.quick = true;
    else if (flag === '--keep-tmp') o.keepTmp = true;
    else if (flag === '--json') o.json = val();
    else if (flag === '-h' || flag === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else die(`unknown argument ${a}\n\n${USAGE}`);
  }
  o.blobs ??= o.quick ? 5000 : 100_000;
  o.images ??= o.quick ? 1000 : 10_000;
  o.baselineSec ??= o.quick ? 5 : 15;
  if (!(o.garbage > 0 && o.garbage < 1)) die('--garbage takes a fraction between 0 and 1');
  if (o.only !== undefined && o.only !== 'gc' && o.only !== 'policy') die('--only takes gc or policy');
  if (o.images < 200) die('--images must be at least 200 (the policy keeps the 100 newest)');
  return o;
}

function die(msg, code = 2) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(code);
}

function machine() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim()) commit += ' (src/ modified)';
  } catch {}
  return { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), kernel: os.release(), node: process.version, distribution: distributionVersion(), wharfCommit: commit };
}

// ---------------------------------------------------------------------------------------------
// Tables

const fmt = (x, d = 1) => (x === undefined || x === null ? '–' : typeof x === 'number' ? x.toLocaleString('en-US', { maximumFractionDigits: d }) : String(x));
const ratio = (a, b) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}x` : '–');

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('  ')).join('\n');
}

function gcTable(g) {
  const d = g.distribution;
  const wi = g.wharfIdle;
  const wp = g.wharfWithPushes;
  const dSec = d.ms / 1000;
  const wiSec = wi.ms / 1000;
  const wpSec = wp.ms / 1000;
  const rows = [
    ['GC (ratio > 1: Wharf better)', 'Wharf idle', 'Wharf + pushes', 'Distribution', 'ratio idle', 'ratio + pushes'],
    ['duration s', fmt(wiSec, 2), fmt(wpSec, 2), fmt(dSec, 2), ratio(dSec, wiSec), ratio(dSec, wpSec)],
    ['blobs examined', fmt(g.plan.blobs), fmt(g.plan.blobs), `${fmt(d.blobsExamined)} *`, '', ''],
    ['blobs examined / s', fmt(g.plan.blobs / wiSec, 0), fmt(g.plan.blobs / wpSec, 0), fmt(d.blobsExamined / dSec, 0), ratio(g.plan.blobs / wiSec, d.blobsExamined / dSec), ratio(g.plan.blobs / wpSec, d.blobsExamined / dSec)],
    ['blobs deleted', fmt(wi.report.blobsDeleted), fmt(wp.report.blobsDeleted), `${fmt(d.blobsDeleted)} *`, '', ''],
    ['MB reclaimed', fmt(wi.report.bytesReclaimed / 1e6, 1), fmt(wp.report.bytesReclaimed / 1e6, 1), '', '', ''],
    ['GC CPU s (server / gc process)', fmt(wi.serverCpuSeconds, 2), fmt(wp.serverCpuSeconds, 2), fmt(d.cpuSeconds, 2), '', ''],
    ['foreign load, cores', fmt(wi.foreignCores, 2), fmt(wp.foreignCores, 2), fmt(d.foreignCores, 2), '', ''],
    ['pushes/s before GC', '', fmt(wp.baseline.pushesPerSec), '–', '', ''],
    ['pushes/s during GC', '', fmt(wp.during.pushesPerSec), '0 (offline)', '', ''],
    ['push p50 / p99 ms before', '', `${fmt(wp.baseline.pushP50Ms)} / ${fmt(wp.baseline.pushP99Ms)}`, '', '', ''],
    ['push p50 / p99 ms during', '', `${fmt(wp.during.pushP50Ms)} / ${fmt(wp.during.pushP99Ms)}`, '', '', ''],
    ['manifest GET p50 / p99 ms before', '', `${fmt(wp.baseline.getP50Ms, 2)} / ${fmt(wp.baseline.getP99Ms, 2)}`, '', '', ''],
    ['manifest GET p50 / p99 ms during', '', `${fmt(wp.during.getP50Ms, 2)} / ${fmt(wp.during.getP99Ms, 2)}`, 'no service', '', ''],
    ['event-loop delay p99 / max ms before', '', `${fmt(wp.baseline.loopP99Ms)} / ${fmt(wp.baseline.loopMaxMs)}`, '', '', ''],
    ['event-loop delay p99 / max ms during', `${fmt(wi.loop?.loopP99Ms)} / ${fmt(wi.loop?.loopMaxMs)}`, `${fmt(wp.during.loopP99Ms)} / ${fmt(wp.during.loopMaxMs)}`, '', '', ''],
    ['pushes/s during / before (target >= 0.8)', '', fmt(wp.during.pushesPerSec / wp.baseline.pushesPerSec, 2), '', '', ''],
    ['push p99 during / before (target <= 2)', '', fmt(wp.during.pushP99Ms / wp.baseline.pushP99Ms, 2), '', '', ''],
    ['push errors (whole run)', '', fmt(wp.pushErrors), '', '', ''],
  ];
  return `${table(rows)}\n* Distribution stores manifests as blobs too: ${fmt(g.distributionBlobs.total)} blobs of which ${fmt(g.distributionBlobs.garbage)} garbage (${fmt(g.plan.deletedImages)} deleted manifests).\n  Distribution cannot collect online: garbage-collect runs with the registry stopped (or read-only), so it serves no pushes meanwhile.`;
}

function policyTable(p) {
  const ws = p.wharfScript;
  const ds = p.distributionScript;
  const run = p.wharfRun;
  // a script cut short (--script-max): whole-script time extrapolated, marked with †
  const dMs = ds.complete ? ds.ms : ds.extrapolatedMs;
  const mark = ds.complete ? '' : ' †';
  const rows = [
    [`policy, ${fmt(p.images)} images (ratio > 1: Wharf better)`, 'Wharf', 'Distribution', 'ratio'],
    ['dry run ECR: ms (median)', fmt(p.wharfDryRunEcr.medianMs), 'no policies', ''],
    ['dry run ECR: images evaluated / s', fmt(p.wharfDryRunEcr.imagesPerSec, 0), '', ''],
    ['dry run Artifact Registry: ms (median)', fmt(p.wharfDryRunGar.medianMs), 'no policies', ''],
    ['dry run Artifact Registry: images / s', fmt(p.wharfDryRunGar.imagesPerSec, 0), '', ''],
    ['to delete (ECR / Artifact Registry)', `${fmt(p.wharfDryRunEcr.toDelete)} / ${fmt(p.wharfDryRunGar.toDelete)}`, '', ''],
    ['cleanup run (ECR) vs script: s', fmt(run.ms / 1000, 2), fmt(dMs / 1000, 2) + mark, ratio(dMs, run.ms)],
    ['  deletions / s', fmt(run.deletionsPerSec, 0), fmt(ds.planned / (dMs / 1000), 0) + mark, ratio(run.deletionsPerSec, ds.planned / (dMs / 1000))],
    ['script (list + HEAD + DELETE): s', fmt(ws.ms / 1000, 2), fmt(dMs / 1000, 2) + mark, ratio(dMs, ws.ms)],
    ['  tags/list ms', fmt(ws.listMs), fmt(ds.listMs), ratio(ds.listMs, ws.listMs)],
    [`  HEAD ${fmt(ws.tags)} tags ms`, fmt(ws.headMs), fmt(ds.headMs), ratio(ds.headMs, ws.headMs)],
    [`  DELETE ${fmt(ws.deletes)} manifests ms`, fmt(ws.deleteMs), ds.complete ? fmt(ds.deleteMs) : `${fmt(ds.deleteMs)} (${fmt(ds.deletes)} done)`, ds.complete ? ratio(ds.deleteMs, ws.deleteMs) : ''],
    ['  deletions / s (DELETE phase)', fmt(ws.deletesOnlyPerSec, 0), fmt(ds.deletesOnlyPerSec, 0), ratio(ws.deletesOnlyPerSec, ds.deletesOnlyPerSec)],
    ['server CPU s: run / script', `${fmt(run.serverCpuSeconds, 2)} / ${fmt(ws.serverCpuSeconds, 2)}`, fmt(ds.serverCpuSeconds, 2), ''],
    ['foreign load cores: run / script', `${fmt(run.foreignCores, 2)} / ${fmt(ws.foreignCores, 2)}`, fmt(ds.foreignCores, 2), ''],
  ];
  const note = ds.complete
    ? ''
    : `\n† Distribution's DELETE phase was stopped after --script-max: ${fmt(ds.deletes)} of ${fmt(ds.planned)} deletions done; its whole-script time is extrapolated linearly (an overestimate: each deletion reads every remaining tag, so they get cheaper as tags go).`;
  return `${table(rows)}${note}`;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(WHARF_ENTRY)) die(`Wharf is not built: ${WHARF_ENTRY} is missing (npm run build)`, 3);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const workDir = join(ROOT, '.bench', 'tmp', `lifecycle-${stamp}`);
  mkdirSync(workDir, { recursive: true });
  const results = { startedAt: new Date().toISOString(), machine: machine(), options: { ...opts, gcGraceSeconds: GC_GRACE_SECONDS }, errors: [] };
  const jsonPath = opts.json ?? join(ROOT, '.bench', `lifecycle-${stamp}.json`);
  const save = () => writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  let failed = false;
  for (const [id, fn] of [
    ['gc', gcScenario],
    ['policy', policyScenario],
  ]) {
    if (opts.only && opts.only !== id) continue;
    try {
      results[id] = await fn(workDir, opts);
    } catch (err) {
      failed = true;
      results.errors.push({ scenario: id, message: err.message, check: err instanceof CheckError });
      log(`${id}: ${err instanceof CheckError ? 'WRONG ANSWER' : 'FAILED'}: ${err.stack ?? err.message}`);
    }
    save();
  }
  results.finishedAt = new Date().toISOString();
  save();
  if (results.gc) process.stdout.write(`\n${gcTable(results.gc)}\n`);
  if (results.policy) process.stdout.write(`\n${policyTable(results.policy)}\n`);
  process.stdout.write(`\nresults: ${jsonPath}\n`);
  if (!opts.keepTmp) rmSync(workDir, { recursive: true, force: true });
  else process.stdout.write(`data kept in ${workDir}\n`);
  process.exit(failed ? 1 : 0);
}

await main();
