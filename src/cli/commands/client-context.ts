import { WharfClient } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { readCredentials, registryHost } from '../auth-file.js';
import type { CliIO } from '../io.js';

/** Options every client command takes. */
export interface ClientFlags {
  server?: string;
  output?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:5000';

/** --server, else WHARF_SERVER, else the default; an address without scheme is taken as http. */
export function serverOf(opts: ClientFlags, io: CliIO): string {
  const raw = opts.server ?? io.env.WHARF_SERVER ?? DEFAULT_SERVER;
  const url = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  try {
    return new URL(url).origin;
  } catch {
    throw new WharfError('REQUEST_INVALID', `not a server URL: ${raw}`);
  }
}

/** A client with the credentials `wharf login` (or podman/docker login) stored for the server. */
export function clientFor(opts: ClientFlags, io: CliIO): WharfClient {
  const server = serverOf(opts, io);
  const creds = readCredentials(registryHost(server), io.env);
  if (!creds) throw new WharfError('UNAUTHORIZED', `not logged in to ${server}: run wharf login ${server}`);
  return new WharfClient({ server, username: creds.username, password: creds.password });
}

/** JSON for --output json; the human rendering otherwise. */
export function print(io: CliIO, opts: ClientFlags, data: unknown, human: () => string): void {
  if (opts.output === 'json') io.out(`${JSON.stringify(data ?? null, null, 2)}\n`);
  else io.out(human());
}

/** A byte count for people: 12 B, 1.5 MiB, 13.5 GiB (binary units). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

/** Adds --server and --output to a command. */
export function withClientFlags<T extends { option(flags: string, description: string, def?: string): T }>(cmd: T): T {
  return cmd
    .option('--server <url>', `registry URL (default: $WHARF_SERVER or ${DEFAULT_SERVER})`)
    .option('--output <format>', 'text or json', 'text');
}
