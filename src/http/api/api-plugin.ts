import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { FastifyInstance } from 'fastify';
import { WharfError } from '../../errors/wharf-error.js';
import type { ApiOptions, ApiRoute } from './api-route.js';
import { API_ROUTES } from './routes.js';

/**
 * The management API, /api/v1: JSON in and out, bodies limited to 64 KiB, unknown fields refused.
 * Each route of routes.ts declares its access; this plugin is the one place that enforces it
 * (through the AuthGate), and the one place that audits a successful mutation.
 */
export const API_BODY_LIMIT = 64 * 1024;

export async function apiPlugin(app: FastifyInstance, options: ApiOptions): Promise<void> {
  // JSON only (Fastify's secure JSON parser stays; plain text is 415 here)
  app.removeContentTypeParser('text/plain');
  // routes that take a raw body (rawBody) get the stream itself; others refuse these types
  const rawTypes = [...new Set(API_ROUTES.flatMap((r) => r.rawBody?.contentTypes ?? []))];
  if (rawTypes.length > 0) app.addContentTypeParser(rawTypes, (_request, payload, done) => done(null, payload));
  for (const route of API_ROUTES) register(app, route, options);
}

function compile(schema: TSchema | undefined): TypeCheck<TSchema> | undefined {
  return schema ? TypeCompiler.Compile(schema) : undefined;
}

function validate(check: TypeCheck<TSchema> | undefined, value: unknown, where: 'body' | 'query'): void {
  if (!check) return;
  if (check.Check(value)) return;
  const problems = [...check.Errors(value)].slice(0, 20).map((e) => ({ path: `${where}${e.path}`, message: e.message }));
  throw new WharfError('BODY_INVALID', `${where} invalid: ${problems.map((p) => `${p.path} ${p.message}`).join('; ').slice(0, 500)}`, problems);
}

function register(app: FastifyInstance, route: ApiRoute, options: ApiOptions): void {
  const bodyCheck = compile(route.body);
  const queryCheck = compile(route.query);
  app.route({
    method: route.method,
    url: route.url,
    bodyLimit: API_BODY_LIMIT, // JSON bodies; raw ones (rawBody) are counted by their handler
    handler: async (request, reply) => {
      request.routeId = route.id;
      const params = { ...(request.params as Record<string, string>) };
      const repository = params['*'];
      // access first: a caller who may not use the route learns nothing from its validation
      await options.gate.authorize(request, reply, route.access(params, request.body), repository);
      const query = { ...(request.query as Record<string, unknown>) };
      if (!route.query && Object.keys(query).length > 0) throw new WharfError('BODY_INVALID', 'this endpoint takes no query parameters');
      validate(queryCheck, query, 'query');
      let body: unknown = request.body;
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const isRaw = route.rawBody !== undefined && route.rawBody.contentTypes.includes(contentType);
      if (!isRaw && body !== null && typeof body === 'object' && typeof (body as { pipe?: unknown }).pipe === 'function') {
        (body as { resume(): void }).resume();
        throw new WharfError('UNSUPPORTED', `this endpoint does not take ${contentType}`);
      }
      if (route.rawBody) {
        if (!isRaw) throw new WharfError('UNSUPPORTED', `send the body as ${route.rawBody.contentTypes.join(' or ')}`);
      } else if (route.body) {
        if (body === undefined || body === null) throw new WharfError('BODY_INVALID', 'a JSON body is required');
        validate(bodyCheck, body, 'body');
      } else if (body !== undefined && body !== null) {
        throw new WharfError('BODY_INVALID', 'this endpoint takes no body');
      }
      const result = await route.handle({ request, reply, params, query, body, options });
      if (route.audit) {
        const b = (isRaw ? {} : (body ?? {})) as Record<string, unknown>;
        const target = params.name ?? (typeof b.name === 'string' ? b.name : typeof b.principal === 'string' ? b.principal : undefined);
        options.gate.audit(request, {
          action: route.audit,
          repository,
          target: params.id !== undefined ? `${target ?? ''}#${params.id}`.replace(/^#/, '') : target,
          result: 'ok',
          status: route.status ?? 200,
          detail: auditDetail(route, b),
        });
      }
      // 200 unless the route says otherwise or the handler chose (206 for a Range, 202 for a job, 304)
      const status = route.status ?? reply.statusCode;
      if (status === 204) await reply.code(204).send();
      else await reply.code(status).send(result);
    },
  });
}

/** What the audit keeps of a body: never a password. */
function auditDetail(route: ApiRoute, body: Record<string, unknown>): Record<string, unknown> | undefined {
  const kept = Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'password'));
  return Object.keys(kept).length > 0 ? { ...kept, route: route.id } : undefined;
}
