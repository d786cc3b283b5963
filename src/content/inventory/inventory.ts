/** The inventory of an image: what the scanner found, where, and which layer brought it. */
import type { OsRelease } from './os-release.js';

export type PackageType = 'deb' | 'apk' | 'pypi' | 'conda' | 'npm' | 'generic';

export interface InventoryPackage {
  type: PackageType;
  name: string;
  version: string;
  /** source package (deb: Source field; apk: origin) when it differs from the name or version */
  sourceName?: string;
  sourceVersion?: string;
  architecture?: string;
  license?: string;
  /** index of the layer that introduced it (this version, continuously up to the top) */
  layer: number;
  /** the file it was read from */
  path: string;
  purl: string;
  /** OSV ecosystem to match with (Debian, Ubuntu, Alpine, PyPI, npm); absent when none applies */
  ecosystem?: string;
  /** OSV ecosystem release (12 for Debian:12, v3.19 for Alpine:v3.19) */
  release?: string;
}

export interface MlComponent {
  version: string;
  path: string;
  layer: number;
  /** how it was found: file (a version file or header), library (a .so name), deb, pip */
  via: 'file' | 'library' | 'deb' | 'pip';
}

export interface MlFramework {
  name: 'torch' | 'tensorflow' | 'jax';
  version: string;
  /** the CUDA version it was built for, when it says */
  cuda?: string;
  cudnn?: string;
  rocm?: string;
  path: string;
  layer: number;
}

export interface MlInventory {
  cuda: MlComponent[];
  cudnn: MlComponent[];
  nccl: MlComponent[];
  frameworks: MlFramework[];
}

export interface Inventory {
  os?: OsRelease;
  packages: InventoryPackage[];
  ml: MlInventory;
  warnings: string[];
}
