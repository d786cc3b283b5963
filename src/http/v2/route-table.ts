import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RegistryService } from '../../registry/registry-service.js';
import type { WharfMetrics } from '../../observability/metrics.js';

/**
 * What a route needs from the caller, declared next to the route (DESIGN.md invariant 7). The
 * authorizer (issue 3) decides on these; until it exists every request is anonymous and allowed.
 */
export type Access =
  | { kind: 'none' }
  | { kind: 'registry'; action: 'catalog' }
  | { kind: 'repository'; name: string; actions: ('pull' | 'push' | 'delete')[] };

export interface V2Options {
  registry: RegistryService;
  metrics: WharfMetrics;
  pagination: { defaultPageSize: number; maxPageSize: number };
  manifestBodyLimit: number;
  /** prepended to Location headers: '' for relative locations, or http.publicUrl */
  locationPrefix?: string;
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
  handle(ctx: V2Context): Promise<void>;
}
