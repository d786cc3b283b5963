import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RegistryService } from '../../registry/registry-service.js';
import type { WharfMetrics } from '../../observability/metrics.js';

import type { Access } from '../../auth/access.js';
import type { AuthGate } from '../auth-gate.js';
import type { DeployPolicyService } from '../../features/deploy-policy/deploy-policy-service.js';

/** What a route needs from the caller (DESIGN.md invariant 7): auth/access.ts; the dispatcher enforces it. */
export type { Access };

export interface V2Options {
  gate: AuthGate;
  registry: RegistryService;
  metrics: WharfMetrics;
  pagination: { defaultPageSize: number; maxPageSize: number };
  manifestBodyLimit: number;
  /** prepended to Location headers: '' for relative locations, or http.publicUrl */
  locationPrefix?: string;
  /** deploy policies: a repository whose policy says enforceAtPull serves manifests only when it passes */
  deployPolicy?: Pick<DeployPolicyService, 'pullCheck'>;
}

export interface V2Context {
  request: FastifyRequest;
  reply: FastifyReply;
  /** regex groups of the route's pattern: the repository name first, then the rest */
  params: string[];
  query: URLSearchParams;
  options: V2Options;
}

export interface V2Route {
  /** stable id, used as the metrics label and in the authorization matrix */
  id: string;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  pattern: RegExp;
  access(params: string[], query: URLSearchParams): Access[];
  /**
   * Access the route can use but does not need (a mount's source: without it the mount becomes an
   * ordinary upload). A 401 challenge asks for it too, so a client following the token flow gets
   * a token that covers it, as Distribution's challenges do.
   */
  optionalAccess?(params: string[], query: URLSearchParams): Access[];
  /** audit action recorded when the route succeeds (mutations); absent for reads */
  audit?: string;
  handle(ctx: V2Context): Promise<void>;
}
