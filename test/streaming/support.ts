/** Test layers for the streaming feature: tars written with tar-stream, compressed by Node or the gzip CLI. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import type { OpenRange } from '../../src/features/streaming/layer-reader.js';

export interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: Buffer | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  pax?: Record<string, string>;
}

export async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const content = typeof e.content === 'string' ? Buffer.from(e.content) : e.content;
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: new Date(1_700_000_000_000), pax: e.pax },
        (e.type === undefined || e.type === 'file' ? (content ?? Buffer.alloc(0)) : undefined) as Buffer,
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Every regular file of a tar, as tar-stream reads it (the reference extraction). */
export async function extract(tar: Buffer): Promise<Map<string, { type: string; content: Buffer; linkname?: string }>> {
  const ex = tarStream.extract();
  const out = new Map<string, { type: string; content: Buffer; linkname?: string }>();
  ex.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: unknown) => void parts.push(c as Buffer));
    stream.on('end', () => {
      out.set(header.name, { type: header.type ?? 'file', content: Buffer.concat(parts), linkname: header.linkname ?? undefined });
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(tar);
  });
  return out;
}

/** gzip by the gzip CLI (what most image builders' Go compress/gzip output resembles: one member). */
export function gzipCli(data: Buffer, level = 6): Buffer {
  const r = spawnSync('gzip', [`-${level}`, '-c', '-n'], { input: data, maxBuffer: 2 * 1024 ** 3 });
  if (r.status !== 0) throw new Error(`gzip failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** incompressible but deterministic bytes (sha256 in counter mode) */
function noise(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, k = 0; i < n; i += 32, k += 1) createHash('sha256').update(`${seed}:${k}`).digest().copy(out, i);
  return out;
}

/** half noise, half text, deterministic for a seed: spans of both kinds of deflate blocks */
export function mixedContent(size: number, seed = 0): Buffer {
  const b = Buffer.alloc(size);
  let at = 0;
  let k = seed;
  while (at < size) {
    const n = Math.min(size - at, 4096 + ((k * 7919) % 60000));
    if (k % 2 === 0) noise(n, k).copy(b, at);
    else b.write(`line ${k} of some very repetitive text; `.repeat(Math.ceil(n / 30)).slice(0, n), at);
    at += n;
    k += 1;
  }
  return b;
}

/** An OpenRange over bytes in memory that counts what was read. */
export function memoryRange(blob: Buffer): { open: OpenRange; read: () => number } {
  let read = 0;
  return {
    open: async ({ start, end }) => {
      if (start < 0 || end >= blob.length || end < start) throw new Error(`bad range ${start}-${end} of ${blob.length}`);
      read += end - start + 1;
      return Readable.from([blob.subarray(start, end + 1)]);
    },
    read: () => read,
  };
}

export async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
