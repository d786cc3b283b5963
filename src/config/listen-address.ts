/**
 * The `listen` setting: HOST:PORT, where HOST is a name or IPv4 address, or an IPv6 address in
 * brackets (`[::1]:5000`, optionally with a zone: `[fe80::1%eth0]:5000`); PORT is 0-65535 in
 * decimal without leading zeros (0 = an ephemeral port, used by tests). An empty host (`:5000`)
 * is refused on purpose: binding every interface must be spelled out (`0.0.0.0:5000`, `[::]:5000`).
 *
 * The rule is a regular expression so the exported JSON Schema enforces it in editors too.
 */
const HOST = String.raw`(?:\[[0-9A-Fa-f:.]+(?:%[0-9A-Za-z._-]+)?\]|[0-9A-Za-z._-]+)`;
const PORT = String.raw`(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)`;

export const LISTEN_PATTERN = `^${HOST}:${PORT}$`;
const LISTEN_RE = new RegExp(LISTEN_PATTERN);

export interface ListenAddress {
  /** without brackets: `::1`, `127.0.0.1`, `localhost` */
  host: string;
  port: number;
}

/** Splits a validated `listen` value; throws a TypeError on anything the schema would refuse. */
export function parseListenAddress(listen: string): ListenAddress {
  if (!LISTEN_RE.test(listen)) throw new TypeError(`invalid listen address ${JSON.stringify(listen)}: expected HOST:PORT`);
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(i + 1)) };
}
