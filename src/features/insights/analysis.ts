/**
 * The analysis of one image from its layer records (layer-record.ts) and its config: the layer
 * cake by category, waste (overwritten, deleted, duplicated), dive's efficiency score, the cold
 * start estimate and the findings. Pure: fresh and stored records go through the same code, so
 * an image whose layers were all analysed before is analysed without reading a layer.
 * docs/insights.md describes every number.
 */
import { buildInventory, wantPath } from '../../content/inventory/collector.js';
import type { Inventory } from '../../content/inventory/inventory.js';
import type { EntryKind, LayerEntry } from '../../content/layers/layer-reader.js';
import { FileViewConsumer } from '../../content/layers/layer-walker.js';
import { CATEGORIES, cacheKind, categorize, isCompiler, pythonPackageOf, type CacheKind, type Category } from './categories.js';
import type { AnalysisOptions, CategoryBytes, ImageConfigFacts, InsightsAnalysis, LayerCake, WasteItem } from './analysis-types.js';
import { findingsOf } from './findings.js';

export type { AnalysisOptions, CategoryBytes, ImageConfigFacts, InsightsAnalysis, LayerCake, WasteItem } from './analysis-types.js';
import type { LayerRecord, RecordKind } from './layer-record.js';

export function emptyCategories(): CategoryBytes {
  return Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as CategoryBytes;
}

const ENTRY_KIND: Record<RecordKind, EntryKind> = { f: 'file', l: 'link', s: 'symlink', d: 'directory', w: 'whiteout', o: 'opaque', x: 'other' };

/** The inventory (content/inventory) from the records' kept files: the walker's view, replayed. */
export function inventoryOf(records: readonly LayerRecord[]): Inventory {
  const view = new FileViewConsumer(wantPath);
  records.forEach((r, layer) => {
    view.startLayer(layer, r.digest);
    for (const [path, kind, size, , target] of r.entries) {
      const e: LayerEntry = { layer, kind: ENTRY_KIND[kind], path, size, ...(target !== undefined ? { linkTarget: target } : {}) };
      const sink = view.entry(e);
      if (sink && kind === 'f') {
        const content = r.wanted[path];
        if (content !== undefined) sink.write(Buffer.from(content, 'base64'));
        sink.end();
      }
    }
    view.endLayer();
  });
  return buildInventory(view.view([]));
}

export function parseConfigFacts(config: unknown, layerCount: number): ImageConfigFacts {
  const c = (config ?? {}) as { config?: { User?: unknown; ExposedPorts?: unknown; Healthcheck?: { Test?: unknown } }; history?: { created_by?: unknown; empty_layer?: unknown }[] };
  const inner = c.config ?? {};
  const history = Array.isArray(c.history) ? c.history.filter((h) => h && h.empty_layer !== true) : [];
  const matches = history.length === layerCount;
  const test = inner.Healthcheck?.Test;
  return {
    user: typeof inner.User === 'string' ? inner.User : '',
    exposedPorts: inner.ExposedPorts && typeof inner.ExposedPorts === 'object' ? Object.keys(inner.ExposedPorts) : [],
    healthcheck: Array.isArray(test) && test.length > 0 && test[0] !== 'NONE',
    layerHistory: matches ? history.map((h) => (typeof h.created_by === 'string' ? h.created_by : null)) : Array.from({ length: layerCount }, () => null),
    historyMatches: matches || history.length === 0,
  };
}

interface Live {
  size: number;
  layer: number;
  hash?: string;
  kind: RecordKind;
}

export function analyse(records: readonly LayerRecord[], facts: ImageConfigFacts, options: AnalysisOptions): InsightsAnalysis {
  const warnings: string[] = [];
  if (!facts.historyMatches) warnings.push('the config history does not match the layers: created_by is not shown');
  const inventory = inventoryOf(records);
  warnings.push(...inventory.warnings);

  // dpkg ownership: every layer's lists (a later layer's list wins)
  const owners = new Map<string, string>();
  for (const r of records) for (const [pkg, paths] of Object.entries(r.dpkgLists)) for (const p of paths) owners.set(p, pkg);
  const ownership = { owner: (p: string) => owners.get(p) };

  const totals = emptyCategories();
  const pyBytes = new Map<string, number>();
  const caches: Record<CacheKind, number> = { 'apt-lists': 0, 'deb-archives': 0, pip: 0, conda: 0, npm: 0, huggingface: 0, pycache: 0, other: 0 };
  const compilers: { path: string; layer: number }[] = [];
  const layers: LayerCake[] = [];
  const categoryOf = new Map<string, Category>();
  const cat = (p: string): Category => {
    let c = categoryOf.get(p);
    if (c === undefined) categoryOf.set(p, (c = categorize(p, ownership)));
    return c;
  };

  // the live filesystem (files, links, symlinks) as the layers stack up
  const live = new Map<string, Live>();
  const liveDirs = new Set<string>();
  const waste: WasteItem[] = [];
  let overwrittenBytes = 0;
  let deletedBytes = 0;
  // dive's efficiency: per path, the cumulative and the smallest size of its leaf nodes
  const dive = new Map<string, { cum: number; min: number; nodes: number }>();

  const under = (dir: string): string[] => {
    const prefix = dir === '' ? '' : `${dir}/`;
    const out: string[] = [];
    for (const p of live.keys()) if (p.startsWith(prefix)) out.push(p);
    return out;
  };
  const remove = (p: string, by: number, reason: WasteItem['reason']): void => {
    const l = live.get(p);
    if (!l) return;
    live.delete(p);
    if (l.kind === 'f' && l.size > 0) {
      waste.push({ path: p, layer: l.layer, bytes: l.size, reason, by });
      if (reason === 'overwritten') overwrittenBytes += l.size;
      else deletedBytes += l.size;
    }
  };

  records.forEach((r, index) => {
    const categories = emptyCategories();
    let files = 0;
    const whiteouts: string[] = [];
    const opaque: string[] = [];
    const parents = new Set<string>();
    for (const [p] of r.entries) for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) parents.add(p.slice(0, i));
    for (const [path, kind, size, hash] of r.entries) {
      // dive: every leaf of this layer's tree (an opaque marker is no node, but the directory
      // that holds it is one, a leaf of 0 bytes when nothing else of the layer is under it)
      if (!parents.has(path) && !(kind === 'o' && path === '')) {
        let bytes = kind === 'f' ? size : 0;
        if (kind === 'w' && (liveDirs.has(path) || under(path).length > 0)) bytes = under(path).reduce((n, q) => n + (live.get(q)!.kind === 'f' ? live.get(q)!.size : 0), 0);
        const d = dive.get(path);
        if (d) {
          d.cum += bytes;
          d.min = Math.min(d.min, bytes);
          d.nodes++;
        } else dive.set(path, { cum: bytes, min: bytes, nodes: 1 });
      }
      if (kind === 'w') {
        whiteouts.push(path);
        continue;
      }
      if (kind === 'o') {
        opaque.push(path);
        continue;
      }
      if (kind === 'd') {
        if (live.has(path)) remove(path, index, 'overwritten');
        liveDirs.add(path);
        continue;
      }
      // a file, link or symlink replaces whatever was at its path (and below it)
      if (live.has(path)) remove(path, index, 'overwritten');
      if (liveDirs.has(path)) {
        for (const q of under(path)) remove(q, index, 'overwritten');
        liveDirs.delete(path);
      }
      live.set(path, { size, layer: index, kind, ...(hash !== undefined ? { hash } : {}) });
      if (kind === 'x') continue;
      files++;
      if (kind !== 'f') continue;
      const c = cat(path);
      categories[c] += size;
      totals[c] += size;
      if (c === 'python-packages') {
        const name = pythonPackageOf(path)!;
        pyBytes.set(name, (pyBytes.get(name) ?? 0) + size);
      }
      if (c === 'caches') caches[cacheKind(path) ?? 'other'] += size;
      if (c === 'build-tools' && isCompiler(path)) compilers.push({ path, layer: index });
    }
    // whiteouts and opaque directories hide lower layers only (OCI layer.md)
    const lower = (p: string): boolean => (live.get(p)?.layer ?? index) < index;
    for (const w of whiteouts) {
      if (lower(w)) remove(w, index, 'deleted');
      for (const q of under(w)) if (lower(q)) remove(q, index, 'deleted');
      liveDirs.delete(w);
    }
    for (const d of opaque) for (const q of under(d)) if (lower(q)) remove(q, index, 'deleted');
    layers.push({
      index,
      digest: r.digest,
      compression: r.compression,
      compressedBytes: r.compressedBytes,
      uncompressedBytes: r.uncompressedBytes,
      files,
      createdBy: facts.layerHistory[index] ?? null,
      categories,
      partial: r.partial,
    });
  });

  // duplicates: the same content live at more than one place, in different layers
  const byHash = new Map<string, { path: string; layer: number; size: number }[]>();
  let finalBytes = 0;
  for (const [path, l] of live) {
    if (l.kind !== 'f') continue;
    finalBytes += l.size;
    if (!l.hash || l.size === 0) continue;
    let list = byHash.get(l.hash);
    if (!list) byHash.set(l.hash, (list = []));
    list.push({ path, layer: l.layer, size: l.size });
  }
  let duplicateBytes = 0;
  for (const copies of byHash.values()) {
    if (copies.length < 2 || new Set(copies.map((c) => c.layer)).size < 2) continue;
    copies.sort((a, b) => a.layer - b.layer || a.path.localeCompare(b.path));
    for (const c of copies.slice(1)) {
      duplicateBytes += c.size;
      waste.push({ path: c.path, layer: c.layer, bytes: c.size, reason: 'duplicate', by: copies[0]!.layer });
    }
  }

  let minSum = 0;
  let cumSum = 0;
  let diveWasted = 0;
  for (const d of dive.values()) {
    minSum += d.min;
    cumSum += d.cum;
    if (d.nodes > 1) diveWasted += d.cum;
  }
  const userBytes = records.slice(1).reduce((n, r) => n + r.uncompressedBytes, 0);

  const compressedBytes = records.reduce((n, r) => n + r.compressedBytes, 0);
  const uncompressedBytes = records.reduce((n, r) => n + r.uncompressedBytes, 0);
  const pullSeconds = (compressedBytes * 8) / options.bandwidthBitsPerSecond;
  const decompressSeconds = uncompressedBytes / options.decompressBytesPerSecond;
  const partial = records.some((r) => r.partial);
  if (partial) warnings.push('some layers have more entries than the analysis keeps: numbers cover the entries kept (partial)');

  const analysis: InsightsAnalysis = {
    partial,
    warnings,
    totals: { compressedBytes, uncompressedBytes, files: layers.reduce((n, l) => n + l.files, 0), finalBytes, categories: totals },
    layers,
    pythonPackages: [...pyBytes].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name)).slice(0, 25),
    caches,
    waste: {
      overwrittenBytes,
      deletedBytes,
      duplicateBytes,
      totalBytes: overwrittenBytes + deletedBytes + duplicateBytes,
      top: waste.sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path)).slice(0, 25),
    },
    efficiency: { score: cumSum === 0 ? 1 : minSum / cumSum, wastedBytes: diveWasted, userWastedPercent: userBytes === 0 ? 0 : diveWasted / userBytes },
    coldStart: {
      pullBytes: compressedBytes,
      decompressBytes: uncompressedBytes,
      bandwidthBitsPerSecond: options.bandwidthBitsPerSecond,
      decompressBytesPerSecond: options.decompressBytesPerSecond,
      pullSeconds,
      decompressSeconds,
      seconds: pullSeconds + decompressSeconds,
    },
    findings: [],
    os: inventory.os ?? null,
    ml: inventory.ml,
    packages: inventory.packages.map((p) => ({ type: p.type, name: p.name, version: p.version, layer: p.layer })),
  };
  analysis.findings = findingsOf({ records, facts, options, analysis, live, waste, compilers, categoryOf: cat });
  return analysis;
}
