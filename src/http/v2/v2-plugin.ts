import type { FastifyInstance } from 'fastify';
import { WharfError } from '../../errors/wharf-error.js';
import { sendError } from '../errors.js';
import type { V2Options } from './route-table.js';
import { matchV2Route } from './routes.js';

/**
 * The OCI Distribution API. Fastify routes `/v2/*` here and this plugin dispatches on the route
 * table (repository names contain slashes, which Fastify's router cannot express mid-path).
 * Bodies are never parsed by Fastify in this scope: handlers stream `request.raw` themselves.
 */
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
      handler: async (_request, reply) => {
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
        await match.route.handle({ request, reply, params: match.params, query, options });
      } catch (err) {
        await sendError(request, reply, err);
      }
    },
  });
}
