/**
 * Reads a wheel's core metadata (`{name}-{version}.dist-info/METADATA`) while the wheel streams
 * into the blob store, without a second pass over the bytes: the wheel format puts `.dist-info`
 * at the end of the archive and a zip's central directory is at its very end, so the last bytes
 * of the stream (TailKeeper, bounded) hold both. yauzl reads the archive from that tail; a wheel
 * whose directory or METADATA lies before the tail is refused with a clear message rather than
 * read twice.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import yauzl from 'yauzl';

export const DEFAULT_TAIL_BYTES = 16 * 1024 * 1024;
export const MAX_METADATA_BYTES = 4 * 1024 * 1024;
const MAX_ENTRIES = 500_000;

/** Why a wheel's metadata could not be read (the upload is refused with this message). */
export class WheelMetadataError extends Error {}

/**
 * Passes bytes through unchanged in one stage: counts them (failing with `tooLarge()` past
 * `maxBytes`), feeds `hash` when given, and keeps the last `tailBytes` of them (references to the
 * chunks, not copies; 0 keeps nothing).
 */
export class TailKeeper extends Transform {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;

  constructor(
    private readonly tailBytes: number = DEFAULT_TAIL_BYTES,
    private readonly limit: { maxBytes: number; tooLarge(): Error } = { maxBytes: Number.MAX_SAFE_INTEGER, tooLarge: () => new Error('too large') },
    private readonly hash?: { update(chunk: Buffer): unknown },
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.limit.maxBytes) {
      done(this.limit.tooLarge());
      return;
    }
    this.hash?.update(chunk);
    if (this.tailBytes > 0) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
      while (this.chunks.length > 1 && this.kept - this.chunks[0]!.length >= this.tailBytes) this.kept -= this.chunks.shift()!.length;
    }
    done(null, chunk);
  }

  /** The kept bytes and the offset of their first byte in the whole stream. */
  tail(): { bytes: Buffer; start: number } {
    const bytes = Buffer.concat(this.chunks);
    const trimmed = bytes.length > this.tailBytes ? bytes.subarray(bytes.length - this.tailBytes) : bytes;
    this.chunks = [trimmed];
    this.kept = trimmed.length;
    return { bytes: trimmed, start: this.total - trimmed.length };
  }
}

class OutsideTail extends Error {}

/** Random access to the tail of a file of `size` bytes; reads before it fail with OutsideTail. */
class TailReader extends yauzl.RandomAccessReader {
  constructor(
    private readonly bytes: Buffer,
    private readonly start: number,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    if (start < this.start) {
      const r = new Readable({ read() {} });
      process.nextTick(() => r.destroy(new OutsideTail(`bytes ${start}-${end}`)));
      return r;
    }
    return Readable.from([this.bytes.subarray(start - this.start, end - this.start)]);
  }
}

/**
 * The METADATA file of a wheel whose last bytes are `tail` (starting at offset `tailStart` of a
 * `size`-byte file). Throws WheelMetadataError when the file is not a zip, has no (or more than
 * one) top-level `*.dist-info/METADATA`, or it is too large.
 */
export async function readWheelMetadata(tail: Buffer, tailStart: number, size: number): Promise<{ dir: string; metadata: Buffer }> {
  const reader = new TailReader(tail, tailStart);
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(reader, size, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true });
  } catch (e) {
    throw explain(e, 'the wheel is not a zip archive');
  }
  try {
    if (zip.entryCount > MAX_ENTRIES) throw new WheelMetadataError(`the wheel has ${zip.entryCount} entries; at most ${MAX_ENTRIES} are accepted`);
    let found: yauzl.Entry | undefined;
    for (;;) {
      const entry = await nextEntry(zip);
      if (!entry) break;
      if (!/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) continue;
      if (found) throw new WheelMetadataError(`the wheel has two METADATA files (${found.fileName}, ${entry.fileName})`);
      found = entry;
    }
    if (!found) throw new WheelMetadataError('the wheel has no {name}-{version}.dist-info/METADATA file');
    if (found.uncompressedSize > MAX_METADATA_BYTES) throw new WheelMetadataError(`METADATA is ${found.uncompressedSize} bytes; at most ${MAX_METADATA_BYTES} are accepted`);
    const stream = await zip.openReadStreamPromise(found);
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of stream as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > MAX_METADATA_BYTES) throw new WheelMetadataError(`METADATA is larger than ${MAX_METADATA_BYTES} bytes`);
      parts.push(c);
    }
    return { dir: found.fileName.slice(0, found.fileName.indexOf('/')), metadata: Buffer.concat(parts) };
  } catch (e) {
    throw explain(e, 'the wheel is not a valid zip archive');
  } finally {
    zip.close();
  }
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (e: yauzl.Entry): void => (cleanup(), resolve(e));
    const onEnd = (): void => (cleanup(), resolve(undefined));
    const onError = (err: Error): void => (cleanup(), reject(err));
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function explain(e: unknown, what: string): WheelMetadataError {
  if (e instanceof WheelMetadataError) return e;
  if (e instanceof OutsideTail) {
    return new WheelMetadataError(`the wheel's zip directory or METADATA is not within its last ${Math.round(DEFAULT_TAIL_BYTES / 1048576)} MiB (the wheel format puts .dist-info at the end of the archive)`);
  }
  return new WheelMetadataError(`${what}: ${(e as Error).message?.slice(0, 200) ?? String(e)}`);
}

/** Core metadata (RFC 822-style headers, PEP 566): the fields the index needs. */
export interface CoreMetadata {
  metadataVersion?: string;
  name?: string;
  version?: string;
  requiresPython?: string;
  summary?: string;
}

/** Parses the header block of a METADATA / PKG-INFO file (continuation lines folded; the body ignored). */
export function parseCoreMetadata(bytes: Buffer): CoreMetadata {
  const text = bytes.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const head = end === -1 ? text : text.slice(0, end);
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last !== undefined) {
      fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i).trim().toLowerCase();
    if (!fields.has(last)) fields.set(last, line.slice(i + 1).trim());
  }
  return {
    metadataVersion: fields.get('metadata-version'),
    name: fields.get('name'),
    version: fields.get('version'),
    requiresPython: fields.get('requires-python'),
    summary: fields.get('summary'),
  };
}
