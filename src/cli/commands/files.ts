import { createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import type { FileEntryInfo, FileIndexImage, FileListing, OpenedFile } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';
import { parseImageRef } from './scan.js';

/**
 * File access to images without pulling them (features/streaming, issue 12):
 * `wharf ls IMAGE [PATH] [-l]`, `wharf cat IMAGE PATH`, `wharf cp IMAGE:PATH DEST`, and
 * `wharf index IMAGE` to build the indexes they need. IMAGE is REPO[:TAG] or REPO@DIGEST.
 */
interface FileFlags extends ClientFlags {
  platform?: string;
}

/** REPO[:TAG] or REPO@DIGEST as the file API's path segment (a missing tag is latest). */
export function imageSegment(image: string): string {
  const { repository, reference } = parseImageRef(image);
  return reference.includes(':') ? `${repository}@${reference}` : `${repository}:${reference}`;
}

/** `IMAGE:/PATH` (docker cp style): the image is everything before the last `:/`. */
export function splitImagePath(arg: string): { image: string; path: string } {
  const at = arg.lastIndexOf(':/');
  if (at <= 0) throw new WharfError('REQUEST_INVALID', `${arg}: name the file as IMAGE:/PATH (e.g. team/model:v1:/etc/os-release)`);
  return { image: arg.slice(0, at), path: arg.slice(at + 1) };
}

function modeString(e: FileEntryInfo): string {
  const t = e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'char' ? 'c' : e.type === 'block' ? 'b' : e.type === 'fifo' ? 'p' : '-';
  const rwx = (n: number) => `${n & 4 ? 'r' : '-'}${n & 2 ? 'w' : '-'}${n & 1 ? 'x' : '-'}`;
  return `${t}${rwx((e.mode >> 6) & 7)}${rwx((e.mode >> 3) & 7)}${rwx(e.mode & 7)}`;
}

function longListing(entries: FileEntryInfo[]): string {
  return table(
    entries.map((e) => [
      modeString(e),
      `${e.uid}`,
      `${e.gid}`,
      `${e.size}`,
      (e.modTime ?? '').replace('T', ' ').replace(/(\.\d+)?Z$/, ''),
      e.type === 'symlink' ? `${e.name} -> ${e.linkname ?? ''}` : e.type === 'dir' ? `${e.name}/` : e.name,
    ]),
  );
}

function isListing(r: FileListing | OpenedFile): r is FileListing {
  return (r as FileListing).kind === 'dir';
}

async function cancel(f: OpenedFile): Promise<void> {
  await f.body.cancel().catch(() => undefined);
}

function rawOut(io: CliIO): Writable {
  return (io as CliIO & { stdout?: Writable }).stdout ?? process.stdout;
}

export function registerFilesCommands(program: Command, io: CliIO): void {
  withClientFlags(
    program
      .command('ls')
      .description("list a directory of an image (or show one file) without pulling it; needs the image's file index (wharf index)")
      .argument('<image>', 'REPO[:TAG] or REPO@DIGEST')
      .argument('[path]', 'path in the image', '/')
      .option('-l, --long', 'mode, owner, size, time, link targets')
      .option('--platform <os/arch>', 'which image of a multi-platform index (default linux/amd64)'),
  ).action(async (image: string, path: string, opts: FileFlags & { long?: boolean }) => {
    const client = clientFor(opts, io);
    const r = await client.openPath(imageSegment(image), path, { platform: opts.platform });
    if (!isListing(r)) {
      await cancel(r);
      // a file: its entry as its directory lists it (mode, owner, time), as ls does
      const parent = await client.openPath(imageSegment(image), posix.dirname(posix.join('/', path)), { platform: opts.platform });
      const entry = isListing(parent) ? parent.entries.find((e) => e.name === posix.basename(path)) : undefined;
      if (!isListing(parent)) await cancel(parent);
      print(io, opts, { kind: 'file', path, size: r.size, etag: r.etag, ...(entry ? { entry } : {}) }, () =>
        opts.long ? longListing([entry ?? { name: basename(path), type: 'reg', size: r.size, mode: 0, uid: 0, gid: 0 }]) : `${path}\n`,
      );
      return;
    }
    print(io, opts, r, () => (opts.long ? longListing(r.entries) : r.entries.map((e) => `${e.name}${e.type === 'dir' ? '/' : ''}\n`).join('')));
  });

  withClientFlags(
    program
      .command('cat')
      .description('print a file of an image to standard output, read from the registry without pulling the image')
      .argument('<image>', 'REPO[:TAG] or REPO@DIGEST')
      .argument('<path>', 'path of the file in the image')
      .option('--platform <os/arch>', 'which image of a multi-platform index'),
  ).action(async (image: string, path: string, opts: FileFlags) => {
    const r = await clientFor(opts, io).openPath(imageSegment(image), path, { platform: opts.platform });
    if (isListing(r)) throw new WharfError('REQUEST_INVALID', `${path} is a directory (wharf ls lists it)`);
    const out = rawOut(io);
    await pipeline(Readable.fromWeb(r.body as WebReadableStream<Uint8Array>), out, { end: out !== process.stdout });
  });

  withClientFlags(
    program
      .command('cp')
      .description('copy a file out of an image: wharf cp team/model:v1:/etc/os-release ./os-release (DEST - is standard output)')
      .argument('<source>', 'IMAGE:/PATH')
      .argument('<dest>', 'a file, an existing directory, or -')
      .option('--platform <os/arch>', 'which image of a multi-platform index'),
  ).action(async (source: string, dest: string, opts: FileFlags) => {
    const { image, path } = splitImagePath(source);
    const r = await clientFor(opts, io).openPath(imageSegment(image), path, { platform: opts.platform });
    if (isListing(r)) throw new WharfError('REQUEST_INVALID', `${path} is a directory (copying directories is not supported yet)`);
    const body = Readable.fromWeb(r.body as WebReadableStream<Uint8Array>);
    if (dest === '-') {
      const out = rawOut(io);
      await pipeline(body, out, { end: out !== process.stdout });
      return;
    }
    let target = dest;
    try {
      if (statSync(dest).isDirectory()) target = join(dest, basename(path));
    } catch {
      // a new file
    }
    // written beside the target and renamed when complete: a failed copy leaves no partial file
    const partial = join(dirname(target), `.${basename(target)}.wharf-${process.pid}.part`);
    try {
      await pipeline(body, createWriteStream(partial, { flags: 'wx' }));
      renameSync(partial, target);
    } catch (e) {
      rmSync(partial, { force: true });
      throw e;
    }
    if (opts.output === 'json') io.out(`${JSON.stringify({ source, dest: target, bytes: r.size })}\n`);
  });

  withClientFlags(
    program
      .command('index')
      .description('build the file index of an image (a SOCI zTOC per layer, once per layer digest) so wharf ls / cat / cp can read it')
      .argument('<image>', 'REPO[:TAG] or REPO@DIGEST')
      .option('--platform <os/arch>', 'only this image of a multi-platform index (default: every platform)')
      .option('--force', 'retry layers whose indexing failed before')
      .option('--background', 'enqueue a job and return'),
  ).action(async (image: string, opts: FileFlags & { force?: boolean; background?: boolean }) => {
    const { repository, reference } = parseImageRef(image);
    const r = await clientFor(opts, io).indexFiles(repository, reference, { platform: opts.platform, force: opts.force, background: opts.background });
    print(io, opts, r, () => (r.images ? r.images.map(describeIndex).join('\n') : `queued job ${r.job ?? '(already queued)'} for ${r.digest ?? image}\n`));
    if (r.images?.some((i) => i.layers.some((l) => l.state !== 'indexed'))) io.exitCode = 1;
  });
}

function describeIndex(i: FileIndexImage): string {
  const head = `${i.repository}@${i.digest}${i.platform ? ` (${i.platform})` : ''}${i.artifact ? `  index artifact ${i.artifact}` : ''}\n`;
  return (
    head +
    table([
      ['LAYER', 'SIZE', 'STATE', 'ENTRIES', 'SPANS', 'ZTOC'],
      ...i.layers.map((l) => [l.digest.slice(0, 19), `${l.size}`, l.state + (l.built ? ' (built)' : ''), `${l.ztoc?.entries ?? '-'}`, `${l.ztoc?.spans ?? '-'}`, l.ztoc ? `${l.ztoc.size} B` : (l.error ?? '-')]),
    ])
  );
}
