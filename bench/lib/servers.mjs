// Starting, watching and stopping the registries under test. Each target is one child process
// with its own data directory inside the run's temp dir; both live for the whole run but only
// one is ever being measured at a time.
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeAgent, request } from './http.mjs';

export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function distributionConfig(root, port, storage, htpasswdPath) {
  // Packaged defaults (inmemory blob descriptor cache, delete enabled) minus auth; quiet logs,
  // and no per-request access log (Wharf logs nothing per request at warn either). `storage`:
  // the storage section's lines instead of the filesystem driver (scale-out backend).
  // `htpasswdPath`: Distribution's own htpasswd auth (HTTP Basic, bcrypt) instead of none.
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    ...(storage ?? [
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${root}`,
      '  delete:',
      '    enabled: true',
    ]),
    ...(htpasswdPath ? ['auth:', '  htpasswd:', '    realm: bench', `    path: ${htpasswdPath}`] : []),
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

export function distributionVersion() {
  try {
    return execFileSync(DISTRIBUTION_BIN, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The account every authenticated target is measured with (Wharf's admin; Distribution's htpasswd user). */
export const BENCH_USER = { username: 'admin', password: 'bench-admin-password' };

/** An htpasswd file with one bcrypt entry (htpasswd -B, its default cost 5, as Distribution's docs generate it). */
function writeHtpasswd(path) {
  const line = execFileSync('htpasswd', ['-nbB', BENCH_USER.username, BENCH_USER.password], { encoding: 'utf8' }).trim();
  writeFileSync(path, `${line}\n`);
}

/**
 * kind: 'wharf' | 'distribution'. label: how reports name it. backend (optional, scale-out):
 * { wharfYaml, wharfEnv, distributionStorage } instead of each server's local disk. auth:
 * 'none' (default); for Wharf 'bearer' or 'basic' (auth on; how the client authenticates is the
 * client's business, see http.mjs), for Distribution 'htpasswd'. Returns a handle with
 * { label, kind, auth, base, pid, agent, logFile, stop() }.
 */
export async function startServer({ kind, label, dir, wharfEntry, cwd, backend, auth = 'none' }) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const logFile = join(dir, 'server.log');
  const log = createWriteStream(logFile);
  let cmd;
  let args;
  let env = { ...process.env };
  if (kind === 'distribution') {
    if (!existsSync(DISTRIBUTION_BIN)) throw new Error(`${DISTRIBUTION_BIN} not found (apt-get install docker-registry)`);
    const configPath = join(dir, 'config.yml');
    mkdirSync(join(dir, 'data'), { recursive: true });
    let htpasswdPath;
    if (auth === 'htpasswd') {
      htpasswdPath = join(dir, 'htpasswd');
      writeHtpasswd(htpasswdPath);
    } else if (auth !== 'none') throw new Error(`Distribution auth ${auth}: only none or htpasswd`);
    writeFileSync(configPath, distributionConfig(join(dir, 'data'), port, backend?.distributionStorage, htpasswdPath));
    cmd = DISTRIBUTION_BIN;
    args = ['serve', configPath];
    // AWS_CA_BUNDLE (set on some machines for a proxy) makes the AWS SDK of Distribution's S3
    // driver wrap its HTTP transport, which its own transport type refuses (a panic at start);
    // the benchmark talks to a plain-HTTP S3 server on 127.0.0.1 and needs no CA bundle.
    if (backend?.distributionStorage) delete env.AWS_CA_BUNDLE;
  } else if (kind === 'wharf') {
    if (!existsSync(wharfEntry)) {
      throw new Error(`Wharf is not built: ${wharfEntry} does not exist (run \`npm run build\`; or measure Distribution alone with --targets distribution)`);
    }
    cmd = process.execPath;
    // BENCH_WHARF_NODE_ARGS: extra node flags for Wharf, for profiling (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p")
    const nodeArgs = (process.env.BENCH_WHARF_NODE_ARGS ?? '').split(' ').filter(Boolean);
    args = [...nodeArgs, wharfEntry, 'serve', '--listen', `127.0.0.1:${port}`, '--data', join(dir, 'data')];
    if (backend?.wharfYaml) {
      const configPath = join(dir, 'wharf.yaml');
      writeFileSync(configPath, backend.wharfYaml);
      args.push('--config', configPath);
    }
    // auth 'none': Wharf with auth off (as Distribution without an auth section); otherwise auth
    // on with the default settings and the bench user as the first admin
    if (auth !== 'none' && auth !== 'bearer' && auth !== 'basic') throw new Error(`Wharf auth ${auth}: only none, bearer or basic`);
    const authEnv = auth === 'none' ? { WHARF_AUTH__ENABLED: 'false' } : { WHARF_AUTH__ENABLED: 'true', WHARF_ADMIN_PASSWORD: BENCH_USER.password };
    delete env.WHARF_AUTH__ADMIN_PASSWORD;
    env = { ...env, ...backend?.wharfEnv, WHARF_LOG_LEVEL: 'warn', ...authEnv };
  } else {
    throw new Error(`unknown target kind ${kind}`);
  }
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const base = `http://127.0.0.1:${port}`;
  const agent = makeAgent(64);
  const deadline = Date.now() + 30_000;
  let lastErr = 'no answer';
  for (;;) {
    if (exited) {
      await sleep(100);
      throw new Error(`${label} exited during startup (code ${exited.code}, signal ${exited.signal}); log ${logFile}:\n${tail(logFile)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${label} did not answer GET /v2/ with 200 within 30 s (last: ${lastErr}); log ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const res = await request(agent, `${base}/v2/`, { timeoutMs: 2000 });
      if (res.status === 200 || (auth !== 'none' && res.status === 401)) break;
      lastErr = `HTTP ${res.status}${res.status === 401 ? ' (authentication is on?)' : ''}`;
    } catch (err) {
      lastErr = err.message;
    }
    await sleep(100);
  }
  return {
    kind,
    label,
    auth,
    base,
    port,
    pid: child.pid,
    agent,
    logFile,
    dir,
    get exited() {
      return exited;
    },
    async stop() {
      agent.destroy();
      if (exited) return;
      child.kill('SIGTERM');
      for (let i = 0; i < 100 && !exited; i++) await sleep(100);
      if (!exited) child.kill('SIGKILL');
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
    },
  };
}

export function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const CLK_TCK = 100; // Linux USER_HZ

/** CPU seconds (user+sys) a process has used, from /proc; undefined if it is gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime (fields 14, 15)
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of a measured thing: a server ({pid}) or a shared backend part with its own cpu()
 * (s3rver, PostgreSQL's processes in the scale-out backend).
 */
export function cpuOf(s) {
  return s.cpu ? s.cpu() : (cpuSeconds(s.pid) ?? 0);
}

/** CPU seconds of every process whose command name is `comm` (e.g. all of PostgreSQL's). */
export function commCpuSeconds(comm) {
  let total = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) total += cpuSeconds(Number(d)) ?? 0;
    } catch {}
  }
  return total;
}

/** Resident set size in MiB. */
export function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine (user, nice, system, irq, softirq, steal), from /proc/stat. */
export function systemBusySeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal || 0)) / CLK_TCK;
}

/** CPU seconds of this process plus its waited-for children (wrk, sync). */
export function selfCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/**
 * Measures CPU use by everything that is neither this harness (with wrk) nor a server under test:
 * other people's builds and tests, daemons, steal. Call start() then stop() -> cores used on average.
 */
export function foreignLoad(servers) {
  const snap = () => ({
    t: performance.now(),
    sys: systemBusySeconds(),
    self: selfCpuSeconds(),
    srv: servers.reduce((a, s) => a + cpuOf(s), 0),
  });
  const a = snap();
  return () => {
    const b = snap();
    const secs = (b.t - a.t) / 1000;
    const foreign = b.sys - a.sys - (b.self - a.self) - (b.srv - a.srv);
    return Math.max(0, foreign / secs);
  };
}

/**
 * Flushes dirty pages (so one measurement's writeback does not land on the next) and waits until
 * every server process is idle (< 3% of a core over a 300 ms window) and the rest of the machine
 * uses less than `maxForeign` cores. Gives up after maxMs and says so.
 */
export async function settle(servers, { maxMs = 20_000, maxForeign = 0.2 } = {}) {
  execFileSync('sync');
  const start = Date.now();
  for (;;) {
    const before = servers.map(cpuOf);
    const foreign = foreignLoad(servers);
    await sleep(300);
    const busy = servers.filter((s, i) => cpuOf(s) - before[i] > 0.3 * 0.03 + 1 / CLK_TCK);
    const other = foreign();
    if (busy.length === 0 && other < maxForeign) return true;
    if (Date.now() - start > maxMs) {
      const why = [busy.length ? `${busy.map((s) => s.label).join(', ')} still busy` : '', other >= maxForeign ? `other processes use ${other.toFixed(2)} cores` : '']
        .filter(Boolean)
        .join('; ');
      process.stderr.write(`  warning: not quiet after ${maxMs / 1000} s (${why}); measuring anyway\n`);
      return false;
    }
  }
}
