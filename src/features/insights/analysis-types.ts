/** The shapes of an analysis (analysis.ts computes them, findings.ts reads them). */
import type { Inventory } from '../../content/inventory/inventory.js';
import type { CacheKind, Category } from './categories.js';
import type { Finding } from './findings-types.js';

export type CategoryBytes = Record<Category, number>;

export interface AnalysisOptions {
  bandwidthBitsPerSecond: number;
  decompressBytesPerSecond: number;
  /** baked weights above this many bytes are a finding */
  weightsThresholdBytes: number;
  /** a layer this large after a frequently changing one is a cache-busting finding */
  hugeLayerBytes: number;
}

export interface ImageConfigFacts {
  user: string;
  exposedPorts: string[];
  healthcheck: boolean;
  /** created_by of each history entry that is not an empty layer, in order */
  layerHistory: (string | null)[];
  historyMatches: boolean;
}

export interface LayerCake {
  index: number;
  digest: string;
  compression: string;
  compressedBytes: number;
  uncompressedBytes: number;
  files: number;
  createdBy: string | null;
  categories: CategoryBytes;
  partial: boolean;
}

export interface WasteItem {
  path: string;
  layer: number;
  bytes: number;
  reason: 'overwritten' | 'deleted' | 'duplicate';
  /** the layer that overwrote or deleted it, or held the other copy */
  by: number;
}

export interface InsightsAnalysis {
  partial: boolean;
  warnings: string[];
  totals: { compressedBytes: number; uncompressedBytes: number; files: number; finalBytes: number; categories: CategoryBytes };
  layers: LayerCake[];
  pythonPackages: { name: string; bytes: number }[];
  caches: Record<CacheKind, number>;
  waste: { overwrittenBytes: number; deletedBytes: number; duplicateBytes: number; totalBytes: number; top: WasteItem[] };
  efficiency: { score: number; wastedBytes: number; userWastedPercent: number };
  coldStart: { pullBytes: number; decompressBytes: number; bandwidthBitsPerSecond: number; decompressBytesPerSecond: number; pullSeconds: number; decompressSeconds: number; seconds: number };
  findings: Finding[];
  os: Inventory['os'] | null;
  ml: Inventory['ml'];
  packages: { type: string; name: string; version: string; layer: number }[];
}

