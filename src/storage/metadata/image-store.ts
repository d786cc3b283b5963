/**
 * Manifests as a graph, for the decisions GC and cleanup policies take (which manifests are
 * tagged, which index lists which child, which referrer has which subject), and the conditional
 * delete both use: a manifest is only deleted if, under lock, nothing changed that the decision
 * relied on. See sql-image-store.ts for the locking.
 */
/** A manifest with what lifecycle decisions need: its tags, children and subject. */
export interface ImageNode {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  subjectDigest: string | null;
  /** manifest bytes */
  size: number;
  createdAt: number;
  /** the last push: createdAt, or later when the manifest was pushed again */
  lastPushedAt: number;
  lastPulledAt: number | null;
  tags: string[];
  /** child manifests (index entries) */
  children: string[];
  /** config and layers with their sizes (0 when the blob row is gone) */
  blobs: { digest: string; size: number }[];
}

export type ConditionalDeleteResult = 'deleted' | 'gone' | 'referenced' | 'changed';

export interface ConditionalDelete {
  /** the tags the decision saw; a manifest whose tags changed since is left alone ([] = must be untagged) */
  expectTags?: readonly string[];
  /** leave a referrer alone while its subject is still in the repository (referrers go with their subject) */
  keepReferrerOfPresentSubject?: boolean;
  /** only a manifest last pushed before this time (ms) goes; one pushed again since is 'changed' */
  pushedBefore?: number;
}

export interface ImageStore {
  /** Names of every repository, in order. */
  listRepositoryNames(): Promise<string[]>;
  /** Every manifest of the repository with its tags, children, subject and blobs. */
  imageGraph(repository: string): Promise<ImageNode[]>;
  /**
   * Deletes the manifest (its tags, recorded in tag history, and its references) if, under lock,
   * no manifest of the repository lists it as a child, its tags are still `expectTags` (when
   * given), and (when asked) it is not a referrer of a subject still present.
   */
  deleteManifestIf(repository: string, digest: string, condition: ConditionalDelete): Promise<ConditionalDeleteResult>;
}
