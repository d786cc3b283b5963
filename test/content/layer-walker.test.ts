/**
 * The layer walker: compression told by magic bytes, whiteouts and opaque directories across
 * layers (OCI layer.md), per-layer history, links, and every limit — a bomb or a malformed archive
 * is a LayerError, never a crash or an out-of-memory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { DEFAULT_WALK_LIMITS, LayerError, normalizeTarPath, walkLayers, type Want, type WalkLimits } from '../../src/content/layers/layer-walker.js';
import { gzip, hasZstdCli, tarOf, zstdCli, zstdRaw, zstdRleBomb, zstdWithWindow, type TarEntry } from './support/layers.js';

const layer = (bytes: Buffer, digest = 'sha256:test') => ({ digest, open: async () => Readable.from([bytes]) });
const wantAll = (p: string): Want => (p.endsWith('status') ? 'history' : p.includes('libnccl') ? 'name' : 'content');

async function walk(layers: Buffer[], want: (p: string) => Want = wantAll, limits: Partial<WalkLimits> = {}) {
  return walkLayers(layers.map((b, i) => layer(b, `sha256:${i}`)), want, { ...DEFAULT_WALK_LIMITS, ...limits });
}

const text = (view: Awaited<ReturnType<typeof walk>>, path: string) => view.files.get(path)?.content?.toString();

describe('layer walker', () => {
  test('gzip, zstd and plain tar are told apart by their first bytes', async () => {
    const tar = await tarOf([{ name: 'etc/os-release', content: 'ID=debian\n' }]);
    for (const bytes of [tar, gzip(tar), zstdRaw(tar)]) {
      const view = await walk([bytes]);
      assert.equal(text(view, 'etc/os-release'), 'ID=debian\n');
    }
    const view = await walk([tar, gzip(tar), zstdRaw(tar)]);
    assert.deepEqual(view.layers.map((l) => l.compression), ['none', 'gzip', 'zstd']);
    assert.equal(view.files.get('etc/os-release')?.layer, 2);
  });

  test('a real zstd compressor', { skip: !hasZstdCli && 'no zstd command' }, async () => {
    const big = Buffer.from('Package: x\n'.repeat(50_000));
    const view = await walk([zstdCli(await tarOf([{ name: 'var/lib/dpkg/status', content: big }]), 19)]);
    assert.equal(view.files.get('var/lib/dpkg/status')?.content?.length, big.length);
  });

  test('whiteouts hide lower files and directories; opaque directories hide lower children only', async () => {
    const site = 'usr/lib/python3/site-packages';
    const l0 = await tarOf([
      { name: `${site}/a-1.0.dist-info/METADATA`, content: 'Name: a' },
      { name: `${site}/b-1.0.dist-info/METADATA`, content: 'Name: b' },
      { name: 'opt/app/x/package.json', content: '{}' },
      { name: 'opt/app/y/package.json', content: '{}' },
    ]);
    const l1 = await tarOf([
      { name: `${site}/.wh.a-1.0.dist-info`, content: '' },
      { name: 'opt/app/y/package.json', content: '{"new":1}' },
      { name: 'opt/app/.wh..wh..opq', content: '' },
    ]);
    const view = await walk([gzip(l0), gzip(l1)]);
    assert.deepEqual([...view.files.keys()].sort(), ['opt/app/y/package.json', `${site}/b-1.0.dist-info/METADATA`]);
    assert.equal(text(view, 'opt/app/y/package.json'), '{"new":1}', 'the opaque marker does not hide files of its own layer');
    const l2 = await tarOf([{ name: `${site}/.wh.b-1.0.dist-info`, content: '' }, { name: `${site}/b-1.0.dist-info/METADATA`, content: 'Name: b again' }]);
    const after = await walk([gzip(l0), gzip(l1), gzip(l2)]);
    assert.equal(text(after, `${site}/b-1.0.dist-info/METADATA`), 'Name: b again', 'a whiteout does not hide its own layer');
  });

  test('a file replacing a directory and a directory replacing a file', async () => {
    const l0 = await tarOf([{ name: 'opt/a/package.json', content: '{}' }, { name: 'opt/b', content: 'file' }]);
    const l1 = await tarOf([{ name: 'opt/a', content: 'now a file' }, { name: 'opt/b/', type: 'directory' }]);
    const view = await walk([l0, l1], (p) => (p.startsWith('opt/') ? 'content' : undefined));
    assert.deepEqual([...view.files.keys()].sort(), ['opt/a']);
  });

  test('history keeps each version of a database file; a whiteout restarts it', async () => {
    const v = (n: number) => tarOf([{ name: 'var/lib/dpkg/status', content: `v${n}` }]);
    const view = await walk([await v(0), await tarOf([{ name: 'etc/x', content: '' }]), await v(2)]);
    const e = view.files.get('var/lib/dpkg/status')!;
    assert.deepEqual(e.history?.map((h) => [h.layer, h.content.toString()]), [[0, 'v0'], [2, 'v2']]);
    assert.equal(e.layer, 2);
    const wiped = await walk([await v(0), await tarOf([{ name: 'var/lib/dpkg/.wh.status', content: '' }]), await v(2)]);
    assert.deepEqual(wiped.files.get('var/lib/dpkg/status')!.history?.map((h) => h.layer), [2]);
  });

  test('symlinks, hard links and names only', async () => {
    const l0 = await tarOf([
      { name: 'usr/lib/os-release', content: 'ID=debian' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { name: 'usr/lib/x86_64-linux-gnu/libnccl.so.2.18.3', content: 'ELF...' },
      { name: 'usr/lib/x86_64-linux-gnu/libnccl.so.2', type: 'symlink', linkname: 'libnccl.so.2.18.3' },
      { name: 'etc/hardlinked', type: 'link', linkname: 'usr/lib/os-release' },
    ]);
    const view = await walk([l0]);
    assert.equal(view.files.get('etc/os-release')?.kind, 'symlink');
    assert.equal(view.files.get('etc/os-release')?.linkTarget, '../usr/lib/os-release');
    assert.equal(view.files.get('usr/lib/x86_64-linux-gnu/libnccl.so.2.18.3')?.content, undefined, 'name only');
    assert.equal(text(view, 'etc/hardlinked'), 'ID=debian');
  });

  test('paths are normalized and cannot climb out of the root', () => {
    assert.equal(normalizeTarPath('./etc/os-release'), 'etc/os-release');
    assert.equal(normalizeTarPath('/etc//os-release'), 'etc/os-release');
    assert.equal(normalizeTarPath('../../etc/passwd'), 'etc/passwd');
    assert.equal(normalizeTarPath('usr/lib/'), 'usr/lib');
    assert.equal(normalizeTarPath('./'), undefined);
  });

  test('files not asked for are skipped without being held', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 1);
    const view = await walk([gzip(await tarOf([{ name: 'model.bin', content: big }, { name: 'etc/os-release', content: 'ID=x' }]))], (p) => (p === 'etc/os-release' ? 'content' : undefined), {
      maxBufferedBytes: 1024,
    });
    assert.equal(view.files.size, 1);
    assert.equal(view.layers[0]!.uncompressedBytes > big.length, true);
  });
});

describe('layer walker limits and bad input', () => {
  const expectLayerError = async (p: Promise<unknown>, pattern: RegExp, limit?: boolean) => {
    const err = await p.then(
      () => assert.fail('expected a LayerError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof LayerError, String(err));
    assert.match(err.message, pattern);
    if (limit !== undefined) assert.equal(err.limit, limit);
  };

  test('a gzip bomb stops at the ratio limit', async () => {
    const zeros = await tarOf([{ name: 'zeros', content: Buffer.alloc(64 * 1024 * 1024) }]);
    const bomb = gzipSync(zeros, { level: 9 });
    assert.ok(bomb.length < 100 * 1024);
    await expectLayerError(walk([bomb]), /expands more than 250 times/, true);
  });

  test('a zstd RLE bomb stops at the ratio limit before it is all decoded', async () => {
    const before = process.memoryUsage().rss;
    await expectLayerError(walk([zstdRleBomb(40_000)]), /expands more than/, true); // would be 5 GiB
    assert.ok(process.memoryUsage().rss - before < 512 * 1024 * 1024, 'memory stayed bounded');
  });

  test('a zstd frame declaring a huge window is refused before allocation', async () => {
    await expectLayerError(walk([zstdWithWindow(21)]), /window/, true); // 2 GiB
  });

  test('total uncompressed bytes, entry count, buffered bytes', async () => {
    const tar = await tarOf(Array.from({ length: 50 }, (_, i): TarEntry => ({ name: `f${i}`, content: 'x'.repeat(1000) })));
    await expectLayerError(walk([tar], () => undefined, { maxUncompressedBytes: 20_000 }), /expand past/, true);
    await expectLayerError(walk([tar], () => undefined, { maxEntries: 10 }), /more than 10 tar entries/, true);
    await expectLayerError(walk([tar], () => 'content', { maxBufferedBytes: 10_000 }), /exceed 10000 bytes/, true);
  });

  test('a wanted file over the per-file limit is skipped with a warning', async () => {
    const view = await walk([await tarOf([{ name: 'var/lib/dpkg/status', content: 'x'.repeat(5000) }])], wantAll, { maxFileBytes: 1000 });
    assert.equal(view.files.size, 0);
    assert.match(view.warnings[0]!, /over the 1000-byte limit/);
  });

  test('malformed layers: not a tar, truncated gzip, bad zstd, a broken header checksum, truncated tar', async () => {
    const tar = await tarOf([{ name: 'etc/os-release', content: 'ID=debian\n'.repeat(100) }]);
    await expectLayerError(walk([Buffer.from('this is not a tar archive at all, just some text'.repeat(20))]), /not a readable layer/, false);
    await expectLayerError(walk([gzip(tar).subarray(0, 60)]), /not a readable layer/, false);
    const badZstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from([0x08, 0, 0, 0])]);
    await expectLayerError(walk([badZstd]), /not a readable layer|malformed/, false);
    const corrupt = Buffer.from(tar);
    corrupt[10] = corrupt[10]! ^ 0xff; // inside the name: the header checksum no longer matches
    await expectLayerError(walk([corrupt]), /not a readable layer/, false);
    await expectLayerError(walk([tar.subarray(0, 700)]), /not a readable layer/, false);
    await expectLayerError(walk([zstdRaw(tar).subarray(0, 100)]), /not a readable layer|ends inside/, false);
  });

  test('an empty layer blob and the empty tar are fine', async () => {
    const view = await walk([gzip(Buffer.alloc(1024)), Buffer.alloc(1024)]);
    assert.equal(view.files.size, 0);
    assert.equal(view.layers.length, 2);
  });
});
