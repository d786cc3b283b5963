#!/usr/bin/env node
// Admission webhook decision latency (issue 15): how long POST /admission/v1/validate takes to
// judge a Pod, with warm caches, as the Kubernetes API server would call it.
//
//   npm run build && node bench/admission.mjs [--images N] [--requests N] [--concurrency N]
//
// Also prints the server's CPU time per decision (less sensitive to a busy machine than latency).
//
// Starts the built Wharf (auth on, SQLite, fs) on 127.0.0.1, pushes N images to ml/app, signs
// each in cosign's tag scheme (ECDSA P-256 over the simple-signing payload) and stores the key as
// attestor `ci`, sets a REQUIRE_ATTESTATION policy with noMutableLatest and a CEL rule on `ml/*`,
// then sends --requests AdmissionReviews (a Pod of 2 containers: one image of ours by tag, one
// allowlisted foreign image), --concurrency at a time over keep-alive, after a warm-up of 200.
// Each answer is checked (allowed, uid echoed). Prints p50/p90/p99/max and throughput; writes
// .bench/admission-results.json. No comparison: CNCF Distribution has no admission webhook.
// Nothing is asserted (the issue's target, p99 < 50 ms warm, is printed beside the figure).
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_USER, cpuSeconds, startServer, systemBusySeconds } from './lib/servers.mjs';
import { request } from './lib/http.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const IMAGES = opt('--images', 50);
const REQUESTS = opt('--requests', 2000);
const CONCURRENCY = opt('--concurrency', 4);
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const AUTH = { authorization: `Basic ${Buffer.from(`${BENCH_USER.username}:${BENCH_USER.password}`).toString('base64')}` };

const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-admission-'));
const server = await startServer({ kind: 'wharf', label: 'wharf', dir, wharfEntry: join(ROOT, 'dist', 'cli', 'main.js'), cwd: ROOT, auth: 'basic' });
const base = server.base;
const host = new URL(base).host;
const call = async (method, path, body, headers = {}) => {
  const res = await request(server.agent, `${base}${path}`, { method, headers: { ...AUTH, ...headers }, body });
  return res;
};
const json = (v) => Buffer.from(JSON.stringify(v));

try {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const put = async (repo, ref, bytes) => {
    const r = await call('PUT', `/v2/${repo}/manifests/${ref}`, bytes, { 'content-type': OCI });
    if (r.status !== 201) throw new Error(`PUT ${ref}: ${r.status}`);
  };
  const blob = async (repo, bytes) => {
    const r = await call('POST', `/v2/${repo}/blobs/uploads/?digest=${sha(bytes)}`, bytes, { 'content-type': 'application/octet-stream' });
    if (r.status !== 201) throw new Error(`blob: ${r.status}`);
  };
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  await blob('ml/app', config);
  for (let i = 0; i < IMAGES; i++) {
    const layer = Buffer.from(`layer ${i}`);
    await blob('ml/app', layer);
    const m = json({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }] });
    await put('ml/app', `v${i}`, m);
    const digest = sha(m);
    const payload = json({ critical: { identity: { 'docker-reference': `${host}/ml/app` }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null });
    await blob('ml/app', payload);
    const sc = json({ rootfs: { type: 'layers', diff_ids: [sha(payload)] } });
    await blob('ml/app', sc);
    await put('ml/app', `${digest.replace(':', '-')}.sig`, json({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(sc), size: sc.length }, layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha(payload), size: payload.length, annotations: { 'dev.cosignproject.cosign/signature': sign('sha256', payload, key.privateKey).toString('base64') } }] }));
  }
  let r = await call('PUT', '/api/v1/attestors/ci', json({ publicKeys: [key.publicKey.export({ type: 'spki', format: 'pem' })] }), { 'content-type': 'application/json' });
  if (r.status !== 200) throw new Error(`attestor: ${r.status} ${r.body}`);
  const policy = 'admissionWhitelistPatterns: [{namePattern: "registry.k8s.io/**"}]\ndefaultAdmissionRule: {evaluationMode: REQUIRE_ATTESTATION, requireAttestationsBy: [ci]}\nwharf:\n  noMutableLatest: true\n  cel: [{name: ours, expression: "image.repository.startsWith(\\"ml/\\")"}]\n';
  r = await call('PUT', `/api/v1/deploy-policy?scope=${encodeURIComponent('ml/*')}`, json({ policy }), { 'content-type': 'application/json' });
  if (r.status !== 200) throw new Error(`policy: ${r.status} ${r.body}`);

  const review = (i) =>
    json({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `uid-${i}`,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        operation: 'CREATE',
        namespace: 'ml',
        userInfo: { username: 'system:serviceaccount:ml:deployer' },
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}` }, spec: { containers: [{ name: 'app', image: `${host}/ml/app:v${i % IMAGES}` }, { name: 'pause', image: 'registry.k8s.io/pause:3.9' }] } },
      },
    });
  const once = async (i) => {
    const t = process.hrtime.bigint();
    const res = await call('POST', '/admission/v1/validate', review(i), { 'content-type': 'application/json' });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    const body = JSON.parse(res.body.toString());
    if (res.status !== 200 || body.response.uid !== `uid-${i}` || body.response.allowed !== true) throw new Error(`review ${i}: ${res.status} ${res.body}`);
    return ms;
  };
  for (let i = 0; i < 200; i++) await once(i);
  const times = [];
  let next = 0;
  const cpu0 = cpuSeconds(server.pid);
  const busy0 = systemBusySeconds();
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) times.push(await once(next++));
    }),
  );
  const wall = (Date.now() - t0) / 1000;
  const cpuMs = ((cpuSeconds(server.pid) - cpu0) * 1000) / REQUESTS;
  const otherLoad = (systemBusySeconds() - busy0) / wall;
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  const out = { images: IMAGES, requests: REQUESTS, concurrency: CONCURRENCY, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: times[times.length - 1], perSecond: REQUESTS / wall, serverCpuMsPerDecision: cpuMs, machineBusyCores: otherLoad };
  console.log(`admission decisions, ${REQUESTS} Pods of 2 images (${IMAGES} signed images), concurrency ${CONCURRENCY}, warm:`);
  console.log(`  p50 ${out.p50.toFixed(1)} ms   p90 ${out.p90.toFixed(1)} ms   p99 ${out.p99.toFixed(1)} ms   max ${out.max.toFixed(1)} ms   ${out.perSecond.toFixed(0)}/s   (target p99 < 50 ms: ${out.p99 < 50 ? 'PASS' : 'MISS'})`);
  console.log(`  server CPU per decision ${cpuMs.toFixed(2)} ms; the machine was busy ${otherLoad.toFixed(2)} cores on average during the run (all processes)`);
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  writeFileSync(join(ROOT, '.bench', 'admission-results.json'), `${JSON.stringify(out, null, 2)}\n`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
