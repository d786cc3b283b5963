/**
 * `wharf diff A B`: what changes from image A to image B — layers shared and changed, the bytes a
 * node that has A must pull to run B, packages added, removed and upgraded (from the analyses'
 * inventories), and files added, removed and changed by category (from the layer records' final
 * filesystems: same path, other content hash or size). Pure.
 */
import { categorize, CATEGORIES, type Category } from './categories.js';
import type { InsightsAnalysis } from './analysis-types.js';
import type { LayerRecord } from './layer-record.js';

export interface DiffSide {
  analysis: InsightsAnalysis;
  records: readonly LayerRecord[];
}

export interface FileCounts {
  added: number;
  removed: number;
  changed: number;
  bytesAdded: number;
  bytesRemoved: number;
}

export interface ImageDiff {
  layers: {
    shared: { digest: string; compressedBytes: number }[];
    onlyInA: { digest: string; compressedBytes: number }[];
    onlyInB: { digest: string; compressedBytes: number; createdBy: string | null }[];
  };
  /** compressed bytes of B's layers that A does not have: what a node with A pulls to run B */
  pullBytes: number;
  pullSeconds: number;
  packages: {
    added: { type: string; name: string; version: string }[];
    removed: { type: string; name: string; version: string }[];
    upgraded: { type: string; name: string; from: string; to: string }[];
  };
  files: { byCategory: Record<Category, FileCounts>; changed: { path: string; category: Category; change: 'added' | 'removed' | 'changed'; bytes: number }[] };
}

interface FinalFile {
  size: number;
  hash?: string;
}

/** The regular files of the final filesystem (whiteouts and opaque directories applied to lower layers). */
export function finalFiles(records: readonly LayerRecord[]): Map<string, FinalFile> {
  const files = new Map<string, FinalFile & { layer: number }>();
  records.forEach((r, layer) => {
    const hidden: string[] = [];
    for (const [path, kind, size, hash] of r.entries) {
      if (kind === 'w' || kind === 'o') {
        hidden.push(kind === 'o' ? (path === '' ? '' : `${path}/`) : path);
        continue;
      }
      if (kind === 'f') files.set(path, { size, layer, ...(hash !== undefined ? { hash } : {}) });
      else files.delete(path); // a link, symlink or directory replaces a file at that path
    }
    for (const h of hidden) {
      for (const [p, f] of files) {
        if (f.layer < layer && (p === h || p.startsWith(h.endsWith('/') || h === '' ? h : `${h}/`))) files.delete(p);
      }
    }
  });
  return files;
}

function ownership(records: readonly LayerRecord[]): { owner(path: string): string | undefined } {
  const owners = new Map<string, string>();
  for (const r of records) for (const [pkg, paths] of Object.entries(r.dpkgLists)) for (const p of paths) owners.set(p, pkg);
  return { owner: (p) => owners.get(p) };
}

export function diffImages(a: DiffSide, b: DiffSide, bandwidthBitsPerSecond: number): ImageDiff {
  const inA = new Set(a.analysis.layers.map((l) => l.digest));
  const inB = new Set(b.analysis.layers.map((l) => l.digest));
  const onlyInB = b.analysis.layers.filter((l) => !inA.has(l.digest));
  const pullBytes = onlyInB.reduce((n, l) => n + l.compressedBytes, 0);

  const key = (p: { type: string; name: string }): string => `${p.type}\0${p.name}`;
  const versions = (side: DiffSide): Map<string, { type: string; name: string; version: string }> => new Map(side.analysis.packages.map((p) => [key(p), p]));
  const pa = versions(a);
  const pb = versions(b);
  const packages: ImageDiff['packages'] = { added: [], removed: [], upgraded: [] };
  for (const [k, p] of pb) {
    const old = pa.get(k);
    if (!old) packages.added.push({ type: p.type, name: p.name, version: p.version });
    else if (old.version !== p.version) packages.upgraded.push({ type: p.type, name: p.name, from: old.version, to: p.version });
  }
  for (const [k, p] of pa) if (!pb.has(k)) packages.removed.push({ type: p.type, name: p.name, version: p.version });
  const byName = (x: { type: string; name: string }, y: { type: string; name: string }): number => x.type.localeCompare(y.type) || x.name.localeCompare(y.name);
  packages.added.sort(byName);
  packages.removed.sort(byName);
  packages.upgraded.sort(byName);

  const fa = finalFiles(a.records);
  const fb = finalFiles(b.records);
  const ownA = ownership(a.records);
  const ownB = ownership(b.records);
  const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, { added: 0, removed: 0, changed: 0, bytesAdded: 0, bytesRemoved: 0 }])) as Record<Category, FileCounts>;
  const changed: ImageDiff['files']['changed'] = [];
  for (const [path, f] of fb) {
    const old = fa.get(path);
    const category = categorize(path, ownB);
    const c = byCategory[category];
    if (!old) {
      c.added++;
      c.bytesAdded += f.size;
      changed.push({ path, category, change: 'added', bytes: f.size });
    } else if (old.hash !== f.hash || old.size !== f.size) {
      c.changed++;
      c.bytesAdded += f.size;
      c.bytesRemoved += old.size;
      changed.push({ path, category, change: 'changed', bytes: f.size });
    }
  }
  for (const [path, f] of fa) {
    if (fb.has(path)) continue;
    const category = categorize(path, ownA);
    byCategory[category].removed++;
    byCategory[category].bytesRemoved += f.size;
    changed.push({ path, category, change: 'removed', bytes: f.size });
  }
  changed.sort((x, y) => y.bytes - x.bytes || x.path.localeCompare(y.path));
  return {
    layers: {
      shared: b.analysis.layers.filter((l) => inA.has(l.digest)).map((l) => ({ digest: l.digest, compressedBytes: l.compressedBytes })),
      onlyInA: a.analysis.layers.filter((l) => !inB.has(l.digest)).map((l) => ({ digest: l.digest, compressedBytes: l.compressedBytes })),
      onlyInB: onlyInB.map((l) => ({ digest: l.digest, compressedBytes: l.compressedBytes, createdBy: l.createdBy })),
    },
    pullBytes,
    pullSeconds: (pullBytes * 8) / bandwidthBitsPerSecond,
    packages,
    files: { byCategory, changed: changed.slice(0, 50) },
  };
}
