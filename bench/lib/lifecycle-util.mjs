// Small helpers shared by the lifecycle benchmark's scenarios.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckError, expectStatus, request } from './http.mjs';
import { OCI_MANIFEST } from './lifecycle-seed.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Wharf's build: dist/, or BENCH_WHARF_DIST (a build of a fixed tree, so a rebuild of dist/ by someone else mid-run changes nothing) */
export const WHARF_DIST = process.env.BENCH_WHARF_DIST ?? join(ROOT, 'dist');
export const WHARF_ENTRY = join(WHARF_DIST, 'cli', 'main.js');

export const log = (s) => process.stderr.write(`${s}\n`);

export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const round = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? undefined : Number(x.toFixed(d)));

/** Runs a command; resolves { code, stdout, stderr, ms }. */
export function run(cmd, args, { cwd = ROOT, env = process.env, timeoutMs = 3_600_000 } = {}) {
  return new Promise((resolveRun) => {
    const t0 = performance.now();
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 512 << 20 }, (err, stdout, stderr) => {
      resolveRun({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** Like run, but output goes to a file-less sink (Distribution's GC prints a line per manifest and blob). */
export function runQuiet(cmd, args, { cwd = ROOT, onLine } = {}) {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let lines = 0;
    const eat = (chunk) => {
      const s = tail + chunk.toString('utf8');
      const parts = s.split('\n');
      tail = parts.pop();
      lines += parts.length;
      if (onLine) for (const p of parts) onLine(p);
    };
    child.stdout.on('data', eat);
    child.stderr.on('data', eat);
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, ms: performance.now() - t0, lines, pid: child.pid }));
  });
}

/** `wharf fsck --data DIR` (full: re-hashes every blob). Throws unless it exits 0. */
export async function wharfFsck(dataDir, what) {
  const r = await run(process.execPath, [WHARF_ENTRY, 'fsck', '--data', dataDir]);
  const summary = r.stdout.trim().split('\n').pop();
  if (r.code !== 0) throw new CheckError(`wharf fsck (${what}) exited ${r.code}: ${r.stdout.slice(-2000)}${r.stderr.slice(-1000)}`);
  log(`  fsck (${what}): exit 0 in ${(r.ms / 1000).toFixed(1)} s — ${summary}`);
  return { ms: r.ms, summary };
}

/** cp -a, for fresh copies of a seeded data directory. */
export async function copyDir(from, to) {
  const r = await run('cp', ['-a', from, to]);
  if (r.code !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr}`);
}

/** Every tag of a repository through GET /v2/<name>/tags/list?n=1000, following Link headers. */
export async function listAllTags(t, repo) {
  const tags = [];
  let url = `${t.base}/v2/${repo}/tags/list?n=1000`;
  while (url) {
    const res = await request(t.agent, url);
    expectStatus(res, 200, `GET tags/list of ${repo}`);
    tags.push(...(JSON.parse(res.body.toString('utf8')).tags ?? []));
    const link = res.headers.link;
    const m = link && /<([^>]+)>;\s*rel="next"/.exec(link);
    url = m ? new URL(m[1], t.base).href : undefined;
  }
  return tags;
}

/** HEAD a manifest; returns its Docker-Content-Digest (200 demanded). */
export async function headManifest(t, repo, ref) {
  const res = await request(t.agent, `${t.base}/v2/${repo}/manifests/${ref}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
  expectStatus(res, 200, `HEAD /v2/${repo}/manifests/${ref}`);
  const d = res.headers['docker-content-digest'];
  if (!d) throw new CheckError(`HEAD /v2/${repo}/manifests/${ref}: no Docker-Content-Digest`);
  return d;
}

/** GET a manifest and every blob it references (hashed); checks bytes and digests. */
export async function pullImage(t, repo, ref, expected) {
  const res = await request(t.agent, `${t.base}/v2/${repo}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
  const what = `GET /v2/${repo}/manifests/${ref}`;
  expectStatus(res, 200, what);
  if (expected && !res.body.equals(expected.manifest)) throw new CheckError(`${what}: body differs from the manifest pushed`);
  const m = JSON.parse(res.body.toString('utf8'));
  for (const d of [m.config, ...m.layers]) {
    const b = await request(t.agent, `${t.base}/v2/${repo}/blobs/${d.digest}`, { consume: 'hash' });
    expectStatus(b, 200, `GET blob ${d.digest.slice(0, 19)}… of ${repo}:${ref}`);
    if (b.sha256 !== d.digest || b.bytes !== d.size) throw new CheckError(`GET blob ${d.digest} of ${repo}: content hashes to ${b.sha256} (${b.bytes} bytes)`);
  }
}

/** Number of entries of a directory tree's blob data files (Distribution: blobs/sha256/xx/<hex>/data). */
export function countDistributionBlobs(v2) {
  let n = 0;
  const root = join(v2, 'blobs', 'sha256');
  if (!existsSync(root)) return 0;
  for (const p of readdirSync(root)) for (const h of readdirSync(join(root, p))) if (existsSync(join(root, p, h, 'data'))) n++;
  return n;
}

/** Samples `k` items of an array (deterministic stride). */
export function sample(xs, k) {
  if (xs.length <= k) return xs;
  const step = xs.length / k;
  return Array.from({ length: k }, (_, i) => xs[Math.floor(i * step)]);
}
