/**
 * The layer walker: reads each layer of an image once, in order, as a stream (decompress.ts, then
 * tar-stream), and keeps only what the inventory asks for — the contents of a few files (package
 * databases, version files) and the names of others (e.g. libnccl.so.2.18.3). Whiteouts and opaque
 * directories (OCI image-spec "layer.md") are applied across layers, so the result is the final
 * filesystem's view of those files, each with the layer that last wrote it; files read with
 * `history` also keep each layer's version (to tell which layer introduced each package of a
 * database file). Nothing is written to disk.
 *
 * Every input is bounded (entries, bytes, ratio, file size, buffered bytes); a layer that breaks a
 * limit or is not a readable tar ends the walk with a LayerError, never a crash.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, type Header } from 'tar-stream';
import { decompressLayer, LayerLimitError, type ByteCounts, type Compression } from './decompress.js';
import { ZstdLimitError } from './zstd-frame-guard.js';

/** What to keep of a path: its content (last version), every layer's content, or only its presence. */
export type Want = 'content' | 'history' | 'name' | undefined;

export interface WalkLimits {
  /** tar entries in all layers together */
  maxEntries: number;
  /** a wanted file larger than this is skipped (and reported as a warning) */
  maxFileBytes: number;
  /** contents held at once, all files and versions together */
  maxBufferedBytes: number;
  /** uncompressed tar bytes of all layers together */
  maxUncompressedBytes: number;
  /** uncompressed / compressed, per layer, once past 16 MiB of output */
  maxCompressionRatio: number;
  maxZstdWindowBytes: number;
}

export const DEFAULT_WALK_LIMITS: WalkLimits = {
  maxEntries: 2_000_000,
  maxFileBytes: 32 * 1024 * 1024,
  maxBufferedBytes: 256 * 1024 * 1024,
  maxUncompressedBytes: 64 * 1024 ** 3,
  maxCompressionRatio: 250,
  maxZstdWindowBytes: 128 * 1024 * 1024,
};

export interface LayerSource {
  digest: string;
  /** the layer blob's bytes (compressed or not) */
  open(): Promise<Readable>;
}

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

export interface LayerSummary {
  digest: string;
  compression: Compression;
  compressedBytes: number;
  uncompressedBytes: number;
  entries: number;
}

export interface FileView {
  /** relative paths without a leading slash, e.g. etc/os-release */
  files: Map<string, ViewEntry>;
  layers: LayerSummary[];
  warnings: string[];
}

export class LayerError extends Error {
  constructor(
    readonly layer: number,
    readonly digest: string,
    message: string,
    readonly limit: boolean,
  ) {
    super(`layer ${layer} (${digest}): ${message}`);
  }
}

/** an entry's body as tar-stream hands it over (a streamx Readable) */
interface EntryBody extends AsyncIterable<Buffer> {
  resume(): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** tar names are relative, may start with ./ or /, may have .. : a clean relative path, or undefined for the root */
export function normalizeTarPath(name: string): string | undefined {
  const p = posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return p === '' || p === '.' ? undefined : p;
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

export async function walkLayers(layers: readonly LayerSource[], want: (path: string) => Want, limits: WalkLimits = DEFAULT_WALK_LIMITS): Promise<FileView> {
  const files = new Map<string, ViewEntry>();
  const dirs = new DirIndex();
  const summaries: LayerSummary[] = [];
  const warnings: string[] = [];
  let entries = 0;
  let buffered = 0;
  let totalBytes = 0;

  const bytesOf = (e: ViewEntry): number => (e.history ? e.history.reduce((n, v) => n + v.content.length, 0) : (e.content?.length ?? 0));
  const drop = (path: string): void => {
    const e = files.get(path);
    if (!e) return;
    buffered -= bytesOf(e);
    files.delete(path);
    dirs.remove(path);
  };
  const dropUnder = (dir: string): void => {
    if (!dirs.has(dir)) return;
    const prefix = `${dir}/`;
    for (const p of [...files.keys()]) if (p.startsWith(prefix)) drop(p);
  };

  for (let index = 0; index < layers.length; index++) {
    const layer = layers[index]!;
    const changes: LayerChanges = { deleted: [], opaque: [], dirs: [], written: new Map(), replacedPaths: [] };
    const counts: ByteCounts = { compressed: 0, uncompressed: 0 };
    let layerEntries = 0;
    let layerBuffered = 0;
    const fail = (message: string, limit: boolean): LayerError => new LayerError(index, layer.digest, message, limit);

    const onEntry = async (header: Header, body: EntryBody): Promise<void> => {
      entries++;
      layerEntries++;
      if (entries > limits.maxEntries) throw fail(`more than ${limits.maxEntries} tar entries`, true);
      const path = normalizeTarPath(header.name);
      const type = header.type ?? 'file';
      if (path === undefined) return;
      const base = posix.basename(path);
      const parent = posix.dirname(path);
      if (base === OPAQUE) {
        changes.opaque.push(parent === '.' ? '' : parent);
        return;
      }
      if (base.startsWith(WHITEOUT)) {
        const target = parent === '.' ? base.slice(WHITEOUT.length) : `${parent}/${base.slice(WHITEOUT.length)}`;
        if (base.length > WHITEOUT.length) changes.deleted.push(target);
        return;
      }
      if (type === 'directory') {
        changes.dirs.push(path);
        return;
      }
      const w = want(path);
      if (w === undefined) {
        changes.replacedPaths.push(path);
        return;
      }
      if (type === 'symlink') {
        changes.written.set(path, { path, layer: index, kind: 'symlink', linkTarget: header.linkname ?? '', size: 0 });
        return;
      }
      if (type === 'link') {
        // a hard link: the same content as its target, in this layer or below
        const target = normalizeTarPath(header.linkname ?? '');
        const source = target === undefined ? undefined : (changes.written.get(target) ?? files.get(target));
        const content = w === 'name' ? undefined : source?.content;
        if (content) {
          layerBuffered += content.length;
          if (buffered + layerBuffered > limits.maxBufferedBytes) throw fail(`files to inspect exceed ${limits.maxBufferedBytes} bytes`, true);
        }
        changes.written.set(path, { path, layer: index, kind: 'file', size: source?.size ?? 0, ...(content ? { content } : {}) });
        return;
      }
      if (type !== 'file' && type !== 'contiguous-file') {
        changes.replacedPaths.push(path);
        return;
      }
      const size = header.size ?? 0;
      if (w === 'name') {
        changes.written.set(path, { path, layer: index, kind: 'file', size });
        return;
      }
      if (size > limits.maxFileBytes) {
        warnings.push(`${path} in layer ${index} is ${size} bytes, over the ${limits.maxFileBytes}-byte limit for files read: skipped`);
        changes.replacedPaths.push(path);
        return;
      }
      layerBuffered += size;
      if (buffered + layerBuffered > limits.maxBufferedBytes) throw fail(`files to inspect exceed ${limits.maxBufferedBytes} bytes`, true);
      const content = await readAll(body, size);
      const previous = changes.written.get(path);
      if (previous?.content) layerBuffered -= previous.content.length;
      changes.written.set(path, { path, layer: index, kind: 'file', size, content });
    };

    try {
      const blob = await layer.open();
      const { compression, source, streams } = await decompressLayer(blob, counts, {
        maxBytes: limits.maxUncompressedBytes - totalBytes,
        maxRatio: limits.maxCompressionRatio,
        ratioFloorBytes: 16 * 1024 * 1024,
        maxZstdWindowBytes: limits.maxZstdWindowBytes,
      });
      const extractor = tarExtract();
      // pipeline destroys every stream with the first error, but a stream may still report a
      // late one after pipeline stopped listening; that must not become an uncaught exception
      for (const s of [source, ...streams] as NodeJS.EventEmitter[]) s.on('error', () => undefined);
      extractor.on('error', () => undefined);
      extractor.on('entry', (header, source, next) => {
        const stream = source as unknown as EntryBody;
        // listen before reading: an entry read whole has ended by the time onEntry resolves
        const ended = new Promise<void>((resolve) => stream.on('end', resolve));
        // when the walk fails, the extractor destroys the entry with that error: not uncaught
        stream.on('error', () => undefined);
        onEntry(header, stream).then(
          async () => {
            // whatever was not read is skipped (tar-stream needs the entry drained)
            stream.resume();
            await ended;
            next();
          },
          (err: unknown) => {
            stream.resume();
            next(err as Error);
          },
        );
      });
      await pipeline([source, ...streams, extractor as unknown as NodeJS.WritableStream]);
      summaries.push({ digest: layer.digest, compression, compressedBytes: counts.compressed, uncompressedBytes: counts.uncompressed, entries: layerEntries });
    } catch (e) {
      if (e instanceof LayerError) throw e;
      const limit = e instanceof LayerLimitError || e instanceof ZstdLimitError;
      throw fail(limit ? (e as Error).message : `not a readable layer: ${(e as Error).message}`, limit);
    }
    totalBytes += counts.uncompressed;

    // this layer's whiteouts and replacements apply to the lower layers only (OCI layer.md)
    for (const d of changes.deleted) {
      drop(d);
      dropUnder(d);
    }
    for (const d of changes.opaque) {
      if (d === '') for (const p of [...files.keys()]) drop(p);
      else dropUnder(d);
    }
    for (const d of changes.dirs) {
      const lower = files.get(d);
      if (lower) drop(d);
    }
    for (const p of changes.replacedPaths) {
      drop(p);
      dropUnder(p);
    }
    for (const [p, entry] of changes.written) {
      dropUnder(p);
      const lower = files.get(p);
      if (want(p) === 'history' && entry.content) {
        const history = lower?.history && lower.kind === 'file' ? lower.history : [];
        if (lower) buffered -= bytesOf(lower);
        entry.history = [...history, { layer: index, content: entry.content }];
        buffered += bytesOf(entry);
      } else {
        if (lower) buffered -= bytesOf(lower);
        buffered += entry.content?.length ?? 0;
      }
      if (!lower) dirs.add(p);
      files.set(p, entry);
    }
    if (buffered > limits.maxBufferedBytes) throw fail(`files to inspect exceed ${limits.maxBufferedBytes} bytes`, true);
  }
  return { files, layers: summaries, warnings };
}

async function readAll(stream: EntryBody, size: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for await (const chunk of stream) {
    chunk.copy(out, at);
    at += chunk.length;
  }
  return at === size ? out : out.subarray(0, at);
}
