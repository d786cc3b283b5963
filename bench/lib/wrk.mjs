// Runs wrk (C, light on CPU) for the GET-under-load scenarios and parses its --latency report.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p));

function toMs(value, unit) {
  const v = Number(value);
  switch (unit) {
    case 'us':
      return v / 1000;
    case 'ms':
      return v;
    case 's':
      return v * 1000;
    case 'm':
      return v * 60_000;
    default:
      throw new Error(`wrk: unknown latency unit ${unit}`);
  }
}

export function parseWrk(out) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const reqs = /(\d+) requests in/.exec(out);
  const pct = {};
  for (const m of out.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$/gm)) pct[m[1]] = toMs(m[2], m[3]);
  // thread stats: "Latency   <avg>  <stdev>  <max>  <+/- stdev>"
  const max = /^\s+Latency\s+[\d.]+(?:us|ms|s|m)\s+[\d.]+(?:us|ms|s|m)\s+([\d.]+)(us|ms|s|m)/m.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!rps || !reqs || pct['99'] === undefined) throw new Error(`could not parse wrk output:\n${out}`);
  return {
    rps: Number(rps[1]),
    requests: Number(reqs[1]),
    p50ms: pct['50'],
    p90ms: pct['90'],
    p99ms: pct['99'],
    maxms: max ? toMs(max[1], max[2]) : undefined,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? sock.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0,
  };
}

/** wrk -c connections -t threads -d seconds --latency -H header... url */
export function runWrk({ url, connections, threads, seconds, headers = {} }) {
  if (!WRK) return Promise.reject(new Error('wrk not found: apt-get install -y wrk'));
  const args = [`-c${connections}`, `-t${threads}`, `-d${seconds}s`, '--latency', '--timeout', '10s'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile(WRK, args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      try {
        resolve({ ...parseWrk(stdout), raw: stdout });
      } catch (e) {
        reject(e);
      }
    });
  });
}
