/**
 * The simple repository API's two representations (PEP 503 HTML, PEP 691 JSON, both at API
 * version 1.1 with PEP 700's versions, sizes and upload times), chosen by content negotiation.
 * File URLs are relative to the page, so the index works behind any proxy or public URL.
 */
import type { PypiFileRecord } from '../../features/pypi/sql-pypi-store.js';

export const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';
export const SIMPLE_HTML = 'application/vnd.pypi.simple.v1+html';
const API_VERSION = '1.1';

type Representation = typeof SIMPLE_JSON | typeof SIMPLE_HTML | 'text/html';

/**
 * PEP 691 negotiation over the Accept header: the highest q among the types we serve wins, ties
 * go to the order given; `latest` aliases v1; no Accept (or nothing we serve) is text/html, which
 * every client understands. (A dozen lines: the general-purpose negotiators know nothing of the
 * `latest` aliases.)
 */
export function negotiate(accept: string | undefined): Representation {
  if (!accept) return 'text/html';
  let best: { type: Representation; q: number } | undefined;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? '1');
    if (!Number.isFinite(q) || q <= 0) continue;
    const type: Representation | undefined =
      rawType === SIMPLE_JSON || rawType === 'application/vnd.pypi.simple.latest+json'
        ? SIMPLE_JSON
        : rawType === SIMPLE_HTML || rawType === 'application/vnd.pypi.simple.latest+html'
          ? SIMPLE_HTML
          : rawType === 'text/html' || rawType === 'text/*' || rawType === '*/*'
            ? 'text/html'
            : undefined;
    if (type !== undefined && (best === undefined || q > best.q)) best = { type, q };
  }
  return best?.type ?? 'text/html';
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html>\n<head>\n<meta name="pypi:repository-version" content="${API_VERSION}">\n<title>${escapeHtml(title)}</title>\n</head>\n<body>\n<h1>${escapeHtml(title)}</h1>\n${body}</body>\n</html>\n`;
}

export function renderIndex(type: Representation, projects: readonly { project: string; displayName: string }[]): string {
  if (type === SIMPLE_JSON) {
    return JSON.stringify({ meta: { 'api-version': API_VERSION }, projects: projects.map((p) => ({ name: p.displayName })) });
  }
  return page('Simple index', projects.map((p) => `<a href="${encodeURIComponent(p.project)}/">${escapeHtml(p.displayName)}</a><br>\n`).join(''));
}

/** The URL of a file relative to its project page (`<repo>/simple/<project>/`). */
export function fileHref(f: PypiFileRecord): string {
  return `../../files/${f.digest.slice('sha256:'.length)}/${encodeURIComponent(f.filename)}`;
}

export function renderProject(type: Representation, name: string, files: readonly PypiFileRecord[], versions: readonly string[]): string {
  if (type === SIMPLE_JSON) {
    return JSON.stringify({
      meta: { 'api-version': API_VERSION },
      name,
      versions,
      files: files.map((f) => {
        const entry: Record<string, unknown> = {
          filename: f.filename,
          url: fileHref(f),
          hashes: { sha256: f.digest.slice('sha256:'.length) },
          size: f.size,
          'upload-time': new Date(f.uploadedAt).toISOString(),
        };
        if (f.requiresPython !== null) entry['requires-python'] = f.requiresPython;
        // PEP 714: only the new key in JSON; pip 23.0 fails on the old one's dict form (pypa/pip#11936)
        if (f.metadataSha256 !== null) entry['core-metadata'] = { sha256: f.metadataSha256 };
        entry.yanked = f.yankedReason === null ? false : f.yankedReason === '' ? true : f.yankedReason;
        return entry;
      }),
    });
  }
  const links = files.map((f) => {
    const attrs = [`href="${escapeHtml(`${fileHref(f)}#sha256=${f.digest.slice('sha256:'.length)}`)}"`];
    if (f.requiresPython !== null) attrs.push(`data-requires-python="${escapeHtml(f.requiresPython)}"`);
    if (f.metadataSha256 !== null) attrs.push(`data-dist-info-metadata="sha256=${f.metadataSha256}"`, `data-core-metadata="sha256=${f.metadataSha256}"`);
    if (f.yankedReason !== null) attrs.push(f.yankedReason === '' ? 'data-yanked' : `data-yanked="${escapeHtml(f.yankedReason)}"`);
    return `<a ${attrs.join(' ')}>${escapeHtml(f.filename)}</a><br>\n`;
  });
  return page(`Links for ${name}`, links.join(''));
}
