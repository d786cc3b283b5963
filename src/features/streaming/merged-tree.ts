import { posix } from 'node:path';
import { normalizeTarPath, OPAQUE_MARKER, WHITEOUT_PREFIX } from '../../content/layers/layer-reader.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { TarEntry, TarEntryType } from './tar-indexer.js';

/**
 * The merged filesystem of an image, from its layers' tables of contents (OCI image-spec
 * layer.md): layers applied bottom to top; a layer's whiteouts (`.wh.<name>`) and opaque markers
 * (`.wh..wh..opq`) hide entries of the layers below it only; a later entry replaces an earlier one
 * at the same path (a directory over a directory keeps its children); parent directories missing
 * from the archive are implied. A hard link is bound to the file it names when its layer is
 * applied (as extraction would link the inode there and then).
 *
 * Path lookup stays inside the image: a request path with `..` is refused; symbolic links are
 * followed as inside a chroot (absolute targets start at the image root, relative ones at the
 * link's directory); a `..` that would climb above the root, or more than 40 links, is
 * PATH_INVALID; a missing component is FILE_UNKNOWN.
 */
export interface FsNode {
  name: string;
  type: TarEntryType;
  /** the tar entry (undefined for the root and for implied directories) */
  entry?: TarEntry;
  /** index of the layer the entry comes from */
  layer: number;
  /** where the bytes of a regular file (or of the file a hard link names) are */
  data?: { entry: TarEntry; layer: number };
  children?: Map<string, FsNode>;
}

export const MAX_LINKS = 40;

function dirNode(name: string, layer: number, entry?: TarEntry): FsNode {
  return { name, type: 'dir', layer, entry, children: new Map() };
}

export class MergedTree {
  readonly root: FsNode = dirNode('', -1);

  static build(layers: readonly (readonly TarEntry[])[]): MergedTree {
    const tree = new MergedTree();
    layers.forEach((entries, layer) => tree.apply(entries, layer));
    return tree;
  }

  private apply(entries: readonly TarEntry[], layer: number): void {
    // whiteouts and opaque markers first: they hide the layers below, never this one's entries
    for (const e of entries) {
      const path = normalizeTarPath(e.name);
      if (path === undefined) continue;
      const base = posix.basename(path);
      const parent = posix.dirname(path) === '.' ? '' : posix.dirname(path);
      if (base === OPAQUE_MARKER) {
        const dir = this.find(parent);
        if (dir?.children) dir.children.clear();
      } else if (base.startsWith(WHITEOUT_PREFIX) && base.length > WHITEOUT_PREFIX.length) {
        this.find(parent)?.children?.delete(base.slice(WHITEOUT_PREFIX.length));
      }
    }
    for (const e of entries) {
      const path = normalizeTarPath(e.name);
      if (path === undefined) continue;
      const base = posix.basename(path);
      if (base.startsWith(WHITEOUT_PREFIX)) continue;
      const parent = this.ensureDir(posix.dirname(path) === '.' ? '' : posix.dirname(path), layer);
      const existing = parent.children!.get(base);
      if (e.type === 'dir') {
        if (existing?.type === 'dir') {
          existing.entry = e;
          existing.layer = layer;
        } else parent.children!.set(base, dirNode(base, layer, e));
        continue;
      }
      const node: FsNode = { name: base, type: e.type, entry: e, layer };
      if (e.type === 'reg') node.data = { entry: e, layer };
      if (e.type === 'hardlink') {
        const target = normalizeTarPath(e.linkname);
        const t = target === undefined ? undefined : this.find(target);
        if (t?.data) node.data = t.data;
      }
      parent.children!.set(base, node);
    }
  }

  /** the node at a normalized path, following nothing */
  private find(path: string): FsNode | undefined {
    let node: FsNode | undefined = this.root;
    if (path === '') return node;
    for (const c of path.split('/')) {
      node = node?.children?.get(c);
      if (!node) return undefined;
    }
    return node;
  }

  /** the directory at a normalized path, made (implied) where missing; a non-directory in the way is replaced */
  private ensureDir(path: string, layer: number): FsNode {
    let node = this.root;
    if (path === '') return node;
    for (const c of path.split('/')) {
      let next = node.children!.get(c);
      if (next?.type !== 'dir') {
        next = dirNode(c, layer);
        node.children!.set(c, next);
      }
      node = next;
    }
    return node;
  }

  /**
   * Resolves a request path (`/etc/os-release`, `usr/lib`) to its node, following symbolic links
   * inside the image; the last component's link is followed unless `followLast` is false.
   * Returns the node and its canonical path.
   */
  resolve(requestPath: string, followLast = true): { node: FsNode; path: string } {
    const parts = requestPath.split('/').filter((c) => c !== '' && c !== '.');
    if (parts.includes('..')) throw new WharfError('PATH_INVALID', 'the path has a ".." component');
    let stack: FsNode[] = [this.root];
    let pending = parts;
    let links = 0;
    while (pending.length > 0) {
      const [c, ...rest] = pending as [string, ...string[]];
      pending = rest;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (stack.length === 1) throw new WharfError('PATH_INVALID', `a symbolic link in ${JSON.stringify(requestPath)} leads outside the image root`);
        stack.pop();
        continue;
      }
      const dir = stack[stack.length - 1]!;
      if (dir.type !== 'dir') throw new WharfError('FILE_UNKNOWN', `${JSON.stringify(requestPath)}: not a directory on the way`);
      const child = dir.children!.get(c);
      if (!child) throw new WharfError('FILE_UNKNOWN', `${JSON.stringify(requestPath)}: no such file or directory in the image`);
      if (child.type === 'symlink' && (pending.length > 0 || followLast)) {
        links += 1;
        if (links > MAX_LINKS) throw new WharfError('PATH_INVALID', `${JSON.stringify(requestPath)}: too many symbolic links (a loop?)`);
        const target = child.entry?.linkname ?? '';
        if (target === '') throw new WharfError('FILE_UNKNOWN', `${JSON.stringify(requestPath)}: an empty symbolic link`);
        if (target.startsWith('/')) stack = [this.root];
        pending = [...target.split('/'), ...pending];
        continue;
      }
      stack.push(child);
    }
    return { node: stack[stack.length - 1]!, path: `/${stack.slice(1).map((n) => n.name).join('/')}` };
  }
}
