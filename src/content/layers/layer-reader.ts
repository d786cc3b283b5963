/**
 * One pass over an image's layers that feeds several consumers: each layer blob is opened once,
 * decompressed once (decompress.ts: gzip, zstd or plain tar, told by magic bytes) and parsed once
 * (tar-stream); every tar entry is offered to every consumer, and a regular file's bytes are
 * handed, chunk by chunk, to every consumer that asked for them. So the scan's inventory and the
 * insights accounting (and later the lazy-pull file table) share one decompression.
 *
 * The reader decodes OCI whiteouts (`.wh.<name>`) and opaque markers (`.wh..wh..opq`) into entry
 * kinds but applies nothing across layers: what "the final filesystem" means is each consumer's
 * business (layer-walker.ts builds that view).
 *
 * Limits the reader keeps: tar entries, uncompressed bytes, the decompression ratio and the zstd
 * window. A consumer may stop the pass by throwing (a LayerError keeps its message; anything else
 * is reported as an unreadable layer). A bomb or a malformed archive ends the pass with a
 * LayerError, never a crash.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, type Header } from 'tar-stream';
import { decompressLayer, LayerLimitError, type ByteCounts, type Compression } from './decompress.js';
import { ZstdLimitError } from './zstd-frame-guard.js';

export interface ReadLimits {
  /** tar entries in all layers together */
  maxEntries: number;
  /** uncompressed tar bytes of all layers together */
  maxUncompressedBytes: number;
  /** uncompressed / compressed, per layer, once past 16 MiB of output */
  maxCompressionRatio: number;
  maxZstdWindowBytes: number;
}

export interface LayerSource {
  digest: string;
  /** the layer blob's bytes (compressed or not) */
  open(): Promise<Readable>;
}

export interface LayerSummary {
  digest: string;
  compression: Compression;
  compressedBytes: number;
  uncompressedBytes: number;
  entries: number;
}

export type EntryKind = 'file' | 'link' | 'symlink' | 'directory' | 'whiteout' | 'opaque' | 'other';

export interface LayerEntry {
  /** index of the layer in the pass */
  layer: number;
  kind: EntryKind;
  /**
   * relative path without a leading slash; for a whiteout the path it hides, for an opaque
   * marker the directory whose lower contents it hides ('' for the root)
   */
  path: string;
  /** bytes of a regular file (0 for everything else) */
  size: number;
  /** symlink target as written, or a hard link's target path (normalized) */
  linkTarget?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** Receives one file's bytes in order; `end` after the last chunk. Chunks must not be kept past the call unless copied. */
export interface EntrySink {
  write(chunk: Buffer): void;
  end(): void;
}

/**
 * A reader of layer contents. Calls come in order: startLayer, entry for each tar entry (with
 * its sink, when one was returned, fed completely before the next entry), endLayer.
 */
export interface LayerConsumer {
  startLayer?(layer: number, digest: string): void;
  /** return a sink to read a regular file's (or a hard link's, 0 bytes) content; throw to stop the pass */
  entry(entry: LayerEntry): EntrySink | undefined;
  endLayer?(summary: LayerSummary, layer: number): void;
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

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** tar names are relative, may start with ./ or /, may have .. : a clean relative path, or undefined for the root */
export function normalizeTarPath(name: string): string | undefined {
  const p = posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return p === '' || p === '.' ? undefined : p;
}

/** The entry a tar header stands for, or undefined for one that names nothing (the root, a bare `.wh.`). */
export function entryOf(header: Header, layer: number): LayerEntry | undefined {
  const path = normalizeTarPath(header.name);
  if (path === undefined) return undefined;
  const base = posix.basename(path);
  const parent = posix.dirname(path);
  const meta = { layer, size: 0, ...(header.mode !== undefined ? { mode: header.mode } : {}), ...(header.uid !== undefined ? { uid: header.uid } : {}), ...(header.gid !== undefined ? { gid: header.gid } : {}) };
  if (base === OPAQUE_MARKER) return { ...meta, kind: 'opaque', path: parent === '.' ? '' : parent };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    if (base.length === WHITEOUT_PREFIX.length) return undefined;
    const name = base.slice(WHITEOUT_PREFIX.length);
    return { ...meta, kind: 'whiteout', path: parent === '.' ? name : `${parent}/${name}` };
  }
  const type = header.type ?? 'file';
  if (type === 'directory') return { ...meta, kind: 'directory', path };
  if (type === 'symlink') return { ...meta, kind: 'symlink', path, linkTarget: header.linkname ?? '' };
  if (type === 'link') {
    const target = normalizeTarPath(header.linkname ?? '');
    return { ...meta, kind: 'link', path, ...(target !== undefined ? { linkTarget: target } : {}) };
  }
  if (type === 'file' || type === 'contiguous-file') return { ...meta, kind: 'file', path, size: header.size ?? 0 };
  return { ...meta, kind: 'other', path };
}

/**
 * Reads `layers` in order, once each, feeding every consumer. Resolves with each layer's summary;
 * rejects with a LayerError when a layer breaks a limit, is unreadable, or a consumer stops it.
 */
export async function readLayers(layers: readonly LayerSource[], consumers: readonly LayerConsumer[], limits: ReadLimits): Promise<LayerSummary[]> {
  const summaries: LayerSummary[] = [];
  let entries = 0;
  let totalBytes = 0;
  for (let index = 0; index < layers.length; index++) {
    const layer = layers[index]!;
    const counts: ByteCounts = { compressed: 0, uncompressed: 0 };
    let layerEntries = 0;
    let compression: Compression = 'none';
    const fail = (message: string, limit: boolean): LayerError => new LayerError(index, layer.digest, message, limit);
    for (const c of consumers) c.startLayer?.(index, layer.digest);

    const onEntry = async (header: Header, body: EntryBody): Promise<void> => {
      entries++;
      layerEntries++;
      if (entries > limits.maxEntries) throw fail(`more than ${limits.maxEntries} tar entries`, true);
      const entry = entryOf(header, index);
      if (entry === undefined) return;
      let sinks: EntrySink[] | undefined;
      for (const c of consumers) {
        const sink = c.entry(entry);
        if (sink && (entry.kind === 'file' || entry.kind === 'link')) (sinks ??= []).push(sink);
      }
      if (!sinks) return;
      if (entry.kind === 'file') {
        for await (const chunk of body) for (const s of sinks) s.write(chunk);
      }
      for (const s of sinks) s.end();
    };

    try {
      const blob = await layer.open();
      const opened = await decompressLayer(blob, counts, {
        maxBytes: limits.maxUncompressedBytes - totalBytes,
        maxRatio: limits.maxCompressionRatio,
        ratioFloorBytes: 16 * 1024 * 1024,
        maxZstdWindowBytes: limits.maxZstdWindowBytes,
      });
      const { source, streams } = opened;
      compression = opened.compression;
      const extractor = tarExtract();
      // pipeline destroys every stream with the first error, but a stream may still report a
      // late one after pipeline stopped listening; that must not become an uncaught exception
      for (const s of [source, ...streams] as NodeJS.EventEmitter[]) s.on('error', () => undefined);
      extractor.on('error', () => undefined);
      extractor.on('entry', (header, entrySource, next) => {
        const stream = entrySource as unknown as EntryBody;
        // listen before reading: an entry read whole has ended by the time onEntry resolves
        const ended = new Promise<void>((resolve) => stream.on('end', resolve));
        // when the pass fails, the extractor destroys the entry with that error: not uncaught
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
    } catch (e) {
      if (e instanceof LayerError) throw e;
      const limit = e instanceof LayerLimitError || e instanceof ZstdLimitError;
      throw fail(limit ? (e as Error).message : `not a readable layer: ${(e as Error).message}`, limit);
    }
    totalBytes += counts.uncompressed;
    const summary: LayerSummary = { digest: layer.digest, compression, compressedBytes: counts.compressed, uncompressedBytes: counts.uncompressed, entries: layerEntries };
    summaries.push(summary);
    for (const c of consumers) c.endLayer?.(summary, index);
  }
  return summaries;
}
