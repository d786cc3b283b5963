/**
 * Inventory x advisories -> findings. Pure: the store hands over the advisories whose affected
 * packages share an ecosystem and name with the inventory's packages; this decides which apply.
 * OS packages match on their source package (Debian, Ubuntu: Source name and version; Alpine:
 * origin), since that is what distributions' advisories name; the advisory's release
 * (`Debian:12`) must be the image's.
 */
import type { InventoryPackage } from '../../content/inventory/inventory.js';
import { normalizePackageName } from './versions/ecosystems.js';
import type { SeverityLevel } from './vulns/cvss.js';
import { matchAffected } from './vulns/osv-match.js';
import type { AffectedPackage } from './vulns/osv.js';
import type { Severity } from './vulns/severity.js';

export interface Finding {
  id: string;
  aliases: string[];
  summary: string;
  severity: SeverityLevel;
  score?: number;
  vector?: string;
  /** the package as installed */
  package: { type: string; name: string; version: string; purl: string; path: string; sourceName?: string };
  installed: string;
  fixed?: string;
  ecosystem: string;
  layer: number;
  layerDigest?: string;
}

export interface CandidateAdvisory {
  id: string;
  aliases: string[];
  summary: string;
  severity: Severity;
  affected: AffectedPackage;
}

/** What a package is matched as: ecosystem, name (normalized), version. */
export function matchKey(p: InventoryPackage): { ecosystem: string; name: string; version: string } | undefined {
  if (!p.ecosystem) return undefined;
  const osPackage = p.type === 'deb' || p.type === 'apk';
  const name = osPackage ? (p.sourceName ?? p.name) : p.name;
  const version = p.type === 'deb' ? (p.sourceVersion ?? p.version) : p.version;
  return { ecosystem: p.ecosystem, name: normalizePackageName(p.ecosystem, name), version };
}

/** Stable identity of a package within an inventory (a finding's key with the advisory id). */
export function packageKey(p: InventoryPackage): string {
  return `${p.type}|${p.name}|${p.version}|${p.path}`;
}

export function findingsFor(p: InventoryPackage, candidates: readonly CandidateAdvisory[], layers: readonly string[]): Finding[] {
  const key = matchKey(p);
  if (!key) return [];
  const out = new Map<string, Finding>();
  for (const c of candidates) {
    const a = c.affected;
    if (a.ecosystem !== key.ecosystem || a.name !== key.name) continue;
    if (a.release !== '' && a.release !== (p.release ?? '')) continue;
    const r = matchAffected(key.version, a);
    if (!r.affected) continue;
    const severity = a.severity ?? c.severity;
    if (out.has(c.id)) continue; // one finding per advisory and package
    const f: Finding = {
      id: c.id,
      aliases: c.aliases,
      summary: c.summary,
      severity: severity.level,
      package: { type: p.type, name: p.name, version: p.version, purl: p.purl, path: p.path, ...(p.sourceName ? { sourceName: p.sourceName } : {}) },
      installed: key.version,
      ecosystem: p.release ? `${key.ecosystem}:${p.release}` : key.ecosystem,
      layer: p.layer,
    };
    if (severity.score !== undefined) f.score = severity.score;
    if (severity.vector) f.vector = severity.vector;
    if (r.fixed) f.fixed = r.fixed;
    if (layers[p.layer]) f.layerDigest = layers[p.layer];
    out.set(c.id, f);
  }
  return [...out.values()];
}
