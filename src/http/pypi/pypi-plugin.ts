/**
 * Python package repositories over HTTP (issue 17), under `/pypi/<repository>/`:
 *
 *   GET  simple/                     the project list (PEP 503 HTML or PEP 691 JSON)
 *   GET  simple/<project>/           a project's files, hashes, Requires-Python, yanks, metadata
 *   GET  files/<sha256>/<filename>   the file (Range, ETag); `<filename>.metadata`: its METADATA (PEP 658)
 *   POST (the repository URL)        upload, as twine sends it (pypi-upload.ts)
 *
 * Reading needs pull on the repository (anonymous on a public one), uploading needs push; the
 * AuthGate decides, as for /v2. Python clients speak Basic auth, so a 401 here challenges with
 * Basic. Repository names contain slashes: the `simple` / `files` segment after the name tells
 * the routes apart (a repository whose last component is `simple` is reached as such first).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Access } from '../../auth/access.js';
import type { PypiService } from '../../features/pypi/pypi-service.js';
import { normalizeProjectName } from '../../features/pypi/distribution-names.js';
import type { PypiFileRecord } from '../../features/pypi/sql-pypi-store.js';
import { parseRepoName } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { AuthGate } from '../auth-gate.js';
import { sendError, toWharfError } from '../errors.js';
import { parseRangeHeader } from '../range.js';
import { sendBlobFile } from '../send-file.js';
import { receiveUpload } from './pypi-upload.js';
import { negotiate, renderIndex, renderProject, SIMPLE_JSON } from './simple-pages.js';

export interface PypiPluginOptions {
  gate: AuthGate;
  pypi: PypiService;
}

type Match =
  | { route: 'pypi.index'; repository: string; slash: boolean }
  | { route: 'pypi.project'; repository: string; project: string; slash: boolean }
  | { route: 'pypi.file'; repository: string; sha256: string; filename: string }
  | { route: 'pypi.upload'; repository: string };

const INDEX_RE = /^\/pypi\/(.+)\/simple(\/?)$/;
const PROJECT_RE = /^\/pypi\/(.+)\/simple\/([^/]+)(\/?)$/;
const FILE_RE = /^\/pypi\/(.+)\/files\/([0-9a-f]{64})\/([^/]+)$/;
const UPLOAD_RE = /^\/pypi\/(.+?)\/?$/;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new WharfError('REQUEST_INVALID', 'malformed percent-encoding in the path');
  }
}

function match(method: string, path: string): Match | undefined {
  if (method === 'POST') {
    const m = UPLOAD_RE.exec(path);
    return m ? { route: 'pypi.upload', repository: parseRepoName(m[1]) } : undefined;
  }
  let m = INDEX_RE.exec(path);
  if (m) return { route: 'pypi.index', repository: parseRepoName(m[1]), slash: m[2] === '/' };
  m = PROJECT_RE.exec(path);
  if (m) return { route: 'pypi.project', repository: parseRepoName(m[1]), project: decode(m[2]!), slash: m[3] === '/' };
  m = FILE_RE.exec(path);
  if (m) return { route: 'pypi.file', repository: parseRepoName(m[1]), sha256: m[2]!, filename: decode(m[3]!) };
  return undefined;
}

/** A reason phrase twine can print (it shows the HTTP reason of a failed upload): printable ASCII, one line. */
function reasonPhrase(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
}

/** Rendered project pages by repository, project and representation, valid while the project's generation is theirs. */
type PageCache = Map<string, { generation: number; body: Buffer }>;
const PAGE_CACHE_ENTRIES = 128;

export async function pypiPlugin(app: FastifyInstance, options: PypiPluginOptions): Promise<void> {
  const { gate, pypi } = options;
  const pages: PageCache = new Map();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  // pip and twine answer a Basic challenge (credentials from the URL, .netrc, keyring, .pypirc)
  app.addHook('onSend', async (_request, reply, payload) => {
    const challenge = reply.getHeader('www-authenticate');
    if (typeof challenge === 'string' && challenge.startsWith('Bearer ')) reply.header('www-authenticate', 'Basic realm="wharf", charset="UTF-8"');
    return payload;
  });

  app.route({
    method: ['GET', 'HEAD', 'POST'],
    url: '/pypi/*',
    bodyLimit: Number.MAX_SAFE_INTEGER,
    handler: async (request, reply) => {
      const url = request.raw.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      try {
        const m = match(request.method, path);
        if (!m) throw new WharfError('NOT_FOUND', `no such endpoint: ${request.method} ${path.slice(0, 200)}`);
        request.routeId = m.route;
        const access: Access[] = [{ kind: 'repository', name: m.repository, actions: [m.route === 'pypi.upload' ? 'push' : 'pull'] }];
        await gate.authorize(request, reply, access, m.repository);
        switch (m.route) {
          case 'pypi.upload': {
            const file = await receiveUpload(request, pypi, m.repository);
            gate.audit(request, { action: 'pypi.upload', repository: m.repository, digest: file.digest, target: `file:${file.filename}`, result: 'ok', status: 200 });
            await reply.code(200).header('content-type', 'text/plain; charset=utf-8').send(`OK: ${file.filename}\n`);
            return;
          }
          case 'pypi.index':
            if (!m.slash) return redirect(reply, `${path}/`);
            return await sendPage(request, reply, (type) => pypi.projects(m.repository).then((p) => renderIndex(type, p)));
          case 'pypi.project': {
            const normalized = normalizeProjectName(m.project);
            if (normalized !== m.project || !m.slash) return redirect(reply, `${path.slice(0, path.lastIndexOf('/simple/'))}/simple/${encodeURIComponent(normalized)}/`);
            return await sendProjectPage(request, reply, pypi, pages, m.repository, normalized);
          }
          case 'pypi.file':
            return await sendFile(request, reply, pypi, m.repository, m.sha256, m.filename);
        }
      } catch (err) {
        // twine prints the reason phrase of a refused upload (as PyPI sends it: "400 File already exists ...")
        if (request.routeId === 'pypi.upload') reply.raw.statusMessage = reasonPhrase(toWharfError(err).message);
        await sendError(request, reply, err);
      }
    },
  });
}

function redirect(reply: FastifyReply, location: string): Promise<void> {
  return reply.code(301).header('location', location).header('content-length', 0).send() as unknown as Promise<void>;
}

async function sendPage(request: FastifyRequest, reply: FastifyReply, render: (type: ReturnType<typeof negotiate>) => Promise<string>): Promise<void> {
  const type = negotiate(request.headers.accept);
  const body = await render(type);
  reply
    .code(200)
    .header('content-type', type === SIMPLE_JSON ? type : `${type}; charset=utf-8`)
    .header('vary', 'Accept')
    .header('cache-control', 'max-age=0, must-revalidate');
  await reply.send(request.method === 'HEAD' ? undefined : body);
}

/**
 * A project page, reused while the project's generation (one indexed row, bumped by every upload,
 * yank and delete on any replica) is the one it was rendered at; its ETag is that generation.
 */
async function sendProjectPage(request: FastifyRequest, reply: FastifyReply, pypi: PypiService, pages: PageCache, repository: string, project: string): Promise<void> {
  const type = negotiate(request.headers.accept);
  const key = `${repository}\0${project}\0${type}`;
  // read before the files: a change in between leaves the page older than its generation says, never newer
  const generation = await pypi.projectGeneration(repository, project);
  let page = generation > 0 ? pages.get(key) : undefined;
  if (page === undefined || page.generation !== generation) {
    const { displayName, files, versions } = await pypi.projectFiles(repository, project);
    page = { generation, body: Buffer.from(renderProject(type, displayName, files, versions)) }; // encoded once
    if (generation > 0) {
      pages.delete(key);
      pages.set(key, page);
      if (pages.size > PAGE_CACHE_ENTRIES) pages.delete(pages.keys().next().value!);
    }
  }
  reply
    .header('content-type', type === SIMPLE_JSON ? type : `${type}; charset=utf-8`)
    .header('vary', 'Accept')
    .header('cache-control', 'max-age=0, must-revalidate');
  if (generation > 0) {
    const etag = `"g${generation}-${type === SIMPLE_JSON ? 'json' : 'html'}"`;
    reply.header('etag', etag);
    if (request.headers['if-none-match'] === etag) return void (await reply.code(304).send());
  }
  await reply.code(200).send(request.method === 'HEAD' ? undefined : page.body);
}

async function sendFile(request: FastifyRequest, reply: FastifyReply, pypi: PypiService, repository: string, sha256: string, filename: string): Promise<void> {
  let file: PypiFileRecord;
  let metadataOf: PypiFileRecord | undefined;
  try {
    file = await pypi.file(repository, filename);
  } catch (e) {
    // `<wheel>.metadata`: the wheel's METADATA (PEP 658)
    if (!filename.endsWith('.metadata')) throw e;
    metadataOf = await pypi.file(repository, filename.slice(0, -'.metadata'.length));
    file = metadataOf;
  }
  if (file.digest !== `sha256:${sha256}`) throw new WharfError('RESOURCE_UNKNOWN', `file ${filename.slice(0, 200)} is not in repository ${repository} under that hash`);
  if (metadataOf) {
    const bytes = await pypi.fileMetadata(repository, metadataOf.filename);
    const etag = `"sha256:${metadataOf.metadataSha256}"`;
    reply.header('etag', etag).header('cache-control', 'max-age=31536000').header('content-type', 'text/plain; charset=utf-8');
    if (request.headers['if-none-match'] === etag) return void (await reply.code(304).send());
    await reply.code(200).send(request.method === 'HEAD' ? undefined : bytes);
    return;
  }
  const etag = `"${file.digest}"`;
  reply
    .header('etag', etag)
    .header('accept-ranges', 'bytes')
    .header('cache-control', 'max-age=31536000')
    .header('content-type', 'application/octet-stream');
  if (request.headers['if-none-match'] === etag) return void (await reply.code(304).send());
  if (request.method === 'HEAD') return void (await reply.code(200).header('content-length', file.size).send());
  let range: { start: number; end: number } | undefined;
  try {
    range = parseRangeHeader(request.headers.range, file.size);
  } catch (e) {
    throw new WharfError('RANGE_INVALID', (e as Error).message, { size: file.size });
  }
  if (range !== undefined && request.headers['if-range'] !== undefined && request.headers['if-range'] !== etag) range = undefined;
  const opened = await pypi.openFile(repository, file);
  if (opened.url !== undefined) {
    pypi.noteServed(repository, file, range ? range.end - range.start + 1 : file.size);
    return void (await reply.code(307).header('location', opened.url).header('content-length', 0).send());
  }
  const length = range ? range.end - range.start + 1 : file.size;
  reply.header('content-length', length);
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
  else reply.code(200);
  if (opened.file) {
    await sendBlobFile(reply, opened.file, range?.start ?? 0, range?.end ?? file.size - 1, (bytes) => pypi.noteServed(repository, file, bytes));
    return;
  }
  const stream = await pypi.openStream(repository, file, range);
  reply.raw.once('finish', () => pypi.noteServed(repository, file, length));
  await reply.send(stream);
}
