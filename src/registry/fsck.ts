import { createHash } from 'node:crypto';
import { algorithmOf, digestOf, type Digest } from '../domain/digest.js';
import type { BlobStore } from '../storage/blob/blob-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';

/**
 * Consistency check of the metadata DB against the blob store (invariant 2 made checkable).
 * Problems break an invariant (a row pointing at missing or wrong bytes, a manifest whose
 * reference is gone); warnings are states the design allows, such as bytes no row references
 * yet (a crash between publishing bytes and committing the row), which GC reclaims.
 */
export interface FsckFinding {
  kind: string;
  message: string;
  repository?: string;
  digest?: string;
}

export interface FsckReport {
  problems: FsckFinding[];
  warnings: FsckFinding[];
  stats: { blobs: number; bytesVerified: number; manifests: number; unreferencedBlobs: number };
}

export interface FsckOptions {
  /** re-hash every blob (default true); false only checks presence and size */
  verifyContent?: boolean;
  onProgress?: (done: number) => void;
}

export async function fsck(metadata: MetadataStore, blobs: BlobStore, options: FsckOptions = {}): Promise<FsckReport> {
  const verify = options.verifyContent ?? true;
  const report: FsckReport = { problems: [], warnings: [], stats: { blobs: 0, bytesVerified: 0, manifests: 0, unreferencedBlobs: 0 } };
  const known = new Set<string>();

  for await (const blob of metadata.iterateBlobs()) {
    report.stats.blobs++;
    known.add(blob.digest);
    const st = await blobs.stat(blob.digest);
    if (!st) {
      report.problems.push({ kind: 'blob-missing', digest: blob.digest, message: `blob ${blob.digest} is recorded but its bytes are missing` });
      continue;
    }
    if (st.size !== blob.size) {
      report.problems.push({
        kind: 'blob-size',
        digest: blob.digest,
        message: `blob ${blob.digest} is recorded as ${blob.size} bytes but ${st.size} are stored`,
      });
      continue;
    }
    if (verify) {
      const actual = await hashStored(blobs, blob.digest);
      report.stats.bytesVerified += st.size;
      if (actual !== blob.digest) {
        report.problems.push({ kind: 'blob-corrupt', digest: blob.digest, message: `blob ${blob.digest} has content with digest ${actual}` });
      }
    }
    options.onProgress?.(report.stats.blobs);
  }

  for await (const stored of blobs.list()) {
    if (!known.has(stored)) {
      report.stats.unreferencedBlobs++;
      report.warnings.push({ kind: 'blob-unreferenced', digest: stored, message: `stored blob ${stored} has no row (garbage for GC)` });
    }
  }

  for (const link of await metadata.findLinksWithoutBlobs()) {
    report.problems.push({ kind: 'link-dangling', ...link, message: `${link.repository} links ${link.digest}, which has no blob row` });
  }

  for await (const m of metadata.iterateManifests()) {
    report.stats.manifests++;
    const actual = digestOf(m.content, algorithmOf(m.digest));
    if (actual !== m.digest) {
      report.problems.push({
        kind: 'manifest-corrupt',
        repository: m.repository,
        digest: m.digest,
        message: `manifest ${m.repository}@${m.digest} has content with digest ${actual}`,
      });
    }
    for (const ref of m.references) {
      if (ref.kind === 'manifest') {
        if (!(await metadata.findManifest(m.repository, ref.digest as Digest))) {
          report.warnings.push({
            kind: 'child-manifest-missing',
            repository: m.repository,
            digest: m.digest,
            message: `index ${m.repository}@${m.digest} lists ${ref.digest}, which was deleted`,
          });
        }
      } else if (!(await metadata.findRepositoryBlob(m.repository, ref.digest as Digest))) {
        report.problems.push({
          kind: 'reference-missing',
          repository: m.repository,
          digest: m.digest,
          message: `manifest ${m.repository}@${m.digest} references ${ref.kind} ${ref.digest}, which the repository does not hold`,
        });
      }
    }
  }

  for (const t of await metadata.findDanglingTags()) {
    report.problems.push({
      kind: 'tag-dangling',
      repository: t.repository,
      digest: t.digest,
      message: `tag ${t.repository}:${t.tag} points to ${t.digest}, which is not in the repository`,
    });
  }
  return report;
}

async function hashStored(blobs: BlobStore, digest: Digest): Promise<string> {
  const algorithm = algorithmOf(digest);
  const hash = createHash(algorithm);
  for await (const chunk of await blobs.open(digest)) hash.update(chunk as Buffer);
  return `${algorithm}:${hash.digest('hex')}`;
}
