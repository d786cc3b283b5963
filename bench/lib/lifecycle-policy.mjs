// Policy scenario of the lifecycle benchmark (issue 5): one repository with N images, a cleanup
// policy in ECR and in Artifact Registry format, evaluated (dry run) and applied (run) by Wharf;
// against the baseline a Distribution user has (no policies): a script that lists tags, HEADs
// each for its digest and DELETEs the manifests to go, run against Distribution and Wharf alike.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CheckError, expectStatus, request } from './http.mjs';
import { cpuOf, foreignLoad, settle, startServer } from './servers.mjs';
import { DistributionLayout, makeImage, openWharfSeeder, pool, randomBlob } from './lifecycle-seed.mjs';
import { copyDir, headManifest, listAllTags, log, pullImage, round, sample, wharfFsck, WHARF_ENTRY, ROOT } from './lifecycle-util.mjs';
import { WHARF_GC_ENV } from './lifecycle-gc.mjs';

const DAY = 86_400_000;
export const POLICY_REPO = 'ml/trainer';

/** keep the 100 newest `v` images, expire untagged after 7 days; keep anything pulled within 30 days */
export const ECR_POLICY = {
  format: 'ecr',
  keepPulledWithinDays: 30,
  policy: {
    rules: [
      {
        rulePriority: 1,
        description: 'keep the 100 newest v* images',
        selection: { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 100 },
        action: { type: 'expire' },
      },
      {
        rulePriority: 2,
        description: 'untagged go after 7 days',
        selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 },
        action: { type: 'expire' },
      },
    ],
  },
};

/** the same intent in Artifact Registry's format */
export const GAR_POLICY = {
  format: 'artifact-registry',
  keepPulledWithinDays: 30,
  policy: [
    { name: 'delete-v', action: { type: 'Delete' }, condition: { tagState: 'tagged', tagPrefixes: ['v'] } },
    { name: 'delete-untagged', action: { type: 'Delete' }, condition: { tagState: 'untagged', olderThan: '7d' } },
    { name: 'keep-100', action: { type: 'Keep' }, mostRecentVersions: { keepCount: 100 } },
  ],
};

/**
 * Seeds both registries with one repository of `n` images: each a unique config over two shared
 * layers, pushed one every (100 days / n), oldest first; one in ten untagged, the rest tagged
 * v1.0-commit-<hex>; one in twenty pulled 5 days ago. Returns the images with their times.
 */
export async function seedPolicy(n, wharfData, distRoot) {
  const t0 = performance.now();
  const now = Date.now();
  const step = (100 * DAY) / n;
  const wharf = await openWharfSeeder(wharfData);
  const dist = new DistributionLayout(distRoot);
  const shared = [randomBlob(), randomBlob()];
  await wharf.at(now - 101 * DAY, async () => {
    for (const l of shared) await wharf.pushBlob(POLICY_REPO, l);
  });
  for (const l of shared) dist.pushBlob(POLICY_REPO, l);
  const images = Array.from({ length: n }, (_, i) => {
    const image = makeImage(`trainer-${i}`, shared);
    return {
      i,
      image,
      digest: image.digest,
      tag: i % 10 === 3 ? undefined : `v1.0-commit-${image.config.digest.slice(7, 17)}`,
      pushedAt: Math.round(now - (n - i) * step),
      pulledAt: i % 20 === 7 ? now - 5 * DAY : null,
    };
  });
  await pool(n, 8, async (k) => {
    const im = images[k];
    await wharf.at(im.pushedAt, () => wharf.pushImage(POLICY_REPO, im.image, im.tag));
    if (im.pulledAt !== null) await wharf.touchPulled(POLICY_REPO, im.digest, im.pulledAt);
    dist.pushImage(POLICY_REPO, im.image, im.tag);
  });
  await wharf.close();
  mkdirSync(join(dist.repoDir(POLICY_REPO), '_uploads'), { recursive: true });
  return { images, seedMs: performance.now() - t0 };
}

/** What the ECR policy deletes, computed here from the seed (a check on the server's evaluation). */
export function expectedEcrDeletions(images, now = Date.now()) {
  const pulledRecently = (im) => im.pulledAt !== null && im.pulledAt >= now - 30 * DAY;
  const tagged = images.filter((im) => im.tag).sort((a, b) => b.pushedAt - a.pushedAt);
  const fromTagged = tagged.slice(100).filter((im) => !pulledRecently(im));
  const fromUntagged = images.filter((im) => !im.tag && im.pushedAt < now - 7 * DAY && !pulledRecently(im));
  return fromTagged.length + fromUntagged.length;
}

async function api(t, method, path, body) {
  const res = await request(t.agent, `${t.base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expectStatus(res, 200, `${method} ${path}`);
  return JSON.parse(res.body.toString('utf8'));
}

/** Times fn() against server t: wall ms, server CPU seconds, foreign load. */
async function timed(t, fn, settleMaxMs) {
  await settle([t], { maxMs: settleMaxMs });
  const cpu0 = cpuOf(t);
  const foreign = foreignLoad([t]);
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  return { value, ms, serverCpuSeconds: round(cpuOf(t) - cpu0, 2), foreignCores: round(foreign(), 2) };
}

/**
 * What a Distribution user scripts today (there are no policies): list every tag, HEAD each for
 * its digest, DELETE the manifests to go. The decision itself (which digests) is given: it is
 * the policy's, from Wharf's dry run — a script would compute it from the same data, which
 * Distribution does not expose (no push or pull times, no way to list untagged manifests), so
 * the baseline is generous to it. `concurrency` requests in flight.
 */
async function scriptCleanup(t, repo, digests, concurrency, maxDeleteMs = Infinity) {
  const p0 = performance.now();
  const tags = await listAllTags(t, repo);
  const p1 = performance.now();
  const digestOfTag = new Map();
  await pool(tags.length, concurrency, async (i) => digestOfTag.set(tags[i], await headManifest(t, repo, tags[i])));
  const p2 = performance.now();
  // the DELETE phase stops starting new deletions after maxDeleteMs (a registry that slows down
  // with the number of tags could otherwise run for hours); what was deleted is reported
  const deleted = [];
  await pool(digests.length, concurrency, async (i) => {
    if (performance.now() - p2 > maxDeleteMs) return;
    const res = await request(t.agent, `${t.base}/v2/${repo}/manifests/${digests[i]}`, { method: 'DELETE' });
    expectStatus(res, 202, `DELETE /v2/${repo}/manifests/${digests[i]}`);
    deleted.push(digests[i]);
  });
  const p3 = performance.now();
  return { tags: tags.length, listMs: p1 - p0, headMs: p2 - p1, deleteMs: p3 - p2, deletes: deleted.length, planned: digests.length, deleted };
}

/** After deletions: the right tags remain, deleted manifests are 404, a sample of kept images pulls. */
async function verifyAfterDelete(t, seed, deleted, what) {
  const gone = new Set(deleted);
  const keptImages = seed.images.filter((im) => !gone.has(im.digest));
  const wantTags = keptImages.filter((im) => im.tag).length;
  const tags = await listAllTags(t, POLICY_REPO);
  if (tags.length !== wantTags) throw new CheckError(`${what}: ${tags.length} tags left, expected ${wantTags}`);
  for (const d of sample(deleted, 50)) {
    const res = await request(t.agent, `${t.base}/v2/${POLICY_REPO}/manifests/${d}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expectStatus(res, 404, `${what}: HEAD deleted manifest ${d}`);
  }
  for (const im of sample(keptImages.filter((k) => k.tag), 50)) await pullImage(t, POLICY_REPO, im.tag, im.image);
}

const wharfServer = (dir) => startServer({ kind: 'wharf', label: 'wharf', dir, wharfEntry: WHARF_ENTRY, cwd: ROOT, backend: { wharfEnv: WHARF_GC_ENV } });

export async function policyScenario(workDir, opts) {
  const n = opts.images;
  log(`Policy scenario: ${POLICY_REPO} with ${n} images (90% tagged v1.0-commit-<hex>, 10% untagged, one push every ${((100 * 24 * 60) / n).toFixed(1)} min over 100 days, 5% pulled 5 days ago)`);
  const seedWharf = join(workDir, 'policy-wharf-seed');
  const seedDist = join(workDir, 'policy-distribution-seed');
  mkdirSync(join(seedDist, 'data'), { recursive: true });
  const seed = await seedPolicy(n, join(seedWharf, 'data'), join(seedDist, 'data'));
  log(`  seeded both in ${(seed.seedMs / 1000).toFixed(0)} s`);
  await wharfFsck(join(seedWharf, 'data'), 'policy seed');
  const out = { images: n, seedSeconds: round(seed.seedMs / 1000, 1) };

  // 1. Wharf: dry runs (both formats) and the real run, on a copy of the seed
  const runDir = join(workDir, 'policy-wharf-run');
  await copyDir(seedWharf, runDir);
  let t = await wharfServer(runDir);
  let deleteSet;
  try {
    for (const li of sample(seed.images.filter((im) => im.tag), opts.sample)) await pullImage(t, POLICY_REPO, li.tag, li.image);
    await api(t, 'PUT', `/api/v1/cleanup-policies/${POLICY_REPO}`, ECR_POLICY);
    const dry = async (label, body) => {
      const reps = [];
      for (let r = 0; r < opts.reps; r++) reps.push(await timed(t, () => api(t, 'POST', `/api/v1/cleanup-dry-runs/${POLICY_REPO}`, body), opts.settleMaxMs));
      const best = [...reps].sort((a, b) => a.ms - b.ms)[Math.floor(reps.length / 2)]; // median
      const report = best.value;
      if (report.images !== n) throw new CheckError(`${label} dry run evaluated ${report.images} images, expected ${n}`);
      log(`  Wharf dry run (${label}): median ${best.ms.toFixed(0)} ms, ${report.delete.length} to delete, ${report.kept.length} kept by a keep rule`);
      return { medianMs: round(best.ms, 1), repsMs: reps.map((r) => round(r.ms, 1)), toDelete: report.delete.length, keptByRule: report.kept.length, imagesPerSec: round(n / (best.ms / 1000), 0), serverCpuSeconds: best.serverCpuSeconds, foreignCores: best.foreignCores, report };
    };
    const ecrDry = await dry('ECR', {});
    const garDry = await dry('Artifact Registry', { policy: GAR_POLICY });
    const expected = expectedEcrDeletions(seed.images);
    if (Math.abs(expected - ecrDry.toDelete) > 1) throw new CheckError(`ECR dry run deletes ${ecrDry.toDelete}, the seed says ${expected}`);
    deleteSet = ecrDry.report.delete.map((d) => d.digest);
    const real = await timed(t, () => api(t, 'POST', `/api/v1/cleanup-runs/${POLICY_REPO}`), opts.settleMaxMs);
    if (real.value.deleted !== deleteSet.length || real.value.skipped.length > 0) {
      throw new CheckError(`cleanup run deleted ${real.value.deleted} (skipped ${real.value.skipped.length}), the dry run said ${deleteSet.length}`);
    }
    log(`  Wharf cleanup run (ECR): ${real.ms.toFixed(0)} ms, ${real.value.deleted} deleted`);
    await verifyAfterDelete(t, seed, deleteSet, 'Wharf after cleanup run');
    for (const d of [ecrDry, garDry]) delete d.report;
    out.wharfDryRunEcr = ecrDry;
    out.wharfDryRunGar = garDry;
    out.wharfRun = {
      ms: round(real.ms, 1),
      deleted: real.value.deleted,
      deletionsPerSec: round(real.value.deleted / (real.ms / 1000), 0),
      imagesPerSec: round(n / (real.ms / 1000), 0),
      serverCpuSeconds: real.serverCpuSeconds,
      foreignCores: real.foreignCores,
    };
  } finally {
    await t.stop();
  }
  await wharfFsck(join(runDir, 'data'), 'after cleanup run');

  // 2. the script against Wharf's /v2 API, on a fresh copy of the seed
  const scriptDir = join(workDir, 'policy-wharf-script');
  await copyDir(seedWharf, scriptDir);
  t = await wharfServer(scriptDir);
  try {
    const s = await timed(t, () => scriptCleanup(t, POLICY_REPO, deleteSet, opts.scriptConcurrency, opts.scriptMaxSec * 1000), opts.settleMaxMs);
    await verifyAfterDelete(t, seed, s.value.deleted, 'Wharf after the script');
    out.wharfScript = scriptFigures(s);
    log(`  script vs Wharf: ${s.ms.toFixed(0)} ms (list ${s.value.listMs.toFixed(0)}, HEADs ${s.value.headMs.toFixed(0)}, DELETEs ${s.value.deleteMs.toFixed(0)})`);
  } finally {
    await t.stop();
  }

  // 3. the script against Distribution, on a copy of its seed
  const distDir = join(workDir, 'policy-distribution');
  await copyDir(seedDist, distDir);
  t = await startServer({ kind: 'distribution', label: 'distribution', dir: distDir });
  try {
    for (const li of sample(seed.images.filter((im) => im.tag), opts.sample)) await pullImage(t, POLICY_REPO, li.tag, li.image);
    const s = await timed(t, () => scriptCleanup(t, POLICY_REPO, deleteSet, opts.scriptConcurrency, opts.scriptMaxSec * 1000), opts.settleMaxMs);
    await verifyAfterDelete(t, seed, s.value.deleted, 'Distribution after the script');
    out.distributionScript = scriptFigures(s);
    log(`  script vs Distribution: ${s.ms.toFixed(0)} ms (list ${s.value.listMs.toFixed(0)}, HEADs ${s.value.headMs.toFixed(0)}, DELETEs ${s.value.deleteMs.toFixed(0)})`);
  } finally {
    await t.stop();
  }
  return out;
}

function scriptFigures(s) {
  const complete = s.value.deletes === s.value.planned;
  return {
    complete,
    // when the DELETE phase was cut short: its time scaled linearly to every planned deletion
    // (an estimate; with Distribution each deletion gets cheaper as tags go, so it overstates)
    extrapolatedMs: complete ? undefined : round(s.value.listMs + s.value.headMs + (s.value.deleteMs * s.value.planned) / s.value.deletes, 0),
    planned: s.value.planned,
    ms: round(s.ms, 1),
    tags: s.value.tags,
    listMs: round(s.value.listMs, 1),
    headMs: round(s.value.headMs, 1),
    deleteMs: round(s.value.deleteMs, 1),
    deletes: s.value.deletes,
    deletionsPerSec: round(s.value.deletes / (s.ms / 1000), 0),
    deletesOnlyPerSec: round(s.value.deletes / (s.value.deleteMs / 1000), 0),
    serverCpuSeconds: s.serverCpuSeconds,
    foreignCores: s.foreignCores,
  };
}
