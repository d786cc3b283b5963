import type { TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Access } from '../../auth/access.js';
import type { LifecycleFeature } from '../../features/lifecycle/lifecycle-feature.js';
import type { PypiService } from '../../features/pypi/pypi-service.js';
import type { InsightsService } from '../../features/insights/insights-service.js';
import type { ScanService } from '../../features/scan/scan-service.js';
import type { SigningService } from '../../features/signing/signing-service.js';
import type { DeployPolicyService } from '../../features/deploy-policy/deploy-policy-service.js';
import type { ModelService } from '../../features/models/model-service.js';
import type { StreamingService } from '../../features/streaming/streaming-service.js';
import type { GarbageCollector } from '../../registry/gc.js';
import type { RegistryService } from '../../registry/registry-service.js';
import type { JobStore } from '../../storage/metadata/job-store.js';
import type { AuthGate, HttpAuthDeps } from '../auth-gate.js';

export interface ApiOptions {
  gate: AuthGate;
  auth: HttpAuthDeps;
  registry: RegistryService;
  /** the background job table (read-only here); absent in protocol-only tests */
  jobs?: Pick<JobStore, 'list' | 'find'>;
  /** vulnerability scanning and SBOMs (features/scan); absent in protocol-only tests */
  scan?: ScanService;
  /** file access and lazy-pulling indexes (features/streaming); absent in protocol-only tests */
  streaming?: StreamingService;
  /** repositories, cleanup policies, namespaces, usage (features/lifecycle); absent in protocol-only tests */
  lifecycle?: Pick<LifecycleFeature, 'service' | 'cleanup' | 'usage'>;
  /** image insights (features/insights); absent in protocol-only tests */
  insights?: InsightsService;
  /** online garbage collection (registry/gc.ts) */
  gc?: GarbageCollector;
  /** Python package repositories (features/pypi); absent in protocol-only tests */
  pypi?: PypiService;
  /** model artifacts' metadata (features/models); absent in protocol-only tests */
  models?: ModelService;
  /** signatures and attestors (features/signing); absent in protocol-only tests */
  signing?: SigningService;
  /** deploy policies (features/deploy-policy); absent in protocol-only tests */
  deployPolicy?: DeployPolicyService;
  pagination: { defaultPageSize: number; maxPageSize: number };
}

export interface ApiContext<B = any, Q = any> {
  request: FastifyRequest;
  reply: FastifyReply;
  /** path parameters; a repository name (which has slashes) is params['*'] */
  params: Record<string, string>;
  /** validated against the route's query schema */
  query: Q;
  /** validated against the route's body schema */
  body: B;
  options: ApiOptions;
}

/**
 * One management API route. Like the /v2 table, each route declares the access it needs; the
 * plugin validates query and body against the TypeBox schemas (unknown fields are errors), asks
 * the authorizer, runs the handler and audits mutations. The OpenAPI document is generated from
 * these declarations.
 */
export interface ApiRoute {
  id: string;
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify path: `:name` parameters, a trailing `*` for repository names */
  url: string;
  summary: string;
  access(params: Record<string, string>, body: any): Access[];
  query?: TSchema;
  body?: TSchema;
  /**
   * The body is a raw stream of one of these content types (e.g. an OSV zip archive), handed to
   * the handler as `body`; the handler enforces `maxBytes` while reading. Instead of `body`.
   */
  rawBody?: { contentTypes: string[]; maxBytes: number };
  /** status of a success (200 unless said) */
  status?: number;
  /** audit action recorded on success (every mutation has one) */
  audit?: string;
  handle(ctx: ApiContext): Promise<unknown>;
}
