import type { ApiRoute } from './api-route.js';

/** OpenAPI 3.1 from the route table: paths, parameters, request bodies (the TypeBox schemas are JSON Schema). */
export function openApiDocument(routes: readonly ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\*$/, '{repository}');
    const params = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = r.query ? Object.entries((r.query as { properties?: Record<string, unknown> }).properties ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema: plain(schema) })) : [];
    const op: Record<string, unknown> = {
      operationId: r.id,
      summary: r.summary,
      parameters: [...params, ...query],
      responses: {
        [String(r.status ?? 200)]: { description: 'success' },
        default: { description: 'error: {"errors":[{"code","message","detail"}]} (docs/errors.md)' },
      },
    };
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: plain(r.body) } } };
    if (r.rawBody) op.requestBody = { required: true, content: Object.fromEntries(r.rawBody.contentTypes.map((t) => [t, { schema: { type: 'string', format: 'binary' } }])) };
    if (r.access({}, undefined).some((a) => a.kind !== 'none')) op.security = [{ basic: [] }];
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Wharf management API', version: '1' },
    components: { securitySchemes: { basic: { type: 'http', scheme: 'basic', description: 'password, or a service account API key' } } },
    paths,
  };
}

/** The schema without TypeBox's symbol-keyed annotations. */
function plain(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema));
}
