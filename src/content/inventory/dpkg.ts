/**
 * dpkg's database: /var/lib/dpkg/status (one stanza per package, dpkg-query(1) fields) and the
 * per-package files of /var/lib/dpkg/status.d/ that distroless images ship instead. Only packages
 * whose Status says "installed" count. `Source: name (version)` gives the source package (and its
 * version when it differs from the binary's), which is what Debian's advisories name. Pure.
 */
import { parseStanzas } from './rfc822.js';

export interface DpkgPackage {
  name: string;
  version: string;
  architecture?: string;
  sourceName: string;
  sourceVersion: string;
  maintainer?: string;
}

export function parseDpkgStatus(text: string, requireStatus = true): DpkgPackage[] {
  const out: DpkgPackage[] = [];
  for (const s of parseStanzas(text)) {
    const name = s.get('package');
    const version = s.get('version');
    if (!name || !version) continue;
    const status = s.get('status');
    // distroless status.d files have no Status field: what is there is installed
    if (status !== undefined || requireStatus) {
      const words = (status ?? '').split(/\s+/);
      if (words[2] !== 'installed') continue;
    }
    let sourceName = name;
    let sourceVersion = version;
    const source = s.get('source');
    if (source) {
      const m = /^([^\s(]+)(?:\s*\(([^)]+)\))?/.exec(source);
      if (m) {
        sourceName = m[1]!;
        if (m[2]) sourceVersion = m[2].trim();
      }
    }
    const pkg: DpkgPackage = { name, version, sourceName, sourceVersion };
    const arch = s.get('architecture');
    if (arch) pkg.architecture = arch;
    const maintainer = s.get('maintainer');
    if (maintainer) pkg.maintainer = maintainer;
    out.push(pkg);
  }
  return out;
}
