/**
 * The PyPI tests' common ground: Debian's Python (with setuptools, wheel and pip, no internet)
 * builds wheels and sdists of a tiny local project; pip and twine run with an isolated
 * configuration (no user pip.conf, no cache, no find-links of the machine, no prompts); the built
 * `wharf` CLI runs with its own HOME.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WHARF_MAIN } from '../support/registry-process.js';

/** Debian's interpreter: python3-setuptools, python3-wheel and python3-pip are installed for it (scripts/install-test-deps.sh). */
export const PYTHON = '/usr/bin/python3';

export function pythonToolsMissing(): string | false {
  if (spawnSync(PYTHON, ['-c', 'import setuptools, wheel, pip'], { stdio: 'ignore' }).status !== 0) return 'python3-setuptools, python3-wheel or python3-pip is not installed';
  if (spawnSync('sh', ['-c', 'command -v twine'], { stdio: 'ignore' }).status !== 0) return 'twine is not installed';
  return false;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  cmd: string;
}

/** The environment pip and twine see: ours minus anything that configures them from outside the test. */
function isolatedEnv(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PIP_') || k.startsWith('TWINE_') || k.startsWith('WHARF_') || k === 'HOME') continue;
    env[k] = v;
  }
  return {
    ...env,
    HOME: home,
    PIP_CONFIG_FILE: '/dev/null',
    PIP_NO_CACHE_DIR: '1',
    PIP_NO_INPUT: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_ROOT_USER_ACTION: 'ignore',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
    ...extra,
  };
}

export async function run(cmd: string, args: string[], home: string, extra: Record<string, string> = {}, cwd?: string): Promise<RunResult> {
  return await new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: isolatedEnv(home, extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, cmd: [cmd, ...args].join(' ') });
    });
  });
}

export function show(r: RunResult): string {
  return `\`${r.cmd}\` exited ${r.code}\nstdout: ${r.stdout.slice(-3000)}\nstderr: ${r.stderr.slice(-3000)}`;
}

export const pip = (home: string, args: string[], extra?: Record<string, string>) => run(PYTHON, ['-m', 'pip', ...args], home, extra);
export const twine = (home: string, args: string[], extra?: Record<string, string>) => run('twine', ['upload', '--non-interactive', '--disable-progress-bar', ...args], home, extra);
export const wharf = (home: string, server: string, args: string[]) =>
  run(process.execPath, [WHARF_MAIN, ...args], home, { WHARF_SERVER: server, REGISTRY_AUTH_FILE: join(home, 'auth.json') });

/**
 * Builds `<dir>/dist/` with a wheel and an sdist of project `name` at `version` (a package with
 * one module whose VALUE is the version), from a local source tree: no index, no build isolation.
 */
export async function buildDistributions(dir: string, home: string, name: string, version: string, requiresPython = '>=3.8'): Promise<{ wheel: string; sdist: string }> {
  const src = join(dir, `src-${name}-${version}`);
  const pkg = name.toLowerCase().replace(/[-.]/g, '_');
  mkdirSync(join(src, pkg), { recursive: true });
  writeFileSync(
    join(src, 'pyproject.toml'),
    `[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "${name}"\nversion = "${version}"\ndescription = "a tiny test library"\nrequires-python = "${requiresPython}"\n`,
  );
  writeFileSync(join(src, pkg, '__init__.py'), `VALUE = ${JSON.stringify(version)}\n`);
  const out = join(dir, 'dist');
  mkdirSync(out, { recursive: true });
  const before = new Set(readdirSync(out));
  for (const r of [
    await run(PYTHON, ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '--ignore-requires-python', '-w', out, src], home),
    await run(PYTHON, ['-c', `import setuptools.build_meta as b; print(b.build_sdist(${JSON.stringify(out)}))`], home, {}, src),
  ]) {
    if (r.code !== 0) throw new Error(show(r));
  }
  const made = readdirSync(out).filter((f) => !before.has(f));
  const wheel = made.find((f) => f.endsWith('.whl'));
  const sdist = made.find((f) => f.endsWith('.tar.gz'));
  if (!wheel || !sdist) throw new Error(`expected a wheel and an sdist in ${out}, got ${made.join(', ')}`);
  return { wheel: join(out, wheel), sdist: join(out, sdist) };
}
