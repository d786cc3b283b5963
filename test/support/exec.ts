/** Runs external tools (skopeo, buildah, podman, ctr) asynchronously with a timeout, capturing output. */
import { spawn, spawnSync } from 'node:child_process';

export interface ExecResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The command line, for failure messages. */
  cmd: string;
}

export async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string; input?: string } = {},
): Promise<ExecResult> {
  return await new Promise<ExecResult>((resolve) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...(options.env ?? {}) },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer = setTimeout(() => {
      stderr += `\n[timed out after ${options.timeoutMs ?? 120_000} ms; killed]`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    const line = [cmd, ...args].join(' ');
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, signal: null, stdout, stderr: `${stderr}\n${err.message}`, cmd: line });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal, stdout, stderr, cmd: line });
    });
  });
}

/** Like run(), but throws with the command's output when it exits non-zero. */
export async function runOk(cmd: string, args: string[], options: Parameters<typeof run>[2] = {}): Promise<ExecResult> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) throw new Error(describe(r));
  return r;
}

export function describe(r: ExecResult): string {
  return `\`${r.cmd}\` exited ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout.slice(-4000)}\nstderr: ${r.stderr.slice(-4000)}`;
}

/** Whether an executable is on PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
