/**
 * `wharf policy set|get|delete|dry-run|run` in-process against a listening app (auth on, logged in
 * as admin): either format from a file (or standard input) with the extras as flags, problems
 * printed with their JSON pointers (exit 2), the dry-run table and --json, a run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/io.js';
import type { Harness } from '../http/harness.js';
import { imageManifest } from '../http/support.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';
import { startCliSession, type CliSession } from './cli-support.js';
import { digestOf } from '../../src/domain/digest.js';

let h: Harness;
let dir: string;
let cli: CliSession;
const DAY = 86_400_000;

const wharf = (args: string[], stdin?: string) => cli.wharf(args, stdin);

function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return p;
}

/** Pushes an image as admin (by tag, or by digest) and backdates it. */
async function push(repo: string, tag: string | undefined, pushedDaysAgo: number): Promise<string> {
  const auth = { authorization: basic('admin', TEST_ADMIN_PASSWORD) };
  const blob = async (content: string, mediaType: string) => {
    const r = await h.app.inject({
      method: 'POST',
      url: `/v2/${repo}/blobs/uploads/?digest=${digestOf(Buffer.from(content))}`,
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      payload: content,
    });
    assert.equal(r.statusCode, 201, r.body);
    return { mediaType, digest: digestOf(Buffer.from(content)), size: Buffer.byteLength(content) };
  };
  const body = imageManifest(await blob(`{"seed":${Math.random()}}`, 'application/vnd.oci.image.config.v1+json'), [await blob(`layer ${Math.random()}`, 'application/vnd.oci.image.layer.v1.tar+gzip')]);
  const digest = digestOf(body);
  const r = await h.app.inject({
    method: 'PUT',
    url: `/v2/${repo}/manifests/${tag ?? digest}`,
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    payload: body,
  });
  assert.equal(r.statusCode, 201, r.body);
  const db = h.metadata.database;
  const id = (await db.selectFrom('repositories').select('id').where('name', '=', repo).executeTakeFirstOrThrow()).id;
  await db.updateTable('manifests').set({ created_at: Date.now() - pushedDaysAgo * DAY }).where('repository_id', '=', id).where('digest', '=', digest).execute();
  return digest;
}

const short = (d: string) => d.slice(0, 'sha256:'.length + 12);
const GAR = [
  { name: 'delete-old', action: { type: 'Delete' }, condition: { olderThan: '30d' } },
  { name: 'keep-releases', action: { type: 'Keep' }, condition: { tagState: 'tagged', tagPrefixes: ['v'] } },
];
const ECR = { rules: [{ rulePriority: 1, description: 'one untagged', selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }] };

before(async () => {
  cli = await startCliSession('wharf-cli-policy-');
  h = cli.h;
  dir = cli.dir;
});
after(async () => cli?.close());

describe('wharf policy', () => {
  test('set either format from a file (or stdin), with the extras as flags; get; delete', async () => {
    await push('cli/set', 'v1', 0);
    const set = await wharf(['policy', 'set', 'cli/set', file('gar.json', GAR)]);
    assert.equal(set.code, EXIT.ok, set.err);
    assert.match(set.out, /cleanup policy of cli\/set set/);
    assert.match(set.out, /Format: +artifact-registry/);

    const get = await wharf(['policy', 'get', 'cli/set', '--output', 'json']);
    assert.equal(get.code, EXIT.ok, get.err);
    const stored = JSON.parse(get.out);
    assert.deepEqual(stored.policy, GAR);
    assert.equal(stored.keepProtectedTags, true);

    const ecr = await wharf(['policy', 'set', 'cli/set', file('ecr.json', ECR), '--keep-pulled-within-days', '7', '--no-keep-protected-tags', '--dry-run-only']);
    assert.equal(ecr.code, EXIT.ok, ecr.err);
    const human = await wharf(['policy', 'get', 'cli/set']);
    assert.match(human.out, /Format: +ecr/);
    assert.match(human.out, /Keep pulled within: +7 days/);
    assert.match(human.out, /Keep protected tags: +no/);
    assert.match(human.out, /dry run only/);
    assert.match(human.out, /"rulePriority": 1/);

    // Wharf's own document, from standard input
    const envelope = { format: 'artifact-registry', policy: GAR, keepPulledWithinDays: 30 };
    const stdin = await wharf(['policy', 'set', 'cli/set', '-'], JSON.stringify(envelope));
    assert.equal(stdin.code, EXIT.ok, stdin.err);
    assert.equal(JSON.parse((await wharf(['policy', 'get', 'cli/set', '--output', 'json'])).out).keepPulledWithinDays, 30);

    const del = await wharf(['policy', 'delete', 'cli/set']);
    assert.equal(del.code, EXIT.ok, del.err);
    const gone = await wharf(['policy', 'get', 'cli/set']);
    assert.equal(gone.code, EXIT.failure);
    assert.match(gone.err, /no cleanup policy/);
  });

  test('an invalid policy: every problem with its pointer, exit 2, nothing stored', async () => {
    await push('cli/invalid', 'v1', 0);
    const bad = [{ name: 'x', action: { type: 'Delete' }, condition: { olderThan: '30 days', tagState: 'some' } }];
    const r = await wharf(['policy', 'set', 'cli/invalid', file('bad.json', bad)]);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /cleanup policy invalid: 2 problems/);
    assert.match(r.err, / {2}- \/policy\/0\/condition\/olderThan: must be a duration/);
    assert.match(r.err, / {2}- \/policy\/0\/condition\/tagState: /);
    assert.equal((await wharf(['policy', 'get', 'cli/invalid'])).code, EXIT.failure);

    for (const [content, message] of [
      ['{"not": "a policy"}', /cannot tell the format/],
      ['{"rules": [', /is not JSON/],
    ] as const) {
      const u = await wharf(['policy', 'set', 'cli/invalid', file('u.json', content)]);
      assert.equal(u.code, EXIT.usage, u.err);
      assert.match(u.err, message);
    }
    const missing = await wharf(['policy', 'set', 'cli/invalid', join(dir, 'nope.json')]);
    assert.equal(missing.code, EXIT.usage);
    assert.match(missing.err, /cannot read/);
    assert.equal((await wharf(['policy', 'set', 'cli/invalid', file('g.json', GAR), '--keep-pulled-within-days', 'soon'])).code, EXIT.usage);
    assert.equal((await wharf(['policy', 'dry-run', 'cli/invalid', '--keep-pulled-within-days', '3'])).code, EXIT.usage);
  });

  test('dry-run: a table of what would go with its rule, what is kept and why; --json; --file; then run', async () => {
    const repo = 'cli/run';
    const rel = await push(repo, 'v1.0', 60);
    const old = await push(repo, 'dev-1', 60);
    const untagged = await push(repo, undefined, 45);
    const fresh = await push(repo, 'dev-2', 0);
    assert.equal((await wharf(['policy', 'set', repo, file('gar.json', GAR)])).code, EXIT.ok);

    const dry = await wharf(['policy', 'dry-run', repo]);
    assert.equal(dry.code, EXIT.ok, dry.err);
    assert.match(dry.out, /cli\/run: 2 of 4 manifests would be deleted/);
    assert.match(dry.out, /DIGEST +TAGS +PUSHED +LAST PULLED +RULE/);
    const line = dry.out.split('\n').find((l) => l.startsWith(short(old)))!;
    assert.match(line, /dev-1 .* never +delete-old$/);
    assert.ok(dry.out.split('\n').some((l) => l.startsWith(short(untagged)) && / - /.test(l)));
    assert.match(dry.out, /Kept although a rule selects them:\n.*KEPT BECAUSE\n.*v1\.0 .*delete-old +Keep policy keep-releases/);
    assert.doesNotMatch(dry.out, new RegExp(short(fresh).replace(':', '\\:')));
    for (const d of [rel, old, untagged, fresh]) assert.equal(await manifestStatusAsAdmin(repo, d), 200);

    const json = JSON.parse((await wharf(['policy', 'dry-run', repo, '--json'])).out);
    assert.deepEqual(json.delete.map((d: { digest: string }) => d.digest).sort(), [old, untagged].sort());
    assert.equal(json.kept[0].digest, rel);

    const other = JSON.parse((await wharf(['policy', 'dry-run', repo, '--file', file('ecr.json', ECR), '--output', 'json'])).out);
    assert.deepEqual(other.delete, []);
    const keepAll = JSON.parse((await wharf(['policy', 'dry-run', repo, '--file', file('g.json', GAR), '--keep-pulled-within-days', '1', '--json'])).out);
    assert.equal(keepAll.delete.length, 2);

    const run = await wharf(['policy', 'run', repo]);
    assert.equal(run.code, EXIT.ok, run.err);
    assert.match(run.out, /deleted 2 of 2 selected manifests in cli\/run \(of 4\)/);
    assert.equal(await manifestStatusAsAdmin(repo, old), 404);
    assert.equal(await manifestStatusAsAdmin(repo, untagged), 404);
    assert.equal(await manifestStatusAsAdmin(repo, rel), 200);
    const again = JSON.parse((await wharf(['policy', 'run', repo, '--json'])).out);
    assert.equal(again.deleted, 0);
  });
});

async function manifestStatusAsAdmin(repo: string, digest: string): Promise<number> {
  const r = await h.app.inject({ method: 'HEAD', url: `/v2/${repo}/manifests/${digest}`, headers: { authorization: basic('admin', TEST_ADMIN_PASSWORD) } });
  return r.statusCode;
}
