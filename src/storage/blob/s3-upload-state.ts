/**
 * The state of one upload in the S3 blob store (s3-blob-store.ts explains the design): which
 * multipart parts and which tail segments hold its bytes, and the earlier states it can still go
 * back to. Pure data and arithmetic; no I/O here.
 */

/** An object under uploads/<id>/ holding some of the upload's bytes, readable. */
export interface Segment {
  key: string;
  size: number;
}

/** A part of the upload's S3 multipart upload (not readable until the upload is completed). */
export interface Part {
  n: number;
  size: number;
  etag: string;
}

/**
 * An earlier state: its first `partCount` parts (a prefix of the current parts) and its tail.
 * Appends number new parts after the current ones and never delete a tail a checkpoint names,
 * so going back to a checkpoint is exact.
 */
export interface Checkpoint {
  size: number;
  partCount: number;
  tail: Segment[];
}

export interface UploadState {
  v: 1;
  /** changes whenever the bytes change; a cached running hash is only valid for its version */
  version: string;
  size: number;
  /** the S3 multipart upload, created when the first part is cut */
  multipart?: { uploadId: string; key: string };
  /** parts 1..n, in order, each at least the minimum part size */
  parts: Part[];
  /** the bytes after the parts: small objects in order (together less than one part), or one completed object */
  tail: Segment[];
  /** the states before this one, newest first, that a rewind may return to */
  history: Checkpoint[];
}

/** how many earlier states are kept restorable (the DB is at most one append behind the store) */
export const HISTORY_LIMIT = 3;

export function newState(version: string): UploadState {
  return { v: 1, version, size: 0, parts: [], tail: [], history: [] };
}

export function sumSizes(xs: readonly { size: number }[]): number {
  return xs.reduce((total, x) => total + x.size, 0);
}

export function checkpointOf(state: UploadState): Checkpoint {
  return { size: state.size, partCount: state.parts.length, tail: state.tail };
}

export interface RewindPoint {
  /** index in [current, ...history]: 0 is the current state */
  index: number;
  checkpoint: Checkpoint;
  /** bytes held by the checkpoint's parts */
  partsEnd: number;
}

/**
 * The newest state from which the upload can continue at `offset`: one whose parts end at or
 * before `offset` and whose size reaches it. undefined when `offset` falls inside parts that no
 * kept state ends before (those bytes cannot be read back from S3 to keep a prefix of them).
 */
export function rewindPoint(state: UploadState, offset: number): RewindPoint | undefined {
  const candidates = [checkpointOf(state), ...state.history];
  for (const [index, checkpoint] of candidates.entries()) {
    const partsEnd = sumSizes(state.parts.slice(0, checkpoint.partCount));
    if (partsEnd <= offset && offset <= checkpoint.size) return { index, checkpoint, partsEnd };
  }
  return undefined;
}

/** The state as it was at checkpoint `index` of its history (0 = itself), with a new version. */
export function restore(state: UploadState, index: number, version: string): UploadState {
  if (index === 0) return state;
  const checkpoint = state.history[index - 1]!;
  return {
    ...state,
    version,
    size: checkpoint.size,
    parts: state.parts.slice(0, checkpoint.partCount),
    tail: checkpoint.tail,
    history: state.history.slice(index),
  };
}

/** Every tail object a state still needs: its own and its checkpoints'. */
export function referencedKeys(state: UploadState): Set<string> {
  const keys = new Set(state.tail.map((s) => s.key));
  for (const c of state.history) for (const s of c.tail) keys.add(s.key);
  return keys;
}

/** Parses a stored state, refusing anything that is not one (a stray or corrupt object). */
export function parseState(text: string): UploadState {
  const s = JSON.parse(text) as UploadState;
  const isSegments = (x: unknown): boolean =>
    Array.isArray(x) && x.every((g) => typeof g?.key === 'string' && Number.isSafeInteger(g?.size) && g.size >= 0);
  const ok =
    s !== null &&
    typeof s === 'object' &&
    s.v === 1 &&
    typeof s.version === 'string' &&
    Number.isSafeInteger(s.size) &&
    s.size >= 0 &&
    Array.isArray(s.parts) &&
    s.parts.every((p) => Number.isSafeInteger(p?.n) && Number.isSafeInteger(p?.size) && typeof p?.etag === 'string') &&
    isSegments(s.tail) &&
    Array.isArray(s.history) &&
    s.history.every((c) => Number.isSafeInteger(c?.size) && Number.isSafeInteger(c?.partCount) && isSegments(c?.tail)) &&
    (s.multipart === undefined || (typeof s.multipart.uploadId === 'string' && typeof s.multipart.key === 'string')) &&
    s.size === sumSizes(s.parts) + sumSizes(s.tail);
  if (!ok) throw new Error('not an upload state');
  return s;
}
