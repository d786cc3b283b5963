// The benchmark scenarios. Each has:
//   data(ctx)               generate test data (before servers start; not timed)
//   prepare(ctx)            per-run setup against every target (pushes, tags; not timed)
//   before(ctx, t, job)     per-measurement setup (not timed); may set job.* for measure/after
//   measure(ctx, t, job)    THE timed part; returns { <metric key>: number, ... }
//   after(ctx, t, job)      verification that is too expensive to time (optional)
// job = { rep, attempt, first }: attempt > 0 when an earlier attempt of the same repetition was
// disturbed by other processes and is being re-run (push scenarios then use fresh data, since the
// registries deduplicate); first is true for the first measurement of this target in the run.
// Metric `better` says which direction wins; `target` is the required ratio, oriented so that
// ratio >= target means Wharf meets the goal (throughput: W/D; latency: D/W). When the Wharf
// target runs with auth on (run.mjs --auth), `authTarget` replaces `target` (null: no ratio
// target) and `authLimit` is an absolute bound on Wharf's own figure (e.g. p99 <= 100 ms).
import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fmtBytes, randomBlobs, randomFile } from './blobs.mjs';
import { CheckError, authorizationFor, expectStatus, pool, treq } from './http.mjs';
import {
  OCI_MANIFEST,
  getBlob,
  getManifest,
  headBlob,
  pushBuffer,
  pushFileChunked,
  pushFileMonolithic,
  pushSmallImage,
  putManifest,
  supportsMonolithicPost,
} from './oci.mjs';
import { settle } from './servers.mjs';
import { runWrk } from './wrk.mjs';

const MB = 1e6;

export const SIZES = {
  full: {
    big: 1 << 30,
    chunk: 16 << 20,
    rangeLen: 1 << 20,
    rangeRequests: 200,
    wrkSeconds: 10,
    wrkWarmupSeconds: 3,
    wrkConnections: 64,
    wrkThreads: 2,
    tags: 10_000,
    tagConcurrency: 16,
    tagPageN: 100,
    tagRequests: 50,
    concurrentPulls: 32,
    concurrentBlob: 64 << 20,
    smallBlobs: 2000,
    smallBlobSize: 4 << 10,
    smallConcurrency: 16,
  },
  quick: {
    big: 64 << 20,
    chunk: 16 << 20,
    rangeLen: 1 << 20,
    rangeRequests: 50,
    wrkSeconds: 3,
    wrkWarmupSeconds: 1,
    wrkConnections: 64,
    wrkThreads: 2,
    tags: 1000,
    tagConcurrency: 16,
    tagPageN: 100,
    tagRequests: 20,
    concurrentPulls: 32,
    concurrentBlob: 8 << 20,
    smallBlobs: 300,
    smallBlobSize: 4 << 10,
    smallConcurrency: 16,
  },
};

const elapsed = (t0) => (performance.now() - t0) / 1000;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Reads a file once so the first target measured does not pay for cold page cache. */
async function warm(path) {
  for await (const _ of createReadStream(path, { highWaterMark: 4 << 20 }));
}

/** Pushes `file` to `name` on every target (untimed) and verifies it by pulling it back with a hash. */
async function seedBlob(ctx, name, file) {
  for (const t of ctx.targets) {
    await pushFileMonolithic(t, name, file);
    await getBlob(t, name, file.digest, file.size, 'hash');
  }
}

// ---------------------------------------------------------------------------------------------

const pushMonolithic = {
  id: 'push-monolithic',
  title: (s) => `monolithic push (POST + PUT ?digest= with body) of a ${fmtBytes(s.big)} blob`,
  metrics: [{ key: 'MBps', unit: 'MB/s', better: 'higher', target: 2, authTarget: 1.2 }],
  data(ctx) {
    for (let r = 0; r < ctx.reps; r++) pushFile(ctx, 'mono', r, 0);
  },
  async before(ctx, t, job) {
    job.file = pushFile(ctx, 'mono', job.rep, job.attempt);
    job.repo = `bench/push-mono-r${job.rep}-a${job.attempt}`;
    await warm(job.file.path);
  },
  async measure(ctx, t, { file, repo }) {
    const t0 = performance.now();
    await pushFileMonolithic(t, repo, file);
    return { MBps: file.size / MB / elapsed(t0) };
  },
  after: verifyPushed,
};

/** A distinct file per (scenario, repetition, attempt); generated once, reused by later runs. */
function pushFile(ctx, kind, rep, attempt) {
  const id = `${kind}-r${rep}${attempt ? `-a${attempt}` : ''}`;
  ctx.files ??= {};
  return (ctx.files[id] ??= randomFile(ctx.blobDir, id, ctx.s.big));
}

async function verifyPushed(ctx, t, { file, repo, first }) {
  // content check once per target (hashing a GiB is not cheap), existence and size every time
  if (first) await getBlob(t, repo, file.digest, file.size, 'hash');
  else await headBlob(t, repo, file.digest, file.size);
}

const pushChunked = {
  id: 'push-chunked',
  title: (s) => `chunked push (POST, PATCH ${fmtBytes(s.chunk)} chunks, PUT ?digest=) of a ${fmtBytes(s.big)} blob`,
  metrics: [{ key: 'MBps', unit: 'MB/s', better: 'higher', target: 2, authTarget: 1.2 }],
  data(ctx) {
    for (let r = 0; r < ctx.reps; r++) pushFile(ctx, 'chunked', r, 0);
  },
  async before(ctx, t, job) {
    job.file = pushFile(ctx, 'chunked', job.rep, job.attempt);
    job.repo = `bench/push-chunked-r${job.rep}-a${job.attempt}`;
    await warm(job.file.path);
  },
  async measure(ctx, t, { file, repo }) {
    const t0 = performance.now();
    await pushFileChunked(t, repo, file, ctx.s.chunk);
    return { MBps: file.size / MB / elapsed(t0) };
  },
  after: verifyPushed,
};

function pullFileData(ctx) {
  ctx.pullFile ??= randomFile(ctx.blobDir, 'pull', ctx.s.big);
}
async function pullFileSeed(ctx) {
  if (ctx.pullSeeded) return;
  await seedBlob(ctx, 'bench/pull', ctx.pullFile);
  ctx.pullSeeded = true;
}

const pull = {
  id: 'pull',
  title: (s) => `pull (GET, body discarded) of a ${fmtBytes(s.big)} blob`,
  metrics: [{ key: 'MBps', unit: 'MB/s', better: 'higher', target: 1 }],
  data: pullFileData,
  prepare: pullFileSeed,
  async measure(ctx, t) {
    const f = ctx.pullFile;
    const t0 = performance.now();
    await getBlob(t, 'bench/pull', f.digest, f.size, 'discard');
    return { MBps: f.size / MB / elapsed(t0) };
  },
};

const range = {
  id: 'range',
  title: (s) => `${s.rangeRequests} sequential ${fmtBytes(s.rangeLen)} Range GETs (206) in the middle of the ${fmtBytes(s.big)} blob`,
  metrics: [
    { key: 'p50ms', unit: 'ms p50', better: 'lower', target: null },
    { key: 'rps', unit: 'req/s', better: 'higher', target: null },
  ],
  data: pullFileData,
  async prepare(ctx) {
    await pullFileSeed(ctx);
    // 16 fixed offsets spread over the middle half of the blob (same for every target);
    // each response is compared byte for byte with the file.
    const { size } = ctx.pullFile;
    const len = ctx.s.rangeLen;
    const fh = await (await import('node:fs/promises')).open(ctx.pullFile.path, 'r');
    ctx.ranges = [];
    for (let i = 0; i < 16; i++) {
      const start = Math.floor(size / 4 + ((size / 2 - len) * i) / 15) + 7 * i; // deliberately unaligned
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, start);
      ctx.ranges.push({ start, end: start + len - 1, buf });
    }
    await fh.close();
  },
  async measure(ctx, t) {
    const { size, digest } = ctx.pullFile;
    const lat = [];
    const t0 = performance.now();
    for (let i = 0; i < ctx.s.rangeRequests; i++) {
      const r = ctx.ranges[i % ctx.ranges.length];
      const t1 = performance.now();
      const res = await treq(t, `${t.base}/v2/bench/pull/blobs/${digest}`, { headers: { range: `bytes=${r.start}-${r.end}` } });
      lat.push(performance.now() - t1);
      const what = `GET blob Range: bytes=${r.start}-${r.end}`;
      expectStatus(res, 206, what);
      const cr = `bytes ${r.start}-${r.end}/${size}`;
      if (res.headers['content-range'] !== cr) throw new CheckError(`${what}: Content-Range ${res.headers['content-range']}, expected ${cr}`);
      if (!res.body.equals(r.buf)) throw new CheckError(`${what}: body (${res.body.length} bytes) differs from the file`);
    }
    return { p50ms: median(lat), rps: ctx.s.rangeRequests / elapsed(t0) };
  },
};

async function imageSeed(ctx) {
  if (ctx.image) return;
  const [layer] = randomBlobs(1, 1 << 20);
  ctx.image = {};
  for (const t of ctx.targets) {
    const m = await pushSmallImage(t, 'bench/img', 'latest', layer);
    await getManifest(t, 'bench/img', 'latest', m);
    await getManifest(t, 'bench/img', m.digest, m);
    ctx.image = m;
  }
}

async function wrkManifest(ctx, t, by, seconds) {
  const ref = by === 'tag' ? 'latest' : ctx.image.digest;
  const url = `${t.base}/v2/bench/img/manifests/${ref}`;
  // with auth: one Authorization header for the whole run (a Bearer token outlives it), as a
  // client that reuses its token sends it
  const authorization = await authorizationFor(t, url, 'GET');
  const r = await runWrk({
    url,
    connections: ctx.s.wrkConnections,
    threads: ctx.s.wrkThreads,
    seconds,
    headers: { Accept: OCI_MANIFEST, ...(authorization ? { Authorization: authorization } : {}) },
  });
  if (r.non2xx > 0) throw new CheckError(`wrk: ${r.non2xx} of ${r.requests} responses were not 2xx/3xx`);
  if (r.socketErrors > r.requests * 0.001) throw new CheckError(`wrk: ${r.socketErrors} socket errors in ${r.requests} requests\n${r.raw}`);
  return r;
}

function manifestScenario(id, by) {
  return {
    id,
    title: (s) => `manifest GET by ${by}, wrk -c${s.wrkConnections} -t${s.wrkThreads} -d${s.wrkSeconds}s (after a ${s.wrkWarmupSeconds}s warm-up), Accept: OCI manifest`,
    metrics: [
      { key: 'rps', unit: 'req/s', better: 'higher', target: 3 },
      // with auth on (issue 10): p99 <= 100 ms and no request over 250 ms, absolute
      { key: 'p99ms', unit: 'ms p99', better: 'lower', target: 5, authTarget: null, authLimit: 100 },
      { key: 'maxms', unit: 'ms max', better: 'lower', target: null, authLimit: 250 },
    ],
    needsWrk: true,
    prepare: imageSeed,
    async before(ctx, t) {
      // warm-up run, discarded: JIT, connection setup, caches (same for both servers)
      await wrkManifest(ctx, t, by, ctx.s.wrkWarmupSeconds);
    },
    async measure(ctx, t) {
      const r = await wrkManifest(ctx, t, by, ctx.s.wrkSeconds);
      return { rps: r.rps, p99ms: r.p99ms, p50ms: r.p50ms, p90ms: r.p90ms, maxms: r.maxms, requests: r.requests, socketErrors: r.socketErrors };
    },
    async after(ctx, t) {
      const ref = by === 'tag' ? 'latest' : ctx.image.digest;
      await getManifest(t, 'bench/img', ref, ctx.image);
    },
  };
}

const tagsList = {
  id: 'tags-list',
  title: (s) => `tags list of a repo with ${s.tags} tags, ?n=${s.tagPageN} first page and middle page (last=<tag #${s.tags / 2}>), ${s.tagRequests} GETs each`,
  metrics: [
    { key: 'firstMs', unit: 'ms p50 first page', better: 'lower', target: 5 },
    { key: 'middleMs', unit: 'ms p50 middle page', better: 'lower', target: 5 },
  ],
  info: [{ key: 'tagPutsPerSec', unit: 'tag PUTs/s (setup, 1 run, c16)', better: 'higher' }],
  async prepare(ctx) {
    const n = ctx.s.tags;
    // unpadded numbers, so lexical order is not numeric order: v0, v1, v10, v100, ...
    ctx.tagNames = Array.from({ length: n }, (_, i) => `v${i}`);
    ctx.sortedTags = [...ctx.tagNames].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // byte order
    const [layer] = randomBlobs(1, 4096);
    ctx.tagSetup = {};
    for (const t of ctx.targets) {
      const m = await pushSmallImage(t, 'bench/tags', ctx.tagNames[0], layer);
      await settle(ctx.targets);
      const t0 = performance.now();
      await pool(n, ctx.s.tagConcurrency, (i) => putManifest(t, 'bench/tags', ctx.tagNames[i], m.bytes, m.digest));
      const secs = elapsed(t0);
      ctx.tagSetup[t.label] = { tagPutsPerSec: n / secs, seconds: secs };
      process.stderr.write(`  ${t.label}: PUT ${n} tags (c${ctx.s.tagConcurrency}) in ${secs.toFixed(1)} s = ${(n / secs).toFixed(0)}/s\n`);
    }
    ctx.middleTag = ctx.sortedTags[n / 2];
    ctx.notes ??= new Set();
  },
  async measure(ctx, t) {
    const pageN = ctx.s.tagPageN;
    const midIdx = ctx.sortedTags.indexOf(ctx.middleTag);
    const pages = [
      { key: 'firstMs', q: `n=${pageN}`, expect: ctx.sortedTags.slice(0, pageN) },
      { key: 'middleMs', q: `n=${pageN}&last=${encodeURIComponent(ctx.middleTag)}`, expect: ctx.sortedTags.slice(midIdx + 1, midIdx + 1 + pageN) },
    ];
    const out = {};
    for (const p of pages) {
      const lat = [];
      let last;
      for (let i = 0; i < ctx.s.tagRequests; i++) {
        const t1 = performance.now();
        last = await treq(t, `${t.base}/v2/bench/tags/tags/list?${p.q}`);
        lat.push(performance.now() - t1);
        expectStatus(last, 200, `GET tags/list?${p.q}`);
      }
      out[p.key] = median(lat);
      checkTagsPage(ctx, t, p, last);
    }
    return out;
  },
};

function checkTagsPage(ctx, t, page, res) {
  const what = `GET tags/list?${page.q}`;
  let body;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new CheckError(`${what}: body is not JSON`);
  }
  if (body.name !== 'bench/tags' || !Array.isArray(body.tags)) throw new CheckError(`${what}: unexpected body shape`);
  const got = body.tags;
  if (got.length === page.expect.length && got.every((x, i) => x === page.expect[i])) {
    if (!res.headers.link) ctx.notes.add(`${t.label}: ${what.replace(/last=[^&]*/, 'last=…')} has no Link header although more tags follow`);
    return;
  }
  // A server that ignores n/last and returns everything is still correct data, just not paginated.
  const all = new Set(got);
  if (got.length === ctx.sortedTags.length && ctx.sortedTags.every((x) => all.has(x))) {
    ctx.notes.add(`${t.label}: ignores n/last on tags/list and returns all ${got.length} tags (${got.length * 8} B+) on every page request`);
    return;
  }
  throw new CheckError(`${what}: got ${got.length} tags starting ${JSON.stringify(got.slice(0, 3))}, expected ${page.expect.length} starting ${JSON.stringify(page.expect.slice(0, 3))}`);
}

function concurrentFileData(ctx) {
  ctx.cpullFile ??= randomFile(ctx.blobDir, 'cpull', ctx.s.concurrentBlob);
}

const concurrentPull = {
  id: 'concurrent-pull',
  title: (s) => `${s.concurrentPulls} concurrent pulls of a ${fmtBytes(s.concurrentBlob)} blob, aggregate`,
  metrics: [{ key: 'MBps', unit: 'MB/s aggregate', better: 'higher', target: 1 }],
  data: concurrentFileData,
  async prepare(ctx) {
    await seedBlob(ctx, 'bench/cpull', ctx.cpullFile);
  },
  async measure(ctx, t) {
    const f = ctx.cpullFile;
    const n = ctx.s.concurrentPulls;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, () => getBlob(t, 'bench/cpull', f.digest, f.size, 'discard')));
    return { MBps: (n * f.size) / MB / elapsed(t0) };
  },
};

const smallBlobs = {
  id: 'small-blobs',
  title: (s) => `${s.smallBlobs} distinct ${fmtBytes(s.smallBlobSize)} blobs pushed ${s.smallConcurrency} at a time`,
  metrics: [{ key: 'blobsPerSec', unit: 'blobs/s', better: 'higher', target: 2 }],
  data(ctx) {
    for (let r = 0; r < ctx.reps; r++) smallSet(ctx, r, 0);
  },
  async prepare(ctx) {
    // Monolithic POST ?digest= only if every target completes it in one round trip; otherwise
    // POST + PUT for all, so both sides run the same client code.
    const [probe] = randomBlobs(1, ctx.s.smallBlobSize);
    const support = {};
    for (const t of ctx.targets) support[t.label] = await supportsMonolithicPost(t, 'bench/probe', probe);
    ctx.smallMode = Object.values(support).every(Boolean) ? 'post' : 'post-put';
    ctx.notes ??= new Set();
    for (const [label, ok] of Object.entries(support)) {
      if (!ok) ctx.notes.add(`${label}: monolithic POST ?digest= answered 202 (starts a session); small-blobs uses POST + PUT for every target`);
    }
    process.stderr.write(`  small-blobs upload mode: ${ctx.smallMode === 'post' ? 'monolithic POST ?digest=' : 'POST + PUT'}\n`);
  },
  async before(ctx, t, job) {
    job.blobs = smallSet(ctx, job.rep, job.attempt);
    job.repo = `bench/small-r${job.rep}-a${job.attempt}`;
  },
  async measure(ctx, t, { blobs, repo }) {
    const t0 = performance.now();
    await pool(blobs.length, ctx.s.smallConcurrency, (i) => pushBuffer(t, repo, blobs[i], ctx.smallMode));
    return { blobsPerSec: blobs.length / elapsed(t0), mode: ctx.smallMode };
  },
  async after(ctx, t, { blobs, repo }) {
    for (let i = 0; i < blobs.length; i += Math.ceil(blobs.length / 50)) {
      await headBlob(t, repo, blobs[i].digest, blobs[i].body.length);
    }
  },
};

function smallSet(ctx, rep, attempt) {
  ctx.smallSets ??= {};
  return (ctx.smallSets[`${rep}-${attempt}`] ??= randomBlobs(ctx.s.smallBlobs, ctx.s.smallBlobSize));
}

export const SCENARIOS = [
  pushMonolithic,
  pushChunked,
  pull,
  range,
  manifestScenario('manifest-tag', 'tag'),
  manifestScenario('manifest-digest', 'digest'),
  tagsList,
  concurrentPull,
  smallBlobs,
];

export { median, sleep };
