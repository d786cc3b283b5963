/**
 * Spawns a real registry process for end-to-end tests: the built Wharf server (dist/cli/main.js), or
 * CNCF Distribution (/usr/bin/docker-registry) when WHARF_E2E_TARGET=distribution, behind one interface.
 * Only ever listens on 127.0.0.1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WHARF_MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');
export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';

export type Target = 'wharf' | 'distribution';

/** Which server the e2e tests drive: WHARF_E2E_TARGET=distribution selects the reference registry. (Test knobs are
 * all named WHARF_E2E_*: they are removed from the environment of the processes spawned here.) */
export function e2eTarget(): Target {
  return process.env.WHARF_E2E_TARGET === 'distribution' ? 'distribution' : 'wharf';
}

/**
 * Credentials of the admin of a Wharf started with authentication on (`credentials` option: the
 * server gets them as WHARF_ADMIN_PASSWORD, user `admin`); passed through to clients. Without
 * them the server runs with auth.enabled=false, as the core protocol e2e tests expect.
 */
export interface Credentials {
  username: string;
  password: string;
}

export interface StartOptions {
  target?: Target;
  /** Reuse a data directory (e.g. to restart on the same data after a crash). Not removed by stop(). */
  dataDir?: string;
  /** Fixed port (e.g. to restart on the same address); a free one is picked when omitted. */
  port?: number;
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /** How long to wait for GET /v2/ to answer. */
  readyTimeoutMs?: number;
  credentials?: Credentials;
  /** serve HTTPS (Wharf only) with this PEM certificate and key; url becomes https:// */
  tls?: { cert: string; key: string };
  /** Wharf only: a YAML config file, passed as --config (e.g. scale-out storage, test/support/scale-out.ts) */
  configFile?: string;
}

/** Picks a free TCP port on 127.0.0.1 by binding port 0 and closing again. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The environment for a server or CLI process: ours without the test knobs (WHARF_E2E_*), since
 * Wharf rejects WHARF_* variables it does not know; WHARF_LOG_LEVEL=warn; then `extra`.
 */
export function serverEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WHARF_E2E_')) env[k] = v;
  return { ...env, WHARF_LOG_LEVEL: 'warn', ...extra };
}

/** Servers still running: killed if the test process exits without stopping them (a failed before(), a crash). */
const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of LIVE) c.kill('SIGKILL');
});

export class RegistryProcess {
  readonly target: Target;
  readonly port: number;
  readonly host: string;
  readonly url: string;
  readonly dataDir: string;
  readonly credentials: Credentials | undefined;
  readonly tls: { cert: string; key: string } | undefined;
  private readonly ownsDataDir: boolean;
  private readonly scratch: string;
  private child: ChildProcess | undefined;
  private exit: Promise<void> = Promise.resolve();
  private exited = true;
  private outBuf = '';

  private configFile: string | undefined;

  private constructor(
    target: Target,
    port: number,
    dataDir: string,
    ownsDataDir: boolean,
    scratch: string,
    credentials?: Credentials,
    tls?: { cert: string; key: string },
  ) {
    this.target = target;
    this.port = port;
    this.host = `127.0.0.1:${port}`;
    this.url = `${tls ? 'https' : 'http'}://${this.host}`;
    this.tls = tls;
    this.dataDir = dataDir;
    this.ownsDataDir = ownsDataDir;
    this.scratch = scratch;
    this.credentials = credentials;
  }

  static async start(options: StartOptions = {}): Promise<RegistryProcess> {
    const target = options.target ?? e2eTarget();
    const port = options.port ?? (await freePort());
    const ownsDataDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `wharf-e2e-${target}-`));
    const scratch = mkdtempSync(join(tmpdir(), 'wharf-e2e-proc-'));
    const proc = new RegistryProcess(target, port, dataDir, ownsDataDir, scratch, options.credentials, options.tls);
    proc.configFile = options.configFile;
    try {
      await proc.spawnServer(options.env ?? {}, options.readyTimeoutMs ?? 20_000);
    } catch (err) {
      await proc.kill9();
      proc.cleanup(false);
      throw err;
    }
    return proc;
  }

  /** Output the server wrote (stdout and stderr interleaved), for failure messages. */
  get output(): string {
    return this.outBuf;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  private command(): { cmd: string; args: string[] } {
    if (this.target === 'distribution') {
      if (!existsSync(DISTRIBUTION_BIN)) throw new Error(`${DISTRIBUTION_BIN} not found (apt-get install docker-registry)`);
      const config = join(this.scratch, 'config.yml');
      writeFileSync(
        config,
        [
          'version: 0.1',
          'log:',
          '  level: warn',
          '  accesslog:',
          '    disabled: true',
          'storage:',
          '  filesystem:',
          `    rootdirectory: ${this.dataDir}`,
          '  delete:',
          '    enabled: true',
          '  maintenance:',
          '    uploadpurging:',
          '      enabled: false',
          'http:',
          `  addr: 127.0.0.1:${this.port}`,
          // fixed, so upload state tokens stay valid across a restart
          '  secret: wharf-e2e-upload-state-secret',
          '',
        ].join('\n'),
      );
      return { cmd: DISTRIBUTION_BIN, args: ['serve', config] };
    }
    if (!existsSync(WHARF_MAIN)) throw new Error(`${WHARF_MAIN} not found: run npm run build first`);
    const config = this.configFile === undefined ? [] : ['--config', this.configFile];
    return { cmd: process.execPath, args: [WHARF_MAIN, 'serve', '--listen', this.host, '--data', this.dataDir, ...config] };
  }

  private async spawnServer(extraEnv: Record<string, string>, readyTimeoutMs: number): Promise<void> {
    mkdirSync(this.scratch, { recursive: true });
    const { cmd, args } = this.command();
    this.outBuf = '';
    const authEnv: Record<string, string> =
      this.target !== 'wharf' ? {} : this.credentials ? { WHARF_ADMIN_PASSWORD: this.credentials.password } : { WHARF_AUTH__ENABLED: 'false' };
    if (this.tls) Object.assign(authEnv, { WHARF_HTTP__TLS__CERT: this.tls.cert, WHARF_HTTP__TLS__KEY: this.tls.key });
    const child = spawn(cmd, args, {
      cwd: REPO_ROOT,
      env: serverEnv({ ...authEnv, ...extraEnv }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = false;
    LIVE.add(child);
    child.once('exit', () => LIVE.delete(child));
    const append = (chunk: Buffer): void => {
      this.outBuf += chunk.toString('utf8');
      if (this.outBuf.length > 1_000_000) this.outBuf = this.outBuf.slice(-500_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exit = new Promise<void>((r) => {
      child.on('exit', (code, signal) => {
        this.exited = true;
        this.outBuf += `\n[process exited: code=${code} signal=${signal}]\n`;
        r();
      });
      child.on('error', (err) => {
        this.exited = true;
        this.outBuf += `\n[spawn error: ${err.message}]\n`;
        r();
      });
    });
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (this.exited) throw new Error(`${this.target} exited before it was ready:\n${this.outBuf}`);
      try {
        const status = this.tls ? await this.httpsPing() : await this.httpPing();
        if (status === 200 || status === 401) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.kill9();
        throw new Error(`${this.target} did not answer GET /v2/ within ${readyTimeoutMs} ms:\n${this.outBuf}`);
      }
      await sleep(50);
    }
  }

  private async httpPing(): Promise<number> {
    const res = await fetch(`${this.url}/v2/`, { signal: AbortSignal.timeout(2000), headers: this.authHeaders() });
    await res.arrayBuffer();
    return res.status;
  }

  /** Readiness over HTTPS: the test's self-signed certificate is checked by the test, not here. */
  private httpsPing(): Promise<number> {
    return new Promise((resolveStatus, reject) => {
      const req = httpsRequest(`${this.url}/v2/`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
        res.resume();
        res.on('end', () => resolveStatus(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
  }

  /** Basic auth header when credentials were given; {} otherwise. */
  authHeaders(): Record<string, string> {
    if (!this.credentials) return {};
    const token = Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64');
    return { authorization: `Basic ${token}` };
  }

  /** SIGTERM, then SIGKILL after timeoutMs. Removes the data dir when this object created it and keepData is false. */
  async stop(options: { timeoutMs?: number; keepData?: boolean } = {}): Promise<void> {
    if (this.child && !this.exited) {
      this.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), options.timeoutMs ?? 10_000);
      });
      const timedOut = await Promise.race([this.exit.then(() => false), timeout]);
      clearTimeout(timer);
      if (timedOut) {
        this.outBuf += '\n[did not exit after SIGTERM; sending SIGKILL]\n';
        this.child.kill('SIGKILL');
        await this.exit;
      }
    }
    this.cleanup(options.keepData ?? false);
  }

  /** SIGKILL now, and wait for the process to be gone. Keeps the data dir. */
  async kill9(): Promise<void> {
    if (this.child && !this.exited) {
      this.child.kill('SIGKILL');
      await this.exit;
    }
  }

  /** Starts the same server again on the same port and data dir (after stop({keepData}) or kill9()). */
  async restart(options: { env?: Record<string, string>; readyTimeoutMs?: number } = {}): Promise<void> {
    if (!this.exited) await this.kill9();
    await this.spawnServer(options.env ?? {}, options.readyTimeoutMs ?? 20_000);
  }

  private cleanup(keepData: boolean): void {
    rmSync(this.scratch, { recursive: true, force: true });
    if (this.ownsDataDir && !keepData) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts the selected target (WHARF_E2E_TARGET) and waits until GET /v2/ answers. */
export async function startRegistry(options: StartOptions = {}): Promise<RegistryProcess> {
  return await RegistryProcess.start(options);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli/main.js <args>` (synchronously; the CLI is short-lived) and returns its exit code and output. */
export function wharfCli(args: string[], options: { dataDir?: string; env?: Record<string, string>; timeoutMs?: number } = {}): CliResult {
  const fullArgs = [...args];
  if (options.dataDir !== undefined && !fullArgs.includes('--data')) fullArgs.push('--data', options.dataDir);
  const r = spawnSync(process.execPath, [WHARF_MAIN, ...fullArgs], {
    cwd: REPO_ROOT,
    env: serverEnv(options.env),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}` };
}

/** Whether the built Wharf CLI exists (tests that need it skip with a reason otherwise). */
export function wharfBuilt(): boolean {
  return existsSync(WHARF_MAIN);
}
