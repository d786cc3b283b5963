import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Credentials the way container tools keep them, so `wharf login` and `podman login` /
 * `docker login` share one file: `{"auths": {"host:port": {"auth": base64("user:password")}}}`.
 * Read from the first of REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
 * ~/.config/containers/auth.json, $DOCKER_CONFIG/config.json (~/.docker/config.json) that has the
 * host; written to REGISTRY_AUTH_FILE, else the XDG runtime file (podman's default), else
 * ~/.docker/config.json, with mode 0600.
 */
export interface StoredCredentials {
  username: string;
  password: string;
  file: string;
}

function candidates(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  out.push(join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers', 'auth.json'));
  out.push(join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'));
  return out;
}

export function authFileForWriting(env: NodeJS.ProcessEnv): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
}

/** host:port of a server URL: the key container tools use. */
export function registryHost(server: string): string {
  return new URL(server).host;
}

function readJson(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function readCredentials(host: string, env: NodeJS.ProcessEnv): StoredCredentials | undefined {
  for (const file of candidates(env)) {
    const auths = readJson(file).auths as Record<string, { auth?: string }> | undefined;
    const entry = auths?.[host];
    if (!entry?.auth) continue;
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), file };
  }
  return undefined;
}

export function writeCredentials(host: string, username: string, password: string, env: NodeJS.ProcessEnv): string {
  const file = authFileForWriting(env);
  const doc = readJson(file);
  const auths = (doc.auths as Record<string, unknown> | undefined) ?? {};
  auths[host] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  doc.auths = auths;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

export function removeCredentials(host: string, env: NodeJS.ProcessEnv): string[] {
  const removed: string[] = [];
  for (const file of candidates(env)) {
    const doc = readJson(file);
    const auths = doc.auths as Record<string, unknown> | undefined;
    if (!auths || !(host in auths)) continue;
    delete auths[host];
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    removed.push(file);
  }
  return removed;
}
