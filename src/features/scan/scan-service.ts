/**
 * The vulnerability scanner: inventories images from their layers (read through RegistryService,
 * so only what the repository links), stores one inventory per image digest, matches it against
 * the imported OSV data, builds SBOMs, and re-matches every stored inventory when new data is
 * imported — without reading a layer again.
 *
 * Background work goes through the job queue when one is given: `scan.image` (a push to a
 * repository whose settings say `scanOnPush: true`) and `scan.rematch` (after an import). Both
 * handlers are idempotent: an inventory is keyed by digest, findings are replaced as a set.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseManifest, type Descriptor } from '../../domain/manifest.js';
import { MediaTypes } from '../../domain/media-types.js';
import { digestOf, type Digest } from '../../domain/digest.js';
import type { Reference } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { ManifestPushed, RegistryService } from '../../registry/registry-service.js';
import { buildInventory, wantPath } from '../../content/inventory/collector.js';
import { DEFAULT_WALK_LIMITS, FileViewConsumer, LayerError, walkLayers, type FileView, type WalkLimits } from '../../content/layers/layer-walker.js';
import type { ContentPasses } from '../../content/content-pass.js';
import { findingsFor, matchKey, packageKey, type Finding } from './matching.js';
import { CYCLONEDX_MEDIA_TYPE, buildCycloneDx } from './sbom/cyclonedx.js';
import { SPDX_MEDIA_TYPE, buildSpdx } from './sbom/spdx.js';
import type { SqlScanStore, StoredFinding, StoredInventory, StoredLayer } from './sql-scan-store.js';
import { severityRank, type SeverityLevel } from './vulns/cvss.js';
import { OsvRecordError, parseOsvRecord, type Advisory } from './vulns/osv.js';
import { ndjsonRecords, zipRecords } from './vulns/osv-sources.js';

/** Bumped when extraction changes: inventories of an older scanner are taken again on the next scan. */
export const SCANNER_VERSION = 1;
export const TOOL_VERSION = '0.1.0';

export type SbomFormat = 'spdx' | 'cyclonedx';

/** The job queue, as the scanner uses it (src/jobs/JobRunner fits). */
export interface ScanJobs {
  enqueue(kind: string, payload: unknown, options?: { key?: string }): Promise<{ id: number } | undefined>;
  register(kind: string, handler: (payload: unknown) => Promise<void>): void;
}

/** Repository settings, as the scanner reads them (scanOnPush). */
export interface ScanSettingsReader {
  findSettings(names: readonly string[]): Promise<Map<string, Record<string, unknown>>>;
}

export interface ScanServiceOptions {
  registry: RegistryService;
  store: SqlScanStore;
  settings?: ScanSettingsReader;
  limits?: Partial<WalkLimits>;
  now?: () => number;
  /** host[:port] of the registry, for image purls in SBOMs */
  registryHost?: string;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** shared passes over layers: a scan feeds (and joins) other features' reading of the same image */
  passes?: ContentPasses;
}

export type SeverityCounts = Record<SeverityLevel, number>;

export interface ScanReport {
  repository: string;
  /** the image manifest scanned (for an index: the platform's) */
  digest: string;
  /** the index it was chosen from, and the platform */
  index?: { digest: string; platform: string };
  scannedAt: string;
  matchedAt: string | null;
  scannerVersion: number;
  os: StoredInventory['inventory']['os'] | null;
  layers: (StoredLayer & { packages: number })[];
  packageCount: number;
  ml: StoredInventory['inventory']['ml'];
  summary: SeverityCounts;
  findings: (StoredFinding & { firstSeen: string })[];
  warnings: string[];
  vulnerabilityData: { importedAt: string | null; newestRecord: string | null; advisories: number };
}

export interface ImportResult {
  id: number;
  source: string;
  records: number;
  added: number;
  updated: number;
  unchanged: number;
  rejected: number;
  errors: string[];
  newestModified: string | null;
  /** the re-match of stored inventories: a queued job, or done here (when no job queue) */
  rematch: { job?: number; inventories?: number; newFindings?: number };
}

const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

function emptyCounts(): SeverityCounts {
  return { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
}

function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

export class ScanService {
  private readonly registry: RegistryService;
  private readonly store: SqlScanStore;
  private readonly settings?: ScanSettingsReader;
  private readonly limits: WalkLimits;
  private readonly now: () => number;
  private readonly registryHost?: string;
  private readonly logger?: ScanServiceOptions['logger'];
  private jobs?: ScanJobs;
  /** scans running in this process, by digest: a second request waits for the first */
  private readonly running = new Map<string, Promise<StoredInventory>>();
  private readonly passes?: ContentPasses;

  constructor(options: ScanServiceOptions) {
    this.registry = options.registry;
    this.store = options.store;
    this.settings = options.settings;
    this.limits = { ...DEFAULT_WALK_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
    this.registryHost = options.registryHost;
    this.logger = options.logger;
    this.passes = options.passes;
    // joins another feature's pass over an image that has no inventory of this scanner yet
    this.passes?.register({
      name: 'scan',
      join: async (image) => {
        const inv = await this.store.findInventory(image.digest);
        if ((inv && inv.scannerVersion >= SCANNER_VERSION) || this.running.has(image.digest)) return undefined;
        const consumer = new FileViewConsumer(wantPath, this.limits);
        return {
          consumer,
          done: async (summaries) => {
            const m = await this.registry.getManifest(image.repository, { kind: 'digest', digest: image.digest as Digest });
            const layers = parseManifest(m.content, m.mediaType).references.filter((r) => r.kind === 'layer').map((r) => r.descriptor);
            await this.storeInventory(image.repository, image.digest as Digest, layers, consumer.view(summaries));
          },
          failed: async () => undefined, // a scan of its own reports the error when asked
        };
      },
    });
  }

  /** Registers the job handlers and listens for pushes (repositories with scanOnPush get a scan job). */
  useJobs(jobs: ScanJobs): void {
    this.jobs = jobs;
    jobs.register('scan.image', async (payload) => {
      const { repository, digest } = payload as { repository: string; digest: Digest };
      try {
        await this.scan(repository, { kind: 'digest', digest });
      } catch (e) {
        // gone since the push, or not an image: nothing to retry
        if (e instanceof WharfError && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'SCAN_FAILED')) {
          this.logger?.warn({ repository, digest, err: e.message }, 'scan on push skipped');
          return;
        }
        throw e;
      }
    });
    jobs.register('scan.rematch', async (payload) => {
      const { importId } = (payload ?? {}) as { importId?: number };
      const r = await this.rematchAll(importId ?? null);
      this.logger?.info({ importId, ...r }, 'stored inventories re-matched');
    });
    this.registry.onManifestPushed((event) => void this.onPushed(event).catch((err: unknown) => this.logger?.warn({ err }, 'enqueueing a scan failed')));
  }

  private async onPushed(event: ManifestPushed): Promise<void> {
    if (!this.jobs || !this.settings) return;
    if (event.subject !== undefined) return; // an artifact about an image (signature, SBOM), not an image
    const s = (await this.settings.findSettings([event.repository])).get(event.repository);
    if (s?.scanOnPush !== true) return;
    await this.jobs.enqueue('scan.image', { repository: event.repository, digest: event.digest }, { key: `scan.image:${event.repository}@${event.digest}` });
  }

  // --- scanning ---

  /** Resolves `ref` to an image manifest (an index: the platform's child), checking the repository has it. */
  private async resolveImage(repository: string, ref: Reference, platform?: string): Promise<{ digest: Digest; layers: Descriptor[]; index?: { digest: string; platform: string } }> {
    const m = await this.registry.getManifest(repository, ref);
    const parsed = parseManifest(m.content, m.mediaType);
    if (parsed.isIndex) {
      const children = parsed.references.map((r) => r.descriptor).filter((d) => d.mediaType === MediaTypes.ociManifest || d.mediaType === MediaTypes.dockerManifest);
      const want = platform ?? 'linux/amd64';
      const name = (d: Descriptor): string => {
        const p = d.platform as { os?: string; architecture?: string; variant?: string } | undefined;
        return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '';
      };
      const child = children.find((d) => name(d) === want || name(d).startsWith(`${want}/`)) ?? (platform === undefined ? children.find((d) => name(d) !== 'unknown/unknown') : undefined);
      if (!child) throw new WharfError('SCAN_FAILED', `the index has no image for platform ${want}`);
      const inner = await this.resolveImage(repository, { kind: 'digest', digest: child.digest });
      return { ...inner, index: { digest: m.digest, platform: name(child) } };
    }
    if (!parsed.config || !IMAGE_CONFIG_TYPES.has(parsed.config.mediaType)) {
      throw new WharfError('SCAN_FAILED', `manifest ${m.digest} is not a container image (config ${parsed.config?.mediaType ?? 'none'})`);
    }
    const layers = parsed.references.filter((r) => r.kind === 'layer').map((r) => r.descriptor);
    return { digest: m.digest, layers };
  }

  /** Scans `ref` (reads its layers unless an inventory of this scanner exists, or `force`), matches, reports. */
  async scan(repository: string, ref: Reference, options: { force?: boolean; platform?: string } = {}): Promise<ScanReport> {
    const image = await this.resolveImage(repository, ref, options.platform);
    let inv = options.force ? undefined : await this.store.findInventory(image.digest);
    if (!inv || inv.scannerVersion < SCANNER_VERSION) {
      let pending = this.running.get(image.digest);
      if (!pending) {
        pending = this.inventory(repository, image.digest, image.layers).finally(() => this.running.delete(image.digest));
        this.running.set(image.digest, pending);
      }
      inv = await pending;
      await this.match(inv, null);
    } else if (inv.matchedAt === null) {
      await this.match(inv, null);
    }
    return this.reportFor(repository, image.digest, image.index);
  }

  private async inventory(repository: string, digest: Digest, layers: Descriptor[]): Promise<StoredInventory> {
    const sources = layers
      .filter((l) => !(l.urls?.length && /foreign|nondistributable/.test(l.mediaType)))
      .map((l) => ({ digest: l.digest, open: () => this.registry.openBlob(repository, l.digest) }));
    let view: FileView;
    try {
      if (this.passes) {
        const consumer = new FileViewConsumer(wantPath, this.limits);
        const { summaries } = await this.passes.run({ repository, digest, layers: sources }, 'scan', consumer, this.limits);
        view = consumer.view(summaries);
      } else view = await walkLayers(sources, wantPath, this.limits);
    } catch (e) {
      if (e instanceof LayerError) throw new WharfError('SCAN_FAILED', e.message, { layer: e.layer, digest: e.digest, limit: e.limit });
      throw e;
    }
    return this.storeInventory(repository, digest, layers, view);
  }

  private async storeInventory(repository: string, digest: Digest, layers: Descriptor[], view: FileView): Promise<StoredInventory> {
    const sources = layers.filter((l) => !(l.urls?.length && /foreign|nondistributable/.test(l.mediaType)));
    const skipped = layers.length - sources.length;
    const inventory = buildInventory(view);
    if (skipped > 0) inventory.warnings.push(`${skipped} foreign (non-distributable) layers were not read`);
    const stored: StoredInventory = {
      digest,
      scannerVersion: SCANNER_VERSION,
      inventory,
      layers: sources.map((d, i) => {
        const sum = view.layers[i];
        return { digest: d.digest, mediaType: d.mediaType, size: d.size, ...(sum ? { compression: sum.compression, uncompressedBytes: sum.uncompressedBytes } : {}) };
      }),
      scannedAt: this.now(),
      matchedAt: null,
    };
    await this.store.putInventory(stored);
    this.logger?.info({ repository, digest, packages: inventory.packages.length }, 'image inventoried');
    return stored;
  }

  /** Matches one stored inventory against the DB; returns how many findings are new. */
  private async match(inv: StoredInventory, importId: number | null): Promise<number> {
    const pkgs = inv.inventory.packages;
    const keys = pkgs.map(matchKey).filter((k): k is NonNullable<typeof k> => k !== undefined);
    const candidates = keys.length > 0 ? await this.store.candidates(keys) : [];
    const byName = new Map<string, typeof candidates>();
    for (const c of candidates) {
      const k = `${c.affected.ecosystem}\0${c.affected.name}`;
      let list = byName.get(k);
      if (!list) byName.set(k, (list = []));
      list.push(c);
    }
    const layers = inv.layers.map((l) => l.digest);
    const findings: { key: string; finding: Finding }[] = [];
    for (const p of pkgs) {
      const k = matchKey(p);
      if (!k) continue;
      for (const f of findingsFor(p, byName.get(`${k.ecosystem}\0${k.name}`) ?? [], layers)) findings.push({ key: packageKey(p), finding: f });
    }
    return this.store.replaceFindings(inv.digest, findings, this.now(), importId);
  }

  /** Re-matches every stored inventory (after an import); layers are not read again. */
  async rematchAll(importId: number | null): Promise<{ inventories: number; newFindings: number }> {
    let after: string | undefined;
    let inventories = 0;
    let newFindings = 0;
    for (;;) {
      const digests = await this.store.listInventoryDigests(after, 100);
      if (digests.length === 0) break;
      for (const d of digests) {
        const inv = await this.store.findInventory(d);
        if (!inv) continue;
        newFindings += await this.match(inv, importId);
        inventories++;
      }
      after = digests[digests.length - 1];
    }
    return { inventories, newFindings };
  }

  // --- reading results ---

  /** The stored report of `ref`; RESOURCE_UNKNOWN when it was never scanned. */
  /**
   * Findings for packages named outside an image (a Python package repository's files, issue 17),
   * matched against the imported data now, as an image's packages are: same ordering rules,
   * same severity. `path` says where the package is (e.g. the file name). Nothing is stored.
   */
  async matchPackages(packages: readonly { type: 'pypi' | 'npm'; ecosystem: 'PyPI' | 'npm'; name: string; version: string; purl: string; path: string }[]): Promise<Finding[]> {
    const inv = packages.map((p) => ({ ...p, layer: 0 }));
    const keys = inv.map(matchKey).filter((k) => k !== undefined);
    if (keys.length === 0) return [];
    const candidates = await this.store.candidates(keys.map((k) => ({ ecosystem: k.ecosystem, name: k.name })));
    return inv.flatMap((p) => findingsFor(p, candidates, []));
  }

  async report(repository: string, ref: Reference, platform?: string): Promise<ScanReport> {
    const image = await this.resolveImage(repository, ref, platform);
    // an inventory stored by another feature's pass (insights) is not matched yet: match it now
    // (no layer is read), so an unmatched inventory never reads as a scan without findings (a
    // deploy policy's severity rule would otherwise pass an image nobody checked)
    const inv = await this.store.findInventory(image.digest);
    if (inv && inv.matchedAt === null) await this.match(inv, null);
    return this.reportFor(repository, image.digest, image.index);
  }

  private async reportFor(repository: string, digest: Digest, index?: { digest: string; platform: string }): Promise<ScanReport> {
    const inv = await this.store.findInventory(digest);
    if (!inv) throw new WharfError('RESOURCE_UNKNOWN', `${repository}@${digest} has not been scanned; scan it first`);
    const findings = (await this.store.listFindings(digest))
      .map((f) => ({ ...f, firstSeen: new Date(f.firstSeenAt).toISOString() }))
      .sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || a.package.name.localeCompare(b.package.name) || a.id.localeCompare(b.id));
    const summary = emptyCounts();
    for (const f of findings) summary[f.severity]++;
    const [latest] = await this.store.listImports(1);
    const { advisories } = await this.store.advisoryCount();
    return {
      repository,
      digest,
      ...(index ? { index } : {}),
      scannedAt: new Date(inv.scannedAt).toISOString(),
      matchedAt: iso(inv.matchedAt),
      scannerVersion: inv.scannerVersion,
      os: inv.inventory.os ?? null,
      layers: inv.layers.map((l, i) => ({ ...l, packages: inv.inventory.packages.filter((p) => p.layer === i).length })),
      packageCount: inv.inventory.packages.length,
      ml: inv.inventory.ml,
      summary,
      findings,
      warnings: inv.inventory.warnings,
      vulnerabilityData: { importedAt: iso(latest?.finishedAt), newestRecord: iso(latest?.newestModified), advisories },
    };
  }

  /** An SBOM of `ref` from its stored inventory (scanning it first when there is none). */
  async sbom(repository: string, ref: Reference, format: SbomFormat, platform?: string): Promise<{ mediaType: string; document: Record<string, unknown>; digest: Digest }> {
    const image = await this.resolveImage(repository, ref, platform);
    let inv = await this.store.findInventory(image.digest);
    if (!inv) {
      await this.scan(repository, { kind: 'digest', digest: image.digest });
      inv = (await this.store.findInventory(image.digest))!;
    }
    const input = {
      repository,
      digest: image.digest,
      layers: inv.layers.map((l) => l.digest),
      inventory: inv.inventory,
      created: new Date(inv.scannedAt),
      ...(this.registryHost ? { registryHost: this.registryHost } : {}),
      toolVersion: TOOL_VERSION,
    };
    return format === 'spdx'
      ? { mediaType: SPDX_MEDIA_TYPE, document: buildSpdx(input), digest: image.digest }
      : { mediaType: CYCLONEDX_MEDIA_TYPE, document: buildCycloneDx(input), digest: image.digest };
  }

  /**
   * Pushes the SBOM as an OCI artifact whose `subject` is the image, so the referrers API lists
   * it (`oras discover`): an image manifest with artifactType = the SBOM's media type, the empty
   * config, and the SBOM as its one layer. Returns the artifact's digest.
   */
  async attachSbom(repository: string, ref: Reference, format: SbomFormat, platform?: string): Promise<{ digest: Digest; subject: Digest; mediaType: string; artifactType: string }> {
    const { mediaType, document, digest } = await this.sbom(repository, ref, format, platform);
    const subject = await this.registry.getManifest(repository, { kind: 'digest', digest });
    const body = Buffer.from(JSON.stringify(document));
    const empty = Buffer.from('{}');
    const bodyDigest = digestOf(body);
    const emptyDigest = digestOf(empty);
    await this.registry.pushBlob(repository, bodyDigest, Readable.from([body]));
    await this.registry.pushBlob(repository, emptyDigest, Readable.from([empty]));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        artifactType: mediaType,
        config: { mediaType: MediaTypes.ociEmpty, digest: emptyDigest, size: empty.length },
        layers: [{ mediaType, digest: bodyDigest, size: body.length, annotations: { 'org.opencontainers.image.title': `sbom.${format}.json` } }],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        annotations: { 'org.opencontainers.image.created': new Date(this.now()).toISOString(), 'dev.wharf.sbom.format': format },
      }),
    );
    const manifestDigest = digestOf(manifest);
    await this.registry.putManifest(repository, { kind: 'digest', digest: manifestDigest }, manifest, MediaTypes.ociManifest);
    return { digest: manifestDigest, subject: subject.digest, mediaType: MediaTypes.ociManifest, artifactType: mediaType };
  }

  // --- vulnerability data ---

  /**
   * Imports OSV records (decoded JSON values; an Error value counts as rejected) from `source`,
   * in batches; then re-matches every stored inventory (a job when there is a queue).
   */
  async importOsv(source: string, records: AsyncIterable<unknown> | Iterable<unknown>): Promise<ImportResult> {
    const importId = await this.store.startImport(source, this.now());
    let total = 0;
    let added = 0;
    let updated = 0;
    let unchanged = 0;
    let rejected = 0;
    let newest: number | null = null;
    const errors: string[] = [];
    let batch: Advisory[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const r = await this.store.upsertAdvisories(batch, source, importId);
      added += r.added;
      updated += r.updated;
      unchanged += r.unchanged;
      batch = [];
    };
    try {
      for await (const value of records as AsyncIterable<unknown>) {
        total++;
        try {
          if (value instanceof Error) throw value;
          const a = parseOsvRecord(value);
          if (newest === null || a.modified > newest) newest = a.modified;
          batch.push(a);
        } catch (e) {
          rejected++;
          if (errors.length < 20) errors.push(e instanceof OsvRecordError || e instanceof Error ? e.message.slice(0, 300) : String(e));
          continue;
        }
        if (batch.length >= 500) await flush();
      }
      await flush();
    } catch (e) {
      // the input broke off (not a zip, too large, cut short): what was read so far stays imported
      await flush().catch(() => undefined);
      errors.push((e as Error).message.slice(0, 300));
      await this.store.finishImport(importId, { finishedAt: this.now(), records: total, added, updated, rejected, newestModified: newest, errors });
      if (e instanceof WharfError) throw e;
      throw new WharfError('BODY_INVALID', `the OSV data could not be read: ${(e as Error).message.slice(0, 300)}`);
    }
    await this.store.finishImport(importId, { finishedAt: this.now(), records: total, added, updated, rejected, newestModified: newest, errors });
    let rematch: ImportResult['rematch'];
    if (added + updated === 0) rematch = { inventories: 0, newFindings: 0 };
    else if (this.jobs) {
      const job = await this.jobs.enqueue('scan.rematch', { importId }, { key: `scan.rematch:${importId}` });
      rematch = job ? { job: job.id } : {};
    } else rematch = await this.rematchAll(importId);
    return { id: importId, source, records: total, added, updated, unchanged, rejected, errors, newestModified: iso(newest), rematch };
  }

  /**
   * Imports OSV data sent as a stream: a zip archive (spooled to a temporary file, since a zip is
   * read from its end) or newline-delimited JSON. At most `maxBytes` are read.
   */
  async importOsvStream(source: string, format: 'zip' | 'ndjson', body: Readable, maxBytes: number): Promise<ImportResult> {
    let seen = 0;
    const limited = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        seen += chunk.length;
        if (seen > maxBytes) throw new WharfError('BODY_TOO_LARGE', `OSV data larger than ${maxBytes} bytes (scan.vulndb.maxImportBytes)`);
        yield chunk;
      }
    };
    if (format === 'ndjson') return this.importOsv(source, ndjsonRecords(limited()));
    const dir = await mkdtemp(join(tmpdir(), 'wharf-osv-'));
    const file = join(dir, 'import.zip');
    try {
      await pipeline(Readable.from(limited()), createWriteStream(file));
      return await this.importOsv(source, zipRecords(file));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async vulndbStatus(): Promise<{ advisories: number; withdrawn: number; imports: { id: number; source: string; importedAt: string | null; newestRecord: string | null; records: number; added: number; updated: number; rejected: number }[] }> {
    const counts = await this.store.advisoryCount();
    const imports = (await this.store.listImports(20)).map((i) => ({
      id: i.id,
      source: i.source,
      importedAt: iso(i.finishedAt),
      newestRecord: iso(i.newestModified),
      records: i.records,
      added: i.added,
      updated: i.updated,
      rejected: i.rejected,
    }));
    return { ...counts, imports };
  }
}
