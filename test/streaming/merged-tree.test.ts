/**
 * The merged filesystem (OCI image-spec layer.md) and path resolution inside the image root.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MergedTree } from '../../src/features/streaming/merged-tree.js';
import type { TarEntry, TarEntryType } from '../../src/features/streaming/tar-indexer.js';

let offset = 0;
function e(name: string, type: TarEntryType = 'reg', linkname = '', size = 1): TarEntry {
  offset += 512;
  return { name, type, offset, size, linkname, mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', modTime: '1970-01-01T00:00:00Z', devmajor: 0, devminor: 0, pax: {} };
}
const names = (t: MergedTree, p: string) => [...t.resolve(p).node.children!.keys()].sort();
const code = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('merged tree', () => {
  test('whiteouts and opaque markers hide lower layers only, never their own layer', () => {
    const t = MergedTree.build([
      [e('a/'), e('a/x'), e('a/y'), e('b/'), e('b/old'), e('c')],
      [e('a/.wh.x'), e('b/'), e('b/.wh..wh..opq'), e('b/new'), e('.wh.c'), e('a/z'), e('a/.wh.z')],
    ]);
    assert.deepEqual(names(t, '/'), ['a', 'b']);
    assert.deepEqual(names(t, '/a'), ['y', 'z'], 'a whiteout in the same layer as a/z does not hide it');
    assert.deepEqual(names(t, '/b'), ['new']);
  });

  test('a file replaces a directory (and its children), implied parents appear, ./ prefixes normalise', () => {
    const t = MergedTree.build([[e('./d/'), e('./d/child'), e('x/y/z')], [e('d')]]);
    assert.equal(t.resolve('/d').node.type, 'reg');
    assert.equal(t.resolve('/x/y').node.type, 'dir');
    assert.equal(t.resolve('x/y/z').node.type, 'reg');
  });

  test('a hard link is bound to the file it names when its layer is applied', () => {
    const first = e('f');
    const t = MergedTree.build([[first, e('h', 'hardlink', 'f')], [e('f')]]);
    assert.equal(t.resolve('/h').node.data?.entry, first);
    assert.notEqual(t.resolve('/f').node.data?.entry, first);
    assert.equal(MergedTree.build([[e('dangling', 'hardlink', 'nothing')]]).resolve('/dangling').node.data, undefined);
  });

  test('links resolve inside the root; escapes, loops and .. in the request are refused', () => {
    const t = MergedTree.build([
      [
        e('usr/lib/os-release'),
        e('etc/os-release', 'symlink', '../usr/lib/os-release'),
        e('lib', 'symlink', 'usr/lib'),
        e('abs', 'symlink', '/usr/lib/os-release'),
        e('up', 'symlink', '../../etc'),
        e('a', 'symlink', 'b'),
        e('b', 'symlink', 'a'),
        e('self', 'symlink', '.'),
        e('empty', 'symlink', ''),
      ],
    ]);
    assert.equal(t.resolve('/etc/os-release').path, '/usr/lib/os-release');
    assert.equal(t.resolve('/lib/os-release').path, '/usr/lib/os-release');
    assert.equal(t.resolve('/abs').path, '/usr/lib/os-release');
    assert.equal(t.resolve('/etc/os-release', false).node.type, 'symlink');
    assert.equal(t.resolve('/self/self/lib').path, '/usr/lib');
    assert.equal(code(() => t.resolve('/up')), 'PATH_INVALID');
    assert.equal(code(() => t.resolve('/a')), 'PATH_INVALID');
    assert.equal(code(() => t.resolve('/usr/../etc')), 'PATH_INVALID');
    assert.equal(code(() => t.resolve('/empty')), 'FILE_UNKNOWN');
    assert.equal(code(() => t.resolve('/nothing')), 'FILE_UNKNOWN');
    assert.equal(code(() => t.resolve('/usr/lib/os-release/x')), 'FILE_UNKNOWN');
  });

  test('entries naming .. cannot climb out of the tree when it is built', () => {
    const t = MergedTree.build([[e('../../outside'), e('a/../../b')]]);
    assert.deepEqual(names(t, '/'), ['b', 'outside']);
  });
});
