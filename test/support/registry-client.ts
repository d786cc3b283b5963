/**
 * A small raw-HTTP OCI distribution client for e2e tests (Node's fetch): blob uploads
 * (single POST, POST+PUT, chunked PATCH), manifest PUT/GET, blob GET. Every call takes an
 * optional AbortSignal; failures throw HttpError carrying the exact request and response.
 */
import { sha256 } from './oci-layout.js';

export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly body: string,
    readonly expected: string,
  ) {
    super(`${method} ${url} -> ${status} (expected ${expected}): ${body.slice(0, 2000)}`);
  }
}

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:5000 */
  url: string;
  /** Extra headers on every request (e.g. Authorization, once Wharf has auth). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Called just before each request that would create a blob or a manifest (crash tests kill the server there). */
  beforeCommit?: (kind: 'blob' | 'manifest') => void;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

export class RegistryClient {
  readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly signal: AbortSignal | undefined;
  private readonly beforeCommit: (kind: 'blob' | 'manifest') => void;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/$/, '');
    this.headers = options.headers ?? {};
    this.signal = options.signal;
    this.beforeCommit = options.beforeCommit ?? (() => undefined);
  }

  /** Any request; the body is read fully. Relative URLs resolve against the base URL. */
  async request(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<RawResponse> {
    const url = new URL(path, this.url).toString();
    const res = await fetch(url, {
      method,
      headers: { ...this.headers, ...(init.headers ?? {}) },
      body: init.body as RequestInit['body'],
      redirect: 'manual',
      signal: this.signal,
    });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body };
  }

  private async expect(method: string, path: string, statuses: number[], init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<RawResponse> {
    const r = await this.request(method, path, init);
    if (!statuses.includes(r.status)) {
      throw new HttpError(method, new URL(path, this.url).toString(), r.status, r.body.toString('utf8'), statuses.join('/'));
    }
    return r;
  }

  private location(r: RawResponse, what: string): string {
    const loc = r.headers.get('location');
    if (!loc) throw new Error(`${what}: response ${r.status} has no Location header`);
    return loc;
  }

  private static withDigest(location: string, digest: string): string {
    return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
  }

  /** Opens an upload session: POST /v2/<repo>/blobs/uploads/ -> 202 + Location. */
  async startUpload(repo: string): Promise<string> {
    const r = await this.expect('POST', `/v2/${repo}/blobs/uploads/`, [202], { headers: { 'content-length': '0' } });
    return this.location(r, 'start upload');
  }

  /** POST then PUT ?digest= with the whole body. Returns the digest. */
  async pushBlobPostPut(repo: string, bytes: Buffer, digest = sha256(bytes)): Promise<string> {
    const loc = await this.startUpload(repo);
    this.beforeCommit('blob');
    const r = await this.expect('PUT', RegistryClient.withDigest(loc, digest), [201], {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    this.checkBlobCreated(r, digest, 'PUT');
    return digest;
  }

  /** Single POST ?digest= with the body; falls back to PUT when the registry answers 202. */
  async pushBlobSinglePost(repo: string, bytes: Buffer, digest = sha256(bytes)): Promise<string> {
    this.beforeCommit('blob');
    const r = await this.expect('POST', `/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, [201, 202], {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    if (r.status === 201) {
      this.checkBlobCreated(r, digest, 'POST');
      return digest;
    }
    const loc = this.location(r, 'single POST fallback');
    const put = await this.expect('PUT', RegistryClient.withDigest(loc, digest), [201], {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    this.checkBlobCreated(put, digest, 'PUT');
    return digest;
  }

  /** POST, PATCH chunks of chunkSize with Content-Range, then PUT ?digest= with no body. */
  async pushBlobChunked(repo: string, bytes: Buffer, chunkSize: number, digest = sha256(bytes)): Promise<string> {
    let loc = await this.startUpload(repo);
    for (let off = 0; off < bytes.length; off += chunkSize) {
      const chunk = bytes.subarray(off, Math.min(bytes.length, off + chunkSize));
      const r = await this.expect('PATCH', loc, [202], {
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${off}-${off + chunk.length - 1}`,
          'content-length': String(chunk.length),
        },
        body: chunk,
      });
      const range = r.headers.get('range');
      if (range !== `0-${off + chunk.length - 1}`) {
        throw new Error(`PATCH ${loc}: Range header ${range}, expected 0-${off + chunk.length - 1}`);
      }
      loc = this.location(r, 'PATCH');
    }
    this.beforeCommit('blob');
    const r = await this.expect('PUT', RegistryClient.withDigest(loc, digest), [201], { headers: { 'content-length': '0' } });
    this.checkBlobCreated(r, digest, 'PUT');
    return digest;
  }

  private checkBlobCreated(r: RawResponse, digest: string, method: string): void {
    const d = r.headers.get('docker-content-digest');
    if (d !== null && d !== digest) throw new Error(`${method} blob: Docker-Content-Digest ${d}, expected ${digest}`);
    if (!r.headers.get('location')) throw new Error(`${method} blob: 201 without Location`);
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<RawResponse> {
    this.beforeCommit('manifest');
    const r = await this.expect('PUT', `/v2/${repo}/manifests/${reference}`, [201], {
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
    });
    const d = r.headers.get('docker-content-digest');
    if (d !== null && d !== sha256(bytes)) throw new Error(`PUT manifest: Docker-Content-Digest ${d}, expected ${sha256(bytes)}`);
    return r;
  }

  async getManifest(repo: string, reference: string, accept: string[] = DEFAULT_ACCEPT): Promise<RawResponse> {
    return await this.request('GET', `/v2/${repo}/manifests/${reference}`, { headers: { accept: accept.join(', ') } });
  }

  async getBlob(repo: string, digest: string): Promise<RawResponse> {
    return await this.request('GET', `/v2/${repo}/blobs/${digest}`);
  }

  async headBlob(repo: string, digest: string): Promise<RawResponse> {
    return await this.request('HEAD', `/v2/${repo}/blobs/${digest}`);
  }

  async tags(repo: string): Promise<string[]> {
    const r = await this.expect('GET', `/v2/${repo}/tags/list`, [200]);
    return (JSON.parse(r.body.toString('utf8')) as { tags: string[] | null }).tags ?? [];
  }
}

export const DEFAULT_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

/** The OCI error codes in an error response body ({"errors":[{"code":...}]}), or [] when it is not one. */
export function errorCodes(body: Buffer | string): string[] {
  try {
    const parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as { errors?: { code?: string }[] };
    return (parsed.errors ?? []).map((e) => String(e.code));
  } catch {
    return [];
  }
}
