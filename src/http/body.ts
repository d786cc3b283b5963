import type { FastifyRequest } from 'fastify';

/**
 * Reads a small request body (manifests, JSON) into memory, refusing more than `limit` bytes
 * without reading them: a declared Content-Length over the limit fails before any byte is read,
 * an undeclared (chunked) body fails as soon as it passes the limit.
 */
export async function readBodyLimited(request: FastifyRequest, limit: number, tooLarge: () => never): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    request.raw.resume();
    tooLarge();
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.raw as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) tooLarge();
    parts.push(chunk);
  }
  return Buffer.concat(parts, total);
}

/** Whether the request carries a body at all (Content-Length > 0 or chunked). */
export function hasBody(request: FastifyRequest): boolean {
  const len = request.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  return request.headers['transfer-encoding'] !== undefined;
}
