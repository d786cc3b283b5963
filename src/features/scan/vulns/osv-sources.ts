/**
 * Where OSV records come from in an import: the per-ecosystem zip archives OSV publishes (one
 * JSON record per entry, read with yauzl, one entry at a time), newline-delimited JSON (one record
 * per line: how the CLI sends a directory), or one JSON document (a record, or a list of them).
 * Each yields decoded JSON values; a value that is not JSON is yielded as an Error so the import
 * counts it as rejected and goes on. Every input is bounded.
 */
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';

export interface SourceLimits {
  /** largest single record (a zip entry, an NDJSON line) */
  maxRecordBytes: number;
  /** zip entries read at most */
  maxEntries: number;
}

export const DEFAULT_SOURCE_LIMITS: SourceLimits = { maxRecordBytes: 16 * 1024 * 1024, maxEntries: 2_000_000 };

function decode(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    return new Error(`${where}: not JSON (${(e as Error).message.slice(0, 80)})`);
  }
}

/** Records of an OSV zip archive on disk (a directory of <ID>.json files, as osv.dev publishes). */
export async function* zipRecords(path: string, limits: SourceLimits = DEFAULT_SOURCE_LIMITS): AsyncGenerator<unknown> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: true, strictFileNames: false, validateEntrySizes: true }, (err, z) => (err ? reject(err) : resolve(z!))),
  );
  try {
    if (zip.entryCount > limits.maxEntries) throw new Error(`the archive has ${zip.entryCount} entries; at most ${limits.maxEntries} are read`);
    for (;;) {
      const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
        const onEntry = (e: yauzl.Entry): void => {
          cleanup();
          resolve(e);
        };
        const onEnd = (): void => {
          cleanup();
          resolve(undefined);
        };
        const onError = (err: Error): void => {
          cleanup();
          reject(err);
        };
        const cleanup = (): void => {
          zip.off('entry', onEntry);
          zip.off('end', onEnd);
          zip.off('error', onError);
        };
        zip.on('entry', onEntry);
        zip.on('end', onEnd);
        zip.on('error', onError);
        zip.readEntry();
      });
      if (!entry) return;
      if (entry.fileName.endsWith('/') || !entry.fileName.endsWith('.json')) continue;
      if (entry.uncompressedSize > limits.maxRecordBytes) {
        yield new Error(`${entry.fileName}: ${entry.uncompressedSize} bytes, over the ${limits.maxRecordBytes}-byte record limit`);
        continue;
      }
      const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s!))));
      const parts: Buffer[] = [];
      for await (const c of stream as AsyncIterable<Buffer>) parts.push(c);
      yield decode(Buffer.concat(parts).toString('utf8'), entry.fileName);
    }
  } finally {
    zip.close();
  }
}

/** Records of newline-delimited JSON; a line longer than the record limit is an error. */
export async function* ndjsonRecords(stream: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, limits: SourceLimits = DEFAULT_SOURCE_LIMITS): AsyncGenerator<unknown> {
  let pending = '';
  let line = 0;
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      line++;
      if (text !== '') yield decode(text, `line ${line}`);
    }
    if (pending.length > limits.maxRecordBytes) throw new Error(`line ${line + 1} is longer than ${limits.maxRecordBytes} bytes`);
  }
  if (pending.trim() !== '') yield decode(pending.trim(), `line ${line + 1}`);
}

/** Records of one JSON document: a record, or a list of records. */
export function* jsonDocumentRecords(text: string): Generator<unknown> {
  const v = decode(text, 'document');
  if (Array.isArray(v)) yield* v;
  else yield v;
}
