/** A package.json under node_modules: its name and version (and license, when it is a plain string). Pure. */
export interface NodePackage {
  name: string;
  version: string;
  license?: string;
}

const NAME_RE = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9._~-][a-z0-9._~-]*$/i;

export function parseNodePackageJson(text: string): NodePackage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.name !== 'string' || typeof o.version !== 'string' || !NAME_RE.test(o.name) || o.name.length > 214 || o.version === '') return undefined;
  const out: NodePackage = { name: o.name, version: o.version };
  const license = typeof o.license === 'string' ? o.license : typeof o.license === 'object' && o.license !== null ? (o.license as { type?: unknown }).type : undefined;
  if (typeof license === 'string' && license.length <= 200) out.license = license;
  return out;
}
