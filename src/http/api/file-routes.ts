import { Type } from '@sinclair/typebox';
import type { Access } from '../../auth/access.js';
import type { StreamingService } from '../../features/streaming/streaming-service.js';
import { parseDigest } from '../../domain/digest.js';
import { parseReference, parseRepoName, parseTag, type Reference } from '../../domain/names.js';
import { WharfError } from '../../errors/wharf-error.js';
import { parseRangeHeader } from '../range.js';
import type { ApiContext, ApiRoute } from './api-route.js';
import { Platform, Reference as ReferenceSchema, strict } from './route-schemas.js';

/**
 * File-level access to images (features/streaming, issue 12).
 *
 * `GET|HEAD /api/v1/files/<repo>:<tag>/<path>` (or `<repo>@<digest>/<path>`): the merged
 * filesystem of the image — a JSON listing for a directory, the bytes for a file (Range, ETag,
 * Content-Length). The image reference is one path segment, as users write it, because a
 * repository name has slashes of its own: `<repo>/<reference>/<path>` would be ambiguous. Reading
 * needs pull, as pulling the image does.
 *
 * `POST /api/v1/file-indexes/<repo>` builds the indexes (pushes zTOC blobs and an artifact into the
 * repository, so it needs push); `GET` says what is indexed.
 */

function streamingOf(options: ApiContext['options']): StreamingService {
  if (!options.streaming) throw new WharfError('UNAVAILABLE', 'file access is not enabled on this instance');
  return options.streaming;
}

/** `<repo>:<tag>/<path>` or `<repo>@<digest>/<path>` -> its parts (throws NAME_INVALID / TAG_INVALID / DIGEST_INVALID). */
export function parseImagePath(raw: string): { repository: string; ref: Reference; path: string } {
  const at = raw.search(/[:@]/);
  if (at <= 0) throw new WharfError('NAME_INVALID', 'name the image as <repository>:<tag> or <repository>@<digest>, then the path');
  const repository = parseRepoName(raw.slice(0, at));
  const rest = raw.slice(at + 1);
  const slash = rest.indexOf('/');
  const refText = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '/' : rest.slice(slash) || '/';
  const ref: Reference = raw[at] === '@' ? { kind: 'digest', digest: parseDigest(refText) } : { kind: 'tag', tag: parseTag(refText) };
  return { repository, ref, path };
}

/** the repository an access check is about; a name that does not parse asks for an impossible one (refused, then NAME_INVALID) */
function fileAccess(p: Record<string, string>): Access[] {
  const raw = p['*'] ?? '';
  const at = raw.search(/[:@]/);
  return [{ kind: 'repository', name: at > 0 ? raw.slice(0, at) : raw, actions: ['pull'] }];
}

async function serveFile(ctx: ApiContext<unknown, { platform?: string }>, head: boolean): Promise<unknown> {
  const { repository, ref, path } = parseImagePath(ctx.params['*'] ?? '');
  const streaming = streamingOf(ctx.options);
  const stat = await streaming.stat(repository, ref, path, ctx.query.platform);
  ctx.reply.header('docker-content-digest', stat.image);
  if (stat.kind === 'dir') {
    ctx.reply.header('content-type', 'application/json; charset=utf-8');
    return head ? '' : stat;
  }
  ctx.reply.header('etag', stat.etag);
  ctx.reply.header('accept-ranges', 'bytes');
  ctx.reply.header('content-type', 'application/octet-stream');
  if (stat.modTime) ctx.reply.header('last-modified', new Date(stat.modTime).toUTCString());
  const ifRange = ctx.request.headers['if-range'];
  const range = ifRange === undefined || ifRange === stat.etag ? parseRangeHeader(ctx.request.headers.range, stat.size) : undefined;
  if (ctx.request.headers['if-none-match'] === stat.etag && range === undefined) {
    ctx.reply.code(304);
    return '';
  }
  if (range) {
    ctx.reply.code(206);
    ctx.reply.header('content-range', `bytes ${range.start}-${range.end}/${stat.size}`);
    ctx.reply.header('content-length', range.end - range.start + 1);
  } else ctx.reply.header('content-length', stat.size);
  if (head || stat.size === 0) return '';
  return streaming.read(repository, ref, path, range, ctx.query.platform);
}

export const FILE_ROUTES: readonly ApiRoute[] = [
  {
    id: 'api.files.get',
    method: 'GET',
    url: '/api/v1/files/*',
    summary: "A file's bytes (Range, ETag) or a directory's listing (JSON) in the merged filesystem of an image: /api/v1/files/<repo>:<tag>/<path> or <repo>@<digest>/<path>",
    access: fileAccess,
    query: strict({ platform: Type.Optional(Platform) }),
    handle: async (ctx) => serveFile(ctx, false),
  },
  {
    id: 'api.files.head',
    method: 'HEAD',
    url: '/api/v1/files/*',
    summary: 'The headers of api.files.get (size, ETag, type) without the body',
    access: fileAccess,
    query: strict({ platform: Type.Optional(Platform) }),
    handle: async (ctx) => serveFile(ctx, true),
  },
  {
    id: 'api.fileindex.build',
    method: 'POST',
    url: '/api/v1/file-indexes/*',
    summary: 'Index an image for file access and lazy pulling (a SOCI zTOC per layer, once per layer digest, stored in the repository); every platform of an index unless one is named; background: true enqueues a job instead',
    access: (p) => [{ kind: 'repository', name: p['*'] ?? '', actions: ['pull', 'push'] }],
    body: strict({ reference: ReferenceSchema, platform: Type.Optional(Platform), force: Type.Optional(Type.Boolean()), background: Type.Optional(Type.Boolean()) }),
    audit: 'files.index',
    handle: async (ctx) => {
      const repository = parseRepoName(ctx.params['*']);
      const ref = parseReference(ctx.body.reference);
      const streaming = streamingOf(ctx.options);
      if (ctx.body.background === true) {
        ctx.reply.code(202);
        return streaming.enqueue(repository, ref);
      }
      return { images: await streaming.index(repository, ref, { platform: ctx.body.platform, force: ctx.body.force }) };
    },
  },
  {
    id: 'api.fileindex.get',
    method: 'GET',
    url: '/api/v1/file-indexes/*',
    summary: "What is indexed of an image: each layer's zTOC (digest, size, entries, spans) or why it could not be built",
    access: (p) => [{ kind: 'repository', name: p['*'] ?? '', actions: ['pull'] }],
    query: strict({ reference: ReferenceSchema, platform: Type.Optional(Platform) }),
    handle: async (ctx) => ({ images: await streamingOf(ctx.options).status(parseRepoName(ctx.params['*']), parseReference(ctx.query.reference), ctx.query.platform) }),
  },
];
