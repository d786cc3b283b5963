#!/usr/bin/env node
// Model artifacts benchmark (issue 13), against the built server (dist/cli/main.js serve, auth
// off, SQLite + filesystem, 127.0.0.1):
//
//   npm run build && node bench/models.mjs [--size-gib 4] [--reps 3] [--parallel 4] [--chunk-mib 64] [--keep]
//
// A model directory with one safetensors file of --size-gib GiB (a real header: 512 F16 tensors,
// about 45 KB of JSON) and a config.json is pushed once with `wharf model push`. Then, per rep:
//   metadata     POST /api/v1/models/<repo> (read the metadata again): the round trip, and the
//                bytes/ranges the server read (from the answer)        target < 50 ms, one read
//   pull         `wharf model pull --parallel N --chunk-size M` (ranges in parallel, digests
//                verified, files moved into place)
//   sequential   the same blobs as one plain GET each, one after another, streamed to disk and
//                hashed on the way (what a simple client does)         target pull >= 1.5x faster
// The order of the two pulls alternates between reps; the output directory is removed before each.
// Medians are printed and written to .bench/models-results.json. Nothing is asserted.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const SIZE = Number(opt('--size-gib', '4')) * 1024 ** 3;
const REPS = Number(opt('--reps', '3'));
const PARALLEL = opt('--parallel', '4');
const CHUNK = opt('--chunk-mib', '64');
const KEEP = args.includes('--keep');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

/** A safetensors file of `size` bytes: 512 F16 tensors tiling the data, header padded to 8 bytes. */
function writeSafetensors(path, size) {
  const tensors = 512;
  const headerFor = (dataBytes) => {
    const per = Math.floor(dataBytes / tensors / 2) * 2;
    const h = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (let i = 0; i < tensors; i++) {
      const bytes = i === tensors - 1 ? dataBytes - off : per;
      h[`model.layers.${i}.mlp.weight`] = { dtype: 'F16', shape: [bytes / 2], data_offsets: [off, off + bytes] };
      off += bytes;
    }
    return JSON.stringify(h);
  };
  // a fixed header length (padded with spaces, as the reference writer pads), then the data fills the rest
  const length = Math.ceil((Buffer.byteLength(headerFor(size)) + 64) / 8) * 8;
  const dataBytes = size - 8 - length;
  const header = headerFor(dataBytes).padEnd(length);
  if (Buffer.byteLength(header) !== length || dataBytes % 2 !== 0) throw new Error('header layout');
  const fd = openSync(path, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(length));
  writeSync(fd, len);
  writeSync(fd, Buffer.from(header));
  const block = Buffer.alloc(64 * 1024 * 1024);
  randomFillSync(block);
  for (let left = dataBytes; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(left, block.length));
  closeSync(fd);
  return length;
}

function wharf(cliArgs, env) {
  const r = spawnSync(process.execPath, [MAIN, ...cliArgs], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`wharf ${cliArgs.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** One file per blob, one after another; a connection the server closed while idle is retried (the whole file, timed). */
async function sequentialPull(server, repo, ref, out) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await sequentialPullOnce(server, repo, ref, out);
    } catch (e) {
      if (attempt >= 2 || e?.cause?.code !== 'UND_ERR_SOCKET') throw e;
      console.log(`sequential: connection closed (${e.cause.message}), starting again`);
    }
  }
}

async function sequentialPullOnce(server, repo, ref, out) {
  const m = await (await fetch(`${server}/v2/${repo}/manifests/${ref}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json();
  mkdirSync(out, { recursive: true });
  for (const l of m.layers) {
    const res = await fetch(`${server}/v2/${repo}/blobs/${l.digest}`);
    const hash = createHash('sha256');
    const file = createWriteStream(join(out, l.annotations['org.cncf.model.filepath']));
    for await (const chunk of res.body) {
      hash.update(chunk);
      if (!file.write(chunk)) await new Promise((r) => file.once('drain', r));
    }
    await new Promise((r, j) => file.end((e) => (e ? j(e) : r())));
    if (`sha256:${hash.digest('hex')}` !== l.digest) throw new Error('digest mismatch');
  }
}

const work = mkdtempSync(join(ROOT, '.bench', 'models-'));
const data = join(work, 'data');
const modelDir = join(work, 'model');
mkdirSync(modelDir, { recursive: true });
const port = await freePort();
const server = `http://127.0.0.1:${port}`;
const env = { HOME: work, REGISTRY_AUTH_FILE: join(work, 'auth.json'), WHARF_SERVER: server };
console.log(`writing a ${SIZE / 1024 ** 3} GiB safetensors model in ${modelDir}`);
const headerBytes = writeSafetensors(join(modelDir, 'model.safetensors'), SIZE);
writeFileSync(join(modelDir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama' }));
// auth is off on this server: any credentials pass; the CLI wants a login record
writeFileSync(join(work, 'auth.json'), JSON.stringify({ auths: { [`127.0.0.1:${port}`]: { auth: Buffer.from('bench:bench').toString('base64') } } }));

const proc = spawn(process.execPath, [MAIN, 'serve', '--data', data, '--listen', `127.0.0.1:${port}`], { env: { ...process.env, WHARF_AUTH__ENABLED: 'false', WHARF_LOG__LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] });
try {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${server}/v2/`)).status === 200) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let t = now();
  wharf(['model', 'push', modelDir, 'bench/model:v1', '--output', 'json'], env);
  const pushMs = now() - t;
  console.log(`push: ${(pushMs / 1000).toFixed(1)} s`);

  const meta = [];
  let reads;
  for (let i = 0; i < Math.max(REPS, 5); i++) {
    t = now();
    const res = await fetch(`${server}/api/v1/models/bench/model`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference: 'v1' }) });
    const body = await res.json();
    meta.push(now() - t);
    if (res.status !== 200) throw new Error(JSON.stringify(body));
    reads = { ...body.reads, weights: body.files.find((f) => f.kind === 'safetensors')?.weights?.headerBytes, parameters: body.parameters };
  }
  const pulls = [];
  const seqs = [];
  for (let i = 0; i < REPS; i++) {
    const out = join(work, 'out');
    const runPull = () => {
      rmSync(out, { recursive: true, force: true });
      const t0 = now();
      wharf(['model', 'pull', 'bench/model:v1', out, '--parallel', PARALLEL, '--chunk-size', CHUNK, '--output', 'json'], env);
      pulls.push(now() - t0);
    };
    const runSeq = async () => {
      rmSync(out, { recursive: true, force: true });
      const t0 = now();
      await sequentialPull(server, 'bench/model', 'v1', out);
      seqs.push(now() - t0);
    };
    if (i % 2 === 0) {
      runPull();
      await runSeq();
    } else {
      await runSeq();
      runPull();
    }
    console.log(`rep ${i + 1}: pull ${(pulls.at(-1) / 1000).toFixed(2)} s, sequential ${(seqs.at(-1) / 1000).toFixed(2)} s`);
  }
  const gib = SIZE / 1024 ** 3;
  const result = {
    sizeGiB: gib,
    headerBytes,
    pushSeconds: pushMs / 1000,
    metadata: { medianMs: median(meta), runsMs: meta, reads },
    pull: { parallel: Number(PARALLEL), chunkMiB: Number(CHUNK), medianSeconds: median(pulls) / 1000, runs: pulls.map((x) => x / 1000), MiBps: (gib * 1024) / (median(pulls) / 1000) },
    sequential: { medianSeconds: median(seqs) / 1000, runs: seqs.map((x) => x / 1000), MiBps: (gib * 1024) / (median(seqs) / 1000) },
  };
  result.speedup = result.sequential.medianSeconds / result.pull.medianSeconds;
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  writeFileSync(join(ROOT, '.bench', 'models-results.json'), JSON.stringify(result, null, 2));
} finally {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  if (!KEEP) rmSync(work, { recursive: true, force: true });
}
