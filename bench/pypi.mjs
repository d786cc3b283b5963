#!/usr/bin/env node
// PyPI repositories benchmark (issue 17), against the built server (npm run build first):
//
//   node bench/pypi.mjs [--releases 1000] [--wheel-mib 500] [--reps 3] [--duration 10]
//
// 1. Simple index: a project with N releases (one sdist each) uploaded through the upload API;
//    its page (PEP 503 HTML) fetched with wrk (-t1 -c4) from Wharf (auth on, Basic credentials,
//    the page built from the DB per request) and from a static file server (Node http +
//    fs.readFile of the same bytes saved to disk, no auth) — latency p50/p99 and req/s.
//    Target: Wharf <= 2x the static server's latency.
// 2. A wheel of W MiB (stored zip, random content, METADATA at the end) uploaded with curl -F as
//    twine does, and downloaded from its file URL, versus the same bytes pushed as a blob
//    (monolithic POST ?digest=) and pulled (GET /v2/.../blobs/) with curl. Median of R reps.
//    Target: >= 0.9x the blob push/pull throughput.
// Nothing is asserted; numbers are printed and written to .bench/pypi-results.json.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WRK, parseWrk } from './lib/wrk.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const RELEASES = Number(opt('--releases', '1000'));
const WHEEL_MIB = Number(opt('--wheel-mib', '500'));
const REPS = Number(opt('--reps', '3'));
const DURATION = Number(opt('--duration', '10'));
const WORK = join(ROOT, '.bench', 'pypi');
const PASSWORD = 'bench-admin-password';
const AUTH = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'serve'], {
  env: {
    ...process.env,
    WHARF_LISTEN: `127.0.0.1:${port}`,
    WHARF_ADMIN_PASSWORD: PASSWORD,
    WHARF_STORAGE__BLOB__PATH: join(WORK, 'data', 'blobs'),
    WHARF_STORAGE__METADATA__PATH: join(WORK, 'data', 'wharf.db'),
    WHARF_LOG_LEVEL: 'warn',
    WHARF_GC__ENABLED: 'false',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const stop = () => server.kill('SIGTERM');
process.on('exit', stop);
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/healthz`)).ok) break;
  } catch {}
  if (i > 300) throw new Error('wharf did not start');
  await new Promise((r) => setTimeout(r, 200));
}

/** fetch, once more on a keep-alive socket the server closed while idle (wrk and the wheel build take a minute) */
async function fetchAgain(url, init) {
  try {
    return await fetch(url, init);
  } catch {
    return await fetch(url, init);
  }
}

async function api(method, path, body) {
  const r = await fetchAgain(`${base}${path}`, { method, headers: { authorization: AUTH, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body && JSON.stringify(body) });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? undefined : r.json();
}
await api('POST', '/api/v1/repositories', { name: 'ml/bench', format: 'pypi' });
await api('POST', '/api/v1/repositories', { name: 'ml/bench-public', format: 'pypi', public: true });
await api('POST', '/api/v1/repositories', { name: 'ml/blobs' });

// --- 1. simple index over N releases ---
const t0 = Date.now();
for (let i = 0; i < RELEASES; i++) {
  const bytes = randomBytes(256);
  const version = `1.${Math.floor(i / 100)}.${i % 100}`;
  const f = new FormData();
  for (const [k, v] of Object.entries({ ':action': 'file_upload', protocol_version: '1', filetype: 'sdist', name: 'bench-pkg', version, requires_python: '>=3.8', sha256_digest: createHash('sha256').update(bytes).digest('hex') })) f.append(k, v);
  f.append('content', new Blob([bytes]), `bench_pkg-${version}.tar.gz`);
  for (const repo of ['ml/bench', 'ml/bench-public']) {
    const r = await fetch(`${base}/pypi/${repo}/`, { method: 'POST', headers: { authorization: AUTH }, body: f });
    if (r.status !== 200) throw new Error(`upload ${version}: ${r.status} ${r.statusText}`);
  }
}
const seedSeconds = (Date.now() - t0) / 1000;
const pageUrl = `${base}/pypi/ml/bench/simple/bench-pkg/`;
const page = Buffer.from(await (await fetch(pageUrl, { headers: { authorization: AUTH } })).arrayBuffer());
const staticDir = join(WORK, 'static', 'simple', 'bench-pkg');
mkdirSync(staticDir, { recursive: true });
writeFileSync(join(staticDir, 'index.html'), page);
// the baseline: a static file server reading the same page from disk per request
const statics = createServer((req, res) => {
  const file = join(WORK, 'static', decodeURIComponent(req.url.split('?')[0]), req.url.endsWith('/') ? 'index.html' : '');
  createReadStream(file)
    .on('error', () => {
      res.statusCode = 404;
      res.end();
    })
    .once('open', () => res.writeHead(200, { 'content-type': 'text/html', 'content-length': statSync(file).size }))
    .pipe(res);
});
await new Promise((r) => statics.listen(0, '127.0.0.1', r));
const staticUrl = `http://127.0.0.1:${statics.address().port}/simple/bench-pkg/`;

function wrk(url, headers = {}) {
  const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  return new Promise((resolveWrk, reject) => {
    const c = spawn(WRK, ['-t1', '-c4', `-d${DURATION}s`, '--latency', ...h, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('close', () => resolveWrk(parseWrk(out)));
  });
}
const index = {
  releases: RELEASES,
  pageBytes: page.length,
  seedSeconds,
  wharf: await wrk(pageUrl, { authorization: AUTH }),
  // the same page of a public repository without credentials: what authentication adds
  wharfAnonymous: await wrk(`${base}/pypi/ml/bench-public/simple/bench-pkg/`),
  // the server's floor on this machine at this moment: a route that does nothing
  wharfHealthz: await wrk(`${base}/healthz`),
  static: await wrk(staticUrl),
};
statics.close();
console.log(`wharf anonymous (public repo) p50 ${index.wharfAnonymous.p50ms} ms ${index.wharfAnonymous.rps} req/s; /healthz p50 ${index.wharfHealthz.p50ms} ms ${index.wharfHealthz.rps} req/s`);
console.log(`simple index, ${RELEASES} releases (${page.length} bytes): wharf p50 ${index.wharf.p50ms} ms p99 ${index.wharf.p99ms} ms ${index.wharf.rps} req/s; static p50 ${index.static.p50ms} ms p99 ${index.static.p99ms} ms ${index.static.rps} req/s; ratio p50 ${(index.wharf.p50ms / index.static.p50ms).toFixed(2)}x`);

// --- 2. a large wheel vs a blob of the same bytes ---
const wheel = join(WORK, `big_model-1.0-py3-none-any.whl`);
execFileSync('/usr/bin/python3', [
  '-c',
  `import zipfile,os,sys
z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_STORED,allowZip64=True)
with z.open('big_model/weights.bin','w',force_zip64=True) as f:
    for _ in range(${WHEEL_MIB}): f.write(os.urandom(1<<20))
z.writestr('big_model-1.0.dist-info/METADATA','Metadata-Version: 2.1\\nName: big-model\\nVersion: 1.0\\n')
z.writestr('big_model-1.0.dist-info/WHEEL','Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
z.close()`,
  wheel,
]);
const size = statSync(wheel).size;
const hex = execFileSync('sha256sum', [wheel]).toString().split(' ')[0];
const curl = (a) => {
  const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', ...a], { encoding: 'utf8' });
  const [code, t] = r.stdout.trim().split(' ');
  return { code: Number(code), seconds: Number(t) };
};
const user = ['-u', `admin:${PASSWORD}`];
const rows = { pypiUpload: [], blobPush: [], pypiDownload: [], blobPull: [] };
for (let rep = 0; rep < REPS; rep++) {
  const up = curl([...user, '-F', ':action=file_upload', '-F', 'protocol_version=1', '-F', 'filetype=bdist_wheel', '-F', `sha256_digest=${hex}`, '-F', `content=@${wheel};type=application/octet-stream`, `${base}/pypi/ml/bench/`]);
  if (up.code !== 200) throw new Error(`wheel upload: ${up.code}`);
  rows.pypiUpload.push(up.seconds);
  // POST then PUT with the bytes (curl -T would append the file name to a URL ending in '/')
  const t = Date.now();
  const start = await fetchAgain(`${base}/v2/ml/blobs/blobs/uploads/`, { method: 'POST', headers: { authorization: AUTH } });
  if (start.status !== 202) throw new Error(`blob upload start: ${start.status}`);
  const location = new URL(start.headers.get('location'), base);
  location.searchParams.set('digest', `sha256:${hex}`);
  const push = curl([...user, '-T', wheel, '-H', 'content-type: application/octet-stream', location.href]);
  if (push.code !== 201) throw new Error(`blob push: ${push.code}`);
  rows.blobPush.push((Date.now() - t) / 1000);
  const dl = curl([...user, `${base}/pypi/ml/bench/files/${hex}/big_model-1.0-py3-none-any.whl`]);
  if (dl.code !== 200) throw new Error(`wheel download: ${dl.code}`);
  rows.pypiDownload.push(dl.seconds);
  const pull = curl([...user, `${base}/v2/ml/blobs/blobs/sha256:${hex}`]);
  if (pull.code !== 200) throw new Error(`blob pull: ${pull.code}`);
  rows.blobPull.push(pull.seconds);
  // files are immutable: delete the wheel (and the blob's link) before the next repetition
  await api('DELETE', `/api/v1/pypi/files/ml/bench?project=big-model`);
  await fetchAgain(`${base}/v2/ml/blobs/blobs/sha256:${hex}`, { method: 'DELETE', headers: { authorization: AUTH } });
}
const mbps = (s) => +(size / 1e6 / s).toFixed(1);
const transfer = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, { seconds: v, medianMBps: mbps(median(v)) }]));
console.log(`wheel of ${(size / 1048576).toFixed(0)} MiB, median of ${REPS}: upload ${transfer.pypiUpload.medianMBps} MB/s vs blob push ${transfer.blobPush.medianMBps} MB/s (${(transfer.pypiUpload.medianMBps / transfer.blobPush.medianMBps).toFixed(2)}x); download ${transfer.pypiDownload.medianMBps} MB/s vs blob pull ${transfer.blobPull.medianMBps} MB/s (${(transfer.pypiDownload.medianMBps / transfer.blobPull.medianMBps).toFixed(2)}x)`);
writeFileSync(join(ROOT, '.bench', 'pypi-results.json'), JSON.stringify({ at: new Date().toISOString(), index, wheelBytes: size, transfer }, null, 2));
stop();
rmSync(wheel, { force: true });
process.exit(0);
