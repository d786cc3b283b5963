/**
 * A private containerd daemon for `ctr` tests: its own config, root, state and socket in a temp
 * dir (no CRI, native snapshotter), started and stopped by the test. start() throws with the
 * daemon's log when it cannot run here, so the caller can skip with that reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe as describeExec, run, type ExecResult } from './exec.js';

/** Daemons still running: killed if the test process exits without stopping them. */
const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of LIVE) c.kill('SIGKILL');
});

export class Containerd {
  readonly dir: string;
  readonly socket: string;
  readonly namespace = 'wharf-e2e';
  private child: ChildProcess | undefined;
  private exited = true;
  private exit: Promise<void> = Promise.resolve();
  private log = '';

  private constructor(dir: string) {
    this.dir = dir;
    this.socket = join(dir, 'c.sock');
  }

  /** Starts containerd and waits until `ctr version` reaches it. */
  static async start(timeoutMs = 15_000): Promise<Containerd> {
    // /tmp keeps the socket path short (unix socket paths are limited to 107 bytes).
    const c = new Containerd(mkdtempSync('/tmp/wharf-ctrd-'));
    const config = join(c.dir, 'config.toml');
    writeFileSync(
      config,
      [
        'version = 2',
        `root = "${join(c.dir, 'root')}"`,
        `state = "${join(c.dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
        '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",',
        '  "io.containerd.internal.v1.opt"]',
        '[grpc]',
        `  address = "${c.socket}"`,
        '[ttrpc]',
        `  address = "${c.socket}.ttrpc"`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const child = spawn('containerd', ['--config', config, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.child = child;
    c.exited = false;
    LIVE.add(child);
    child.once('exit', () => LIVE.delete(child));
    const append = (b: Buffer): void => {
      c.log += b.toString('utf8');
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    c.exit = new Promise<void>((r) => {
      child.on('exit', (code, signal) => {
        c.exited = true;
        c.log += `\n[containerd exited: code=${code} signal=${signal}]`;
        r();
      });
      child.on('error', (err) => {
        c.exited = true;
        c.log += `\n[spawn error: ${err.message}]`;
        r();
      });
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (c.exited) {
        c.cleanup();
        throw new Error(`containerd exited at startup: ${c.log.slice(-2000)}`);
      }
      const v = await run('ctr', ['--address', c.socket, 'version'], { timeoutMs: 5000 });
      if (v.code === 0 && /Server:/.test(v.stdout)) return c;
      if (Date.now() > deadline) {
        await c.stop();
        throw new Error(`containerd did not answer within ${timeoutMs} ms: ${c.log.slice(-2000)}\n${describeExec(v)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get output(): string {
    return this.log;
  }

  /** `ctr --address SOCK -n NS <args>`. */
  async ctr(args: string[], timeoutMs = 120_000): Promise<ExecResult> {
    return await run('ctr', ['--address', this.socket, '-n', this.namespace, ...args], { timeoutMs });
  }

  async ctrOk(args: string[], timeoutMs = 120_000): Promise<ExecResult> {
    const r = await this.ctr(args, timeoutMs);
    if (r.code !== 0) throw new Error(`${describeExec(r)}\ncontainerd log: ${this.log.slice(-2000)}`);
    return r;
  }

  /** The digest `ctr images ls` reports for an image name, or undefined. */
  async imageDigest(name: string): Promise<string | undefined> {
    const r = await this.ctrOk(['images', 'ls']);
    for (const line of r.stdout.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[0] === name) return cols.find((c) => c.startsWith('sha256:'));
    }
    return undefined;
  }

  async stop(): Promise<void> {
    if (this.child && !this.exited) {
      this.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.exit.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), 10_000);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.child.kill('SIGKILL');
        await this.exit;
      }
    }
    this.cleanup();
  }

  private cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
