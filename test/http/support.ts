/**
 * Helpers shared by the /v2 HTTP tests (harness.ts builds the app; this file drives and checks it).
 * Everything goes through app.inject except `listen` + `rawRequest`, which use a real socket for
 * what inject cannot do faithfully: unnormalised paths (`/v2/../etc`), slow or aborted bodies.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { digestOf } from '../../src/domain/digest.js';
import { OCI_INDEX, OCI_MANIFEST, pushBlob } from './harness.js';

/** The parts of a response the assertions look at (inject's response and rawRequest's both fit). */
export interface ResponseLike {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** Asserts an OCI error response: status, `{"errors":[{"code","message"}]}`, JSON content type. */
export function assertError(res: ResponseLike, status: number, code: string): void {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode} ${res.body.slice(0, 300)}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as { errors?: { code?: unknown; message?: unknown }[] };
  assert.ok(Array.isArray(body.errors) && body.errors.length >= 1, `no errors array in ${res.body}`);
  assert.equal(body.errors[0]!.code, code, res.body);
  assert.equal(typeof body.errors[0]!.message, 'string');
  assert.equal(res.headers['docker-content-digest'], undefined, 'an error must not announce a digest');
}

export function bytes(n: number): Buffer {
  return randomBytes(n);
}

/** The digest a tag resolves to, or undefined when it does not. */
export async function tagDigest(app: FastifyInstance, repo: string, tag: string): Promise<string | undefined> {
  const res = await app.inject({ method: 'HEAD', url: `/v2/${repo}/manifests/${tag}` });
  if (res.statusCode === 404) return undefined;
  assert.equal(res.statusCode, 200);
  return String(res.headers['docker-content-digest']);
}

/** Every tag of the repository (one unpaginated page), or undefined when the repository is unknown. */
export async function tagsOf(app: FastifyInstance, repo: string): Promise<string[] | undefined> {
  const res = await app.inject({ method: 'GET', url: `/v2/${repo}/tags/list` });
  if (res.statusCode === 404) return undefined;
  assert.equal(res.statusCode, 200, res.body);
  return (JSON.parse(res.body) as { tags: string[] }).tags;
}

export async function blobStatus(app: FastifyInstance, repo: string, digest: string): Promise<number> {
  return (await app.inject({ method: 'HEAD', url: `/v2/${repo}/blobs/${digest}` })).statusCode;
}

export async function manifestStatus(app: FastifyInstance, repo: string, ref: string): Promise<number> {
  return (await app.inject({ method: 'HEAD', url: `/v2/${repo}/manifests/${ref}` })).statusCode;
}

/** Starts an upload session; returns its Location (a path) and id. */
export async function startUpload(app: FastifyInstance, repo: string): Promise<{ location: string; id: string }> {
  const res = await app.inject({ method: 'POST', url: `/v2/${repo}/blobs/uploads/` });
  assert.equal(res.statusCode, 202, res.body);
  const location = String(res.headers.location);
  return { location, id: location.slice(location.lastIndexOf('/') + 1) };
}

/** Appends `?key=value` to a Location that may already carry a query. */
export function withQuery(location: string, query: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}${query}`;
}

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  [k: string]: unknown;
}

/** Pushes a blob and returns its descriptor. */
export async function blobDesc(app: FastifyInstance, repo: string, content: Buffer | string, mediaType: string): Promise<Desc> {
  const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const digest = await pushBlob(app, repo, buf);
  return { mediaType, digest, size: buf.length };
}

export function imageManifest(config: Desc, layers: Desc[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...extra }));
}

export function indexManifest(children: Desc[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children, ...extra }));
}

export function manifestDesc(body: Buffer, mediaType = OCI_MANIFEST, extra: Record<string, unknown> = {}): Desc {
  return { mediaType, digest: digestOf(body), size: body.length, ...extra };
}

/** Follows `Link: <...>; rel="next"` headers from `url`, returning every page's items. */
export async function followPages(
  app: FastifyInstance,
  url: string,
  key: 'tags' | 'repositories',
): Promise<{ items: string[]; pages: number; links: string[] }> {
  const items: string[] = [];
  const links: string[] = [];
  let next: string | undefined = url;
  let pages = 0;
  while (next !== undefined) {
    const res: LightMyRequestResponse = await app.inject({ method: 'GET', url: next });
    assert.equal(res.statusCode, 200, res.body);
    items.push(...(JSON.parse(res.body) as Record<typeof key, string[]>)[key]);
    pages++;
    assert.ok(pages < 1000, 'pagination does not end');
    const link = res.headers.link;
    if (link === undefined) {
      next = undefined;
    } else {
      const m = /^<([^>]+)>; rel="next"$/.exec(String(link));
      assert.ok(m, `malformed Link header ${String(link)}`);
      links.push(m[1]!);
      next = m[1]!;
    }
  }
  return { items, pages, links };
}

// --- real socket ---

/** Listens on an ephemeral loopback port; returns the port. */
export async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

export interface RawResponse extends ResponseLike {
  headers: http.IncomingHttpHeaders;
}

/** One request over a real socket with the path sent verbatim (no URL normalisation). */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls `cond` until true or `ms` elapse. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
