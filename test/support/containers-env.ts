/**
 * A private containers/* environment for skopeo, podman and buildah: its own policy.json,
 * registries.conf (the test registry marked insecure), storage.conf (vfs under a temp root),
 * containers.conf and auth file, so tests neither read nor pollute the machine's configuration.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Credentials } from './registry-process.js';

export interface ContainersEnv {
  dir: string;
  /** Storage root and runroot for podman/buildah (vfs). */
  root: string;
  runroot: string;
  policy: string;
  authFile: string;
  /** Environment to pass to every skopeo/podman/buildah invocation. */
  env: Record<string, string>;
  /** Global flags for podman and buildah (storage driver, root, runroot). */
  storageFlags: string[];
  dispose(): void;
}

export function makeContainersEnv(options: { insecureRegistries?: string[]; credentials?: { host: string; creds: Credentials }[] } = {}): ContainersEnv {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-containers-'));
  const root = join(dir, 'root');
  const runroot = join(dir, 'runroot');
  const tmp = join(dir, 'tmp');
  for (const d of [root, runroot, tmp]) mkdirSync(d, { recursive: true });
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const registriesConf = join(dir, 'registries.conf');
  writeFileSync(
    registriesConf,
    [
      'unqualified-search-registries = []',
      'short-name-mode = "disabled"',
      ...(options.insecureRegistries ?? []).flatMap((h) => ['', '[[registry]]', `location = "${h}"`, 'insecure = true']),
      '',
    ].join('\n'),
  );
  const storageConf = join(dir, 'storage.conf');
  writeFileSync(storageConf, ['[storage]', 'driver = "vfs"', `runroot = "${runroot}"`, `graphroot = "${root}"`, ''].join('\n'));
  const containersConf = join(dir, 'containers.conf');
  writeFileSync(
    containersConf,
    ['[engine]', 'events_logger = "file"', `events_logfile_path = "${join(dir, 'events.log')}"`, 'cgroup_manager = "cgroupfs"', `tmp_dir = "${tmp}"`, ''].join('\n'),
  );
  const authFile = join(dir, 'auth.json');
  const auths: Record<string, { auth: string }> = {};
  for (const c of options.credentials ?? []) {
    auths[c.host] = { auth: Buffer.from(`${c.creds.username}:${c.creds.password}`).toString('base64') };
  }
  writeFileSync(authFile, JSON.stringify({ auths }));
  return {
    dir,
    root,
    runroot,
    policy,
    authFile,
    env: {
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      CONTAINERS_STORAGE_CONF: storageConf,
      CONTAINERS_CONF: containersConf,
      REGISTRY_AUTH_FILE: authFile,
      TMPDIR: tmp,
    },
    storageFlags: ['--storage-driver', 'vfs', '--root', root, '--runroot', runroot],
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
