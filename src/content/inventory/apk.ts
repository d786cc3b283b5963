/**
 * Alpine's installed database, /lib/apk/db/installed (apk-installed(5)): stanzas of `X:value`
 * lines separated by blank lines; P name, V version, A architecture, o origin (the source
 * package, which Alpine's advisories name), L license, m maintainer. Pure.
 */
export interface ApkPackage {
  name: string;
  version: string;
  origin: string;
  architecture?: string;
  license?: string;
}

export function parseApkInstalled(text: string): ApkPackage[] {
  const out: ApkPackage[] = [];
  let cur: Record<string, string> = {};
  const flush = (): void => {
    if (cur.P && cur.V) {
      const p: ApkPackage = { name: cur.P, version: cur.V, origin: cur.o || cur.P };
      if (cur.A) p.architecture = cur.A;
      if (cur.L) p.license = cur.L;
      out.push(p);
    }
    cur = {};
  };
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '') {
      flush();
      continue;
    }
    if (line.length >= 2 && line[1] === ':') {
      const key = line[0]!;
      if ('PVAoL'.includes(key) && cur[key] === undefined) cur[key] = line.slice(2);
    }
  }
  flush();
  return out;
}
