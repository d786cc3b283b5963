/**
 * Image insights: analyses images (layer cake, waste, efficiency, findings, cold start) and
 * stores one analysis per image manifest digest — the same image under two tags or in two
 * repositories is analysed once, and read back only through RegistryService.getManifest of the
 * repository asked (knowing a digest grants nothing). A multi-platform index is analysed per
 * platform. Layers are recorded per layer digest (layer-record.ts), so a layer already recorded
 * is not read again; the layers still missing are read in one pass shared with the other
 * features due for the image (content/content-pass.ts: the scan's inventory joins it).
 *
 * Jobs: `insights.image` after each push (insights.onPush) and on demand; idempotent (keyed by
 * digest). A bomb or a malformed layer ends the analysis with its error stored (state failed),
 * never a crash or a retried job.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { ContentPasses, PassImage } from '../../content/content-pass.js';
import { LayerError, readLayers, type LayerSource, type ReadLimits } from '../../content/layers/layer-reader.js';
import { parseManifest, type Descriptor } from '../../domain/manifest.js';
import { MediaTypes } from '../../domain/media-types.js';
import type { Digest } from '../../domain/digest.js';
import type { Reference } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ManifestPushed, RegistryService } from '../../registry/registry-service.js';
import { analyse, parseConfigFacts, type AnalysisOptions, type InsightsAnalysis } from './analysis.js';
import { diffImages, type ImageDiff } from './diff.js';
import { DEFAULT_ACCOUNTING_LIMITS, LAYER_RECORD_VERSION, LayerAccounting, type AccountingLimits, type LayerRecord } from './layer-record.js';
import type { SqlInsightsStore, StoredAnalysis } from './sql-insights-store.js';

/** Bumped when the analysis changes: older analyses are made again (from stored layer records when they are current). */
export const ANALYZER_VERSION = 1;

export interface InsightsJobs {
  enqueue(kind: string, payload: unknown, options?: { key?: string }): Promise<{ id: number } | undefined>;
  register(kind: string, handler: (payload: unknown) => Promise<void>): void;
}

export interface InsightsMetrics {
  analysed(result: 'done' | 'failed', seconds: number): void;
}

export interface InsightsOptions {
  bandwidthBitsPerSecond: number;
  /** measured on this server when absent */
  decompressBytesPerSecond?: number;
  weightsThresholdBytes: number;
  hugeLayerBytes: number;
  onPush: boolean;
  read: ReadLimits;
  accounting: AccountingLimits;
}

export const DEFAULT_INSIGHTS_OPTIONS: InsightsOptions = {
  bandwidthBitsPerSecond: 1e9,
  weightsThresholdBytes: 100 * 1024 * 1024,
  hugeLayerBytes: 256 * 1024 * 1024,
  onPush: true,
  read: { maxEntries: 4_000_000, maxUncompressedBytes: 64 * 1024 ** 3, maxCompressionRatio: 250, maxZstdWindowBytes: 128 * 1024 * 1024 },
  accounting: DEFAULT_ACCOUNTING_LIMITS,
};

export interface InsightsServiceDeps {
  registry: RegistryService;
  store: SqlInsightsStore;
  passes?: ContentPasses;
  options?: Partial<InsightsOptions>;
  metrics?: InsightsMetrics;
  now?: () => number;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface ImageInsights {
  platform: string | null;
  digest: string;
  state: 'done' | 'failed' | 'pending';
  analysedAt: string | null;
  durationMs: number | null;
  error: StoredAnalysis['error'];
  analysis: InsightsAnalysis | null;
}

export interface InsightsReport {
  repository: string;
  /** the manifest the reference names (an index or an image) */
  digest: string;
  index: { platforms: string[] } | null;
  images: ImageInsights[];
}

interface ResolvedImage {
  digest: Digest;
  platform: string | null;
  config: Descriptor | undefined;
  layers: Descriptor[];
}

const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const CONFIG_MAX_BYTES = 4 * 1024 * 1024;

function platformOf(d: Descriptor): string {
  const p = d.platform as { os?: string; architecture?: string; variant?: string } | undefined;
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '';
}

export class InsightsService {
  private readonly registry: RegistryService;
  private readonly store: SqlInsightsStore;
  private readonly passes?: ContentPasses;
  private readonly options: InsightsOptions;
  private readonly metrics?: InsightsMetrics;
  private readonly now: () => number;
  private readonly logger?: InsightsServiceDeps['logger'];
  private jobs?: InsightsJobs;
  /** analyses running in this process, by digest: a second request waits for the first */
  private readonly running = new Map<string, Promise<StoredAnalysis>>();
  private measuredRate?: number;

  constructor(deps: InsightsServiceDeps) {
    this.registry = deps.registry;
    this.store = deps.store;
    this.passes = deps.passes;
    this.options = { ...DEFAULT_INSIGHTS_OPTIONS, ...deps.options };
    this.metrics = deps.metrics;
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger;
    // joins another feature's pass (a scan) over an image that has no current analysis
    this.passes?.register({
      name: 'insights',
      join: async (image) => {
        const stored = await this.store.findAnalysis(image.digest);
        if ((stored && stored.analyzerVersion >= ANALYZER_VERSION) || this.running.has(image.digest)) return undefined;
        const accounting = new LayerAccounting(this.options.accounting);
        const started = performance.now();
        return {
          consumer: accounting,
          done: async () => {
            for (const r of accounting.records) await this.store.putLayer(r, this.now());
            const resolved = await this.resolveDigest(image.repository, image.digest as Digest);
            await this.finish(image.repository, resolved, new Map(accounting.records.map((r) => [r.digest, r])), started);
          },
          failed: async (e) => {
            await this.recordFailure(image.digest, e, started);
          },
        };
      },
    });
  }

  useJobs(jobs: InsightsJobs): void {
    this.jobs = jobs;
    jobs.register('insights.image', async (payload) => {
      const { repository, digest } = payload as { repository: string; digest: Digest };
      try {
        await this.analyse(repository, { kind: 'digest', digest });
      } catch (e) {
        // gone since the push, or not an image (an artifact): nothing to retry
        if (e instanceof WharfError && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'INSIGHTS_FAILED')) {
          this.logger?.warn({ repository, digest, err: e.message }, 'image analysis skipped');
          return;
        }
        throw e;
      }
    });
    if (this.options.onPush) this.registry.onManifestPushed((event) => void this.onPushed(event).catch((err: unknown) => this.logger?.warn({ err }, 'enqueueing an image analysis failed')));
  }

  private async onPushed(event: ManifestPushed): Promise<void> {
    if (!this.jobs || event.subject !== undefined) return;
    await this.jobs.enqueue('insights.image', { repository: event.repository, digest: event.digest }, { key: `insights.image:${event.digest}` });
  }

  // --- resolving ---

  private async resolve(repository: string, ref: Reference, platform?: string): Promise<{ digest: Digest; index: { platforms: string[] } | null; images: ResolvedImage[] }> {
    const m = await this.registry.getManifest(repository, ref);
    const parsed = parseManifest(m.content, m.mediaType);
    if (parsed.isIndex) {
      const children = parsed.references
        .map((r) => r.descriptor)
        .filter((d) => (d.mediaType === MediaTypes.ociManifest || d.mediaType === MediaTypes.dockerManifest) && platformOf(d) !== 'unknown/unknown');
      const platforms = children.map(platformOf);
      const chosen = platform === undefined ? children : children.filter((d) => platformOf(d) === platform || platformOf(d).startsWith(`${platform}/`));
      if (chosen.length === 0) throw new WharfError('RESOURCE_UNKNOWN', `the index has no image for platform ${platform ?? '(any)'}`);
      const images: ResolvedImage[] = [];
      for (const c of chosen) images.push({ ...(await this.resolveDigest(repository, c.digest as Digest)), platform: platformOf(c) || null });
      return { digest: m.digest, index: { platforms }, images };
    }
    return { digest: m.digest, index: null, images: [await this.resolveDigest(repository, m.digest)] };
  }

  private async resolveDigest(repository: string, digest: Digest): Promise<ResolvedImage> {
    const m = await this.registry.getManifest(repository, { kind: 'digest', digest });
    const parsed = parseManifest(m.content, m.mediaType);
    if (parsed.isIndex || !parsed.config || !IMAGE_CONFIG_TYPES.has(parsed.config.mediaType)) {
      throw new WharfError('INSIGHTS_FAILED', `manifest ${m.digest} is not a container image (config ${parsed.config?.mediaType ?? 'none'})`);
    }
    const layers = parsed.references.filter((r) => r.kind === 'layer').map((r) => r.descriptor);
    return { digest: m.digest, platform: null, config: parsed.config, layers };
  }

  // --- analysing ---

  /** Analyses `ref` (every platform of an index, or the one asked) unless current analyses exist (or `force`); answers the report. */
  async analyse(repository: string, ref: Reference, options: { force?: boolean; platform?: string } = {}): Promise<InsightsReport> {
    const target = await this.resolve(repository, ref, options.platform);
    for (const image of target.images) {
      const stored = options.force ? undefined : await this.store.findAnalysis(image.digest);
      if (stored && stored.analyzerVersion >= ANALYZER_VERSION) continue;
      let pending = this.running.get(image.digest);
      if (!pending) {
        pending = this.analyseImage(repository, image, options.force === true).finally(() => this.running.delete(image.digest));
        this.running.set(image.digest, pending);
      }
      await pending;
    }
    return this.reportOf(repository, target);
  }

  /** Queues analyses of `ref` (per platform) as jobs; answers their ids. Without a job queue, analyses now. */
  async enqueue(repository: string, ref: Reference, platform?: string): Promise<{ jobs: number[] }> {
    const target = await this.resolve(repository, ref, platform);
    if (!this.jobs) {
      await this.analyse(repository, ref, { platform });
      return { jobs: [] };
    }
    const ids: number[] = [];
    for (const image of target.images) {
      const job = await this.jobs.enqueue('insights.image', { repository, digest: image.digest }, { key: `insights.image:${image.digest}` });
      if (job) ids.push(job.id);
    }
    return { jobs: ids };
  }

  private sources(repository: string, layers: Descriptor[]): LayerSource[] {
    return layers
      .filter((l) => !(l.urls?.length && /foreign|nondistributable/.test(l.mediaType)))
      .map((l) => ({ digest: l.digest, open: (): Promise<Readable> => this.registry.openBlob(repository, l.digest) }));
  }

  private async analyseImage(repository: string, image: ResolvedImage, force: boolean): Promise<StoredAnalysis> {
    const started = performance.now();
    const sources = this.sources(repository, image.layers);
    const cached = force ? new Map<string, LayerRecord>() : await this.store.findLayers(sources.map((s) => s.digest), LAYER_RECORD_VERSION);
    const missing = new Set(sources.map((s, i) => (cached.has(s.digest) ? -1 : i)).filter((i) => i >= 0));
    if (missing.size > 0) {
      const accounting = new LayerAccounting(this.options.accounting);
      const pass: PassImage = { repository, digest: image.digest, layers: sources };
      try {
        if (this.passes) await this.passes.run(pass, 'insights', accounting, this.options.read, missing);
        else await readLayers(sources.filter((_, i) => missing.has(i)), [accounting], this.options.read);
      } catch (e) {
        if (e instanceof LayerError) return this.recordFailure(image.digest, e, started);
        throw e;
      }
      for (const r of accounting.records) {
        cached.set(r.digest, r);
        await this.store.putLayer(r, this.now());
      }
    }
    return this.finish(repository, image, cached, started);
  }

  private async finish(repository: string, image: ResolvedImage, records: Map<string, LayerRecord>, started: number): Promise<StoredAnalysis> {
    const sources = this.sources(repository, image.layers);
    const ordered = sources.map((s) => records.get(s.digest)!);
    const config = image.config ? await this.readConfig(repository, image.config) : undefined;
    const facts = parseConfigFacts(config, ordered.length);
    const analysis = analyse(ordered, facts, await this.analysisOptions(ordered));
    const skipped = image.layers.length - sources.length;
    if (skipped > 0) analysis.warnings.push(`${skipped} foreign (non-distributable) layers were not read`);
    const durationMs = Math.round(performance.now() - started);
    const stored: StoredAnalysis = { digest: image.digest, analyzerVersion: ANALYZER_VERSION, state: 'done', error: null, report: analysis, analysedAt: this.now(), durationMs };
    await this.store.putAnalysis(stored);
    this.metrics?.analysed('done', durationMs / 1000);
    this.logger?.info({ repository, digest: image.digest, findings: analysis.findings.length, ms: durationMs }, 'image analysed');
    return stored;
  }

  private async recordFailure(digest: string, e: LayerError, started: number): Promise<StoredAnalysis> {
    const durationMs = Math.round(performance.now() - started);
    const stored: StoredAnalysis = {
      digest,
      analyzerVersion: ANALYZER_VERSION,
      state: 'failed',
      error: { message: e.message, layer: e.layer, layerDigest: e.digest, limit: e.limit },
      report: null,
      analysedAt: this.now(),
      durationMs,
    };
    await this.store.putAnalysis(stored);
    this.metrics?.analysed('failed', durationMs / 1000);
    this.logger?.warn({ digest, err: e.message }, 'image analysis failed');
    return stored;
  }

  private async readConfig(repository: string, d: Descriptor): Promise<unknown> {
    if (d.size > CONFIG_MAX_BYTES) return undefined;
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of await this.registry.openBlob(repository, d.digest)) {
      n += (c as Buffer).length;
      if (n > CONFIG_MAX_BYTES) return undefined;
      chunks.push(c as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return undefined;
    }
  }

  private async analysisOptions(records: LayerRecord[]): Promise<AnalysisOptions> {
    return {
      bandwidthBitsPerSecond: this.options.bandwidthBitsPerSecond,
      decompressBytesPerSecond: this.options.decompressBytesPerSecond ?? this.decompressRate(records),
      weightsThresholdBytes: this.options.weightsThresholdBytes,
      hugeLayerBytes: this.options.hugeLayerBytes,
    };
  }

  /**
   * gzip decompression rate of this server, in bytes per second: measured once per process (the
   * best of three runs) on a 16 MiB sample of text-like data (layers read while analysing include hashing and parsing, so
   * they would understate a node's decompression). Rounded to 1 MB/s so reports are stable.
   */
  private decompressRate(_records: LayerRecord[]): number {
    if (this.measuredRate === undefined) {
      const line = Buffer.from('usr/lib/python3/dist-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so 0123456789abcdef\n');
      const sample = Buffer.alloc(16 * 1024 * 1024);
      for (let i = 0; i < sample.length; i += line.length) line.copy(sample, i, 0, Math.min(line.length, sample.length - i));
      for (let i = 0; i < sample.length; i += 97) sample[i] = (i * 31) & 0xff;
      const packed = gzipSync(sample, { level: 6 });
      // the best of three: the first runs pay for warming up, and a busy machine is no slower node
      let seconds = Infinity;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        gunzipSync(packed);
        seconds = Math.min(seconds, Math.max((performance.now() - t) / 1000, 1e-3));
      }
      this.measuredRate = Math.max(1e6, Math.round(sample.length / seconds / 1e6) * 1e6);
    }
    return this.measuredRate;
  }

  // --- diff ---

  /**
   * What changes from image A to image B (each analysed first when it was not; a platform of an
   * index: `platform`, else linux/amd64, else the first). INSIGHTS_FAILED when an analysis failed.
   */
  async diff(a: { repository: string; ref: Reference }, b: { repository: string; ref: Reference }, platform?: string): Promise<{ a: { repository: string; digest: string }; b: { repository: string; digest: string }; diff: ImageDiff }> {
    const side = async (x: { repository: string; ref: Reference }): Promise<{ digest: string; analysis: InsightsAnalysis; records: LayerRecord[] }> => {
      const target = await this.resolve(x.repository, x.ref, platform);
      const image = target.images.find((i) => i.platform === null || i.platform === 'linux/amd64' || i.platform.startsWith('linux/amd64/')) ?? target.images[0]!;
      await this.analyse(x.repository, { kind: 'digest', digest: image.digest });
      const stored = await this.store.findAnalysis(image.digest);
      if (!stored?.report) throw new WharfError('INSIGHTS_FAILED', `the analysis of ${x.repository}@${image.digest} failed: ${stored?.error?.message ?? 'no analysis'}`);
      const digests = stored.report.layers.map((l) => l.digest);
      const found = await this.store.findLayers(digests, LAYER_RECORD_VERSION);
      const records = digests.map((d) => found.get(d)).filter((r): r is LayerRecord => r !== undefined);
      if (records.length !== digests.length) throw new WharfError('INSIGHTS_FAILED', `layer records of ${x.repository}@${image.digest} are missing: analyse it again with force`);
      return { digest: image.digest, analysis: stored.report, records };
    };
    const [sa, sb] = [await side(a), await side(b)];
    return { a: { repository: a.repository, digest: sa.digest }, b: { repository: b.repository, digest: sb.digest }, diff: diffImages(sa, sb, this.options.bandwidthBitsPerSecond) };
  }

  // --- reading ---

  /** The stored analyses of `ref` (per platform); an image never analysed is `pending`. */
  async report(repository: string, ref: Reference, platform?: string): Promise<InsightsReport> {
    return this.reportOf(repository, await this.resolve(repository, ref, platform));
  }

  private async reportOf(repository: string, target: { digest: Digest; index: { platforms: string[] } | null; images: ResolvedImage[] }): Promise<InsightsReport> {
    const images: ImageInsights[] = [];
    for (const image of target.images) {
      const s = await this.store.findAnalysis(image.digest);
      images.push({
        platform: image.platform,
        digest: image.digest,
        state: s ? s.state : 'pending',
        analysedAt: s ? new Date(s.analysedAt).toISOString() : null,
        durationMs: s ? s.durationMs : null,
        error: s?.error ?? null,
        analysis: s?.report ?? null,
      });
    }
    return { repository, digest: target.digest, index: target.index, images };
  }
}
