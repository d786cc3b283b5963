import { WharfError } from '../errors/wharf-error.js';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  env: NodeJS.ProcessEnv;
  /**
   * Standard input, read whole, up to `limit` bytes (more is a usage error, not a buffer of
   * whatever was piped in). Required: the real binary reads process.stdin (processIO below), so a
   * command that reads standard input works the same in tests and in a shell.
   */
  readStdin(limit: number): Promise<string>;
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

/** Reads a stream to its end as UTF-8; REQUEST_INVALID past `limit` bytes. */
export async function readAllText(stream: AsyncIterable<Buffer | string>, limit: number, what = 'standard input'): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > limit) throw new WharfError('REQUEST_INVALID', `${what} is larger than ${limit} bytes`);
    parts.push(b);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The IO of the real binary: the process's own streams and environment. */
export function processIO(): CliIO {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    env: process.env,
    readStdin: (limit) => readAllText(process.stdin, limit),
  };
}

/** Longest secret `--password-stdin` accepts (a password or an API key, as docker login takes it). */
const MAX_SECRET = 4096;

/**
 * A password or API key from standard input (`--password-stdin`, as `docker login` reads it):
 * the text with one trailing newline removed (`<<< 'pw'` and `echo pw |` add one). An empty one
 * is a usage error, never an empty password sent to the server.
 */
export async function readSecretFromStdin(io: CliIO): Promise<string> {
  const secret = (await io.readStdin(MAX_SECRET)).replace(/\r?\n$/, '');
  if (secret === '') throw new WharfError('REQUEST_INVALID', 'standard input is empty: pipe the password in (--password-stdin)');
  return secret;
}
