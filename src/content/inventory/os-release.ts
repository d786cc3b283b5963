/**
 * /etc/os-release (os-release(5)): newline-separated KEY=value assignments, values optionally in
 * shell quotes with backslash escapes; comments start with #. Pure.
 */
export interface OsRelease {
  id: string;
  versionId?: string;
  versionCodename?: string;
  name?: string;
  prettyName?: string;
  idLike?: string[];
}

function unquote(v: string): string {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) {
    const inner = v.slice(1, -1);
    return v[0] === '"' ? inner.replace(/\\([$"`\\])/g, '$1') : inner;
  }
  return v;
}

export function parseOsRelease(text: string): OsRelease | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trimEnd());
    if (m) fields.set(m[1]!, unquote(m[2]!.trim()));
  }
  const id = fields.get('ID')?.toLowerCase() ?? 'linux';
  if (fields.size === 0) return undefined;
  const out: OsRelease = { id };
  const set = (key: keyof OsRelease, field: string): void => {
    const v = fields.get(field);
    if (v !== undefined && v !== '') (out as unknown as Record<string, unknown>)[key] = v;
  };
  set('versionId', 'VERSION_ID');
  set('versionCodename', 'VERSION_CODENAME');
  set('name', 'NAME');
  set('prettyName', 'PRETTY_NAME');
  const like = fields.get('ID_LIKE');
  if (like) out.idLike = like.split(/\s+/).filter(Boolean);
  return out;
}
