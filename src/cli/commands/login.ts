import type { Command } from 'commander';
import { WharfClient } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { registryHost, removeCredentials, writeCredentials } from '../auth-file.js';
import { readSecretFromStdin, type CliIO } from '../io.js';
import { clientFor, print, serverOf, withClientFlags, type ClientFlags } from './client-context.js';

/** `wharf login`, `wharf logout`, `wharf whoami`. */
export function registerLoginCommands(program: Command, io: CliIO): void {
  withClientFlags(
    program
      .command('login [server]')
      .description('check credentials against the registry and store them where podman/docker keep theirs')
      .option('-u, --username <name>', 'user or service account name')
      .option('-p, --password <password>', 'password or API key (prefer --password-stdin)')
      .option('--password-stdin', 'read the password or API key from standard input'),
  ).action(async (server: string | undefined, opts: ClientFlags & { username?: string; password?: string; passwordStdin?: boolean }) => {
    const url = serverOf({ ...opts, server: server ?? opts.server }, io);
    const username = opts.username;
    let password = opts.password;
    if (opts.passwordStdin) password = await readSecretFromStdin(io);
    if (!username || !password) throw new WharfError('REQUEST_INVALID', 'give --username and --password-stdin (or --password)');
    const me = await new WharfClient({ server: url, username, password }).whoami();
    const file = writeCredentials(registryHost(url), username, password, io.env);
    print(io, opts, { server: url, name: me.name, kind: me.kind, authFile: file }, () => `Login Succeeded: ${me.name} at ${url} (credentials in ${file})\n`);
  });

  withClientFlags(program.command('logout [server]').description('remove stored credentials for the registry')).action(
    async (server: string | undefined, opts: ClientFlags) => {
      const url = serverOf({ ...opts, server: server ?? opts.server }, io);
      const files = removeCredentials(registryHost(url), io.env);
      print(io, opts, { server: url, removedFrom: files }, () => (files.length > 0 ? `Removed login credentials for ${url}\n` : `Not logged in to ${url}\n`));
    },
  );

  withClientFlags(program.command('whoami').description('who the stored credentials are, and their roles')).action(async (opts: ClientFlags) => {
    const me = await clientFor(opts, io).whoami();
    print(io, opts, me, () => `${me.name} (${me.kind})${me.roles.map((r) => `\n  ${r.role} on ${r.scope}`).join('')}\n`);
  });
}
