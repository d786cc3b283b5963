/**
 * The lifecycle commands of the `wharf` CLI in-process against a listening app (auth on, logged in
 * as admin): repo create/describe/update/list/history/delete, image list, namespace, and their
 * usage errors (exit 2).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { EXIT, type CliIO } from '../../src/cli/io.js';
import { startHarness, type Harness } from '../http/harness.js';
import { listen } from '../http/support.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';
import { digestOf } from '../../src/domain/digest.js';

let h: Harness;
let dir: string;
let env: NodeJS.ProcessEnv;

export async function wharf(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { env, out: (s) => void (out += s), err: (s) => void (err += s), readStdin: async () => stdin };
  const code = await runCli(args, io);
  return { code, out, err };
}

/** pushes a one-layer image as admin */
async function push(repo: string, tag: string, layer: Buffer): Promise<string> {
  const auth = { authorization: basic('admin', TEST_ADMIN_PASSWORD) };
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  for (const b of [config, layer]) {
    const r = await h.app.inject({ method: 'POST', url: `/v2/${repo}/blobs/uploads/?digest=${digestOf(b)}`, headers: { ...auth, 'content-type': 'application/octet-stream' }, payload: b });
    assert.equal(r.statusCode, 201, r.body);
  }
  const m = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(layer), size: layer.length }],
    }),
  );
  const r = await h.app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${tag}`, headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, payload: m });
  assert.equal(r.statusCode, 201, r.body);
  return digestOf(m);
}

before(async () => {
  h = await startHarness({ auth: {} });
  const server = `http://127.0.0.1:${await listen(h.app)}`;
  dir = mkdtempSync(join(tmpdir(), 'wharf-cli-lifecycle-'));
  env = { REGISTRY_AUTH_FILE: join(dir, 'auth.json'), HOME: dir, WHARF_SERVER: server };
  const login = await wharf(['login', '-u', 'admin', '--password-stdin'], `${TEST_ADMIN_PASSWORD}\n`);
  assert.equal(login.code, EXIT.ok, login.err);
});
after(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('wharf repo / image / namespace', () => {
  test('repo create with settings, describe, update, list', async () => {
    const c = await wharf([
      'repo',
      'create',
      'ml/train',
      '--description',
      'training images',
      '--label',
      'team=ml',
      '--label',
      'tier=gpu',
      '--immutable-tags',
      '--immutable-exclude',
      'dev-*,latest',
      '--quota',
      '50GiB',
      '--scan-on-push',
    ]);
    assert.equal(c.code, EXIT.ok, c.err);
    assert.match(c.out, /created repository ml\/train/);
    assert.match(c.out, /Immutable tags: +yes \(except dev-\*, latest\)/);
    assert.match(c.out, /0 B of 50\.0 GiB quota \(0%\)/);

    const d = await wharf(['repo', 'describe', 'ml/train', '--output', 'json']);
    const r = JSON.parse(d.out);
    assert.deepEqual(r.labels, { team: 'ml', tier: 'gpu' });
    assert.equal(r.quotaBytes, 50 * 2 ** 30);
    assert.equal(r.scanOnPush, true);

    const u = await wharf(['repo', 'update', 'ml/train', '--no-immutable-tags', '--quota', 'none', '--public']);
    assert.equal(u.code, EXIT.ok, u.err);
    const after = JSON.parse((await wharf(['repo', 'describe', 'ml/train', '--output', 'json'])).out);
    assert.equal(after.immutableTags, false);
    assert.equal(after.quotaBytes, null);
    assert.equal(after.public, true);
    assert.equal(after.scanOnPush, true, 'flags not given are left alone');
    assert.equal(after.description, 'training images');

    const list = await wharf(['repo', 'list']);
    assert.match(list.out, /ml\/train +public +no +- +training images/);
  });

  test('history and image list', async () => {
    const a = await push('ml/hist', 'v1', Buffer.from('layer a'));
    const b = await push('ml/hist', 'v1', Buffer.from('layer b'));
    const hist = await wharf(['repo', 'history', 'ml/hist']);
    assert.equal(hist.code, EXIT.ok, hist.err);
    const lines = hist.out.trim().split('\n');
    assert.match(lines[0]!, /^TIME +TAG +FROM +TO$/);
    assert.match(lines[1]!, new RegExp(`v1 +${a.slice(0, 19)} +${b.slice(0, 19)}$`));
    const images = JSON.parse((await wharf(['image', 'list', 'ml/hist', '--output', 'json'])).out);
    assert.deepEqual(images.items.map((i: { digest: string }) => i.digest).sort(), [a, b].sort());
    const untagged = await wharf(['image', 'list', 'ml/hist', '--untagged']);
    assert.match(untagged.out, new RegExp(a.slice(0, 19)));
    assert.doesNotMatch(untagged.out, new RegExp(b.slice(0, 19)));
  });

  test('namespace set/get/list/delete', async () => {
    const s = await wharf(['namespace', 'set', 'team', '--quota', '1TB', '--create-on-push', 'no']);
    assert.equal(s.code, EXIT.ok, s.err);
    assert.match(s.out, /quota 931 GiB, create on push false/);
    const g = JSON.parse((await wharf(['namespace', 'get', 'team', '--output', 'json'])).out);
    assert.equal(g.quotaBytes, 1e12);
    assert.match((await wharf(['namespace', 'list'])).out, /team +0 B +931 GiB +false/);
    assert.equal((await wharf(['namespace', 'delete', 'team'])).code, EXIT.ok);
  });

  test('delete asks for --yes; usage errors exit 2', async () => {
    await push('ml/gone', 'v1', Buffer.from('gone'));
    assert.equal((await wharf(['repo', 'delete', 'ml/gone'])).code, EXIT.usage);
    assert.equal((await wharf(['repo', 'delete', 'ml/gone', '--yes'])).code, EXIT.ok);
    assert.equal((await wharf(['repo', 'describe', 'ml/gone'])).code, EXIT.failure);
    assert.equal((await wharf(['repo', 'create', 'x/y', '--quota', 'lots'])).code, EXIT.usage);
    assert.equal((await wharf(['repo', 'create', 'x/y', '--label', 'novalue'])).code, EXIT.usage);
    assert.equal((await wharf(['repo', 'update', 'ml/train'])).code, EXIT.usage);
    assert.equal((await wharf(['namespace', 'set', 'team', '--create-on-push', 'maybe'])).code, EXIT.usage);
    const bad = await wharf(['repo', 'create', 'x/y', '--immutable-exclude', 'a/b']);
    assert.equal(bad.code, EXIT.usage);
    assert.match(bad.err, /immutableTagExclusions/);
  });
});
