/**
 * The CLI tests' common ground: the HTTP harness listening on a port with auth on, a temporary
 * HOME and auth file, `wharf login` done as admin, and `wharf(...)` running the CLI in-process
 * against it; and pushing a small image as admin.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { EXIT, type CliIO } from '../../src/cli/io.js';
import { digestOf } from '../../src/domain/digest.js';
import { startHarness, type Harness, type HarnessOptions } from '../http/harness.js';
import { listen } from '../http/support.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export interface CliSession {
  h: Harness;
  /** the temporary HOME (holds the auth file) */
  dir: string;
  /** the CLI's environment (a test may swap it, e.g. for another auth file) */
  env: NodeJS.ProcessEnv;
  wharf(args: string[], stdin?: string): Promise<CliResult>;
  close(): Promise<void>;
}

/** `prefix` names the temporary directory; harness options default to auth on. */
export async function startCliSession(prefix: string, options: HarnessOptions = {}): Promise<CliSession> {
  const h = await startHarness({ auth: {}, ...options });
  const server = `http://127.0.0.1:${await listen(h.app)}`;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const wharf = async (args: string[], stdin = ''): Promise<CliResult> => {
    let out = '';
    let err = '';
    const io: CliIO = { env: session.env, out: (s) => void (out += s), err: (s) => void (err += s), readStdin: async () => stdin };
    const code = await runCli(args, io);
    return { code, out, err };
  };
  const session: CliSession = {
    h,
    dir,
    env: { REGISTRY_AUTH_FILE: join(dir, 'auth.json'), HOME: dir, WHARF_SERVER: server },
    wharf,
    async close() {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const login = await wharf(['login', '-u', 'admin', '--password-stdin'], `${TEST_ADMIN_PASSWORD}\n`);
  assert.equal(login.code, EXIT.ok, login.err);
  return session;
}

const ADMIN_AUTH = () => ({ authorization: basic('admin', TEST_ADMIN_PASSWORD) });
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Pushes `config` and `layers` and an OCI manifest of them as admin, by tag, or by digest when
 * `ref` is undefined; returns the manifest's digest.
 */
export async function pushImageAsAdmin(
  h: Harness,
  repo: string,
  ref: string | undefined,
  layers: Buffer[],
  config = Buffer.from('{"architecture":"amd64","os":"linux"}'),
): Promise<string> {
  for (const b of [config, ...layers]) {
    const r = await h.app.inject({ method: 'POST', url: `/v2/${repo}/blobs/uploads/?digest=${digestOf(b)}`, headers: { ...ADMIN_AUTH(), 'content-type': 'application/octet-stream' }, payload: b });
    assert.equal(r.statusCode, 201, r.body);
  }
  const m = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(l), size: l.length })),
    }),
  );
  const r = await h.app.inject({ method: 'PUT', url: `/v2/${repo}/manifests/${ref ?? digestOf(m)}`, headers: { ...ADMIN_AUTH(), 'content-type': OCI_MANIFEST }, payload: m });
  assert.equal(r.statusCode, 201, r.body);
  return digestOf(m);
}
