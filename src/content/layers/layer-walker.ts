/**
 * The final filesystem's view of the files an inventory asks for, built as a LayerConsumer of
 * one pass over the layers (layer-reader.ts): it keeps only what `want` asks for — the contents of
 * a few files (package databases, version files) and the names of others (e.g.
 * libnccl.so.2.18.3). Whiteouts and opaque directories (OCI image-spec "layer.md") are applied
 * across layers, so the result is the final filesystem's view of those files, each with the layer
 * that last wrote it; files read with `history` also keep each layer's version (to tell which
 * layer introduced each package of a database file). Nothing is written to disk.
 *
 * Bounded: a wanted file over `maxFileBytes` is skipped with a warning, and the contents held at
 * once may not pass `maxBufferedBytes` (a LayerError). `walkLayers` runs a pass with this consumer
 * alone; to share the pass, hand `new FileViewConsumer(...)` to `readLayers` with the others.
 */
import { posix } from 'node:path';
import { LayerError, readLayers, type EntrySink, type LayerConsumer, type LayerEntry, type LayerSource, type LayerSummary, type ReadLimits } from './layer-reader.js';

export { LayerError, normalizeTarPath, type LayerSource, type LayerSummary } from './layer-reader.js';

/** What to keep of a path: its content (last version), every layer's content, or only its presence. */
export type Want = 'content' | 'history' | 'name' | undefined;

export interface WalkLimits extends ReadLimits {
  /** a wanted file larger than this is skipped (and reported as a warning) */
  maxFileBytes: number;
  /** contents held at once, all files and versions together */
  maxBufferedBytes: number;
}

export const DEFAULT_WALK_LIMITS: WalkLimits = {
  maxEntries: 2_000_000,
  maxFileBytes: 32 * 1024 * 1024,
  maxBufferedBytes: 256 * 1024 * 1024,
  maxUncompressedBytes: 64 * 1024 ** 3,
  maxCompressionRatio: 250,
  maxZstdWindowBytes: 128 * 1024 * 1024,
};

export interface FileVersion {
  layer: number;
  content: Buffer;
}

export interface ViewEntry {
  path: string;
  /** index of the layer that last wrote it */
  layer: number;
  kind: 'file' | 'symlink';
  /** symlink target as written in the tar */
  linkTarget?: string;
  size: number;
  /** want 'content' or 'history': the final content */
  content?: Buffer;
  /** want 'history': every version since the path was last created, oldest first */
  history?: FileVersion[];
}

export interface FileView {
  /** relative paths without a leading slash, e.g. etc/os-release */
  files: Map<string, ViewEntry>;
  layers: LayerSummary[];
  warnings: string[];
}

/** Directories that hold a kept path, with counts, so "is anything kept under D?" is one lookup. */
class DirIndex {
  private readonly counts = new Map<string, number>();
  add(path: string): void {
    for (let d = posix.dirname(path); d !== '.'; d = posix.dirname(d)) this.counts.set(d, (this.counts.get(d) ?? 0) + 1);
  }
  remove(path: string): void {
    for (let d = posix.dirname(path); d !== '.'; d = posix.dirname(d)) {
      const n = (this.counts.get(d) ?? 0) - 1;
      if (n <= 0) this.counts.delete(d);
      else this.counts.set(d, n);
    }
  }
  has(dir: string): boolean {
    return this.counts.has(dir);
  }
}

interface LayerChanges {
  /** whiteouts: these paths and everything under them, in lower layers */
  deleted: string[];
  /** opaque directories: everything under them, in lower layers */
  opaque: string[];
  /** directories this layer creates (a lower non-directory there is replaced) */
  dirs: string[];
  /** files, symlinks and hard links this layer writes (kept ones) */
  written: Map<string, ViewEntry>;
  /** non-directory paths this layer writes that are not kept (a lower directory there is replaced) */
  replacedPaths: string[];
}

/** Builds the FileView of the paths `want` asks for, from one pass's entries. */
export class FileViewConsumer implements LayerConsumer {
  private readonly files = new Map<string, ViewEntry>();
  private readonly dirIndex = new DirIndex();
  private readonly warnings: string[] = [];
  private buffered = 0;
  private changes: LayerChanges = emptyChanges();
  private layerBuffered = 0;
  private index = 0;
  private digest = '';

  constructor(
    private readonly want: (path: string) => Want,
    private readonly limits: Pick<WalkLimits, 'maxFileBytes' | 'maxBufferedBytes'> = DEFAULT_WALK_LIMITS,
  ) {}

  private fail(message: string): LayerError {
    return new LayerError(this.index, this.digest, message, true);
  }

  private bytesOf(e: ViewEntry): number {
    return e.history ? e.history.reduce((n, v) => n + v.content.length, 0) : (e.content?.length ?? 0);
  }

  private drop(path: string): void {
    const e = this.files.get(path);
    if (!e) return;
    this.buffered -= this.bytesOf(e);
    this.files.delete(path);
    this.dirIndex.remove(path);
  }

  private dropUnder(dir: string): void {
    if (!this.dirIndex.has(dir)) return;
    const prefix = `${dir}/`;
    for (const p of [...this.files.keys()]) if (p.startsWith(prefix)) this.drop(p);
  }

  private hold(bytes: number): void {
    this.layerBuffered += bytes;
    if (this.buffered + this.layerBuffered > this.limits.maxBufferedBytes) throw this.fail(`files to inspect exceed ${this.limits.maxBufferedBytes} bytes`);
  }

  startLayer(layer: number, digest: string): void {
    this.index = layer;
    this.digest = digest;
    this.changes = emptyChanges();
    this.layerBuffered = 0;
  }

  entry(e: LayerEntry): EntrySink | undefined {
    const { changes } = this;
    const path = e.path;
    if (e.kind === 'opaque') {
      changes.opaque.push(path);
      return undefined;
    }
    if (e.kind === 'whiteout') {
      changes.deleted.push(path);
      return undefined;
    }
    if (e.kind === 'directory') {
      changes.dirs.push(path);
      return undefined;
    }
    const w = this.want(path);
    if (w === undefined || e.kind === 'other') {
      changes.replacedPaths.push(path);
      return undefined;
    }
    if (e.kind === 'symlink') {
      changes.written.set(path, { path, layer: e.layer, kind: 'symlink', linkTarget: e.linkTarget ?? '', size: 0 });
      return undefined;
    }
    if (e.kind === 'link') {
      // a hard link: the same content as its target, in this layer or below
      const source = e.linkTarget === undefined ? undefined : (changes.written.get(e.linkTarget) ?? this.files.get(e.linkTarget));
      const content = w === 'name' ? undefined : source?.content;
      if (content) this.hold(content.length);
      changes.written.set(path, { path, layer: e.layer, kind: 'file', size: source?.size ?? 0, ...(content ? { content } : {}) });
      return undefined;
    }
    const size = e.size;
    if (w === 'name') {
      changes.written.set(path, { path, layer: e.layer, kind: 'file', size });
      return undefined;
    }
    if (size > this.limits.maxFileBytes) {
      this.warnings.push(`${path} in layer ${e.layer} is ${size} bytes, over the ${this.limits.maxFileBytes}-byte limit for files read: skipped`);
      changes.replacedPaths.push(path);
      return undefined;
    }
    this.hold(size);
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    return {
      write: (chunk) => {
        if (at + chunk.length > size) throw this.fail(`${path}: more bytes than its header says`);
        chunk.copy(out, at);
        at += chunk.length;
      },
      end: () => {
        const content = at === size ? out : out.subarray(0, at);
        const previous = changes.written.get(path);
        if (previous?.content) this.layerBuffered -= previous.content.length;
        changes.written.set(path, { path, layer: e.layer, kind: 'file', size, content });
      },
    };
  }

  endLayer(): void {
    const { changes } = this;
    // this layer's whiteouts and replacements apply to the lower layers only (OCI layer.md)
    for (const d of changes.deleted) {
      this.drop(d);
      this.dropUnder(d);
    }
    for (const d of changes.opaque) {
      if (d === '') for (const p of [...this.files.keys()]) this.drop(p);
      else this.dropUnder(d);
    }
    for (const d of changes.dirs) if (this.files.has(d)) this.drop(d);
    for (const p of changes.replacedPaths) {
      this.drop(p);
      this.dropUnder(p);
    }
    for (const [p, entry] of changes.written) {
      this.dropUnder(p);
      const lower = this.files.get(p);
      if (this.want(p) === 'history' && entry.content) {
        const history = lower?.history && lower.kind === 'file' ? lower.history : [];
        if (lower) this.buffered -= this.bytesOf(lower);
        entry.history = [...history, { layer: this.index, content: entry.content }];
        this.buffered += this.bytesOf(entry);
      } else {
        if (lower) this.buffered -= this.bytesOf(lower);
        this.buffered += entry.content?.length ?? 0;
      }
      if (!lower) this.dirIndex.add(p);
      this.files.set(p, entry);
    }
    this.changes = emptyChanges();
    if (this.buffered > this.limits.maxBufferedBytes) throw this.fail(`files to inspect exceed ${this.limits.maxBufferedBytes} bytes`);
  }

  /** The view after the last layer (with the pass's layer summaries). */
  view(layers: LayerSummary[]): FileView {
    return { files: this.files, layers, warnings: this.warnings };
  }
}

function emptyChanges(): LayerChanges {
  return { deleted: [], opaque: [], dirs: [], written: new Map(), replacedPaths: [] };
}

/** One pass with a FileViewConsumer alone. */
export async function walkLayers(layers: readonly LayerSource[], want: (path: string) => Want, limits: WalkLimits = DEFAULT_WALK_LIMITS): Promise<FileView> {
  const consumer = new FileViewConsumer(want, limits);
  const summaries = await readLayers(layers, [consumer], limits);
  return consumer.view(summaries);
}
