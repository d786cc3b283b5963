import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WharfError } from '../../errors/wharf-error.js';
import { sendError } from '../errors.js';
import type { V2Options } from './route-table.js';
import { matchV2Route } from './routes.js';

/**
 * The OCI Distribution API. Fastify routes `/v2/*` here and this plugin dispatches on the route
 * table (repository names contain slashes, which Fastify's router cannot express mid-path).
 * Bodies are never parsed by Fastify in this scope: handlers stream `request.raw` themselves.
 */
/** Records a successful mutation: who pushed or deleted what, where (a started upload is not one yet). */
function auditMutation(
  options: V2Options,
  request: FastifyRequest,
  reply: FastifyReply,
  action: string,
  params: string[],
  query: URLSearchParams,
): void {
  const status = reply.statusCode;
  if (status >= 300 || (request.routeId === 'upload.start' && status !== 201)) return;
  const ref = request.routeId.startsWith('manifest.') ? params[1] : undefined;
  const isTag = ref !== undefined && !ref.includes(':');
  const digest = reply.getHeader('docker-content-digest') ?? (isTag ? undefined : (ref ?? params[1]));
  options.gate.audit(request, {
    action: request.routeId === 'upload.start' && query.has('mount') ? 'blob.mount' : isTag && action === 'manifest.delete' ? 'tag.delete' : action,
    repository: params[0],
    digest: typeof digest === 'string' ? digest : undefined,
    target: isTag ? `tag:${ref}` : undefined,
    result: 'ok',
    status,
    detail: query.has('from') ? { from: query.get('from') } : undefined,
  });
}

export async function v2Plugin(app: FastifyInstance, options: V2Options): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.addHook('onRequest', async (_request, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
  });

  for (const url of ['/v2/', '/v2']) {
    app.route({
      method: ['GET', 'HEAD'],
      url,
      handler: async (request, reply) => {
        // the version check doubles as the auth probe: anonymous callers learn the realm here
        if (options.gate.enabled && request.principal.kind === 'anonymous' && !request.principal.tokenAccess) {
          options.gate.challenge(request, reply, []);
          await sendError(request, reply, new WharfError('UNAUTHORIZED', 'authentication required'));
          return;
        }
        await reply.code(200).header('content-type', 'application/json').header('content-length', 2).send('{}');
      },
    });
  }

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'],
    url: '/v2/*',
    bodyLimit: Number.MAX_SAFE_INTEGER,
    handler: async (request, reply) => {
      const url = request.raw.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
      try {
        const match = matchV2Route(request.method, path);
        if (!match) throw new WharfError('NOT_FOUND', `no such endpoint: ${request.method} ${path.slice(0, 200)}`);
        if ('allowed' in match) {
          reply.header('allow', match.allowed.join(', '));
          throw new WharfError('METHOD_NOT_ALLOWED', `${request.method} is not supported here; use ${match.allowed.join(', ')}`);
        }
        request.routeId = match.route.id;
        const repository = match.route.id === 'catalog' ? undefined : match.params[0];
        // the one enforcement point of /v2: the access the route table declares
        await options.gate.authorize(request, reply, match.route.access(match.params, query), repository, match.route.optionalAccess?.(match.params, query));
        await match.route.handle({ request, reply, params: match.params, query, options });
        if (match.route.audit !== undefined) auditMutation(options, request, reply, match.route.audit, match.params, query);
      } catch (err) {
        await sendError(request, reply, err);
      }
    },
  });
}
