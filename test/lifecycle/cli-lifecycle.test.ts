/**
 * The lifecycle commands of the `wharf` CLI in-process against a listening app (auth on, logged in
 * as admin): repo create/describe/update/list/history/delete, image list, namespace, and their
 * usage errors (exit 2).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT } from '../../src/cli/io.js';
import type { Harness } from '../http/harness.js';
import { pushImageAsAdmin, startCliSession, type CliSession } from './cli-support.js';

let cli: CliSession;
let h: Harness;

const wharf = (args: string[], stdin?: string) => cli.wharf(args, stdin);

/** pushes a one-layer image as admin */
const push = (repo: string, tag: string, layer: Buffer): Promise<string> => pushImageAsAdmin(h, repo, tag, [layer]);

before(async () => {
  cli = await startCliSession('wharf-cli-lifecycle-');
  h = cli.h;
});
after(async () => cli?.close());

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
