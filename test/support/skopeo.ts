/** skopeo invocations in a private containers environment. */
import { describe as describeExec, run, type ExecResult } from './exec.js';
import type { ContainersEnv } from './containers-env.js';

export class Skopeo {
  constructor(
    private readonly cenv: ContainersEnv,
    private readonly timeoutMs = 120_000,
  ) {}

  async run(args: string[]): Promise<ExecResult> {
    return await run('skopeo', ['--policy', this.cenv.policy, ...args], { env: this.cenv.env, timeoutMs: this.timeoutMs });
  }

  async ok(args: string[]): Promise<ExecResult> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(describeExec(r));
    return r;
  }

  /** skopeo copy with TLS verification off on both sides (plain HTTP to 127.0.0.1) and digests preserved. */
  async copy(src: string, dest: string, extra: string[] = []): Promise<ExecResult> {
    return await this.ok(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests', ...extra, src, dest]);
  }
}
