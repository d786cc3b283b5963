/**
 * `wharf usage` in-process against a listening app (auth on, logged in as admin): the table with
 * human-readable sizes, totals and dedup ratio; one repository; --json; period flags and their
 * usage errors (exit 2, nothing sent).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/io.js';
import { digestOf } from '../../src/domain/digest.js';
import type { Harness } from '../http/harness.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';
import { pushImageAsAdmin, startCliSession, type CliSession } from './cli-support.js';

let h: Harness;
let dir: string;
let cli: CliSession;
const auth = () => ({ authorization: basic('admin', TEST_ADMIN_PASSWORD) });

const wharf = (args: string[], stdin?: string) => cli.wharf(args, stdin);

const push = async (repo: string, tag: string, layers: Buffer[]): Promise<void> => void (await pushImageAsAdmin(h, repo, tag, layers));

before(async () => {
  cli = await startCliSession('wharf-cli-usage-');
  h = cli.h;
  dir = cli.dir;
  const base = Buffer.alloc(3 * 2 ** 20, 'b'); // 3 MiB shared by both repositories
  await push('ml/train', 'v1', [base, Buffer.alloc(2 ** 20, 't')]);
  await push('ml/serve', 'v1', [base, Buffer.alloc(512 * 1024, 's')]);
  const pull = await h.app.inject({ method: 'GET', url: '/v2/ml/train/manifests/v1', headers: auth() });
  assert.equal(pull.statusCode, 200);
  const blob = await h.app.inject({ method: 'GET', url: `/v2/ml/train/blobs/${digestOf(base)}`, headers: auth() });
  assert.equal(blob.statusCode, 200);
  const r = await h.app.inject({ method: 'PATCH', url: '/api/v1/repositories/ml/train', headers: { ...auth(), 'content-type': 'application/json' }, payload: { quotaBytes: 8 * 2 ** 20 } });
  assert.equal(r.statusCode, 200, r.body);
});
after(async () => cli?.close());

describe('wharf usage', () => {
  test('a table per repository with sizes, pulls, egress, cost and quota; totals and dedup ratio', async () => {
    const r = await wharf(['usage']);
    assert.equal(r.code, EXIT.ok, r.err);
    const lines = r.out.split('\n');
    assert.match(lines[0]!, /^Period: \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2} \(30 days, UTC\)$/);
    assert.match(lines[1]!, /^REPOSITORY +LOGICAL +UNIQUE +SHARED +IMAGES +PULLS +EGRESS +EST\. MONTHLY COST +QUOTA$/);
    assert.match(r.out, /\nml\/serve +3\.50 MiB +512 KiB +3\.00 MiB +1 +0 +0 B +0\.00 USD +-\n/);
    assert.match(r.out, /\nml\/train +4\.00 MiB +1\.00 MiB +3\.00 MiB +1 +1 +3\.00 MiB +0\.00 USD +4\.00 MiB of 8\.00 MiB \(50%\)\n/);
    assert.match(r.out, /\nTOTAL +7\.50 MiB +2 +1 +3\.00 MiB +0\.00 USD/);
    assert.match(r.out, /\nNAMESPACE +REPOSITORIES +STORED/);
    assert.match(r.out, /\nml +2 +4\.50 MiB +7\.50 MiB +2 +1 +3\.00 MiB/);
    assert.match(r.out, /Stored once: 4\.50 MiB in 4 blobs for 7\.50 MiB of images; dedup ratio 1\.67\n/);
    assert.match(r.out, /Prices: 0\.1 USD per GiB-month stored, 0\.12 USD per GiB egress/);
  });

  test('one repository, --json, periods', async () => {
    const one = await wharf(['usage', 'ml/serve', '--days', '7']);
    assert.equal(one.code, EXIT.ok, one.err);
    assert.match(one.out, /\(7 days, UTC\)/);
    assert.match(one.out, /\nml\/serve /);
    assert.doesNotMatch(one.out, /\nml\/train /);
    const j = JSON.parse((await wharf(['usage', 'ml/train', '--json'])).out);
    assert.equal(j.repositories.length, 1);
    assert.equal(j.repositories[0].pulls, 1);
    assert.equal(j.repositories[0].egressBytes, 3 * 2 ** 20 + Number((await h.app.inject({ method: 'HEAD', url: '/v2/ml/train/manifests/v1', headers: auth() })).headers['content-length']));
    assert.equal(j.period.days, 30);
    const o = JSON.parse((await wharf(['usage', '--output', 'json'])).out);
    assert.equal(o.totals.repositories, 2);
    const today = new Date().toISOString().slice(0, 10);
    const ranged = JSON.parse((await wharf(['usage', '--from', today, '--to', today, '--json'])).out);
    assert.equal(ranged.period.days, 1);
    assert.equal(ranged.repositories.find((x: { repository: string }) => x.repository === 'ml/train').pulls, 1);
  });

  test('usage errors exit 2 with a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['usage', '--days', 'x'], /--days takes a whole number/],
      [['usage', '--days', '3', '--from', '2024-01-01'], /not both/],
      [['usage', '--to', '2024-01-01'], /--to needs --from/],
      [['usage', '--from', '01/02/2024'], /--from takes a date YYYY-MM-DD/],
      // the server's checks come back the same way
      [['usage', '--days', '400'], /days must be a whole number from 1 to 366/],
      [['usage', '--from', '2024-02-30'], /from must be a UTC date/],
    ];
    for (const [args, re] of cases) {
      const r = await wharf(args);
      assert.equal(r.code, EXIT.usage, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
    }
    const missing = await wharf(['usage', 'ml/nope']);
    assert.equal(missing.code, EXIT.failure);
    assert.match(missing.err, /ml\/nope does not exist or you may not pull it/);
  });
});
