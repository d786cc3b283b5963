import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../domain/digest.js';
import { parseManifest, type Descriptor } from '../../domain/manifest.js';
import { MediaTypes } from '../../domain/media-types.js';
import type { Reference } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { RegistryService } from '../../registry/registry-service.js';
import { buildLayerIndex, DEFAULT_SPAN_SIZE, type LayerIndexLimits } from './layer-indexer.js';
import type { LayerIndex } from './layer-reader.js';
import { openLayerIndex } from './ztoc-loader.js';
import { MergedTree, type FsNode } from './merged-tree.js';
import type { LayerIndexRecord, SqlStreamingStore } from './sql-streaming-store.js';
import { encodeZtoc } from './ztoc.js';

/**
 * Lazy pulling and file-level access (issue 12).
 *
 * Indexes: each layer of an image gets a zTOC (layer-indexer.ts), built once per layer digest
 * (streaming_layer_indexes remembers it, or the error that ended it) and stored as a blob in the
 * blob store, linked into the repository. Per image manifest an OCI artifact binds them: an image
 * manifest with artifactType FILE_INDEX_ARTIFACT_TYPE whose layers are the zTOCs (annotated with
 * the layer they index, as SOCI does) and whose subject is the image. So the zTOCs work on every
 * blob store, count in the repository's usage, are listed by the referrers API, and go with their
 * image: GC collects referrers whose subject is gone (gc.untaggedManifests) and then the blobs
 * nothing references. Built on push when the repository's settings say `indexOnPush: true`
 * (`streaming.index` job), and on demand.
 *
 * Files: the merged filesystem of an image (merged-tree.ts) from its layers' zTOCs; a file's bytes
 * are read with Range requests on the blob store from the checkpoint before them
 * (layer-reader.ts). Everything goes through RegistryService, so only what the repository holds
 * is read, whoever knows a digest.
 */
export const FILE_INDEX_ARTIFACT_TYPE = 'application/vnd.wharf.file-index.v1+json';
export const ZTOC_MEDIA_TYPE = 'application/octet-stream';
const LAYER_DIGEST_ANNOTATION = 'com.amazon.soci.image-layer-digest';
const LAYER_MEDIA_TYPE_ANNOTATION = 'com.amazon.soci.image-layer-mediaType';
const BUILD_TOOL_ANNOTATION = 'com.amazon.soci.build-tool-identifier';
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
/** the most a stored zTOC may be (1 GiB would index ~4 TB of gzip at the default span) */
const MAX_ZTOC_BYTES = 1024 ** 3;

export interface StreamingJobs {
  enqueue(kind: string, payload: unknown, options?: { key?: string }): Promise<{ id: number } | undefined>;
  register(kind: string, handler: (payload: unknown) => Promise<void>): void;
}

export interface StreamingSettings {
  findSettings(names: readonly string[]): Promise<Map<string, { indexOnPush?: boolean } & Record<string, unknown>>>;
}

export interface StreamingLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface StreamingServiceOptions {
  registry: RegistryService;
  store: SqlStreamingStore;
  settings: StreamingSettings;
  spanSize?: number;
  limits?: Partial<LayerIndexLimits>;
  /** decoded zTOCs kept in memory (bytes; default 256 MiB) */
  cacheBytes?: number;
  logger?: StreamingLogger;
}

interface Image {
  digest: Digest;
  mediaType: string;
  size: number;
  layers: Descriptor[];
  platform?: string;
}

export interface LayerIndexStatus {
  digest: string;
  mediaType: string;
  size: number;
  state: 'indexed' | 'failed' | 'missing';
  ztoc?: { digest: string; size: number; algorithm?: string; entries?: number; spans?: number };
  error?: string;
  /** true when this call built it (false: an earlier build was reused) */
  built?: boolean;
}

export interface ImageIndexReport {
  repository: string;
  digest: string;
  platform?: string;
  artifact?: string;
  layers: LayerIndexStatus[];
}

export interface FileEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  modTime?: string;
  linkname?: string;
}

export type FileStat =
  | { kind: 'dir'; path: string; image: string; entries: FileEntry[] }
  | { kind: 'file'; path: string; image: string; size: number; mode: number; etag: string; modTime?: string };

interface Mounted {
  tree: MergedTree;
  layers: { digest: Digest; index: LayerIndex }[];
}

export class StreamingService {
  private readonly registry: RegistryService;
  private readonly store: SqlStreamingStore;
  private readonly settings: StreamingSettings;
  private readonly spanSize: number;
  private readonly limits: Partial<LayerIndexLimits>;
  private readonly logger?: StreamingLogger;
  private jobs?: StreamingJobs;
  private readonly cacheBytes: number;
  private readonly zcache = new Map<string, LayerIndex>();
  private zcacheBytes = 0;
  private readonly trees = new Map<string, Mounted>();

  constructor(o: StreamingServiceOptions) {
    this.registry = o.registry;
    this.store = o.store;
    this.settings = o.settings;
    this.spanSize = o.spanSize ?? DEFAULT_SPAN_SIZE;
    this.limits = o.limits ?? {};
    this.cacheBytes = o.cacheBytes ?? 256 * 1024 * 1024;
    this.logger = o.logger;
  }

  /** Registers the `streaming.index` job and indexes pushes to repositories with indexOnPush. */
  useJobs(jobs: StreamingJobs): void {
    this.jobs = jobs;
    jobs.register('streaming.index', async (payload) => {
      const p = payload as { repository?: unknown; digest?: unknown };
      if (typeof p.repository !== 'string' || typeof p.digest !== 'string') throw new WharfError('BODY_INVALID', 'streaming.index needs repository and digest');
      await this.index(p.repository, { kind: 'digest', digest: p.digest as Digest });
    });
    this.registry.onManifestPushed((event) => {
      // referrers (our own file-index artifacts among them) are not images to index
      if (event.subject !== undefined) return;
      void (async () => {
        const s = (await this.settings.findSettings([event.repository])).get(event.repository);
        if (s?.indexOnPush !== true) return;
        await jobs.enqueue('streaming.index', { repository: event.repository, digest: event.digest }, { key: `streaming.index:${event.repository}@${event.digest}` });
      })().catch((err: unknown) => this.logger?.warn({ err }, 'enqueueing a file index failed'));
    });
  }

  /** Enqueues an index build (on-demand, in the background); undefined when one is already queued. */
  async enqueue(repository: string, ref: Reference): Promise<{ job?: number; digest: string }> {
    const m = await this.registry.getManifest(repository, ref);
    if (!this.jobs) throw new WharfError('UNAVAILABLE', 'background jobs are not running on this instance');
    const job = await this.jobs.enqueue('streaming.index', { repository, digest: m.digest }, { key: `streaming.index:${repository}@${m.digest}` });
    return { job: job?.id, digest: m.digest };
  }

  /**
   * Indexes `ref` (an image, or every platform of an index, or the one named): every layer once
   * per digest, then the file-index artifact per image manifest. A layer that cannot be indexed
   * is reported (and remembered) as failed; `force` retries such layers.
   */
  async index(repository: string, ref: Reference, options: { platform?: string; force?: boolean } = {}): Promise<ImageIndexReport[]> {
    const images = await this.resolveImages(repository, ref, options.platform, true);
    const reports: ImageIndexReport[] = [];
    for (const image of images) reports.push(await this.indexImage(repository, image, options.force === true));
    return reports;
  }

  /** What is indexed of `ref` (each image of an index, or the platform named), without building anything. */
  async status(repository: string, ref: Reference, platform?: string): Promise<ImageIndexReport[]> {
    const images = await this.resolveImages(repository, ref, platform, true);
    const out: ImageIndexReport[] = [];
    for (const image of images) {
      const rows = await this.store.find(image.layers.map((l) => l.digest));
      out.push({
        repository,
        digest: image.digest,
        ...(image.platform ? { platform: image.platform } : {}),
        layers: image.layers.map((l) => this.layerStatus(l, rows.get(l.digest))),
      });
    }
    return out;
  }

  private layerStatus(l: Descriptor, row: LayerIndexRecord | undefined, built?: boolean): LayerIndexStatus {
    const base = { digest: l.digest, mediaType: l.mediaType, size: l.size };
    if (row?.ztocDigest && row.ztocSize !== undefined) {
      return {
        ...base,
        state: 'indexed',
        ztoc: { digest: row.ztocDigest, size: row.ztocSize, algorithm: row.algorithm, entries: row.entries, spans: row.spans },
        ...(built !== undefined ? { built } : {}),
      };
    }
    if (row?.error) return { ...base, state: 'failed', error: row.error };
    return { ...base, state: 'missing' };
  }

  private async indexImage(repository: string, image: Image, force: boolean): Promise<ImageIndexReport> {
    const statuses: LayerIndexStatus[] = [];
    for (const layer of image.layers) statuses.push(await this.ensureLayer(repository, layer, force));
    const report: ImageIndexReport = { repository, digest: image.digest, ...(image.platform ? { platform: image.platform } : {}), layers: statuses };
    if (statuses.every((s) => s.state === 'indexed')) report.artifact = await this.putArtifact(repository, image, statuses);
    return report;
  }

  /** The layer's zTOC linked into `repository`: reused (mounted) when built before, else built now. */
  private async ensureLayer(repository: string, layer: Descriptor, force: boolean): Promise<LayerIndexStatus> {
    const row = (await this.store.find([layer.digest])).get(layer.digest);
    if (row?.ztocDigest) {
      if (await this.linked(repository, row.ztocDigest as Digest)) return this.layerStatus(layer, row, false);
      if (row.sourceRepository && (await this.registry.mountBlob(repository, row.ztocDigest as Digest, row.sourceRepository).catch(() => undefined))) {
        return this.layerStatus(layer, row, false);
      }
      // the zTOC is gone from where it was (GC took it with its image): build it again, same bytes
    } else if (row?.error && !force) {
      return this.layerStatus(layer, row, false);
    }
    const started = Date.now();
    try {
      const ztoc = await buildLayerIndex(await this.registry.openBlob(repository, layer.digest), { spanSize: this.spanSize, limits: this.limits });
      const bytes = Buffer.from(encodeZtoc(ztoc));
      const digest = digestOf(bytes);
      await this.registry.pushBlob(repository, digest, Readable.from([bytes]));
      const record: LayerIndexRecord = {
        layerDigest: layer.digest,
        ztocDigest: digest,
        ztocSize: bytes.length,
        algorithm: ztoc.algorithm,
        entries: ztoc.entries.length,
        spans: ztoc.maxSpanId + 1,
        sourceRepository: repository,
        buildMs: Date.now() - started,
        builtAt: Date.now(),
      };
      await this.store.save(record);
      this.logger?.info({ repository, layer: layer.digest, ztoc: digest, bytes: bytes.length, ms: record.buildMs }, 'layer indexed');
      return this.layerStatus(layer, record, true);
    } catch (e) {
      if (!(e instanceof WharfError) || e.code !== 'LAYER_INVALID') throw e;
      const record: LayerIndexRecord = { layerDigest: layer.digest, error: e.message, buildMs: Date.now() - started, builtAt: Date.now() };
      await this.store.save(record);
      this.logger?.warn({ repository, layer: layer.digest, error: e.message }, 'layer cannot be indexed');
      return this.layerStatus(layer, record, true);
    }
  }

  private async linked(repository: string, digest: Digest): Promise<boolean> {
    try {
      await this.registry.statBlob(repository, digest);
      return true;
    } catch (e) {
      if (e instanceof WharfError && e.code === 'BLOB_UNKNOWN') return false;
      throw e;
    }
  }

  /** The file-index artifact of one image manifest (deterministic bytes: pushing it again changes nothing). */
  private async putArtifact(repository: string, image: Image, layers: LayerIndexStatus[]): Promise<string> {
    const empty = Buffer.from('{}');
    const emptyDigest = digestOf(empty);
    await this.registry.pushBlob(repository, emptyDigest, Readable.from([empty]));
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: FILE_INDEX_ARTIFACT_TYPE,
      config: { mediaType: MediaTypes.ociEmpty, digest: emptyDigest, size: empty.length },
      layers: layers.map((l) => ({
        mediaType: ZTOC_MEDIA_TYPE,
        digest: l.ztoc!.digest,
        size: l.ztoc!.size,
        annotations: { [LAYER_DIGEST_ANNOTATION]: l.digest, [LAYER_MEDIA_TYPE_ANNOTATION]: l.mediaType },
      })),
      subject: { mediaType: image.mediaType, digest: image.digest, size: image.size },
      annotations: { [BUILD_TOOL_ANNOTATION]: 'wharf' },
    };
    const content = Buffer.from(JSON.stringify(manifest));
    const digest = digestOf(content);
    await this.registry.putManifest(repository, { kind: 'digest', digest }, content, MediaTypes.ociManifest);
    return digest;
  }

  /** The image manifests `ref` stands for: itself, or an index's children (all, or the platform named). */
  private async resolveImages(repository: string, ref: Reference, platform: string | undefined, all: boolean): Promise<Image[]> {
    const m = await this.registry.getManifest(repository, ref);
    const parsed = parseManifest(m.content, m.mediaType);
    if (parsed.isIndex) {
      const children = parsed.references
        .map((r) => r.descriptor)
        .filter((d) => (d.mediaType === MediaTypes.ociManifest || d.mediaType === MediaTypes.dockerManifest) && platformOf(d) !== 'unknown/unknown');
      let chosen: Descriptor[];
      if (platform !== undefined) chosen = children.filter((d) => platformOf(d) === platform || platformOf(d).startsWith(`${platform}/`)).slice(0, 1);
      else if (all) chosen = children;
      else chosen = [children.find((d) => platformOf(d) === 'linux/amd64') ?? children[0]].filter((d): d is Descriptor => d !== undefined);
      if (chosen.length === 0) throw new WharfError('MANIFEST_UNKNOWN', `the index has no image for platform ${platform ?? 'linux/amd64'}`);
      const out: Image[] = [];
      for (const d of chosen) {
        const [inner] = await this.resolveImages(repository, { kind: 'digest', digest: d.digest }, undefined, false);
        out.push({ ...inner!, platform: platformOf(d) });
      }
      return out;
    }
    if (!parsed.config || !IMAGE_CONFIG_TYPES.has(parsed.config.mediaType)) {
      throw new WharfError('MANIFEST_INVALID', `manifest ${m.digest} is not a container image (config ${parsed.config?.mediaType ?? 'none'})`);
    }
    return [{ digest: m.digest, mediaType: parsed.mediaType, size: m.content.length, layers: parsed.references.filter((r) => r.kind === 'layer').map((r) => r.descriptor) }];
  }

  // --- files ---

  /** What is at `path` in the image: a directory listing, or a file's size and ETag. */
  async stat(repository: string, ref: Reference, path: string, platform?: string): Promise<FileStat> {
    const { mounted, image } = await this.mount(repository, ref, platform);
    const { node, path: canonical } = mounted.tree.resolve(path);
    if (node.type === 'dir') {
      const entries = [...node.children!.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(entryOf);
      return { kind: 'dir', path: canonical, image: image.digest, entries };
    }
    const data = node.data;
    if (!data) {
      if (node.type === 'hardlink') throw new WharfError('FILE_UNKNOWN', `${JSON.stringify(path)}: a hard link to a file the image does not have`);
      throw new WharfError('PATH_INVALID', `${JSON.stringify(path)} is a ${node.type}, not a regular file or directory`);
    }
    const layer = mounted.layers[data.layer]!;
    const etag = `"${createHash('sha256').update(`${layer.digest}:${data.entry.offset}:${data.entry.size}`).digest('hex').slice(0, 40)}"`;
    return { kind: 'file', path: canonical, image: image.digest, size: data.entry.size, mode: node.entry?.mode ?? 0, etag, ...(node.entry ? { modTime: node.entry.modTime } : {}) };
  }

  /** A file's bytes (or the inclusive range), streamed from the layer through its zTOC. */
  async read(repository: string, ref: Reference, path: string, range?: { start: number; end: number }, platform?: string): Promise<Readable> {
    const { mounted } = await this.mount(repository, ref, platform);
    const { node } = mounted.tree.resolve(path);
    const data = node.data;
    if (!data) throw new WharfError('PATH_INVALID', `${JSON.stringify(path)} is not a regular file`);
    const layer = mounted.layers[data.layer]!;
    const start = range?.start ?? 0;
    const end = range ? Math.min(range.end, data.entry.size - 1) : data.entry.size - 1;
    return layer.index.read((r) => this.registry.openBlob(repository, layer.digest, r), data.entry.offset + start, end - start + 1);
  }

  private async mount(repository: string, ref: Reference, platform?: string): Promise<{ mounted: Mounted; image: Image }> {
    const [image] = await this.resolveImages(repository, ref, platform, false);
    const key = `${repository}@${image!.digest}`;
    const cached = this.trees.get(key);
    if (cached) {
      this.trees.delete(key);
      this.trees.set(key, cached);
      return { mounted: cached, image: image! };
    }
    const rows = await this.store.find(image!.layers.map((l) => l.digest));
    const layers: Mounted['layers'] = [];
    for (const l of image!.layers) {
      const row = rows.get(l.digest);
      if (!row?.ztocDigest || !(await this.linked(repository, row.ztocDigest as Digest))) {
        throw new WharfError('INDEX_NOT_READY', row?.error ? `layer ${l.digest} cannot be indexed: ${row.error}` : `layer ${l.digest} of ${image!.digest} is not indexed in ${repository} yet`);
      }
      layers.push({ digest: l.digest, index: await this.layerIndex(repository, row.ztocDigest as Digest, row.ztocSize ?? 0) });
    }
    const mounted: Mounted = { tree: MergedTree.build(layers.map((l) => l.index.ztoc.entries)), layers };
    this.trees.set(key, mounted);
    while (this.trees.size > 64) this.trees.delete(this.trees.keys().next().value!);
    return { mounted, image: image! };
  }

  private async layerIndex(repository: string, digest: Digest, size: number): Promise<LayerIndex> {
    const hit = this.zcache.get(digest);
    if (hit) {
      this.zcache.delete(digest);
      this.zcache.set(digest, hit);
      return hit;
    }
    if (size > MAX_ZTOC_BYTES) throw new WharfError('LAYER_INVALID', `the zTOC ${digest} is larger than ${MAX_ZTOC_BYTES} bytes`);
    const read = async (start: number, end: number): Promise<Buffer> => {
      const parts: Buffer[] = [];
      let got = 0;
      for await (const c of await this.registry.openBlob(repository, digest, { start, end })) {
        got += (c as Buffer).length;
        if (got > end - start + 1) throw new WharfError('LAYER_INVALID', `the zTOC ${digest} answered more than the range asked`);
        parts.push(c as Buffer);
      }
      if (got !== end - start + 1) throw new WharfError('LAYER_INVALID', `the zTOC ${digest} is shorter than recorded`);
      return Buffer.concat(parts, got);
    };
    const index = await openLayerIndex(read, size);
    this.zcache.set(digest, index);
    this.zcacheBytes += index.footprint;
    for (const [k, v] of this.zcache) {
      if (this.zcacheBytes <= this.cacheBytes || k === digest) break;
      this.zcache.delete(k);
      this.zcacheBytes -= v.footprint;
    }
    return index;
  }
}

function platformOf(d: Descriptor): string {
  const p = d.platform as { os?: string; architecture?: string; variant?: string } | undefined;
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '';
}

function entryOf(n: FsNode): FileEntry {
  const e = n.entry;
  return {
    name: n.name,
    type: n.type,
    size: n.data?.entry.size ?? 0,
    mode: e?.mode ?? 0o755,
    uid: e?.uid ?? 0,
    gid: e?.gid ?? 0,
    ...(e?.modTime ? { modTime: e.modTime } : {}),
    ...(n.type === 'symlink' || n.type === 'hardlink' ? { linkname: e?.linkname ?? '' } : {}),
  };
}
