/**
 * Builds image layers in tests: tar archives (tar-stream's packer), gzip, and zstd — hand-made
 * frames of raw or RLE blocks (valid zstd that needs no compressor, and the shape of a zstd bomb),
 * or the `zstd` command when it is installed.
 */
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export interface TarEntry {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  /** declared size, when it should differ from the content (never for valid archives) */
  size?: number;
}

export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? (e.content === undefined && e.name.endsWith('/') ? 'directory' : 'file');
    if (type === 'file') {
      const body = Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content ?? '');
      p.entry({ name: e.name, type, size: body.length, mode: 0o644 }, body);
    } else {
      p.entry({ name: e.name, type, linkname: e.linkname, mode: 0o755 });
    }
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const gzip = (b: Buffer): Buffer => gzipSync(b);

/** A zstd frame of raw blocks (no compression) with a 1 MiB window. */
export function zstdRaw(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (10 << 3) | 0])];
  const BLOCK = 128 * 1024;
  if (data.length === 0) parts.push(blockHeader(true, 0, 0));
  for (let at = 0; at < data.length; at += BLOCK) {
    const piece = data.subarray(at, at + BLOCK);
    parts.push(blockHeader(at + BLOCK >= data.length, 0, piece.length), piece);
  }
  return Buffer.concat(parts);
}

/** A zstd frame of `blocks` RLE blocks of 128 KiB zeros each: 4 bytes in, 128 KiB out, per block. */
export function zstdRleBomb(blocks: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (7 << 3) | 0])];
  for (let i = 0; i < blocks; i++) parts.push(blockHeader(i === blocks - 1, 1, 128 * 1024), Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A zstd frame header declaring a window of 2^(10+exponent) bytes, then one empty raw block. */
export function zstdWithWindow(exponent: number): Buffer {
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, exponent << 3]), blockHeader(true, 0, 0)]);
}

function blockHeader(last: boolean, type: number, size: number): Buffer {
  const h = (last ? 1 : 0) | (type << 1) | (size << 3);
  return Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]);
}

export const hasZstdCli = spawnSync('zstd', ['--version']).status === 0;

export function zstdCli(data: Buffer, level = 3): Buffer {
  const r = spawnSync('zstd', [`-${level}`, '-q', '-c', '-T1'], { input: data, maxBuffer: 1024 ** 3 });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr.toString()}`);
  return r.stdout;
}
