/**
 * Names of Python distributions, pure: PEP 503 normalization, PEP 508 project names, and the file
 * names of wheels (PEP 427 / binary distribution format) and sdists (PEP 625, plus the legacy
 * `.zip` and non-normalized names older tools still produce). A file name is also a path segment
 * of the download URL, so only a plain character set passes (no slashes, backslashes, NUL, `..`).
 */
import pep440 from '@renovatebot/pep440';

const PROJECT_RE = /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/;
const FILENAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+!-]*$/;
export const MAX_FILENAME_LENGTH = 255;

export type DistributionKind = 'bdist_wheel' | 'sdist';

export interface DistributionFilename {
  kind: DistributionKind;
  /** the name part as written in the file name (normalized for comparison) */
  name: string;
  /** the version part; for a legacy sdist whose name has dashes, undefined (found from the version given) */
  version: string | undefined;
}

/** PEP 503: lower case, runs of `-`, `_`, `.` become one `-`. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export function isProjectName(name: string): boolean {
  return name.length <= 200 && PROJECT_RE.test(name);
}

export function isVersion(version: string): boolean {
  return version.length <= 128 && pep440.valid(version) !== null;
}

/** PEP 440 order; for sorting versions in listings (invalid ones, which uploads refuse, sort as strings). */
export function compareVersions(a: string, b: string): number {
  if (pep440.valid(a) !== null && pep440.valid(b) !== null) return pep440.compare(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A file name that is safe as a path segment; the reason otherwise. */
export function filenameProblem(filename: string): string | undefined {
  if (filename.length === 0) return 'the file has no name';
  if (filename.length > MAX_FILENAME_LENGTH) return `the file name is longer than ${MAX_FILENAME_LENGTH} characters`;
  if (!FILENAME_RE.test(filename) || filename.includes('..')) {
    return `${JSON.stringify(filename.slice(0, 100))} is not a distribution file name (letters, digits and . _ + ! - only; no paths)`;
  }
  return undefined;
}

/**
 * Parses a distribution file name; undefined when it is neither a wheel nor an sdist name.
 * Wheels: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, the name with `_` for `-`.
 */
export function parseDistributionFilename(filename: string): DistributionFilename | undefined {
  if (filenameProblem(filename) !== undefined) return undefined;
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    if (parts.length !== 5 && parts.length !== 6) return undefined;
    if (parts.some((p) => p === '')) return undefined;
    if (parts.length === 6 && !/^[0-9]/.test(parts[2]!)) return undefined; // a build tag starts with a digit
    return { kind: 'bdist_wheel', name: parts[0]!, version: parts[1]! };
  }
  const ext = ['.tar.gz', '.zip'].find((e) => filename.endsWith(e));
  if (ext === undefined) return undefined;
  const base = filename.slice(0, -ext.length);
  const dash = base.indexOf('-');
  if (dash <= 0 || dash === base.length - 1) return undefined;
  // PEP 625 names have no dash in the name part; legacy ones may (my-lib-1.0): decided against the version
  return { kind: 'sdist', name: base.slice(0, dash), version: base.lastIndexOf('-') === dash ? base.slice(dash + 1) : undefined };
}

/** Whether the file name says project `name` at `version` (normalized comparison of both). */
export function filenameMatches(filename: string, parsed: DistributionFilename, name: string, version: string): boolean {
  if (parsed.version !== undefined) {
    return normalizeProjectName(parsed.name) === normalizeProjectName(name) && normalizeVersionText(parsed.version) === normalizeVersionText(version);
  }
  // legacy sdist with dashes in its name: `{name}-{version}.tar.gz` with the name's own dashes
  const ext = filename.endsWith('.zip') ? '.zip' : '.tar.gz';
  const base = filename.slice(0, -ext.length);
  const suffix = `-${version}`;
  return base.endsWith(suffix) && normalizeProjectName(base.slice(0, -suffix.length)) === normalizeProjectName(name);
}

/** File names may spell a version differently from METADATA (`1.0_rc1` for `1.0rc1`, `_` for `-` in wheels). */
function normalizeVersionText(v: string): string {
  return pep440.clean(v.replace(/_/g, '-')) ?? v.toLowerCase();
}
