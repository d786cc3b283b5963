import type { Digest } from '../../domain/digest.js';
import type { ReferenceKind } from '../../domain/manifest.js';

/**
 * The metadata DB: the source of truth for what exists (DESIGN.md invariant 1).
 * Conventions (Kysely's): `find*` returns undefined when absent, `list*` returns a page,
 * `ensure*` is an idempotent create. Every multi-row change is one transaction.
 * Repository names and digests arrive validated (domain/ parsers); the store does not re-check them.
 */
export interface Page<T> {
  items: T[];
  /** true when more items follow the last one returned */
  more: boolean;
}

export interface PageRequest {
  limit: number;
  /** exclusive lower bound in lexical (byte) order */
  after?: string;
}

export interface BlobRecord {
  digest: Digest;
  size: number;
  createdAt: number;
}

export interface ManifestRecord {
  repository: string;
  digest: Digest;
  mediaType: string;
  artifactType: string | null;
  subjectDigest: string | null;
  size: number;
  annotations: Record<string, string> | null;
  createdAt: number;
}

export interface ManifestWithContent extends ManifestRecord {
  content: Buffer;
}

export interface NewManifest {
  repository: string;
  digest: Digest;
  mediaType: string;
  artifactType?: string;
  subjectDigest?: Digest;
  configDigest?: Digest;
  annotations?: Record<string, string>;
  content: Buffer;
  /** what must already be in the repository: blobs (config/layer) or manifests (manifest) */
  references: { kind: ReferenceKind; digest: Digest; size: number }[];
  tag?: string;
  /**
   * The rule that makes `tag` immutable, when one does (issue 5): moving the tag to another digest
   * then fails with TAG_IMMUTABLE naming it; setting it afresh or to the same digest succeeds.
   */
  tagProtection?: string;
}

export interface PutManifestResult {
  /** false when the same manifest was already in the repository */
  created: boolean;
  /** the digest the tag pointed to before, when the put moved a tag */
  previousTagDigest?: string;
}

export interface UploadRecord {
  id: string;
  repository: string;
  size: number;
  startedAt: number;
  updatedAt: number;
}

export interface FsckManifest {
  repository: string;
  digest: Digest;
  content: Buffer;
  references: { kind: ReferenceKind; digest: string }[];
}

export interface MetadataStore {
  migrate(): Promise<void>;
  /** cheap liveness query for /readyz */
  ping(): Promise<void>;
  close(): Promise<void>;

  ensureRepository(name: string): Promise<void>;
  listRepositories(page: PageRequest): Promise<Page<string>>;

  findBlob(digest: Digest): Promise<BlobRecord | undefined>;
  /** the blob, only if `repository` links it (invariant 4) */
  findRepositoryBlob(repository: string, digest: Digest): Promise<BlobRecord | undefined>;
  /** Records a verified, durable blob, links it to the repository and closes the upload row, atomically. */
  commitBlob(repository: string, digest: Digest, size: number, uploadId?: string): Promise<void>;
  /** Links an existing blob (cross-repository mount). Returns the blob, or undefined when unknown. */
  linkBlob(repository: string, digest: Digest, fromRepository?: string): Promise<BlobRecord | undefined>;
  /** Returns false when the repository did not link it. */
  unlinkBlob(repository: string, digest: Digest): Promise<boolean>;

  /** Throws MANIFEST_BLOB_UNKNOWN (listing every missing reference) or MANIFEST_INVALID on size mismatch. */
  putManifest(manifest: NewManifest): Promise<PutManifestResult>;
  findManifest(repository: string, digest: Digest): Promise<ManifestWithContent | undefined>;
  findManifestByTag(repository: string, tag: string): Promise<ManifestWithContent | undefined>;
  /** Deletes the manifest and every tag pointing to it. Returns false when absent. */
  deleteManifest(repository: string, digest: Digest): Promise<boolean>;
  deleteTag(repository: string, tag: string): Promise<boolean>;
  listTags(repository: string, page: PageRequest): Promise<Page<string>>;
  repositoryExists(repository: string): Promise<boolean>;
  listReferrers(repository: string, subject: Digest, artifactType?: string): Promise<ManifestRecord[]>;
  /** Last-pulled times of manifests (absent ones are skipped), written in one transaction. */
  touchManifestsPulled(pulls: readonly { repository: string; digest: Digest; at: number }[]): Promise<void>;

  /** Records the session only: the repository comes into being when a blob or manifest is committed. */
  createUpload(id: string, repository: string): Promise<UploadRecord>;
  findUpload(id: string): Promise<UploadRecord | undefined>;
  /** Compare-and-set of the upload's size; false when another append got there first. */
  advanceUpload(id: string, fromSize: number, toSize: number): Promise<boolean>;
  /**
   * Takes the upload's lease for `owner` (a token unique to one append) for `ttlMs`, unless
   * another owner holds an unexpired one: one atomic conditional update, so of racing replicas
   * exactly one wins. false when held elsewhere or the upload is gone.
   */
  leaseUpload(id: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Extends a lease `owner` still holds; false when it lapsed and was taken, or the upload is gone. */
  renewUploadLease(id: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if `owner` still holds it. Idempotent. */
  releaseUploadLease(id: string, owner: string): Promise<void>;
  /**
   * Drops every lease whose owner starts with `ownerPrefix` ('' = all): a replica starting again
   * frees what its previous life held, instead of waiting for those leases to lapse. Returns how many.
   */
  releaseUploadLeases(ownerPrefix: string): Promise<number>;
  deleteUpload(id: string): Promise<void>;
  listUploadsIdleSince(before: number, limit: number): Promise<UploadRecord[]>;

  // fsck / maintenance
  iterateBlobs(): AsyncIterable<BlobRecord>;
  iterateManifests(): AsyncIterable<FsckManifest>;
  findDanglingTags(): Promise<{ repository: string; tag: string; digest: string }[]>;
  findLinksWithoutBlobs(): Promise<{ repository: string; digest: string }[]>;
}
