/**
 * `wharf model push DIR REPO:TAG`, `wharf model pull REPO:TAG DIR`, `wharf model inspect REPO:TAG`,
 * `wharf model list`: model artifacts (features/models; docs/models.md).
 *
 * push packs the directory as a ModelPack artifact (model-pack.ts), one raw layer per file; a
 * blob the repository already has is not sent again, so running it again after an interruption
 * resumes. pull fetches every file in byte ranges, several at once (--parallel), into
 * `<file>.partial` beside a record of the ranges already written (so an interrupted pull resumes),
 * verifies each file's digest, restores its mode and moves it into place; paths that would leave
 * DIR are refused. inspect and list read /api/v1/models (no weights are downloaded).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { recognizeModelArtifact, type ModelLayer } from '../../content/models/model-artifact.js';
import { OciClient } from '../../client/oci-client.js';
import type { ModelInfo, ModelSummary } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { readCredentials, registryHost } from '../auth-file.js';
import type { CliIO } from '../io.js';
import { clientFor, formatBytes, print, serverOf, table, withClientFlags, type ClientFlags } from './client-context.js';
import { modelPackConfig, modelPackManifest, OCI_MANIFEST, scanModelDir } from './model-pack.js';
import { unpackLayer } from './model-unpack.js';
import { parseImageRef } from './scan.js';

const MiB = 1024 * 1024;

function ociClientFor(opts: ClientFlags, io: CliIO): OciClient {
  const server = serverOf(opts, io);
  const creds = readCredentials(registryHost(server), io.env);
  return new OciClient({ server, username: creds?.username, password: creds?.password });
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

function humanInspect(m: ModelInfo): string {
  const lines = [
    `${m.repository}${m.tag ? `:${m.tag}` : ''}@${m.digest}`,
    `name: ${m.name ?? '-'}   format: ${m.format}${m.weightFormat ? ` (${m.weightFormat})` : ''}   architecture: ${m.architecture ?? '-'}`,
    `parameters: ${formatCount(m.parameters)} (${Object.entries(m.parametersByDtype).map(([d, n]) => `${d} ${formatCount(n)}`).join(', ') || '-'})` +
      `   quantization: ${m.quantization ?? '-'}   context: ${m.contextLength ?? '-'}`,
    `size: ${formatBytes(m.totalBytes)} (weights ${formatBytes(m.weightBytes)})   memory to load: ${formatBytes(m.memoryToLoadBytes)}   license: ${m.license ?? '-'}`,
    `config.json: ${m.hasConfig ? 'yes' : 'no'}   generation_config.json: ${m.hasGenerationConfig ? 'yes' : 'no'}   tokenizer: ${m.hasTokenizer ? 'yes' : 'no'}   model card: ${m.card?.title ?? (m.hasReadme ? 'yes' : 'no')}`,
  ];
  if (m.shards) lines.push(`shards: ${m.shards.files.length} (${m.shards.tensors} tensors${m.shards.missing.length ? `; missing ${m.shards.missing.join(', ')}` : ''})`);
  let out = `${lines.join('\n')}\n\n`;
  out += table([
    ['FILE', 'SIZE', 'KIND', 'TENSORS', 'PARAMETERS'],
    ...m.files.map((f) => [f.path, formatBytes(f.size), f.kind, f.weights ? String(f.weights.tensors) : '-', f.weights ? formatCount(f.weights.parameters) : '-']),
  ]);
  for (const e of m.errors) out += `error: ${e}\n`;
  return out;
}

function humanList(items: ModelSummary[]): string {
  if (items.length === 0) return 'no models\n';
  return table([
    ['MODEL', 'FORMAT', 'ARCHITECTURE', 'PARAMETERS', 'QUANTIZATION', 'SIZE', 'LICENSE'],
    ...items.map((m) => [`${m.repository}${m.tag ? `:${m.tag}` : `@${m.digest.slice(0, 19)}`}`, m.weightFormat ? `${m.format}/${m.weightFormat}` : m.format, m.architecture ?? '-', formatCount(m.parameters), m.quantization ?? '-', formatBytes(m.totalBytes), m.license ?? '-']),
  ]);
}

/** A layer's file path inside DIR, refusing anything that would land outside it. */
export function safeTarget(dir: string, path: string): string {
  if (path === '' || path.includes('\0') || isAbsolute(path) || /^[a-zA-Z]:/.test(path) || path.split(/[/\\]/).some((p) => p === '..')) {
    throw new WharfError('REQUEST_INVALID', `the artifact names an unsafe file path ${JSON.stringify(path.slice(0, 200))}`);
  }
  const root = resolve(dir);
  const target = resolve(root, path);
  if (!target.startsWith(root + sep)) throw new WharfError('REQUEST_INVALID', `the artifact names an unsafe file path ${JSON.stringify(path.slice(0, 200))}`);
  return target;
}

interface PullTask {
  layer: ModelLayer;
  target: string;
  mode: number | undefined;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: MiB })) hash.update(c as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** At most `n` holders at once (the ranges in flight across every file of a pull). */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

async function runPool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failed !== undefined) throw failed;
}

/** Downloads one file in ranges of `chunk` bytes, `parallel` at a time; resumable through `<target>.partial.json`. */
async function pullFile(client: OciClient, repository: string, task: PullTask, chunk: number, parallel: number, limiter: Limiter): Promise<'skipped' | 'pulled'> {
  const { layer, target } = task;
  await mkdir(dirname(target), { recursive: true });
  if (existsSync(target) && (await stat(target)).size === layer.size && (await sha256Of(target)) === layer.digest) return 'skipped';
  const partial = `${target}.partial`;
  const record = `${partial}.json`;
  let done = new Set<number>();
  if (existsSync(partial) && existsSync(record)) {
    try {
      const r = JSON.parse(readFileSync(record, 'utf8')) as { digest?: string; chunk?: number; done?: number[] };
      if (r.digest === layer.digest && r.chunk === chunk && Array.isArray(r.done)) done = new Set(r.done);
    } catch {
      done = new Set();
    }
  }
  const fh = await open(partial, existsSync(partial) && done.size > 0 ? 'r+' : 'w');
  await fh.truncate(layer.size);
  await fh.close();
  const count = Math.ceil(layer.size / chunk);
  // the digest is computed while the pull runs: each range is hashed (read back from the page
  // cache) as soon as every range before it is in, so little is left to hash at the end
  const hash = createHash('sha256');
  let hashed = 0;
  let hashing = Promise.resolve();
  const advance = (): Promise<void> =>
    (hashing = hashing.then(async () => {
      while (hashed < count && done.has(hashed)) {
        const start = hashed * chunk;
        for await (const c of createReadStream(partial, { start, end: Math.min(layer.size, start + chunk) - 1, highWaterMark: MiB })) hash.update(c as Buffer);
        hashed++;
      }
    }));
  const ranges = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
  let saving = Promise.resolve();
  await runPool(ranges, parallel, (i) =>
    limiter.run(async () => {
      const start = i * chunk;
      const end = Math.min(layer.size, start + chunk) - 1;
      const res = await client.getBlob(repository, layer.digest, { start, end });
      let at = start;
      const guard = new Transform({
        transform(part: Buffer, _e, cb) {
          at += part.length;
          cb(at > end + 1 ? new WharfError('UNAVAILABLE', `the registry sent more than bytes ${start}-${end} of ${layer.digest}`) : null, part);
        },
      });
      await pipeline(Readable.fromWeb(res.body as never), guard, createWriteStream(partial, { flags: 'r+', start, highWaterMark: MiB }));
      if (at !== end + 1) throw new WharfError('UNAVAILABLE', `the registry sent ${at - start} of bytes ${start}-${end} of ${layer.digest}`);
      done.add(i);
      saving = saving.then(() => writeFile(record, JSON.stringify({ digest: layer.digest, chunk, done: [...done] })));
      await saving;
      advance().catch(() => undefined); // a failure surfaces at the final await
    }),
  );
  await advance();
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== layer.digest) {
    await rm(partial, { force: true });
    await rm(record, { force: true });
    throw new WharfError('DIGEST_INVALID', `${task.layer.path ?? layer.digest}: the bytes pulled have digest ${got}, not ${layer.digest}`);
  }
  if (task.mode !== undefined) await chmod(partial, task.mode);
  await rename(partial, target);
  await rm(record, { force: true });
  return 'pulled';
}

export function registerModelCommands(program: Command, io: CliIO): void {
  const model = program.command('model').description('model artifacts: ModelPack, KitOps ModelKits, Docker models (docs/models.md)');

  withClientFlags(model.command('inspect <ref>').description("a model's metadata (tensors, dtypes, parameters, card) without downloading its weights")).action(async (ref: string, opts: ClientFlags) => {
    const { repository, reference } = parseImageRef(ref);
    const m = await clientFor(opts, io).model(repository, reference);
    print(io, opts, m, () => humanInspect(m));
  });

  withClientFlags(
    model
      .command('list')
      .description('models you may pull, filtered')
      .option('--query <text>', 'part of the repository or model name')
      .option('--architecture <name>', 'e.g. llama, LlamaForCausalLM')
      .option('--format <name>', 'modelpack, modelkit, docker, safetensors or gguf')
      .option('--license <id>', 'e.g. apache-2.0')
      .option('--min-parameters <n>', 'at least this many parameters')
      .option('--max-parameters <n>', 'at most this many parameters')
      .option('--limit <n>', 'page size'),
  ).action(async (opts: ClientFlags & { query?: string; architecture?: string; format?: string; license?: string; minParameters?: string; maxParameters?: string; limit?: string }) => {
    const num = (v: string | undefined, flag: string): number | undefined => {
      if (v === undefined) return undefined;
      if (!/^[0-9]+$/.test(v)) throw new WharfError('REQUEST_INVALID', `${flag} takes a whole number`);
      return Number(v);
    };
    const r = await clientFor(opts, io).models({
      q: opts.query,
      architecture: opts.architecture,
      format: opts.format,
      license: opts.license,
      minParameters: num(opts.minParameters, '--min-parameters'),
      maxParameters: num(opts.maxParameters, '--max-parameters'),
      limit: num(opts.limit, '--limit'),
    });
    print(io, opts, r, () => humanList(r.items));
  });

  withClientFlags(
    model
      .command('push <dir> <ref>')
      .description('pack a model directory as a ModelPack artifact (one raw layer per file) and push it')
      .option('--name <name>', "the model's name in its config (default: the directory's name)"),
  ).action(async (dir: string, ref: string, opts: ClientFlags & { name?: string }) => {
    const { repository, reference } = parseImageRef(ref);
    if (!existsSync(dir) || !(await stat(dir)).isDirectory()) throw new WharfError('REQUEST_INVALID', `${dir} is not a directory`);
    const files = await scanModelDir(dir);
    const config = await modelPackConfig(files, { name: opts.name ?? basename(resolve(dir)), version: reference.startsWith('sha256:') ? undefined : reference, createdAt: new Date() });
    const manifest = modelPackManifest(config, files);
    const client = ociClientFor(opts, io);
    let sent = 0;
    let skipped = 0;
    let bytes = 0;
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const blobs = [...files.map((f) => ({ digest: f.digest, size: f.size, path: f.path, open: () => createReadStream(f.absPath, { highWaterMark: MiB }) as Readable })), { digest: configDigest, size: config.length, path: '', open: () => Readable.from([config]) }];
    await runPool(blobs, 4, async (b) => {
      // a blob the repository has is not sent again: a push run again after an interruption resumes
      if (await client.hasBlob(repository, b.digest)) {
        skipped++;
        return;
      }
      await client.pushBlob(repository, b.digest, b.open);
      sent++;
      bytes += b.size;
      if (opts.output !== 'json' && b.path !== '') io.err(`pushed ${b.path} (${formatBytes(b.size)})\n`);
    });
    const digest = await client.putManifest(repository, reference, manifest, OCI_MANIFEST);
    const result = { repository, reference, digest, files: files.length, blobsPushed: sent, blobsSkipped: skipped, bytesPushed: bytes };
    print(io, opts, result, () => `${repository}:${reference} ${digest}: ${files.length} files, ${sent} blobs pushed (${formatBytes(bytes)}), ${skipped} already there\n`);
  });

  withClientFlags(
    model
      .command('pull <ref> <dir>')
      .description('download a model into a directory: files in parallel byte ranges, resumable, every digest verified')
      .option('--parallel <n>', 'ranges in flight at once', '4')
      .option('--chunk-size <MiB>', 'size of each range', '16'),
  ).action(async (ref: string, dir: string, opts: ClientFlags & { parallel: string; chunkSize: string }) => {
    const parallel = Number(opts.parallel);
    const chunkMiB = Number(opts.chunkSize);
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new WharfError('REQUEST_INVALID', '--parallel takes 1 to 64');
    if (!Number.isInteger(chunkMiB) || chunkMiB < 1 || chunkMiB > 1024) throw new WharfError('REQUEST_INVALID', '--chunk-size takes 1 to 1024 (MiB)');
    const { repository, reference } = parseImageRef(ref);
    const client = ociClientFor(opts, io);
    const m = await client.getManifest(repository, reference);
    let parsed: unknown;
    try {
      parsed = JSON.parse(m.bytes.toString('utf8'));
    } catch {
      throw new WharfError('MANIFEST_INVALID', `${ref} is not a JSON manifest`);
    }
    const artifact = recognizeModelArtifact(parsed);
    if (!artifact) throw new WharfError('MODEL_UNKNOWN', `${ref} is not a model artifact`);
    const tasks: PullTask[] = [];
    const archives = artifact.layers.filter((l) => l.packing !== 'raw');
    const seen = new Set<string>();
    for (const layer of artifact.layers) {
      if (layer.packing !== 'raw') continue;
      const path = layer.path ?? (artifact.format === 'docker' ? (layer.role === 'license' ? `LICENSE-${layer.index}` : `model-${layer.index}.${layer.mediaType.endsWith('gguf.v3') ? 'gguf' : 'bin'}`) : `layer-${layer.index}`);
      const target = safeTarget(dir, path);
      if (seen.has(target)) throw new WharfError('REQUEST_INVALID', `${ref}: two layers name the same file ${path}`);
      seen.add(target);
      let mode: number | undefined;
      try {
        const meta = JSON.parse(layer.annotations['org.cncf.model.file.metadata+json'] ?? 'null') as { mode?: unknown } | null;
        if (typeof meta?.mode === 'number') mode = meta.mode & 0o777;
      } catch {
        mode = undefined;
      }
      tasks.push({ layer, target, mode });
    }
    await mkdir(dir, { recursive: true });
    let pulled = 0;
    let skipped = 0;
    // small files several at a time; each large one split into ranges fetched in parallel
    const limiter = new Limiter(parallel);
    await runPool(tasks, parallel, async (t) => {
      const r = await pullFile(client, repository, t, chunkMiB * MiB, parallel, limiter);
      if (r === 'pulled') pulled++;
      else skipped++;
      if (opts.output !== 'json') io.err(`${r} ${join(dir, t.layer.path ?? '')} (${formatBytes(t.layer.size)})\n`);
    });
    // archive layers (KitOps, ModelPack .tar*): streamed once each, unpacked below DIR, digest checked
    let unpacked = 0;
    let bytes = tasks.reduce((n, t) => n + t.layer.size, 0);
    for (const layer of archives) {
      const res = await client.getBlob(repository, layer.digest);
      const r = await unpackLayer(Readable.fromWeb(res.body as never), layer.digest, dir, safeTarget);
      unpacked += r.files;
      bytes += r.bytes;
      if (opts.output !== 'json') io.err(`unpacked ${layer.mediaType} ${layer.digest.slice(0, 19)}: ${r.files} files${r.skipped ? `, ${r.skipped} links or special files skipped` : ''}\n`);
    }
    const result = { repository, reference, digest: m.digest, files: tasks.length + unpacked, pulled: pulled + unpacked, skipped, bytes };
    print(io, opts, result, () => `${repository}:${reference} -> ${dir}: ${result.files} files (${formatBytes(result.bytes)}), ${result.pulled} pulled, ${skipped} already there\n`);
  });
}
