/** What an SBOM is made from: the image (by repository and digest) and its stored inventory. */
import type { Inventory } from '../../../content/inventory/inventory.js';

export interface SbomInput {
  repository: string;
  /** manifest digest of the image (the platform image, for an index) */
  digest: string;
  /** layer digests, bottom first, indexed by InventoryPackage.layer */
  layers: string[];
  inventory: Inventory;
  /** when the inventory was taken */
  created: Date;
  /** host[:port] the registry is reached at, for the image's purl (repository_url); optional */
  registryHost?: string;
  toolVersion: string;
}

/** pkg:oci/<last path segment>@<digest>?repository_url=<host>/<repository> (purl spec, type oci) */
export function imagePurl(input: SbomInput): string {
  const name = input.repository.split('/').pop()!.toLowerCase();
  const url = input.registryHost ? `${input.registryHost}/${input.repository}` : input.repository;
  return `pkg:oci/${encodeURIComponent(name)}@${encodeURIComponent(input.digest)}?repository_url=${encodeURIComponent(url)}`;
}
