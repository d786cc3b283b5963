/**
 * Python distributions: core metadata (`METADATA` in *.dist-info, `PKG-INFO` in *.egg-info, or an
 * *.egg-info file itself — the packaging.python.org core metadata spec, email-header format) and
 * conda's per-package records (conda-meta/<name>-<version>-<build>.json). Pure.
 */
import { parseStanzas } from './rfc822.js';

export interface PythonDistribution {
  name: string;
  version: string;
  license?: string;
}

export function parsePythonMetadata(text: string): PythonDistribution | undefined {
  const headers = parseStanzas(text, { firstOnly: true })[0];
  const name = headers?.get('name');
  const version = headers?.get('version');
  if (!name || !version || /\s/.test(version)) return undefined;
  const out: PythonDistribution = { name, version };
  const license = headers?.get('license-expression') ?? headers?.get('license');
  if (license && license.length <= 200 && !license.includes('\n') && license !== 'UNKNOWN') out.license = license;
  return out;
}

export interface CondaPackage {
  name: string;
  version: string;
  build?: string;
  channel?: string;
  subdir?: string;
  license?: string;
}

export function parseCondaMeta(text: string): CondaPackage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.name !== 'string' || typeof o.version !== 'string' || o.name === '' || o.version === '') return undefined;
  const out: CondaPackage = { name: o.name, version: o.version };
  if (typeof o.build === 'string') out.build = o.build;
  if (typeof o.channel === 'string') out.channel = o.channel.replace(/^https?:\/\/[^/]+\//, '').replace(/\/(linux|osx|win|noarch)[-\w]*$/, '') || o.channel;
  if (typeof o.subdir === 'string') out.subdir = o.subdir;
  if (typeof o.license === 'string' && o.license.length <= 200) out.license = o.license;
  return out;
}

/** PEP 503 normalized project name: lower case, runs of `-`, `_` and `.` become one `-`. */
export function normalizePythonName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
