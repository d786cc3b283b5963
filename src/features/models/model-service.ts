/**
 * Model artifacts (ModelPack, KitOps ModelKits, Docker Model Runner GGUF models) as first-class
 * citizens: their metadata is read on push — as the `models.extract` job, keyed by repository and
 * digest — from byte ranges of the blobs (model-extractor.ts), never by downloading weights, and
 * stored per repository and manifest (sql-model-store.ts). Reading goes through
 * RegistryService.getManifest / openBlob of the repository asked, so knowing a digest grants
 * nothing. A malformed header is an error on the model's metadata; the artifact itself was stored
 * by the push and stays pullable.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../../domain/digest.js';
import type { Reference } from '../../domain/names.js';
import { recognizeModelArtifact } from '../../content/models/model-artifact.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ManifestPushed, RegistryService } from '../../registry/registry-service.js';
import { EXTRACTOR_VERSION, ModelExtractor, type ExtractLimits, type ModelMetadata } from './model-extractor.js';
import type { ModelRow, ModelSearch, SqlModelStore } from './sql-model-store.js';

export interface ModelJobs {
  enqueue(kind: string, payload: unknown, options?: { key?: string }): Promise<{ id: number } | undefined>;
  register(kind: string, handler: (payload: unknown) => Promise<void>): void;
}

export interface ModelServiceOptions {
  registry: RegistryService;
  store: SqlModelStore;
  limits?: Partial<ExtractLimits>;
  now?: () => number;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** GET /api/v1/models/<repo>: the stored metadata of one model manifest. */
export interface ModelView extends ModelMetadata {
  repository: string;
  digest: string;
  /** the tag it was pushed with, while that tag still points at it */
  tag: string | null;
  extractedAt: string;
}

/** One row of the model list. */
export interface ModelSummary {
  repository: string;
  digest: string;
  tag: string | null;
  format: string;
  name: string | null;
  architecture: string | null;
  weightFormat: string | null;
  quantization: string | null;
  license: string | null;
  parameters: number;
  totalBytes: number;
  error: string | null;
  extractedAt: string;
}

export class ModelService {
  private readonly registry: RegistryService;
  private readonly store: SqlModelStore;
  private readonly limits: Partial<ExtractLimits>;
  private readonly now: () => number;
  private readonly logger?: ModelServiceOptions['logger'];
  /** extractions running in this process: a second request for the same manifest waits for the first */
  private readonly running = new Map<string, Promise<ModelRow>>();

  constructor(options: ModelServiceOptions) {
    this.registry = options.registry;
    this.store = options.store;
    this.limits = options.limits ?? {};
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
  }

  /** Registers the `models.extract` job and enqueues it for every model manifest pushed. */
  useJobs(jobs: ModelJobs): void {
    jobs.register('models.extract', async (payload) => {
      const { repository, digest, tag } = payload as { repository: string; digest: Digest; tag?: string };
      try {
        await this.extract(repository, digest, tag);
      } catch (e) {
        // deleted since the push: nothing to retry
        if (e instanceof WharfError && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'MODEL_UNKNOWN' || e.code === 'BLOB_UNKNOWN')) {
          this.logger?.warn({ repository, digest, err: e.message }, 'model metadata on push skipped');
          return;
        }
        throw e;
      }
    });
    this.registry.onManifestPushed((event) => void this.onPushed(jobs, event).catch((err: unknown) => this.logger?.warn({ err }, 'enqueueing model metadata failed')));
  }

  private async onPushed(jobs: ModelJobs, event: ManifestPushed): Promise<void> {
    if (event.subject !== undefined) return; // a signature or SBOM about something, not a model
    const m = await this.registry.getManifest(event.repository, { kind: 'digest', digest: event.digest });
    if (!recognizeModelArtifact(parseJson(m.content))) return;
    await jobs.enqueue('models.extract', { repository: event.repository, digest: event.digest, ...(event.tag ? { tag: event.tag } : {}) }, { key: `models.extract:${event.repository}@${event.digest}` });
  }

  /** Reads the model's metadata now (range reads) and stores it; idempotent. Throws MODEL_UNKNOWN for a manifest that is not a model. */
  async extract(repository: string, digest: Digest, tag?: string): Promise<ModelRow> {
    const key = `${repository}@${digest}`;
    const running = this.running.get(key);
    if (running) return running;
    const p = this.extractNow(repository, digest, tag).finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  private async extractNow(repository: string, digest: Digest, tag?: string): Promise<ModelRow> {
    const m = await this.registry.getManifest(repository, { kind: 'digest', digest });
    const started = this.now();
    const extractor = new ModelExtractor((blob, start, end) => this.readRange(repository, blob as Digest, start, end), this.limits);
    const metadata = await extractor.extract(parseJson(m.content));
    if (!metadata) throw new WharfError('MODEL_UNKNOWN', `${repository}@${digest} is not a model artifact (ModelPack, KitOps ModelKit or Docker model)`);
    const row: ModelRow = {
      repository,
      digest,
      tag: tag ?? null,
      format: metadata.format,
      name: metadata.name,
      architecture: metadata.architecture,
      weight_format: metadata.weightFormat,
      quantization: metadata.quantization,
      license: metadata.license,
      parameters: metadata.parameters,
      total_bytes: metadata.totalBytes,
      error: metadata.errors.length > 0 ? metadata.errors.join('; ').slice(0, 4000) : null,
      metadata: JSON.stringify(metadata),
      extractor_version: EXTRACTOR_VERSION,
      extracted_at: this.now(),
    };
    // weight files stored raw, by content digest: an image that bakes the same bytes matches them
    const weightFiles = metadata.files.filter((f) => f.fileDigest !== null && (f.role === 'weight' || f.role === 'model-part' || f.kind === 'safetensors' || f.kind === 'gguf'));
    await this.store.save(row, weightFiles.map((f) => ({ file_digest: f.fileDigest!, path: f.path, size: f.size })));
    this.logger?.info({ repository, digest, ranges: metadata.reads.ranges, bytes: metadata.reads.bytes, ms: this.now() - started, errors: metadata.errors.length }, 'model metadata read');
    return (await this.store.find(repository, digest)) ?? row;
  }

  private async readRange(repository: string, digest: Digest, start: number, end: number): Promise<Buffer> {
    const stream: Readable = await this.registry.openBlob(repository, digest, { start, end });
    const chunks: Buffer[] = [];
    let n = 0;
    const want = end - start + 1;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      n += chunk.length;
      if (n > want) break; // a store that ignored the range: never hold more than asked
    }
    stream.destroy();
    return Buffer.concat(chunks, Math.min(n, want + 1));
  }

  /** The model's metadata (read now when it has none, or one of an older extractor). */
  async get(repository: string, ref: Reference): Promise<ModelView> {
    const m = await this.registry.getManifest(repository, ref);
    let row = await this.store.find(repository, m.digest);
    if (!row || row.extractor_version < EXTRACTOR_VERSION) row = await this.extract(repository, m.digest, ref.kind === 'tag' ? ref.tag : undefined);
    const tag = ref.kind === 'tag' ? ref.tag : await this.currentTag(row);
    return { repository, digest: row.digest, tag, extractedAt: new Date(row.extracted_at).toISOString(), ...(JSON.parse(row.metadata) as ModelMetadata) };
  }

  /**
   * Models matching the filters in the repositories `visible` lets through (the caller's pull
   * access). Rows of manifests deleted since are dropped as they are met.
   */
  async search(filter: Omit<ModelSearch, 'after' | 'limit'> & { after?: string; limit: number }, visible: (repositories: string[]) => Promise<string[]>): Promise<{ items: ModelSummary[]; more: boolean }> {
    const items: ModelSummary[] = [];
    let after = filter.after;
    for (let round = 0; round < 20 && items.length < filter.limit; round++) {
      const rows = await this.store.search({ ...filter, after, limit: filter.limit + 1 });
      if (rows.length === 0) return { items, more: false };
      const allowed = new Set(await visible([...new Set(rows.map((r) => r.repository))]));
      for (const r of rows) {
        after = `${r.repository}@${r.digest}`;
        if (!allowed.has(r.repository)) continue;
        if (!(await this.stillThere(r))) continue;
        if (items.length === filter.limit) return { items, more: true };
        items.push(await this.summary(r));
      }
      if (rows.length <= filter.limit) return { items, more: false };
    }
    return { items, more: true };
  }

  /**
   * Models holding a weight file with one of these content digests (`sha256:<hex>` of the file's
   * bytes), in the repositories `visible` lets through: what links an image that bakes weights
   * (its insights record each file's sha256) to the model artifact with the same bytes.
   */
  async findByFileDigests(fileDigests: readonly string[], visible: (repositories: string[]) => Promise<string[]>): Promise<{ fileDigest: string; path: string; size: number; repository: string; digest: string; tag: string | null }[]> {
    const rows = await this.store.findFiles(fileDigests);
    const allowed = new Set(await visible([...new Set(rows.map((r) => r.repository))]));
    const out = [];
    for (const f of rows) {
      if (!allowed.has(f.repository)) continue;
      const model = await this.store.find(f.repository, f.digest);
      if (!model || !(await this.stillThere(model))) continue;
      out.push({ fileDigest: f.file_digest, path: f.path, size: f.size, repository: f.repository, digest: f.digest, tag: await this.currentTag(model) });
    }
    return out;
  }

  private async stillThere(r: ModelRow): Promise<boolean> {
    try {
      await this.registry.getManifest(r.repository, { kind: 'digest', digest: r.digest as Digest });
      return true;
    } catch (e) {
      if (e instanceof WharfError && e.code === 'MANIFEST_UNKNOWN') {
        await this.store.delete(r.repository, r.digest);
        return false;
      }
      throw e;
    }
  }

  private async currentTag(r: ModelRow): Promise<string | null> {
    if (r.tag === null) return null;
    try {
      const m = await this.registry.getManifest(r.repository, { kind: 'tag', tag: r.tag as never });
      return m.digest === r.digest ? r.tag : null;
    } catch (e) {
      if (e instanceof WharfError && e.code === 'MANIFEST_UNKNOWN') return null;
      throw e;
    }
  }

  private async summary(r: ModelRow): Promise<ModelSummary> {
    return {
      repository: r.repository,
      digest: r.digest,
      tag: await this.currentTag(r),
      format: r.format,
      name: r.name,
      architecture: r.architecture,
      weightFormat: r.weight_format,
      quantization: r.quantization,
      license: r.license,
      parameters: r.parameters,
      totalBytes: r.total_bytes,
      error: r.error,
      extractedAt: new Date(r.extracted_at).toISOString(),
    };
  }
}

function parseJson(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
}
