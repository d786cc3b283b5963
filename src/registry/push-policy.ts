import type { Digest } from '../domain/digest.js';

/**
 * What the push path asks before it changes anything, answered by the lifecycle feature
 * (features/lifecycle/lifecycle-push-policy.ts) and wired in main.ts; without one, every push is
 * allowed. Each check throws the WharfError the client should see.
 */
export interface PushPolicy {
  /**
   * Before a push into `repository` begins (an upload, a mount, a manifest): NAME_UNKNOWN when
   * the repository does not exist and pushes may not create it; with `quota`, QUOTA_EXCEEDED
   * when the repository or a namespace above it is already at its quota.
   */
  checkRepository(repository: string, options?: { quota?: boolean }): Promise<void>;
  /**
   * Before `size` bytes of `digest` become part of `repository` (an upload's commit, a mount):
   * QUOTA_EXCEEDED when that would take the repository or a namespace above it over its quota.
   * A blob the repository (or namespace) already has adds nothing.
   */
  checkBlob(repository: string, digest: Digest, size: number): Promise<void>;
  /** The rule that makes `tag` immutable in `repository`, if one does (its text names the rule). */
  tagProtection(repository: string, tag: string): Promise<string | undefined>;
}

/** Told about what the registry serves, for usage accounting (buffered by the listener; must not throw). */
export interface TrafficObserver {
  /** a manifest GET (a pull), with the bytes sent */
  manifestServed(repository: string, digest: Digest, bytes: number): void;
  /** blob bytes sent (or handed to the object store by a redirect) */
  blobServed(repository: string, digest: Digest, bytes: number): void;
}
