import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { algorithmOf, digestOf, type Digest } from '../domain/digest.js';
import { MAX_MANIFEST_BYTES, parseManifest, type Descriptor } from '../domain/manifest.js';
import { MediaTypes } from '../domain/media-types.js';
import type { Reference } from '../domain/names.js';
import { WharfError, isWharfError } from '../errors/wharf-error.js';
import type { BlobFile, BlobStore, ByteRange, UploadStore } from '../storage/blob/blob-store.js';
import type { BlobHolds } from '../storage/metadata/gc-store.js';
import type {
  BlobRecord,
  ManifestWithContent,
  MetadataStore,
  Page,
  PageRequest,
  UploadRecord,
} from '../storage/metadata/metadata-store.js';
import type { PushPolicy, TrafficObserver } from './push-policy.js';

/** last-pulled times written per transaction by flushPulled */
const PULL_FLUSH_BATCH = 200;

/**
 * The registry core: coordinates the blob store (bytes) and the metadata store (truth) for
 * pushes, pulls, tags, referrers and mounts. Knows repositories and digests, never HTTP.
 * Names, tags and digests arrive parsed (domain/); everything else is validated here.
 */
export interface RegistryServiceOptions {
  metadata: MetadataStore;
  blobs: BlobStore;
  uploads: UploadStore;
  now?: () => number;
  /** largest manifest accepted (default 4 MiB, the size the distribution spec asks registries to take) */
  manifestMaxBytes?: number;
  /** how often buffered last-pulled times are written (ms) */
  pullFlushIntervalMs?: number;
  /** how long an upload's lease lasts without renewal (ms, default 30 s): a replica that dies mid-chunk blocks the upload this long */
  uploadLeaseMs?: number;
  /** names this replica in its lease tokens, the same across restarts (host and listen address) */
  replicaId?: string;
  /** repository creation, quotas and immutable tags (issue 5); absent = every push allowed */
  pushPolicy?: PushPolicy;
  /** holds a digest while its bytes are published and committed, so online GC leaves it alone (gc.ts) */
  holds?: BlobHolds;
  /** told about pulls and egress bytes (usage accounting) */
  traffic?: TrafficObserver;
  /**
   * The format a repository was created with (repositories.format: oci or pypi), undefined when
   * it does not exist; absent = every repository is OCI. Pushes check it (REPOSITORY_FORMAT_MISMATCH).
   */
  repositoryFormat?: (repository: string) => Promise<string | undefined>;
}

/** What a push puts into a repository: OCI content (the /v2 API) or a Python package file (features/pypi). */
export type PushFormat = 'oci' | 'pypi';

export interface AppendRange {
  /** first byte of the chunk; must equal the upload's current size */
  start: number;
  /** last byte, inclusive */
  end: number;
}

/** What a successful manifest PUT tells the features that listen (scans, replication, webhooks). */
export interface ManifestPushed {
  repository: string;
  digest: Digest;
  mediaType: string;
  tag?: string;
  subject?: Digest;
  /** false when the same manifest was already in the repository (a re-push or a new tag) */
  created: boolean;
}

export type ManifestPushedListener = (event: ManifestPushed) => void;

/** A manifest deleted by digest through deleteManifest (not a tag removed, not GC or cleanup). */
export interface ManifestDeleted {
  repository: string;
  digest: Digest;
}

export type ManifestDeletedListener = (event: ManifestDeleted) => void;

export interface ReferrersResult {
  index: { schemaVersion: 2; mediaType: string; manifests: Descriptor[] };
  filtersApplied: string[];
}

export class RegistryService {
  private readonly metadata: MetadataStore;
  private readonly blobs: BlobStore;
  private readonly uploads: UploadStore;
  private readonly now: () => number;
  private readonly manifestMaxBytes: number;
  private readonly uploadLeaseMs: number;
  private readonly replicaId: string;
  private readonly pushPolicy?: PushPolicy;
  private readonly holds?: BlobHolds;
  private readonly traffic?: TrafficObserver;
  private readonly repositoryFormat?: (repository: string) => Promise<string | undefined>;
  /** appends and commits running in this process (the lease in the DB is what excludes others) */
  private activeUploads = 0;
  private readonly pushListeners: ManifestPushedListener[] = [];
  private readonly deleteListeners: ManifestDeletedListener[] = [];
  /** last-pulled times, written in batches so pulls never wait on a write */
  private readonly pulled = new Map<string, { repository: string; digest: Digest; at: number }>();
  private readonly flushTimer: NodeJS.Timeout;

  constructor(options: RegistryServiceOptions) {
    this.metadata = options.metadata;
    this.blobs = options.blobs;
    this.uploads = options.uploads;
    this.now = options.now ?? Date.now;
    this.manifestMaxBytes = options.manifestMaxBytes ?? MAX_MANIFEST_BYTES;
    this.uploadLeaseMs = options.uploadLeaseMs ?? 30_000;
    this.replicaId = (options.replicaId ?? 'wharf').replace(/\s/g, '_');
    this.pushPolicy = options.pushPolicy;
    this.holds = options.holds;
    this.traffic = options.traffic;
    this.repositoryFormat = options.repositoryFormat;
    this.flushTimer = setInterval(() => void this.flushPulled().catch(() => undefined), options.pullFlushIntervalMs ?? 30_000);
    this.flushTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushPulled();
  }

  get uploadsInProgress(): number {
    return this.activeUploads;
  }

  // --- manifests ---

  /**
   * Called after each committed manifest PUT, in this process. A listener must not throw and
   * should only enqueue durable work (a job): an event is lost if the process dies right after
   * the commit, so features also reconcile from the DB (e.g. scan what has no scan yet).
   */
  onManifestPushed(listener: ManifestPushedListener): void {
    this.pushListeners.push(listener);
  }

  /** Listeners hear of each manifest deleted by digest, after the commit (features drop what hangs on it, e.g. cosign signature tags). */
  onManifestDeleted(listener: ManifestDeletedListener): void {
    this.deleteListeners.push(listener);
  }

  async getManifest(repository: string, ref: Reference): Promise<ManifestWithContent> {
    const m =
      ref.kind === 'digest'
        ? await this.metadata.findManifest(repository, ref.digest)
        : await this.metadata.findManifestByTag(repository, ref.tag);
    if (!m) {
      throw new WharfError('MANIFEST_UNKNOWN', `manifest ${ref.kind === 'tag' ? ref.tag : ref.digest} is not in repository ${repository}`);
    }
    return m;
  }

  /** Records a pull (`bytes`: the manifest sent) for lifecycle policies and usage; buffered, never blocks the response. */
  notePulled(repository: string, digest: Digest, bytes = 0): void {
    this.pulled.set(`${repository}@${digest}`, { repository, digest, at: this.now() });
    this.traffic?.manifestServed(repository, digest, bytes);
  }

  /** Records blob bytes served (usage and cost); buffered by the observer. */
  noteBlobServed(repository: string, digest: Digest, bytes: number): void {
    this.traffic?.blobServed(repository, digest, bytes);
  }

  /**
   * Writes the buffered last-pulled times: PULL_FLUSH_BATCH manifests per transaction (one commit,
   * one fsync each, instead of one per manifest) with a turn of the event loop between
   * transactions, so requests are served while thousands of pulls are written.
   */
  async flushPulled(): Promise<void> {
    const batch = [...this.pulled.values()];
    this.pulled.clear();
    for (let i = 0; i < batch.length; i += PULL_FLUSH_BATCH) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      await this.metadata.touchManifestsPulled(batch.slice(i, i + PULL_FLUSH_BATCH));
    }
  }

  async putManifest(
    repository: string,
    ref: Reference,
    content: Buffer,
    contentType: string | undefined,
  ): Promise<{ digest: Digest; subject?: Digest; created: boolean }> {
    if (content.length > this.manifestMaxBytes) {
      throw new WharfError('MANIFEST_INVALID', `manifest is larger than ${this.manifestMaxBytes} bytes`);
    }
    const digest = digestOf(content, ref.kind === 'digest' ? algorithmOf(ref.digest) : 'sha256');
    if (ref.kind === 'digest' && ref.digest !== digest) {
      throw new WharfError('DIGEST_INVALID', `manifest content has digest ${digest}, not ${ref.digest}`);
    }
    const parsed = parseManifest(content, contentType, this.manifestMaxBytes);
    await this.checkFormat(repository, 'oci');
    await this.pushPolicy?.checkRepository(repository);
    const tagProtection = ref.kind === 'tag' ? await this.pushPolicy?.tagProtection(repository, ref.tag) : undefined;
    const result = await this.metadata.putManifest({
      repository,
      digest,
      mediaType: parsed.mediaType,
      artifactType: parsed.artifactType,
      subjectDigest: parsed.subject?.digest,
      configDigest: parsed.config?.digest,
      annotations: parsed.annotations,
      content,
      references: parsed.references
        .filter((r) => r.mustExist)
        .map((r) => ({ kind: r.kind, digest: r.descriptor.digest, size: r.descriptor.size })),
      tag: ref.kind === 'tag' ? ref.tag : undefined,
      tagProtection,
    });
    const event: ManifestPushed = {
      repository,
      digest,
      mediaType: parsed.mediaType,
      tag: ref.kind === 'tag' ? ref.tag : undefined,
      subject: parsed.subject?.digest,
      created: result.created,
    };
    for (const listener of this.pushListeners) {
      try {
        listener(event);
      } catch {
        // a listener's failure is its own; the push has succeeded
      }
    }
    return { digest, subject: parsed.subject?.digest, created: result.created };
  }

  async deleteManifest(repository: string, ref: Reference): Promise<void> {
    if (ref.kind === 'tag') {
      const rule = await this.pushPolicy?.tagProtection(repository, ref.tag);
      if (rule !== undefined) {
        throw new WharfError('TAG_IMMUTABLE', `tag ${ref.tag} is immutable in repository ${repository} (${rule}): it cannot be deleted`, { tag: ref.tag, rule });
      }
    }
    const deleted =
      ref.kind === 'digest'
        ? await this.metadata.deleteManifest(repository, ref.digest)
        : await this.metadata.deleteTag(repository, ref.tag);
    if (!deleted) {
      throw new WharfError('MANIFEST_UNKNOWN', `manifest ${ref.kind === 'tag' ? ref.tag : ref.digest} is not in repository ${repository}`);
    }
    if (ref.kind === 'digest') {
      for (const listener of this.deleteListeners) {
        try {
          listener({ repository, digest: ref.digest });
        } catch {
          // a listener's failure is its own; the delete has succeeded
        }
      }
    }
  }

  // --- blobs ---

  async statBlob(repository: string, digest: Digest): Promise<BlobRecord> {
    const blob = await this.metadata.findRepositoryBlob(repository, digest);
    if (!blob) throw new WharfError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${repository}`);
    return blob;
  }

  /**
   * A short-lived URL serving the blob directly from the blob store, when the store hands them
   * out (an object store configured for presigned redirects); undefined otherwise. Access is
   * checked first, as for openBlob: the URL is only made for a repository that links the blob.
   */
  async blobDownloadUrl(repository: string, digest: Digest): Promise<string | undefined> {
    if (!this.blobs.presignGet) return undefined;
    await this.statBlob(repository, digest);
    return this.blobs.presignGet(digest);
  }

  async openBlob(repository: string, digest: Digest, range?: ByteRange): Promise<Readable> {
    await this.statBlob(repository, digest);
    return this.blobs.open(digest, range);
  }

  /**
   * The blob as a file for positional reads, when the blob store keeps local files (undefined
   * otherwise: use openBlob). Access is checked as for openBlob. The caller closes it.
   */
  async openBlobFile(repository: string, digest: Digest): Promise<BlobFile | undefined> {
    if (!this.blobs.openFile) return undefined;
    await this.statBlob(repository, digest);
    return this.blobs.openFile(digest);
  }

  async deleteBlob(repository: string, digest: Digest): Promise<void> {
    if (!(await this.metadata.unlinkBlob(repository, digest))) {
      throw new WharfError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${repository}`);
    }
  }

  /** Cross-repository mount. Returns undefined when the blob is not mountable (the caller starts an upload instead). */
  async mountBlob(repository: string, digest: Digest, fromRepository?: string): Promise<BlobRecord | undefined> {
    await this.checkFormat(repository, 'oci');
    if (this.pushPolicy) {
      await this.pushPolicy.checkRepository(repository);
      const existing = await this.metadata.findBlob(digest);
      if (existing) await this.pushPolicy.checkBlob(repository, digest, existing.size);
    }
    const blob = await this.metadata.linkBlob(repository, digest, fromRepository);
    if (!blob) return undefined;
    // the row says it exists; make sure the bytes agree before handing out a link to them
    if (!(await this.blobs.stat(digest))) {
      await this.metadata.unlinkBlob(repository, digest);
      return undefined;
    }
    return blob;
  }

  // --- uploads ---

  /**
   * Starts an upload. `format` is what the bytes are for: a repository created for another format
   * refuses it (REPOSITORY_FORMAT_MISMATCH), so an image push cannot land in a Python package
   * repository and the reverse.
   */
  async startUpload(repository: string, format: PushFormat = 'oci'): Promise<UploadRecord> {
    await this.checkFormat(repository, format);
    await this.pushPolicy?.checkRepository(repository, { quota: true });
    const id = randomUUID();
    const record = await this.metadata.createUpload(id, repository); // row first: a file without a row is an orphan
    await this.uploads.create(id);
    return record;
  }

  async getUpload(repository: string, id: string): Promise<UploadRecord> {
    const upload = await this.metadata.findUpload(id);
    if (!upload || upload.repository !== repository) {
      throw new WharfError('BLOB_UPLOAD_UNKNOWN', `upload ${id.slice(0, 64)} is not in progress in repository ${repository}`);
    }
    return upload;
  }

  async appendUpload(repository: string, id: string, body: Readable, range?: AppendRange): Promise<UploadRecord> {
    return this.withUpload(repository, id, async (upload) => this.appendLocked(upload, body, range));
  }

  /** Closes an upload, optionally appending a last chunk first. Returns the committed blob. */
  async completeUpload(
    repository: string,
    id: string,
    digest: Digest,
    body?: Readable,
    range?: AppendRange,
  ): Promise<BlobRecord> {
    return this.withUpload(repository, id, async (upload) => {
      const current = body ? await this.appendLocked(upload, body, range) : upload;
      // quotas are checked before the bytes are published; the hold keeps GC off the digest
      // from before the bytes land until after their row is committed (gc.ts)
      await this.pushPolicy?.checkBlob(repository, digest, current.size);
      const hold = await this.holds?.holdBlob(digest);
      try {
        await this.uploads.commit(id, current.size, digest);
        await this.metadata.commitBlob(repository, digest, current.size, id);
      } finally {
        if (hold !== undefined) await this.holds!.releaseBlobHold(hold).catch(() => undefined);
      }
      return { digest, size: current.size, createdAt: this.now() };
    });
  }

  /** Monolithic push: the whole blob in one request. */
  async pushBlob(repository: string, digest: Digest, body: Readable): Promise<BlobRecord> {
    const upload = await this.startUpload(repository);
    try {
      return await this.completeUpload(repository, upload.id, digest, body);
    } catch (e) {
      await this.cancelUpload(repository, upload.id).catch(() => undefined);
      throw e;
    }
  }

  /** Wins over a chunk in flight (here or on another replica): that append then fails. */
  async cancelUpload(repository: string, id: string): Promise<void> {
    await this.getUpload(repository, id);
    await this.metadata.deleteUpload(id);
    await this.uploads.abort(id);
  }

  /**
   * At start: frees the upload leases an earlier life of this replica held when it died (kill -9,
   * OOM), so its clients can resume at once instead of after the lease lapses. `all` when this
   * process is the only one there can be (SQLite).
   */
  async releaseLeasesOfEarlierLife(all: boolean): Promise<number> {
    return this.metadata.releaseUploadLeases(all ? '' : `${this.replicaId} `);
  }

  /**
   * Deletes upload sessions idle for longer than maxAgeMs, and upload bytes no session owns. Every
   * replica runs this; a session is only reclaimed under its lease, so never while a chunk is
   * arriving anywhere, and by one replica only.
   */
  async reclaimAbandonedUploads(maxAgeMs: number): Promise<number> {
    let reclaimed = 0;
    for (;;) {
      const stale = await this.metadata.listUploadsIdleSince(this.now() - maxAgeMs, 100);
      let done = 0;
      for (const u of stale) {
        const owner = this.leaseToken();
        if (!(await this.metadata.leaseUpload(u.id, owner, this.uploadLeaseMs))) continue; // busy elsewhere
        await this.uploads.abort(u.id);
        await this.metadata.deleteUpload(u.id);
        reclaimed++;
        done++;
      }
      if (stale.length === 0 || done < stale.length) break;
    }
    // bytes without a session: the row is created before the bytes and deleted after them, so
    // these are left over from a crash (or were committed or cancelled while this ran)
    for await (const id of this.uploads.listUploads()) {
      if (!(await this.metadata.findUpload(id))) {
        await this.uploads.abort(id);
        reclaimed++;
      }
    }
    return reclaimed;
  }

  /**
   * Runs `fn` holding the upload's lease in the DB, so that chunks are taken one at a time across
   * every replica (a client's parallel PATCH to the same upload gets BLOB_UPLOAD_INVALID). The
   * lease is renewed while `fn` runs (a multi-gigabyte chunk takes long) and released after; a
   * replica that dies stops renewing, and the lease lapses after uploadLeaseMs. The upload is
   * read again under the lease: its size may have moved since the first look.
   */
  /** A lease holder: this replica, then a part unique to one append. */
  private leaseToken(): string {
    return `${this.replicaId} ${randomUUID()}`;
  }

  private async withUpload<T>(repository: string, id: string, fn: (upload: UploadRecord) => Promise<T>): Promise<T> {
    await this.getUpload(repository, id);
    const owner = this.leaseToken();
    if (!(await this.metadata.leaseUpload(id, owner, this.uploadLeaseMs))) {
      throw new WharfError('BLOB_UPLOAD_INVALID', `upload ${id} is already receiving a chunk; send chunks one at a time`);
    }
    this.activeUploads++;
    const renew = setInterval(() => {
      this.metadata.renewUploadLease(id, owner, this.uploadLeaseMs).catch(() => undefined);
    }, Math.max(100, Math.floor(this.uploadLeaseMs / 3)));
    renew.unref();
    try {
      return await fn(await this.getUpload(repository, id));
    } finally {
      clearInterval(renew);
      this.activeUploads--;
      await this.metadata.releaseUploadLease(id, owner).catch(() => undefined);
    }
  }

  private async appendLocked(upload: UploadRecord, body: Readable, range?: AppendRange): Promise<UploadRecord> {
    if (range && range.start !== upload.size) {
      body.resume(); // drain so the connection stays usable
      throw new WharfError('RANGE_INVALID', `chunk starts at ${range.start} but the upload has ${upload.size} bytes`, {
        size: upload.size,
      });
    }
    const maxBytes = range ? range.end - range.start + 1 : undefined;
    let size: number;
    try {
      size = await this.uploads.append(upload.id, upload.size, body, { maxBytes });
    } catch (e) {
      // the store stops past maxBytes (BODY_TOO_LARGE / SIZE_INVALID, blob-store.ts); for the client
      // that is a chunk overrunning its Content-Range
      if (range && (isWharfError(e, 'BODY_TOO_LARGE') || isWharfError(e, 'SIZE_INVALID'))) {
        throw new WharfError('RANGE_INVALID', `chunk is longer than its Content-Range ${range.start}-${range.end}`, { size: upload.size });
      }
      throw e;
    }
    if (range && size !== range.end + 1) {
      throw new WharfError('RANGE_INVALID', `chunk was ${size - upload.size} bytes, Content-Range said ${range.end - range.start + 1}`);
    }
    if (!(await this.metadata.advanceUpload(upload.id, upload.size, size))) {
      throw new WharfError('BLOB_UPLOAD_INVALID', `upload ${upload.id} changed while this chunk was written`);
    }
    return { ...upload, size, updatedAt: this.now() };
  }

  /** Throws REPOSITORY_FORMAT_MISMATCH when the repository exists with another format. */
  private async checkFormat(repository: string, format: PushFormat): Promise<void> {
    if (!this.repositoryFormat) return;
    const actual = (await this.repositoryFormat(repository)) ?? 'oci'; // a push may create an OCI repository
    if (actual === format) return;
    throw new WharfError(
      'REPOSITORY_FORMAT_MISMATCH',
      format === 'oci'
        ? `repository ${repository} holds Python packages (format ${actual}): push images to an oci repository; upload packages here with twine`
        : `repository ${repository} holds ${actual === 'oci' ? 'OCI images and artifacts' : actual} (format ${actual}), not Python packages: upload to a repository created with --format pypi`,
      { repository, format: actual, expected: format },
    );
  }

  // --- listings ---

  async listTags(repository: string, page: PageRequest): Promise<Page<string>> {
    if (!(await this.metadata.repositoryExists(repository))) {
      throw new WharfError('NAME_UNKNOWN', `repository ${repository} is not known`);
    }
    return this.metadata.listTags(repository, page);
  }

  async catalog(page: PageRequest): Promise<Page<string>> {
    return this.metadata.listRepositories(page);
  }

  async referrers(repository: string, subject: Digest, artifactType?: string): Promise<ReferrersResult> {
    const rows = await this.metadata.listReferrers(repository, subject, artifactType);
    const manifests: Descriptor[] = rows.map((m) => {
      const d: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
      if (m.artifactType) d.artifactType = m.artifactType;
      if (m.annotations) d.annotations = m.annotations;
      return d;
    });
    return {
      index: { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests },
      filtersApplied: artifactType !== undefined ? ['artifactType'] : [],
    };
  }
}

