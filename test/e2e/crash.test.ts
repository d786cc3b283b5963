/**
 * Crash safety: concurrent raw-HTTP pushes (single POST, POST+PUT and chunked uploads of 1–32 MiB
 * random blobs, manifests, tags), SIGKILL of the server at a random moment, restart on the same
 * data dir. Then `wharf fsck` must be clean, everything the server acknowledged (201) must be intact,
 * and nothing unacknowledged may be readable unless complete and correct.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { assertBlob, assertManifest, assertOciError } from '../support/assertions.js';
import { MT, sha256 } from '../support/oci-layout.js';
import { emptyLog, hangingUpload, randomBlob, runWorkload, type ManifestRecord, type WorkloadLog } from '../support/push-workload.js';
import { errorCodes, RegistryClient } from '../support/registry-client.js';
import { e2eTarget, startRegistry, wharfCli, type RegistryProcess } from '../support/registry-process.js';

const MiB = 1024 * 1024;
const ROUNDS = Number(process.env.WHARF_E2E_CRASH_ROUNDS ?? 3);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('crash safety (SIGKILL mid-push)', { timeout: 280_000 }, () => {
  let reg: RegistryProcess;
  let client: RegistryClient;
  const acked: WorkloadLog = emptyLog(); // acknowledged operations of every round so far

  before(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ url: reg.url, headers: reg.authHeaders() });
  });
  after(async () => {
    await reg?.stop();
  });

  const context = (): string => `\nserver output (tail):\n${reg.output.slice(-4000)}`;

  /** fsck over the data dir must exit 0 (Wharf only: Distribution has no equivalent). --quick skips re-hashing. */
  function fsckClean(when: string, quick = false): void {
    if (e2eTarget() !== 'wharf') return;
    const r = wharfCli(quick ? ['fsck', '--quick'] : ['fsck'], { dataDir: reg.dataDir });
    assert.equal(r.code, 0, `wharf fsck ${when} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }

  async function verifyManifest(m: ManifestRecord, content: boolean): Promise<void> {
    await assertManifest(client, m.repo, m.tag, m.bytes, MT.manifest);
    await assertManifest(client, m.repo, m.digest, m.bytes, MT.manifest);
    for (const b of m.blobs) {
      if (content) {
        await assertBlob(client, b.repo, b.digest);
      } else {
        const h = await client.headBlob(b.repo, b.digest);
        assert.equal(h.status, 200, `HEAD /v2/${b.repo}/blobs/${b.digest} -> ${h.status}`);
        assert.equal(h.headers.get('content-length'), String(b.size), `HEAD ${b.digest}: Content-Length`);
      }
    }
  }

  /** An unacknowledged blob is either absent (404 BLOB_UNKNOWN) or complete and correct. */
  async function verifyUnackedBlob(repo: string, digest: string, size: number): Promise<'absent' | 'complete'> {
    const g = await client.getBlob(repo, digest);
    if (g.status === 404) {
      assert.ok(errorCodes(g.body).includes('BLOB_UNKNOWN'), `GET /v2/${repo}/blobs/${digest} 404 body: ${g.body.toString('utf8')}`);
      const h = await client.headBlob(repo, digest);
      assert.equal(h.status, 404, `HEAD /v2/${repo}/blobs/${digest} -> ${h.status} but GET -> 404`);
      return 'absent';
    }
    assert.equal(g.status, 200, `GET /v2/${repo}/blobs/${digest} -> ${g.status}: ${g.body.toString('utf8').slice(0, 300)}`);
    assert.equal(g.body.length, size, `unacknowledged blob ${digest} readable with ${g.body.length} of ${size} bytes`);
    assert.equal(sha256(g.body), digest, `unacknowledged blob ${digest} readable with wrong content`);
    return 'complete';
  }

  for (let round = 1; round <= ROUNDS; round++) {
    test(`round ${round}: kill -9 during concurrent pushes, restart, everything acknowledged is intact`, async (t) => {
      const log = emptyLog();
      let killed = false;
      // Odd rounds: kill at a random time. Even rounds: kill 0–15 ms after the n-th blob- or
      // manifest-creating request is sent, to land in the commit window (rename, metadata write).
      const atCommit = round % 2 === 0;
      const killAfter = randomInt(250, 1500);
      const commitN = randomInt(3, 16);
      let commits = 0;
      let trigger: () => void = () => undefined;
      const triggered = new Promise<void>((r) => (trigger = r));
      const beforeCommit = (): void => {
        if (++commits === commitN) setTimeout(trigger, randomInt(0, 16));
      };
      const started = Date.now();
      const work = runWorkload(
        { url: reg.url, headers: reg.authHeaders(), pushers: 4, maxImages: 6, tagPrefix: `r${round}`, killed: () => killed,
          sharedBlob: randomBlob(randomInt(MiB, 8 * MiB)), beforeCommit: atCommit ? beforeCommit : undefined },
        log,
      );
      await Promise.race([work, atCommit ? triggered : sleep(killAfter)]);
      killed = true;
      await reg.kill9();
      await work;
      t.diagnostic(
        `killed after ${Date.now() - started} ms (${atCommit ? `at commit request #${commitN}` : `planned ${killAfter} ms`}): ` +
          `${log.ackedManifests.length} manifests and ` +
          `${log.ackedBlobs.length} blobs acknowledged; in flight: ${log.unackedBlobs.length} blobs ` +
          `(${log.unackedBlobs.map((b) => b.method).join(',')}), ${log.unackedManifests.length} manifests`,
      );
      assert.deepEqual(log.errorsBeforeKill, [], `requests failed before the kill${context()}`);
      assert.ok(log.ackedBlobs.length + log.unackedBlobs.length > 0, 'the workload pushed nothing before the kill');
      acked.ackedManifests.push(...log.ackedManifests);
      acked.ackedBlobs.push(...log.ackedBlobs);

      fsckClean(`on the data dir right after kill -9 (round ${round})`);
      await reg.restart();
      fsckClean(`--quick after restarting on the crashed data dir (round ${round})`, true);

      // Everything acknowledged in this round: bytes intact. Earlier rounds: still there (sizes).
      for (const m of log.ackedManifests) await verifyManifest(m, true);
      const inManifests = new Set(log.ackedManifests.flatMap((m) => m.blobs));
      for (const b of log.ackedBlobs) if (!inManifests.has(b)) await assertBlob(client, b.repo, b.digest);
      for (const m of acked.ackedManifests) if (!log.ackedManifests.includes(m)) await verifyManifest(m, false);
      for (const p of new Set(log.ackedManifests.map((m) => m.repo))) {
        const tags = await client.tags(p);
        for (const m of log.ackedManifests.filter((x) => x.repo === p)) assert.ok(tags.includes(m.tag), `tag ${m.tag} listed in ${p}: ${tags}`);
      }

      // In flight at the kill: absent, or complete and correct.
      const outcomes: string[] = [];
      for (const b of log.unackedBlobs) outcomes.push(await verifyUnackedBlob(b.repo, b.digest, b.size));
      if (outcomes.length) t.diagnostic(`unacknowledged blobs after restart: ${outcomes.join(', ')}`);
      for (const m of log.unackedManifests) {
        const r = await client.getManifest(m.repo, m.tag);
        if (r.status === 404) assertOciError(r, 404, 'MANIFEST_UNKNOWN', `GET /v2/${m.repo}/manifests/${m.tag} (PUT in flight at kill)`);
        else await verifyManifest(m, true);
      }
    });
  }

  test('interrupted uploads are never readable; a resumable upload resumes to the right bytes', async (t) => {
    const repo = 'crash/partial';
    const blobs = Array.from({ length: 4 }, () => randomBlob(4 * MiB));
    const [chunked, put, post, patch] = blobs as [Buffer, Buffer, Buffer, Buffer];
    const half = 2 * MiB;

    // 1. chunked upload: first half PATCHed (202), never finished
    const loc1 = await client.startUpload(repo);
    const p1 = await client.request('PATCH', loc1, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${half - 1}`, 'content-length': String(half) },
      body: chunked.subarray(0, half),
    });
    assert.equal(p1.status, 202, `PATCH ${loc1} -> ${p1.status}: ${p1.body.toString('utf8')}`);
    const loc1b = p1.headers.get('location') ?? loc1;
    // 2. monolithic PUT, 3. single POST, 4. chunk PATCH: each with half its body sent when the server dies
    const loc2 = await client.startUpload(repo);
    const loc4 = await client.startUpload(repo);
    const abs = (loc: string): string => new URL(loc, reg.url).toString();
    const octet = { ...reg.authHeaders(), 'content-type': 'application/octet-stream' };
    await Promise.all([
      hangingUpload(`${abs(loc2)}${abs(loc2).includes('?') ? '&' : '?'}digest=${sha256(put)}`, 'PUT', octet, put, half),
      hangingUpload(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${sha256(post)}`, 'POST', octet, post, half),
      hangingUpload(abs(loc4), 'PATCH', { ...octet, 'content-range': `0-${patch.length - 1}` }, patch, half),
    ]);
    await reg.kill9();
    fsckClean('after kill -9 with uploads in progress');
    await reg.restart();

    for (const b of blobs) {
      const outcome = await verifyUnackedBlob(repo, sha256(b), b.length);
      assert.equal(outcome, 'absent', `blob ${sha256(b)} became readable although its upload never completed`);
    }

    // The half-done uploads: either gone (404 BLOB_UPLOAD_UNKNOWN, or _INVALID as Distribution says) or resumable from their Range.
    for (const [loc, bytes, name] of [[loc1b, chunked, 'chunked'], [loc4, patch, 'hanging PATCH']] as const) {
      const s = await client.request('GET', loc);
      if (s.status === 404) {
        const codes = errorCodes(s.body);
        assert.ok(codes.includes('BLOB_UPLOAD_UNKNOWN') || codes.includes('BLOB_UPLOAD_INVALID'), `GET ${loc} (${name} upload) 404 body: ${s.body}`);
        t.diagnostic(`${name} upload: gone after the crash (404)`);
        continue;
      }
      assert.equal(s.status, 204, `GET ${loc} (${name} upload status after restart) -> ${s.status}: ${s.body.toString('utf8')}`);
      const range = /^0-(\d+)$/.exec(s.headers.get('range') ?? '0-0');
      assert.ok(range, `upload status Range header: ${s.headers.get('range')}`);
      const offset = Number(range[1]) === 0 ? 0 : Number(range[1]) + 1;
      assert.ok(offset <= bytes.length, `upload claims ${offset} bytes received of ${bytes.length}`);
      if (name === 'chunked') assert.equal(offset, half, 'a 202-acknowledged chunk must survive when the upload does');
      t.diagnostic(`${name} upload: resumable after the crash at offset ${offset}`);
      const cont = await client.request('PATCH', s.headers.get('location') ?? loc, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${bytes.length - 1}`, 'content-length': String(bytes.length - offset) },
        body: bytes.subarray(offset),
      });
      assert.equal(cont.status, 202, `resuming PATCH -> ${cont.status}: ${cont.body.toString('utf8')}`);
      const loc2nd = cont.headers.get('location') ?? loc;
      const fin = await client.request('PUT', `${loc2nd}${loc2nd.includes('?') ? '&' : '?'}digest=${sha256(bytes)}`, { headers: { 'content-length': '0' } });
      assert.equal(fin.status, 201, `PUT to finish the resumed upload -> ${fin.status}: ${fin.body.toString('utf8')}`);
      await assertBlob(client, repo, sha256(bytes), bytes);
    }
  });

  test('after a clean shutdown: fsck is clean, every acknowledged push is still intact, pushes work', async () => {
    await reg.stop({ keepData: true });
    fsckClean('after a clean shutdown');
    await reg.restart();
    // (fsck re-hashed every stored blob; each was also read back through the API in its own round)
    for (const m of acked.ackedManifests) await verifyManifest(m, false);
    const fresh = randomBlob(3 * MiB);
    await client.pushBlobChunked('crash/after', fresh, MiB);
    await assertBlob(client, 'crash/after', sha256(fresh), fresh);
  });
});
