/**
 * The supply-chain e2e tests' common ground: a built Wharf (auth on) and small HTTP helpers to
 * push images and call the API as admin, and the built CLI with its own HOME and auth file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { REPO_ROOT, startRegistry, WHARF_MAIN, type RegistryProcess } from '../support/registry-process.js';

export const OCI = 'application/vnd.oci.image.manifest.v1+json';
export const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export class SupplyChainServer {
  readonly auth: { authorization: string };
  /** the size of each manifest pushed through putManifest, by digest */
  readonly manifestSizes = new Map<string, number>();
  private constructor(
    readonly reg: RegistryProcess,
    readonly password: string,
    private readonly home: string,
  ) {
    this.auth = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
  }

  /** Starts the built server with auth on and logs the CLI in (HOME and auth file under `home`). */
  static async start(password: string, home: string, env: Record<string, string> = {}): Promise<SupplyChainServer> {
    const reg = await startRegistry({ target: 'wharf', credentials: { username: 'admin', password }, env });
    const s = new SupplyChainServer(reg, password, home);
    const login = s.wharf(['login', reg.url, '-u', 'admin', '--password-stdin'], `${password}\n`);
    assert.equal(login.code, 0, login.err);
    return s;
  }

  get url(): string {
    return this.reg.url;
  }

  get host(): string {
    return this.reg.host;
  }

  async api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { ...this.auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  async pushBlob(repo: string, b: Buffer): Promise<string> {
    const r = await fetch(`${this.url}/v2/${repo}/blobs/uploads/?digest=${sha(b)}`, { method: 'POST', headers: { ...this.auth, 'content-type': 'application/octet-stream' }, body: new Uint8Array(b) });
    assert.equal(r.status, 201, await r.text());
    return sha(b);
  }

  async putManifest(repo: string, ref: string, m: unknown): Promise<string> {
    const bytes = Buffer.from(JSON.stringify(m));
    const r = await fetch(`${this.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { ...this.auth, 'content-type': OCI }, body: bytes });
    assert.equal(r.status, 201, await r.text());
    this.manifestSizes.set(sha(bytes), bytes.length);
    return sha(bytes);
  }

  /** An image of one layer (`content`), by tag; answers its digest. */
  async pushImage(repo: string, tag: string, content: string | Buffer): Promise<string> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = Buffer.isBuffer(content) ? content : Buffer.from(content);
    await this.pushBlob(repo, config);
    await this.pushBlob(repo, layer);
    return this.putManifest(repo, tag, {
      schemaVersion: 2,
      mediaType: OCI,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    });
  }

  /** The built CLI against this server. */
  wharf(args: string[], input = ''): { code: number; out: string; err: string } {
    const r = spawnSync(process.execPath, [WHARF_MAIN, ...args], {
      cwd: REPO_ROOT,
      input,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: this.home, REGISTRY_AUTH_FILE: join(this.home, 'auth.json'), WHARF_SERVER: this.reg.url },
    });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  }

  /** skopeo inspect --raw as admin (a manifest GET, as a pull starts). */
  skopeoInspect(repo: string, ref: string): { code: number; err: string } {
    const r = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `admin:${this.password}`, `docker://${this.host}/${repo}:${ref}`], { encoding: 'utf8' });
    return { code: r.status ?? -1, err: r.stderr };
  }

  async stop(): Promise<void> {
    await this.reg.stop();
  }
}
