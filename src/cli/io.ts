/** What a command may touch of the outside world; tests pass their own. */
export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  env: NodeJS.ProcessEnv;
  /** standard input, read whole (for --password-stdin); absent = process.stdin */
  readStdin?: () => Promise<string>;
  /** set by a command to report a non-zero outcome without throwing */
  exitCode?: number;
  /** set by `serve`: the process lives on after the command returns */
  keepAlive?: boolean;
}

/**
 * Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 a check found problems (fsck),
 * 4 a policy gate failed (`wharf scan --fail-on`: findings at or above the level).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, problemsFound: 3, policyFailed: 4 } as const;
