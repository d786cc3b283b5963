/**
 * Online GC through POST /api/v1/gc and GET /api/v1/gc/runs (admins only; bad bodies are 400 and
 * change nothing) and through the CLI (`wharf gc [--dry-run] [--json]`, `wharf gc runs`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { EXIT } from '../../src/cli/io.js';
import type { GcReport } from '../../src/registry/gc.js';
import type { Harness } from '../http/harness.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';
import { pushImageAsAdmin, startCliSession, type CliSession } from './cli-support.js';
import { ADMIN, caller, json } from './support.js';

const HOUR = 3_600_000;
let h: Harness;
let dir: string;
let cli: CliSession;
const clock = { t: Date.now() };

const wharf = (args: string[], stdin?: string) => cli.wharf(args, stdin);

/** pushes a blob no manifest will reference (garbage once the clock passes the grace period) */
async function looseBlob(repo: string, label: string): Promise<string> {
  const bytes = Buffer.from(`loose ${label} ${Math.random()}`);
  const digest = digestOf(bytes);
  const r = await h.app.inject({
    method: 'POST',
    url: `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    headers: { authorization: basic('admin', TEST_ADMIN_PASSWORD), 'content-type': 'application/octet-stream' },
    payload: bytes,
  });
  assert.equal(r.statusCode, 201, r.body);
  return digest;
}


/** pushes config + one layer and a manifest (by tag, or by digest when ref is undefined), as admin */
const pushAuthed = (repo: string, ref: string | undefined): Promise<string> =>
  pushImageAsAdmin(h, repo, ref, [Buffer.from(`layer ${repo} ${Math.random()}`)], Buffer.from(`{"architecture":"amd64","os":"linux","n":"${Math.random()}"}`));

const present = async (digest: string) => (await h.blobs.stat(digest as Digest)) !== undefined;

before(async () => {
  // the harness's GC: grace 0, untagged manifests on; its clock is ours
  cli = await startCliSession('wharf-cli-gc-', { now: () => clock.t });
  h = cli.h;
  dir = cli.dir;
});
after(async () => cli?.close());

describe('POST /api/v1/gc, GET /api/v1/gc/runs', () => {
  test('anonymous callers are refused; malformed bodies and queries are 400 and change nothing', async () => {
    const garbage = await looseBlob('api/a', 'bad-bodies');
    clock.t += HOUR;
    const anon = caller(h.app);
    assert.equal((await anon('POST', '/api/v1/gc', {})).statusCode, 401);
    assert.equal((await anon('GET', '/api/v1/gc/runs')).statusCode, 401);
    const admin = caller(h.app, ADMIN);
    for (const body of [{ dryRun: 'yes' }, { dryRun: 1 }, { dryRun: false, extra: true }, '{"dryRun": tru', '[]', 'null']) {
      const res = await admin('POST', '/api/v1/gc', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)} -> ${res.statusCode} ${res.body}`);
    }
    for (const q of ['limit=abc', 'limit=-1', 'limit=1&x=2', 'limit=999999']) {
      assert.equal((await admin('GET', `/api/v1/gc/runs?${q}`)).statusCode, 400, q);
    }
    assert.equal(await present(garbage), true, 'a rejected request collected something');
    assert.deepEqual(json<{ items: unknown[] }>(await admin('GET', '/api/v1/gc/runs')).items, []);
  });

  test('a dry run reports and keeps; a run reclaims; both are listed newest first', async () => {
    const admin = caller(h.app, ADMIN);
    await pushAuthed('api/b', 'v1');
    const garbage = await looseBlob('api/b', 'dry');
    clock.t += HOUR;
    const dry = json<GcReport>(await admin('POST', '/api/v1/gc', { dryRun: true }));
    assert.equal(dry.dryRun, true);
    assert.ok(dry.blobsDeleted >= 1 && dry.bytesReclaimed > 0, JSON.stringify(dry));
    assert.equal(await present(garbage), true);
    const real = json<GcReport>(await admin('POST', '/api/v1/gc', {}));
    assert.equal(real.dryRun, false);
    assert.equal(real.blobsDeleted, dry.blobsDeleted);
    assert.equal(real.bytesReclaimed, dry.bytesReclaimed);
    assert.equal(await present(garbage), false);
    const runs = json<{ items: { trigger: string; dryRun: boolean; startedAt: string; report: GcReport }[] }>(await admin('GET', '/api/v1/gc/runs'));
    assert.deepEqual(runs.items.slice(0, 2).map((r) => [r.trigger, r.dryRun]), [['api', false], ['api', true]]);
    assert.match(runs.items[0]!.startedAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(runs.items[0]!.report.blobsDeleted, real.blobsDeleted);
    assert.equal(json<{ items: unknown[] }>(await admin('GET', '/api/v1/gc/runs?limit=1')).items.length, 1);
    // the image is intact
    const m = await admin('GET', '/v2/api/b/manifests/v1', undefined, { accept: 'application/vnd.oci.image.manifest.v1+json' });
    assert.equal(m.statusCode, 200);
  });
});

describe('wharf gc', () => {
  test('--dry-run prints what would be reclaimed; a run prints what was; --json is the report', async () => {
    const garbage = await looseBlob('cli/a', 'cli');
    clock.t += HOUR;
    const dry = await wharf(['gc', '--dry-run']);
    assert.equal(dry.code, EXIT.ok, dry.err);
    assert.match(dry.out, /dry run \(nothing was changed\)/);
    assert.match(dry.out, /blobs would be deleted: 1 \(/);
    assert.match(dry.out, /reclaimed: .*\(would be\)/);
    assert.equal(await present(garbage), true);
    const run = await wharf(['gc']);
    assert.equal(run.code, EXIT.ok, run.err);
    assert.match(run.out, /GC finished/);
    assert.match(run.out, /blobs deleted: 1 \(/);
    assert.equal(await present(garbage), false);
    const again = await wharf(['gc', '--json']);
    assert.equal(again.code, EXIT.ok, again.err);
    const report = JSON.parse(again.out) as GcReport;
    assert.equal(report.dryRun, false);
    assert.equal(report.blobsDeleted, 0);
    const viaOutput = await wharf(['gc', '--dry-run', '--output', 'json']);
    assert.equal((JSON.parse(viaOutput.out) as GcReport).dryRun, true);
  });

  test('untagged manifests deleted are listed', async () => {
    const digest = await pushAuthed('cli/b', undefined);
    clock.t += HOUR;
    const run = await wharf(['gc']);
    assert.equal(run.code, EXIT.ok, run.err);
    assert.match(run.out, /manifests deleted: 1/);
    assert.ok(run.out.includes(`cli/b@${digest}`), run.out);
  });

  test('gc runs lists past runs; --json; a bad --limit is a usage error', async () => {
    const table = await wharf(['gc', 'runs', '--limit', '3']);
    assert.equal(table.code, EXIT.ok, table.err);
    const lines = table.out.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+STARTED\s+TRIGGER\s+DRY RUN\s+STATUS\s+RECLAIMED/);
    assert.equal(lines.length, 4);
    assert.match(table.out, /api\s+no\s+done/);
    const j = await wharf(['gc', 'runs', '--json']);
    assert.equal(j.code, EXIT.ok, j.err);
    const items = (JSON.parse(j.out) as { items: { trigger: string }[] }).items;
    assert.ok(items.length >= 4);
    for (const bad of [['--limit', '0'], ['--limit', 'x'], ['--limit', '500']]) {
      const r = await wharf(['gc', 'runs', ...bad]);
      assert.equal(r.code, EXIT.usage, `${bad.join(' ')}: ${r.out}${r.err}`);
    }
  });

  test('without login it fails and says so', async () => {
    const saved = cli.env;
    cli.env = { ...saved, REGISTRY_AUTH_FILE: join(dir, 'nobody.json') };
    try {
      const r = await wharf(['gc', '--dry-run']);
      assert.equal(r.code, EXIT.failure);
      assert.match(r.err, /not logged in/);
    } finally {
      cli.env = saved;
    }
  });
});
