/**
 * OSV ecosystems Wharf inventories, and how each orders versions. An OSV ecosystem string may
 * carry a release after a colon (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04:LTS`); `splitEcosystem`
 * separates the two. Pure.
 */
import { compareApkVersions, isApkVersion } from './apk-version.js';
import { compareDebianVersions, parseDebianVersion } from './debian-version.js';
import { normalizePythonName } from '../../../content/inventory/python.js';
import { comparePep440Versions, isPep440Version } from './pep440-version.js';
import { compareSemver, isSemver } from './semver-version.js';

export interface VersionScheme {
  valid(v: string): boolean;
  /** -1, 0, 1; both arguments must be valid */
  compare(a: string, b: string): -1 | 0 | 1;
}

const debian: VersionScheme = { valid: (v) => parseDebianVersion(v) !== undefined, compare: compareDebianVersions };
const apk: VersionScheme = { valid: isApkVersion, compare: compareApkVersions };
const pep440: VersionScheme = { valid: isPep440Version, compare: comparePep440Versions };
export const SEMVER: VersionScheme = { valid: isSemver, compare: compareSemver };

const SCHEMES: Record<string, VersionScheme> = {
  Debian: debian,
  Ubuntu: debian,
  Alpine: apk,
  PyPI: pep440,
  npm: SEMVER,
};

/** The base ecosystem (`Debian`) and the release (`12`; `22.04` for `Ubuntu:22.04:LTS`; '' when none). */
export function splitEcosystem(ecosystem: string): { base: string; release: string } {
  const parts = ecosystem.split(':');
  const base = parts[0] ?? '';
  let release = parts[1] ?? '';
  // Ubuntu's qualifiers: "Ubuntu:22.04:LTS", "Ubuntu:Pro:18.04:LTS"
  if (base === 'Ubuntu') {
    const rest = parts.slice(1).filter((p) => p !== 'LTS' && p !== 'Pro' && !/^FIPS/.test(p));
    release = rest[0] ?? '';
  }
  return { base, release };
}

/** How `ecosystem` (base name) orders versions; undefined for ecosystems Wharf does not compare. */
export function versionScheme(base: string): VersionScheme | undefined {
  return Object.prototype.hasOwnProperty.call(SCHEMES, base) ? SCHEMES[base] : undefined;
}

/** The package name as matching compares it (PyPI names are case- and separator-insensitive). */
export function normalizePackageName(base: string, name: string): string {
  return base === 'PyPI' ? normalizePythonName(name) : name;
}
