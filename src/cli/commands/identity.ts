import type { Command } from 'commander';
import type { Principal } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { readSecretFromStdin, type CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';

/** `wharf user ...`, `wharf sa ...`, `wharf role ...`, `wharf audit`: clients of /api/v1 (`wharf repo ...`: repository.ts). */
export function registerIdentityCommands(program: Command, io: CliIO): void {
  const principals = (rows: Principal[]): string =>
    table([['NAME', 'DISABLED', 'CREATED', 'DESCRIPTION'], ...rows.map((p) => [p.name, String(p.disabled), p.createdAt, p.description ?? ''])]);
  const done = (opts: ClientFlags, data: unknown, line: string): void => print(io, opts, data ?? { ok: true }, () => `${line}\n`);
  const readSecret = async (opts: { password?: string; passwordStdin?: boolean }): Promise<string> => {
    if (opts.passwordStdin) return readSecretFromStdin(io);
    if (opts.password === undefined) throw new WharfError('REQUEST_INVALID', 'give --password-stdin or --password');
    return opts.password;
  };

  const user = program.command('user').description('users (admins)');
  withClientFlags(user.command('list').description('list users')).action(async (opts: ClientFlags) => {
    const page = await clientFor(opts, io).listUsers({ limit: 1000 });
    print(io, opts, page, () => principals(page.items));
  });
  withClientFlags(
    user
      .command('create <name>')
      .description('create a user')
      .option('-p, --password <password>', 'the password (prefer --password-stdin)')
      .option('--password-stdin', 'read the password from standard input')
      .option('--description <text>', 'what the account is for'),
  ).action(async (name: string, opts: ClientFlags & { password?: string; passwordStdin?: boolean; description?: string }) => {
    const created = await clientFor(opts, io).createUser({ name, password: await readSecret(opts), description: opts.description });
    done(opts, created, `created user ${created.name}`);
  });
  withClientFlags(
    user
      .command('set-password <name>')
      .description("set a user's password (admins, or the user itself)")
      .option('-p, --password <password>', 'the new password (prefer --password-stdin)')
      .option('--password-stdin', 'read the password from standard input'),
  ).action(async (name: string, opts: ClientFlags & { password?: string; passwordStdin?: boolean }) => {
    await clientFor(opts, io).setPassword(name, await readSecret(opts));
    done(opts, undefined, `password of ${name} changed`);
  });
  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    withClientFlags(user.command(`${verb} <name>`).description(`${verb} a user`)).action(async (name: string, opts: ClientFlags) => {
      done(opts, await clientFor(opts, io).updateUser(name, { disabled }), `${verb}d user ${name}`);
    });
  }
  withClientFlags(user.command('delete <name>').description('delete a user')).action(async (name: string, opts: ClientFlags) => {
    await clientFor(opts, io).deleteUser(name);
    done(opts, undefined, `deleted user ${name}`);
  });

  const sa = program.command('sa').description('service accounts and their API keys (admins)');
  withClientFlags(sa.command('list').description('list service accounts')).action(async (opts: ClientFlags) => {
    const page = await clientFor(opts, io).listServiceAccounts({ limit: 1000 });
    print(io, opts, page, () => principals(page.items));
  });
  withClientFlags(sa.command('create <name>').description('create a service account').option('--description <text>', 'what it is for')).action(
    async (name: string, opts: ClientFlags & { description?: string }) => {
      done(opts, await clientFor(opts, io).createServiceAccount({ name, description: opts.description }), `created service account ${name}`);
    },
  );
  withClientFlags(sa.command('delete <name>').description('delete a service account and its keys')).action(async (name: string, opts: ClientFlags) => {
    await clientFor(opts, io).deleteServiceAccount(name);
    done(opts, undefined, `deleted service account ${name}`);
  });
  const key = sa.command('key').description('API keys of a service account');
  withClientFlags(
    key
      .command('create <sa>')
      .description('create an API key; it is printed this once')
      .option('--expires-in-days <n>', 'expiry in days (default: never)')
      .option('--description <text>', 'where it is used'),
  ).action(async (name: string, opts: ClientFlags & { expiresInDays?: string; description?: string }) => {
    const days = opts.expiresInDays === undefined ? undefined : Number(opts.expiresInDays);
    if (days !== undefined && !Number.isInteger(days)) throw new WharfError('REQUEST_INVALID', '--expires-in-days takes a whole number');
    const k = await clientFor(opts, io).createKey(name, { expiresInDays: days, description: opts.description });
    print(io, opts, k, () => `${k.key}\n(key ${k.id} of ${name}${k.expiresAt ? `, expires ${k.expiresAt}` : ''}: shown only now; use it as the password with the name ${name})\n`);
  });
  withClientFlags(key.command('list <sa>').description('list API keys (not the keys themselves)')).action(async (name: string, opts: ClientFlags) => {
    const r = await clientFor(opts, io).listKeys(name);
    print(io, opts, r, () =>
      table([['ID', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED'], ...r.items.map((k) => [k.id, k.createdAt, k.expiresAt ?? '-', k.lastUsedAt ?? '-', k.revokedAt ?? '-'])]),
    );
  });
  withClientFlags(key.command('revoke <sa> <id>').description('revoke an API key')).action(async (name: string, id: string, opts: ClientFlags) => {
    await clientFor(opts, io).revokeKey(name, id);
    done(opts, undefined, `revoked key ${id} of ${name}`);
  });

  const role = program.command('role').description('role bindings (admins): reader, writer, repoAdmin, admin');
  withClientFlags(role.command('list').description('list role bindings').option('--principal <name>', 'only this user or service account')).action(
    async (opts: ClientFlags & { principal?: string }) => {
      const r = await clientFor(opts, io).listBindings(opts.principal);
      print(io, opts, r, () => table([['ID', 'PRINCIPAL', 'KIND', 'ROLE', 'SCOPE'], ...r.items.map((b) => [String(b.id), b.principal, b.principalKind, b.role, b.scope])]));
    },
  );
  withClientFlags(
    role.command('grant <principal> <role> <scope>').description('bind a role on "*" (registry), "team-a/*" (namespace) or a repository'),
  ).action(async (principal: string, roleName: string, scope: string, opts: ClientFlags) => {
    const b = await clientFor(opts, io).grant({ principal, role: roleName, scope });
    done(opts, b, `granted ${b.role} on ${b.scope} to ${b.principal} (binding ${b.id})`);
  });
  withClientFlags(role.command('revoke <id>').description('remove a role binding (ids: wharf role list)')).action(async (id: string, opts: ClientFlags) => {
    if (!/^[0-9]+$/.test(id)) throw new WharfError('REQUEST_INVALID', 'a binding id is a number (see wharf role list)');
    await clientFor(opts, io).revokeBinding(Number(id));
    done(opts, undefined, `removed role binding ${id}`);
  });

  withClientFlags(
    program
      .command('audit')
      .description('audit events, newest first (admins)')
      .option('--actor <name>', 'who')
      .option('--repository <name>', 'which repository')
      .option('--action <action>', 'e.g. manifest.push, blob.delete, user.create, login')
      .option('--result <result>', 'ok, denied or failed')
      .option('--since <time>', 'ISO 8601 date-time')
      .option('--until <time>', 'ISO 8601 date-time')
      .option('--limit <n>', 'at most this many', '100'),
  ).action(async (opts: ClientFlags & { actor?: string; repository?: string; action?: string; result?: string; since?: string; until?: string; limit: string }) => {
    const page = await clientFor(opts, io).audit({
      actor: opts.actor,
      repository: opts.repository,
      action: opts.action,
      result: opts.result,
      since: opts.since,
      until: opts.until,
      limit: Number(opts.limit),
    });
    print(io, opts, page, () =>
      table([
        ['TIME', 'ACTOR', 'ACTION', 'RESULT', 'REPOSITORY', 'TARGET/DIGEST', 'FROM'],
        ...page.items.map((e) => [e.at, e.actor, e.action, e.result, e.repository ?? '-', e.target ?? e.digest ?? '-', e.address ?? '-']),
      ]),
    );
  });
}
