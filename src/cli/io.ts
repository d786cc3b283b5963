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

export const EXIT = { ok: 0, failure: 1, usage: 2, problemsFound: 3 } as const;
