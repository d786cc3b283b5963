// GC scenario of the lifecycle benchmark (issue 5): N small blobs over images in several
// repositories, a fraction of them garbage, collected by Wharf online (while a pusher keeps
// pushing) and by CNCF Distribution 2.8 offline (`docker-registry garbage-collect`).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CheckError, expectStatus, request } from './http.mjs';
import { pushBuffer, putManifest as putManifestHttp } from './oci.mjs';
import { cpuOf, foreignLoad, selfCpuSeconds, settle, startServer, DISTRIBUTION_BIN } from './servers.mjs';
import { DistributionLayout, OCI_MANIFEST, makeImage, openWharfSeeder, pool, randomBlob } from './lifecycle-seed.mjs';
import { copyDir, countDistributionBlobs, log, percentile, pullImage, round, runQuiet, sample, wharfFsck, WHARF_ENTRY, ROOT } from './lifecycle-util.mjs';

const DAY = 86_400_000;
export const GC_GRACE_SECONDS = 3600;
/** Wharf with on-demand GC only (the schedule would fire at start) and a 1 h grace period. */
export const WHARF_GC_ENV = { WHARF_GC__ENABLED: 'false', WHARF_GC__GRACE_SECONDS: String(GC_GRACE_SECONDS) };

/**
 * The plan: R repositories, each with one shared base layer; live images (config + 2 unique
 * layers + the base; one in ten untagged, which both registries keep: Wharf's GC keeps untagged
 * manifests by default, Distribution's without --delete-untagged); deleted images (their config
 * and 2 layers become garbage); and blobs uploaded but never referenced (garbage). The blob
 * counts add up to exactly `blobs`, `garbage` of them garbage.
 */
export function gcPlan(blobs, garbageFraction, repos = 8) {
  const garbage = Math.round(blobs * garbageFraction);
  const deletedImages = Math.floor(garbage / 2 / 3);
  const orphanBlobs = garbage - 3 * deletedImages;
  const live = blobs - garbage;
  const liveImages = Math.floor((live - repos) / 3);
  const extraLayers = live - repos - 3 * liveImages; // one more layer on the first few images
  if (liveImages < 1) throw new Error(`--blobs ${blobs} is too small`);
  return { blobs, garbage, repos, liveImages, deletedImages, orphanBlobs, extraLayers };
}

/**
 * Seeds both registries with the same content (bytes generated once, written to both). Returns
 * what the checks need: live and garbage digests, live images (repo, tag, image) for pulls.
 */
export async function seedGc(plan, wharfData, distRoot) {
  const t0 = performance.now();
  const longAgo = Date.now() - 2 * DAY; // every seeded push is far older than the grace period
  const wharf = await openWharfSeeder(wharfData, { defaultNow: () => longAgo });
  const dist = new DistributionLayout(distRoot);
  const repoName = (i) => `ml/team-${i % plan.repos}`;
  const live = new Set();
  const garbage = new Set();
  const liveImages = [];
  const liveManifests = new Set();
  const deletedManifests = new Set();
  const bases = [];
  for (let r = 0; r < plan.repos; r++) {
    const base = randomBlob();
    bases.push(base);
    await wharf.pushBlob(repoName(r), base);
    dist.pushBlob(repoName(r), base);
    live.add(base.digest);
  }
  const total = plan.liveImages + plan.deletedImages + plan.orphanBlobs;
  let done = 0;
  await pool(total, 8, async (i) => {
    if (i < plan.liveImages) {
      const layers = [bases[i % plan.repos], randomBlob(), randomBlob(), ...(i < plan.extraLayers ? [randomBlob()] : [])];
      const image = makeImage(`live-${i}`, layers);
      const tag = i % 10 === 9 ? undefined : `v1.0-commit-${image.config.digest.slice(7, 17)}`;
      await wharf.pushImage(repoName(i), image, tag);
      dist.pushImage(repoName(i), image, tag);
      for (const d of [image.config.digest, ...layers.map((l) => l.digest)]) live.add(d);
      liveManifests.add(image.digest);
      if (tag) liveImages.push({ repo: repoName(i), tag, image });
    } else if (i < plan.liveImages + plan.deletedImages) {
      // pushed, then DELETE /v2/<repo>/manifests/<digest>: its config and layers become garbage
      const image = makeImage(`deleted-${i}`, [bases[i % plan.repos], randomBlob(), randomBlob()]);
      await wharf.pushImage(repoName(i), image, `old-${i}`);
      await wharf.deleteManifest(repoName(i), image.digest);
      dist.pushDeletedImage(repoName(i), image);
      for (const d of [image.config.digest, image.layers[1].digest, image.layers[2].digest]) garbage.add(d);
      deletedManifests.add(image.digest);
    } else {
      // uploaded, never referenced by a manifest (an aborted push)
      const blob = randomBlob();
      await wharf.pushBlob(repoName(i), blob);
      dist.pushBlob(repoName(i), blob);
      garbage.add(blob.digest);
    }
    if (++done % 5000 === 0) log(`  seeded ${done}/${total} items (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  });
  await wharf.close();
  for (let r = 0; r < plan.repos; r++) mkdirSync(join(dist.repoDir(repoName(r)), '_uploads'), { recursive: true });
  if (live.size + garbage.size !== plan.blobs || garbage.size !== plan.garbage) {
    throw new Error(`seeding made ${live.size} live + ${garbage.size} garbage blobs, planned ${plan.blobs - plan.garbage} + ${plan.garbage}`);
  }
  return { live, garbage, liveImages, liveManifests, deletedManifests, seedMs: performance.now() - t0, dist };
}

/** Checks the blob files: every live digest present, every garbage digest absent (or present, before GC). */
function checkFiles(pathOf, seed, { garbagePresent }, what) {
  let missingLive = 0;
  let garbageLeft = 0;
  for (const d of seed.live) if (!existsSync(pathOf(d))) missingLive++;
  for (const d of seed.garbage) if (existsSync(pathOf(d))) garbageLeft++;
  const wantGarbage = garbagePresent ? seed.garbage.size : 0;
  if (missingLive > 0 || garbageLeft !== wantGarbage) {
    throw new CheckError(`${what}: ${missingLive} live blobs missing, ${garbageLeft} of ${seed.garbage.size} garbage blobs present (expected ${wantGarbage})`);
  }
}

const wharfBlobPath = (data) => (d) => join(data, 'blobs', 'sha256', d.slice(7, 9), d.slice(7));

/** Untimed: the seeded state is what pushes leave (fsck) and both registries serve it. */
export async function verifySeed(seed, wharfDir, distDir, opts) {
  checkFiles(wharfBlobPath(join(wharfDir, 'data')), seed, { garbagePresent: true }, 'seeded Wharf');
  checkFiles((d) => seed.dist.blobPath(d), seed, { garbagePresent: true }, 'seeded Distribution');
  await wharfFsck(join(wharfDir, 'data'), 'seeded');
  for (const [kind, dir] of [
    ['wharf', wharfDir],
    ['distribution', distDir],
  ]) {
    const t = await startServer({ kind, label: kind, dir, wharfEntry: WHARF_ENTRY, cwd: ROOT, backend: { wharfEnv: WHARF_GC_ENV } });
    try {
      for (const li of sample(seed.liveImages, opts.sample)) await pullImage(t, li.repo, li.tag, li.image);
    } finally {
      await t.stop();
    }
  }
  log(`  seeded state verified: fsck clean, ${Math.min(opts.sample, seed.liveImages.length)} sampled images pull byte for byte from both`);
}

/** Distribution's offline GC (the registry must be stopped or read-only while it runs). */
export async function distributionGc(distDir, seed, opts) {
  const blobsBefore = countDistributionBlobs(seed.dist.v2);
  await settle([], { maxMs: opts.settleMaxMs });
  const foreign = foreignLoad([]);
  const cpu0 = selfCpuSeconds(); // the GC process is our waited-for child: its CPU lands here
  let marked = 0;
  const r = await runQuiet(DISTRIBUTION_BIN, ['garbage-collect', join(distDir, 'config.yml')], {
    onLine: (l) => {
      if (l.includes('marking')) marked++;
    },
  });
  const cpu = selfCpuSeconds() - cpu0;
  const load = foreign();
  if (r.code !== 0) throw new CheckError(`docker-registry garbage-collect exited ${r.code}`);
  const blobsAfter = countDistributionBlobs(seed.dist.v2);
  checkFiles((d) => seed.dist.blobPath(d), seed, { garbagePresent: false }, 'Distribution after GC');
  for (const d of seed.liveManifests) if (!existsSync(seed.dist.blobPath(d))) throw new CheckError(`Distribution GC deleted live manifest ${d}`);
  const t = await startServer({ kind: 'distribution', label: 'distribution', dir: distDir });
  try {
    for (const li of sample(seed.liveImages, opts.sample)) await pullImage(t, li.repo, li.tag, li.image);
  } finally {
    await t.stop();
  }
  return {
    ms: r.ms,
    blobsExamined: blobsBefore,
    blobsDeleted: blobsBefore - blobsAfter,
    manifestsMarked: marked,
    cpuSeconds: round(cpu, 2),
    foreignCores: round(load, 2),
    outputLines: r.lines,
  };
}

// ---------------------------------------------------------------------------------------------
// Wharf: online GC, optionally while a pusher pushes and a prober GETs manifests

/**
 * Pushes new images (config + 2 random 1-4 KiB layers, POST + PUT each, then the manifest by
 * tag) with `workers` in flight, into its own repositories, until stop(). Records each push's
 * end time and duration, and errors.
 */
function startPusher(t, workers) {
  const pushes = [];
  const errors = [];
  let stopped = false;
  let n = 0;
  const worker = async (w) => {
    while (!stopped) {
      const i = n++;
      const repo = `live/pusher-${w}`;
      const image = makeImage(`pushed-${i}-${Date.now()}`, [randomBlob(), randomBlob()]);
      const tag = `p${i}`;
      const t0 = performance.now();
      try {
        for (const b of [image.config, ...image.layers]) await pushBuffer(t, repo, b, 'post-put');
        await putManifestHttp(t, repo, tag, image.manifest, image.digest);
        pushes.push({ end: performance.now(), ms: performance.now() - t0, repo, tag, image });
      } catch (err) {
        errors.push({ at: performance.now(), message: err.message });
        await sleep(50);
      }
    }
  };
  const all = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    pushes,
    errors,
    async stop() {
      stopped = true;
      await all;
    },
  };
}

/** GETs manifests of seeded images by tag, one at a time, recording latency; bodies checked. */
function startProbe(t, images) {
  const gets = [];
  const errors = [];
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const li = images[(i * 7919) % images.length];
      const t0 = performance.now();
      try {
        const res = await request(t.agent, `${t.base}/v2/${li.repo}/manifests/${li.tag}`, { headers: { accept: OCI_MANIFEST } });
        expectStatus(res, 200, `GET manifest ${li.repo}:${li.tag}`);
        if (!res.body.equals(li.image.manifest)) throw new CheckError(`GET manifest ${li.repo}:${li.tag}: body differs`);
        gets.push({ end: performance.now(), ms: performance.now() - t0 });
      } catch (err) {
        errors.push({ at: performance.now(), message: err.message });
      }
      await sleep(20); // ~40 GETs/s: a probe, not load
    }
  })();
  return {
    gets,
    errors,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/**
 * The server's event-loop delay since the previous call (p50, p99, max in ms), from its /metrics:
 * prom-client's monitorEventLoopDelay histogram (10 ms resolution), reset at every scrape.
 */
async function loopDelay(t) {
  const res = await request(t.agent, `${t.base}/metrics`);
  expectStatus(res, 200, 'GET /metrics');
  const text = res.body.toString('utf8');
  const get = (name) => {
    const m = new RegExp(`^wharf_nodejs_eventloop_lag_${name}_seconds ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? round(Number(m[1]) * 1000, 1) : undefined;
  };
  return { loopP50Ms: get('p50'), loopP99Ms: get('p99'), loopMaxMs: get('max') };
}

/** Pushes/s, push p50/p99 and GET p50/p99 within [from, to). */
function windowStats(pusher, probe, from, to) {
  const inW = (x) => x.end >= from && x.end < to;
  const pushes = pusher ? pusher.pushes.filter(inW) : [];
  const gets = probe ? probe.gets.filter(inW) : [];
  const secs = (to - from) / 1000;
  return {
    seconds: round(secs, 2),
    pushes: pushes.length,
    pushesPerSec: round(pushes.length / secs, 1),
    pushP50Ms: round(percentile(pushes.map((p) => p.ms), 50), 1),
    pushP99Ms: round(percentile(pushes.map((p) => p.ms), 99), 1),
    gets: gets.length,
    getP50Ms: round(percentile(gets.map((g) => g.ms), 50), 2),
    getP99Ms: round(percentile(gets.map((g) => g.ms), 99), 2),
    pushErrors: pusher ? pusher.errors.filter((e) => e.at >= from && e.at < to).length : 0,
  };
}

/**
 * One Wharf GC on `dir` (a fresh copy of the seeded data): starts `wharf serve`, optionally
 * runs the pusher and probe for `baselineSec` before GC, then POST /api/v1/gc (timed), keeps
 * them running until it answers, and checks everything afterwards.
 */
export async function wharfGc(dir, seed, opts, { withPushes }) {
  const t = await startServer({ kind: 'wharf', label: 'wharf', dir, wharfEntry: WHARF_ENTRY, cwd: ROOT, backend: { wharfEnv: WHARF_GC_ENV } });
  let result;
  let pusher;
  let probe;
  try {
    await settle([t], { maxMs: opts.settleMaxMs });
    let baseline;
    if (withPushes) {
      pusher = startPusher(t, opts.pushers);
      probe = startProbe(t, seed.liveImages);
      await sleep(2000); // warm-up, not counted
      await loopDelay(t); // resets the server's event-loop histogram
      const b0 = performance.now();
      const fl = foreignLoad([t]);
      await sleep(opts.baselineSec * 1000);
      baseline = { ...windowStats(pusher, probe, b0, performance.now()), foreignCores: round(fl(), 2), ...(await loopDelay(t)) };
    }
    if (!withPushes) await loopDelay(t); // resets the histogram: the idle figure covers the GC alone
    const cpu0 = cpuOf(t);
    const foreign = foreignLoad([t]);
    const g0 = performance.now();
    const res = await request(t.agent, `${t.base}/api/v1/gc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dryRun: false }),
    });
    const g1 = performance.now();
    const load = foreign();
    const cpu = cpuOf(t) - cpu0;
    const loop = await loopDelay(t); // over the GC (from the end of the baseline, or the start)
    expectStatus(res, 200, 'POST /api/v1/gc');
    const report = JSON.parse(res.body.toString('utf8'));
    const during = withPushes ? { ...windowStats(pusher, probe, g0, g1), ...loop } : undefined;
    if (withPushes) {
      await pusher.stop();
      await probe.stop();
    }
    // the report: exactly the garbage, nothing else
    if (report.blobsDeleted !== seed.garbage.size) {
      throw new CheckError(`Wharf GC deleted ${report.blobsDeleted} blobs, ${seed.garbage.size} were garbage`);
    }
    // every image pushed during the run pulls back; the tag list of every pusher repository is complete
    if (withPushes) {
      for (const p of sample(pusher.pushes, opts.sample)) await pullImage(t, p.repo, p.tag, p.image);
      for (const p of pusher.pushes) {
        const r = await request(t.agent, `${t.base}/v2/${p.repo}/manifests/${p.tag}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
        expectStatus(r, 200, `HEAD pushed image ${p.repo}:${p.tag}`);
      }
    }
    for (const li of sample(seed.liveImages, opts.sample)) await pullImage(t, li.repo, li.tag, li.image);
    result = {
      ms: g1 - g0,
      report,
      serverCpuSeconds: round(cpu, 2),
      foreignCores: round(load, 2),
      loop,
      baseline,
      during,
      pushesTotal: pusher?.pushes.length ?? 0,
      pushErrors: pusher?.errors.length ?? 0,
      pushErrorSamples: pusher?.errors.slice(0, 5).map((e) => e.message) ?? [],
      probeErrors: probe?.errors.length ?? 0,
      probeErrorSamples: probe?.errors.slice(0, 5).map((e) => e.message) ?? [],
    };
  } finally {
    if (pusher) await pusher.stop();
    if (probe) await probe.stop();
    await t.stop();
  }
  checkFiles(wharfBlobPath(join(dir, 'data')), seed, { garbagePresent: false }, `Wharf after GC${withPushes ? ' (with pushes)' : ''}`);
  await wharfFsck(join(dir, 'data'), `after GC${withPushes ? ' with pushes' : ''}`);
  return result;
}

/** The whole GC scenario: seed, verify, Distribution offline GC, Wharf online GC idle and under pushes. */
export async function gcScenario(workDir, opts) {
  const plan = gcPlan(opts.blobs, opts.garbage);
  log(`GC scenario: ${plan.blobs} blobs (${plan.garbage} garbage: ${plan.deletedImages} deleted images x 3 + ${plan.orphanBlobs} never-referenced uploads), ${plan.liveImages} live images in ${plan.repos} repositories`);
  const seedWharf = join(workDir, 'gc-wharf-seed');
  const distDir = join(workDir, 'gc-distribution');
  mkdirSync(join(distDir, 'data'), { recursive: true });
  const seed = await seedGc(plan, join(seedWharf, 'data'), join(distDir, 'data'));
  log(`  seeded both in ${(seed.seedMs / 1000).toFixed(0)} s`);
  await verifySeed(seed, seedWharf, distDir, opts);

  log('  Distribution: docker-registry garbage-collect (offline) ...');
  const distribution = await distributionGc(distDir, seed, opts);
  log(`  Distribution GC: ${(distribution.ms / 1000).toFixed(1)} s, ${distribution.blobsDeleted} of ${distribution.blobsExamined} blobs deleted`);

  // Wharf twice, each on a fresh copy of the seed: idle, then while pushes continue
  const idleDir = join(workDir, 'gc-wharf-idle');
  await copyDir(seedWharf, idleDir);
  log('  Wharf: POST /api/v1/gc, nothing else running ...');
  const wharfIdle = await wharfGc(idleDir, seed, opts, { withPushes: false });
  log(`  Wharf GC (idle): ${(wharfIdle.ms / 1000).toFixed(1)} s, ${wharfIdle.report.blobsDeleted} blobs deleted`);
  log(`  Wharf: POST /api/v1/gc while ${opts.pushers} pushers push (baseline ${opts.baselineSec} s first) ...`);
  const wharfPush = await wharfGc(seedWharf, seed, opts, { withPushes: true });
  log(`  Wharf GC (with pushes): ${(wharfPush.ms / 1000).toFixed(1)} s, ${wharfPush.pushesTotal} images pushed, ${wharfPush.pushErrors} push errors`);
  return {
    plan,
    seedSeconds: round(seed.seedMs / 1000, 1),
    distributionBlobs: { total: plan.blobs + seed.liveManifests.size + seed.deletedManifests.size, garbage: plan.garbage + seed.deletedManifests.size },
    distribution,
    wharfIdle,
    wharfWithPushes: wharfPush,
  };
}
