/**
 * A small client of the OCI distribution API (/v2) for the CLI's artifact commands (`wharf model
 * push|pull`): blobs pushed monolithically as streams (a blob the repository already has is
 * skipped, so a push that was cut off resumes where it stopped), manifests put and got by tag or
 * digest, blobs read whole or by byte range. Credentials go as Basic on every request, which
 * Wharf accepts on /v2; a registry that answers 401 with a Bearer challenge gets the Docker token
 * flow (one token per repository and action set, reused).
 */
import type { Readable } from 'node:stream';
import { WharfError } from '../errors/wharf-error.js';

export interface OciClientOptions {
  server: string;
  username?: string;
  password?: string;
  fetch?: typeof fetch;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export class OciClient {
  readonly server: string;
  private readonly options: OciClientOptions;
  private readonly tokens = new Map<string, string>();

  constructor(options: OciClientOptions) {
    this.options = options;
    this.server = options.server.replace(/\/+$/, '');
  }

  private basic(): string | undefined {
    const { username, password } = this.options;
    return username !== undefined && password !== undefined ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` : undefined;
  }

  /** One request; a 401 with a Bearer challenge is answered once with a token for the challenge's scope. */
  private async send(method: string, path: string, init: { headers?: Record<string, string>; body?: BodyInit | Readable; scope: string }): Promise<Response> {
    const attempt = async (): Promise<Response> => {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      const token = this.tokens.get(init.scope);
      const auth = token ? `Bearer ${token}` : this.basic();
      if (auth) headers.authorization = auth;
      try {
        return await (this.options.fetch ?? fetch)(`${this.server}${path}`, {
          method,
          headers,
          body: init.body as BodyInit | undefined,
          redirect: 'follow',
          ...(init.body !== undefined && typeof (init.body as Readable).pipe === 'function' ? { duplex: 'half' } : {}),
        } as RequestInit);
      } catch (err) {
        throw new WharfError('UNAVAILABLE', `cannot reach ${this.server}: ${(err as Error).message}`, undefined, { cause: err });
      }
    };
    let res = await attempt();
    const challenge = res.headers.get('www-authenticate') ?? '';
    if (res.status === 401 && /^Bearer /i.test(challenge) && !this.tokens.has(init.scope) && (init.body === undefined || typeof init.body === 'string' || init.body instanceof Uint8Array)) {
      await res.arrayBuffer().catch(() => undefined);
      this.tokens.set(init.scope, await this.fetchToken(challenge));
      res = await attempt();
    }
    return res;
  }

  private async fetchToken(challenge: string): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (!params.realm) throw new WharfError('UNAUTHORIZED', 'the registry asked for a token without a realm');
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    for (const s of (params.scope ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    const b = this.basic();
    if (b) headers.authorization = b;
    const res = await (this.options.fetch ?? fetch)(url, { headers });
    if (!res.ok) throw await errorOf(res, 'token');
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new WharfError('UNAUTHORIZED', 'the token endpoint answered without a token');
    return token;
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.send('HEAD', `/v2/${repository}/blobs/${digest}`, { scope: `${repository}:pull,push` });
    if (res.status === 404) return false;
    if (!res.ok) throw await errorOf(res, `blob ${digest}`);
    return true;
  }

  /** Pushes a blob in one PUT, streaming `open()`'s bytes (chunked); the server verifies the digest. */
  async pushBlob(repository: string, digest: string, open: () => Readable): Promise<void> {
    const scope = `${repository}:pull,push`;
    const start = await this.send('POST', `/v2/${repository}/blobs/uploads/`, { scope, headers: { 'content-length': '0' }, body: '' });
    if (start.status !== 202) throw await errorOf(start, 'starting an upload');
    await start.arrayBuffer().catch(() => undefined);
    const location = start.headers.get('location');
    if (!location) throw new WharfError('UNAVAILABLE', 'the registry started an upload without a Location');
    const url = new URL(location, this.server);
    url.searchParams.set('digest', digest);
    const put = await this.send('PUT', `${url.pathname}${url.search}`, {
      scope,
      headers: { 'content-type': 'application/octet-stream' },
      body: open(),
    });
    if (put.status !== 201) throw await errorOf(put, `blob ${digest}`);
    await put.arrayBuffer().catch(() => undefined);
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.send('PUT', `/v2/${repository}/manifests/${reference}`, { scope: `${repository}:pull,push`, headers: { 'content-type': mediaType }, body: new Uint8Array(bytes) as unknown as BodyInit });
    if (res.status !== 201) throw await errorOf(res, `manifest ${reference}`);
    await res.arrayBuffer().catch(() => undefined);
    return res.headers.get('docker-content-digest') ?? '';
  }

  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const accept = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');
    const res = await this.send('GET', `/v2/${repository}/manifests/${reference}`, { scope: `${repository}:pull`, headers: { accept } });
    if (!res.ok) throw await errorOf(res, `manifest ${reference}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    return { bytes, mediaType: (res.headers.get('content-type') ?? '').split(';')[0]!.trim(), digest: res.headers.get('docker-content-digest') ?? '' };
  }

  /** The blob's bytes [start, end] (inclusive), or the whole blob without a range; the caller reads the body. */
  async getBlob(repository: string, digest: string, range?: { start: number; end: number }): Promise<Response> {
    const res = await this.send('GET', `/v2/${repository}/blobs/${digest}`, { scope: `${repository}:pull`, headers: range ? { range: `bytes=${range.start}-${range.end}` } : {} });
    if (!(res.ok && (range === undefined || res.status === 206))) throw await errorOf(res, `blob ${digest}${range ? ` bytes ${range.start}-${range.end}` : ''}`);
    return res;
  }
}

async function errorOf(res: Response, what: string): Promise<WharfError> {
  const text = await res.text().catch(() => '');
  let detail = '';
  try {
    const e = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
    if (e) detail = `${e.code ?? ''}: ${e.message ?? ''}`;
  } catch {
    detail = text.slice(0, 200);
  }
  const code = res.status === 401 ? 'UNAUTHORIZED' : res.status === 403 ? 'DENIED' : res.status === 404 ? 'NOT_FOUND' : res.status >= 500 ? 'UNAVAILABLE' : 'REQUEST_INVALID';
  return new WharfError(code, `${what}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`);
}
