import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { JobStore } from '../storage/metadata/job-store.js';
import type { ScanService } from '../features/scan/scan-service.js';
import type { SigningService } from '../features/signing/signing-service.js';
import type { DeployPolicyService } from '../features/deploy-policy/deploy-policy-service.js';
import { admissionPlugin } from './admission/admission-plugin.js';
import type { StreamingService } from '../features/streaming/streaming-service.js';
import type { InsightsService } from '../features/insights/insights-service.js';
import type { ModelService } from '../features/models/model-service.js';
import type { LifecycleFeature } from '../features/lifecycle/lifecycle-feature.js';
import type { PypiService } from '../features/pypi/pypi-service.js';
import type { GarbageCollector } from '../registry/gc.js';
import type { BlobStore } from '../storage/blob/blob-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import type { WharfMetrics } from '../observability/metrics.js';
import { WharfError } from '../errors/wharf-error.js';
import { AuthGate, type HttpAuthDeps } from './auth-gate.js';
import { apiPlugin } from './api/api-plugin.js';
import { sendError } from './errors.js';
import { tokenPlugin } from './token/token-plugin.js';
import { v2Plugin } from './v2/v2-plugin.js';
import { pypiPlugin } from './pypi/pypi-plugin.js';
import type { V2Options } from './v2/route-table.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** the route-table id that served the request (metrics label); set by the dispatcher */
    routeId: string;
  }
}

export interface AppDeps extends Omit<V2Options, 'gate'> {
  /** authentication and authorization; absent = open registry (core protocol tests) */
  auth?: HttpAuthDeps;
  logger: Logger;
  metadata: MetadataStore;
  metrics: WharfMetrics;
  trustProxy?: boolean;
  https?: { cert: Buffer; key: Buffer };
  /** 0 = no limit on a whole request (blob transfers can be long) */
  requestTimeoutMs?: number;
  /** the background job table, listed by /api/v1/jobs (absent in protocol-only tests) */
  jobs?: Pick<JobStore, 'list' | 'find'>;
  /** vulnerability scanning and SBOMs under /api/v1 (absent in protocol-only tests) */
  scan?: ScanService;
  /** file access and lazy-pulling indexes under /api/v1 (absent in protocol-only tests) */
  streaming?: StreamingService;
  /** image insights under /api/v1 (absent in protocol-only tests) */
  insights?: InsightsService;
  /** model artifacts' metadata under /api/v1 (absent in protocol-only tests) */
  models?: ModelService;
  /** repositories, cleanup policies, namespaces, usage under /api/v1 (absent in protocol-only tests) */
  lifecycle?: Pick<LifecycleFeature, 'service' | 'cleanup' | 'usage'>;
  /** online GC under /api/v1/gc */
  gc?: GarbageCollector;
  /** Python package repositories under /pypi and /api/v1/pypi (absent in protocol-only tests) */
  pypi?: PypiService;
  /** signatures and attestors under /api/v1 (features/signing) */
  signing?: SigningService;
  /** deploy policies under /api/v1, at pull (/v2) and at Kubernetes admission (/admission) */
  deployPolicy?: DeployPolicyService;
  /** false while starting or draining; /readyz answers 503 */
  isReady?: () => boolean;
  /** the blob store, for /readyz (a registry whose bytes are unreachable is not ready) */
  blobs?: Pick<BlobStore, 'ping'>;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:@/-]{1,128}$/;
const UNAUTHENTICATED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Builds the HTTP app without listening (tests drive it through app.inject). */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    // our onResponse hook writes one line per request, with the route id
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    // an incoming X-Request-Id is kept only when it is short and plain (it lands in every log line)
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : `req-${randomUUID()}`;
    },
    // errors Fastify raises before routing (a malformed URL) get the same OCI body as ours
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id);
      void sendError(request, reply, err);
    },
    exposeHeadRoutes: false,
    trustProxy: deps.trustProxy ?? false,
    return503OnClosing: true,
    keepAliveTimeout: 65_000,
    requestTimeout: deps.requestTimeoutMs ?? 0,
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;

  app.decorateRequest('routeId', '');
  app.decorateRequest('principal', null as unknown as never);
  const gate = new AuthGate(deps.auth);
  const infoEnabled = deps.logger.isLevelEnabled('info');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // who is calling, once per request, before any route; probes and metrics need no credentials
    if (!UNAUTHENTICATED_PATHS.has(request.url)) await gate.authenticate(request, reply);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeId || request.routeOptions.url || 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    deps.metrics.requests.observe({ method: request.method, route, status: String(reply.statusCode) }, seconds);
    if (infoEnabled) {
      request.log.info(
        { method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, remote: request.ip },
        'request completed',
      );
    }
  });

  app.setErrorHandler(async (err, request, reply) => sendError(request, reply, err));
  app.setNotFoundHandler(async (request, reply) =>
    sendError(request, reply, new WharfError('NOT_FOUND', `no such endpoint: ${request.method} ${request.url.slice(0, 200)}`)),
  );

  app.get('/healthz', async (_request, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (deps.isReady && !deps.isReady()) return reply.code(503).send({ status: 'starting or draining' });
    try {
      await deps.metadata.ping();
    } catch (err) {
      return sendError(_request, reply, new WharfError('UNAVAILABLE', 'metadata database is unreachable', undefined, { cause: err }));
    }
    try {
      await deps.blobs?.ping();
    } catch (err) {
      return sendError(_request, reply, new WharfError('UNAVAILABLE', 'blob store is unreachable', undefined, { cause: err }));
    }
    return reply.code(200).send({ status: 'ready' });
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.code(200).header('content-type', deps.metrics.registry.contentType).send(body);
  });

  if (deps.auth) {
    void app.register(tokenPlugin, { gate });
    void app.register(apiPlugin, { gate, auth: deps.auth, registry: deps.registry, jobs: deps.jobs, scan: deps.scan, streaming: deps.streaming, insights: deps.insights, lifecycle: deps.lifecycle, gc: deps.gc, pypi: deps.pypi, models: deps.models, signing: deps.signing, deployPolicy: deps.deployPolicy, pagination: deps.pagination });
    if (deps.deployPolicy) void app.register(admissionPlugin, { gate, deployPolicy: deps.deployPolicy });
  }
  if (deps.pypi) void app.register(pypiPlugin, { gate, pypi: deps.pypi });
  void app.register(v2Plugin, {
    gate,
    registry: deps.registry,
    metrics: deps.metrics,
    pagination: deps.pagination,
    manifestBodyLimit: deps.manifestBodyLimit,
    locationPrefix: deps.locationPrefix ?? '',
    ...(deps.deployPolicy ? { deployPolicy: deps.deployPolicy } : {}),
  });
  return app;
}
