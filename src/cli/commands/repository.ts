import type { Command } from 'commander';
import type { RepositoryDetail, RepositorySettingsInput } from '../../client/wharf-client.js';
import { formatByteSize, parseByteSize } from '../../domain/byte-size.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';

/**
 * `wharf repo ...` (create, describe, list, update, delete, history, visibility), `wharf image list`
 * and `wharf namespace ...`: clients of /api/v1 (issue 5).
 */
interface SettingsFlags {
  description?: string;
  label?: string[];
  public?: boolean;
  private?: boolean;
  immutableTags?: boolean;
  immutableExclude?: string;
  quota?: string;
  scanOnPush?: boolean;
  indexOnPush?: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function withSettingsFlags<T extends Command>(cmd: T, update: boolean): T {
  cmd
    .option('--description <text>', 'what the repository holds')
    .option('--label <key=value>', 'a label (repeat for more); on update the labels given replace the old ones', collect)
    .option('--public', 'anyone may pull')
    .option('--private', 'only those with a role may pull')
    .option('--immutable-tags', 'a pushed tag never moves to another image (re-pushing the same image is fine)')
    .option('--no-immutable-tags', 'tags may move')
    .option('--immutable-exclude <patterns>', "comma-separated tag patterns (* wildcards) that stay mutable, e.g. 'dev-*,latest'")
    .option('--quota <size>', `storage quota (admins), e.g. 50GiB, 500MB${update ? "; 'none' removes it" : ''}`)
    .option('--scan-on-push', 'scan every pushed image for vulnerabilities')
    .option('--no-scan-on-push', 'do not scan on push')
    .option('--index-on-push', 'index every pushed image for file access and lazy pulling (wharf ls / cat / cp)')
    .option('--no-index-on-push', 'do not index on push');
  return cmd;
}

/** Only what the flags say: commander sets a negatable flag's default, so absent stays absent. */
function settingsFrom(opts: SettingsFlags, cmd: Command): RepositorySettingsInput {
  const given = (key: string) => cmd.getOptionValueSource(key) === 'cli';
  const s: RepositorySettingsInput = {};
  if (opts.description !== undefined) s.description = opts.description;
  if (opts.label !== undefined) {
    s.labels = {};
    for (const l of opts.label) {
      const i = l.indexOf('=');
      if (i <= 0) throw new WharfError('REQUEST_INVALID', `--label takes key=value, not ${JSON.stringify(l)}`);
      s.labels[l.slice(0, i)] = l.slice(i + 1);
    }
  }
  if (opts.public && opts.private) throw new WharfError('REQUEST_INVALID', 'give --public or --private, not both');
  if (opts.public) s.public = true;
  if (opts.private) s.public = false;
  if (given('immutableTags')) s.immutableTags = opts.immutableTags === true;
  if (opts.immutableExclude !== undefined) {
    s.immutableTagExclusions = opts.immutableExclude
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
  }
  if (opts.quota !== undefined) s.quotaBytes = opts.quota === 'none' ? null : parseByteSize(opts.quota);
  if (given('scanOnPush')) s.scanOnPush = opts.scanOnPush === true;
  if (given('indexOnPush')) s.indexOnPush = opts.indexOnPush === true;
  return s;
}

function describeRepository(r: RepositoryDetail): string {
  const lines: [string, string][] = [
    ['Name', r.name],
    ['Format', r.format === 'pypi' ? 'pypi (Python packages)' : 'oci'],
    ['Created', r.createdAt],
    ['Description', r.description || '-'],
    ['Labels', Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-'],
    ['Visibility', r.public ? 'public' : 'private'],
    ['Immutable tags', r.immutableTags ? `yes${r.immutableTagExclusions.length ? ` (except ${r.immutableTagExclusions.join(', ')})` : ''}` : 'no'],
    ['Scan on push', r.scanOnPush ? 'yes' : 'no'],
    ['Index on push', r.indexOnPush ? 'yes' : 'no'],
    ['Images', `${r.usage.images} (${r.usage.tags} tags)`],
    ['Storage', r.usage.quotaBytes === null ? formatByteSize(r.usage.storedBytes) : `${formatByteSize(r.usage.storedBytes)} of ${formatByteSize(r.usage.quotaBytes)} quota (${percent(r.usage.storedBytes, r.usage.quotaBytes)})`],
    ...r.usage.namespaces.map(
      (n): [string, string] => [`Namespace ${n.namespace}`, `${formatByteSize(n.usedBytes)} of ${formatByteSize(n.quotaBytes)} quota (${percent(n.usedBytes, n.quotaBytes)})`],
    ),
    ['Cleanup policy', r.cleanupPolicy ? `${r.cleanupPolicy.format}${r.cleanupPolicy.dryRun ? ' (dry run only)' : ''}, set ${r.cleanupPolicy.updatedAt}` : 'none'],
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  return `${lines.map(([k, v]) => `${`${k}:`.padEnd(w + 2)}${v}`).join('\n')}\n`;
}

function percent(used: number, limit: number): string {
  return limit === 0 ? '100%' : `${Math.round((used / limit) * 1000) / 10}%`;
}

function short(digest: string | null): string {
  return digest === null ? '-' : digest.replace(/^(sha256:)?([0-9a-f]{12})[0-9a-f]*$/, '$1$2');
}

export function registerRepositoryCommands(program: Command, io: CliIO): void {
  const repo = program.command('repo').description('repositories: settings, history, deletion');

  withClientFlags(repo.command('list').description('repositories you may pull, with their settings')).action(async (opts: ClientFlags) => {
    const page = await clientFor(opts, io).listRepositories({ limit: 1000 });
    print(io, opts, page, () =>
      table([
        ['NAME', 'VISIBILITY', 'IMMUTABLE TAGS', 'QUOTA', 'DESCRIPTION'],
        ...page.items.map((r) => [
          r.name,
          r.public ? 'public' : 'private',
          r.immutableTags ? 'yes' : 'no',
          r.quotaBytes === null || r.quotaBytes === undefined ? '-' : formatByteSize(r.quotaBytes),
          r.description ?? '',
        ]),
      ]),
    );
  });

  const create = withClientFlags(
    withSettingsFlags(repo.command('create <name>').description('create a repository with its format and settings'), false).option(
      '--format <format>',
      'oci (images and artifacts, the default) or pypi (Python packages for pip and twine); fixed once created',
    ),
  );
  create.action(async (name: string, opts: ClientFlags & SettingsFlags & { format?: string }, cmd: Command) => {
    if (opts.format !== undefined && opts.format !== 'oci' && opts.format !== 'pypi') {
      throw new WharfError('REQUEST_INVALID', `--format is oci or pypi, not ${JSON.stringify(opts.format)}`);
    }
    const r = await clientFor(opts, io).createRepository(name, settingsFrom(opts, cmd), opts.format);
    print(io, opts, r, () => `created repository ${r.name}\n${describeRepository(r)}`);
  });

  withClientFlags(repo.command('describe <name>').description('settings, usage against quota, cleanup policy')).action(async (name: string, opts: ClientFlags) => {
    const r = await clientFor(opts, io).getRepository(name);
    print(io, opts, r, () => describeRepository(r));
  });

  const update = withClientFlags(withSettingsFlags(repo.command('update <name>').description('change settings (only those given)'), true));
  update.action(async (name: string, opts: ClientFlags & SettingsFlags, cmd: Command) => {
    const patch = settingsFrom(opts, cmd);
    if (Object.keys(patch).length === 0) throw new WharfError('REQUEST_INVALID', 'give at least one setting to change (see wharf repo update --help)');
    const r = await clientFor(opts, io).updateRepository(name, patch);
    print(io, opts, r, () => `updated repository ${r.name}\n${describeRepository(r)}`);
  });

  withClientFlags(
    repo.command('delete <name>').description('delete a repository with its images, tags and history (GC reclaims the bytes)').option('--yes', 'do not ask (required)'),
  ).action(async (name: string, opts: ClientFlags & { yes?: boolean }) => {
    if (!opts.yes) throw new WharfError('REQUEST_INVALID', `deleting ${name} removes every image in it: add --yes to confirm`);
    await clientFor(opts, io).deleteRepository(name);
    print(io, opts, { deleted: name }, () => `deleted repository ${name}\n`);
  });

  withClientFlags(
    repo
      .command('history <name>')
      .description('every tag move, newest first')
      .option('--tag <tag>', 'only this tag')
      .option('--limit <n>', 'at most this many', '100'),
  ).action(async (name: string, opts: ClientFlags & { tag?: string; limit: string }) => {
    const r = await clientFor(opts, io).tagHistory(name, { tag: opts.tag, limit: Number(opts.limit) });
    print(io, opts, r, () => table([['TIME', 'TAG', 'FROM', 'TO'], ...r.items.map((e) => [e.at, e.tag, short(e.from), e.to === null ? '(deleted)' : short(e.to)])]));
  });

  withClientFlags(repo.command('visibility <name> <visibility>').description('public (anonymous pull) or private (repoAdmin or admin)')).action(
    async (name: string, visibility: string, opts: ClientFlags) => {
      if (visibility !== 'public' && visibility !== 'private') throw new WharfError('REQUEST_INVALID', 'visibility is public or private');
      const r = await clientFor(opts, io).setRepositoryPublic(name, visibility === 'public');
      print(io, opts, r, () => `${r.name} is ${r.public ? 'public' : 'private'}\n`);
    },
  );

  const image = program.command('image').description('images (manifests) of a repository');
  withClientFlags(
    image
      .command('list <repository>')
      .description('digests, tags, sizes, pushed and last-pulled times, newest first')
      .option('--tagged', 'only tagged images')
      .option('--untagged', 'only untagged images')
      .option('--limit <n>', 'at most this many', '1000'),
  ).action(async (repository: string, opts: ClientFlags & { tagged?: boolean; untagged?: boolean; limit: string }) => {
    if (opts.tagged && opts.untagged) throw new WharfError('REQUEST_INVALID', 'give --tagged or --untagged, not both');
    const r = await clientFor(opts, io).listImages(repository, { limit: Number(opts.limit), tagged: opts.tagged ? true : opts.untagged ? false : undefined });
    print(io, opts, r, () =>
      table([
        ['DIGEST', 'TAGS', 'SIZE', 'PUSHED', 'LAST PULLED'],
        ...r.items.map((i) => [short(i.digest), i.tags.join(',') || '-', formatByteSize(i.sizeBytes), i.pushedAt, i.lastPulledAt ?? 'never']),
      ]),
    );
  });

  const ns = program.command('namespace').description('namespace settings (admins): quota, implicit repository creation');
  withClientFlags(ns.command('list').description('namespaces with settings and their usage')).action(async (opts: ClientFlags) => {
    const r = await clientFor(opts, io).listNamespaces();
    print(io, opts, r, () =>
      table([
        ['NAMESPACE', 'USED', 'QUOTA', 'CREATE ON PUSH'],
        ...r.items.map((n) => [n.namespace, formatByteSize(n.usedBytes), n.quotaBytes === null ? '-' : formatByteSize(n.quotaBytes), n.createOnPush === null ? 'inherit' : String(n.createOnPush)]),
      ]),
    );
  });
  withClientFlags(ns.command('get <namespace>').description("a namespace's settings and usage")).action(async (name: string, opts: ClientFlags) => {
    const n = await clientFor(opts, io).getNamespace(name);
    print(io, opts, n, () => `${n.namespace}: ${formatByteSize(n.usedBytes)} used${n.quotaBytes === null ? '' : ` of ${formatByteSize(n.quotaBytes)}`}; create on push: ${n.createOnPush === null ? 'inherit' : n.createOnPush}\n`);
  });
  withClientFlags(
    ns
      .command('set <namespace>')
      .description('set a namespace quota and whether pushes may create repositories in it')
      .option('--quota <size>', "e.g. 500GiB; 'none' removes it")
      .option('--create-on-push <yes|no|inherit>', 'may a push create a repository here'),
  ).action(async (name: string, opts: ClientFlags & { quota?: string; createOnPush?: string }) => {
    const body: { quotaBytes?: number | null; createOnPush?: boolean | null } = {};
    if (opts.quota !== undefined) body.quotaBytes = opts.quota === 'none' ? null : parseByteSize(opts.quota);
    if (opts.createOnPush !== undefined) {
      const m: Record<string, boolean | null> = { yes: true, no: false, inherit: null };
      if (!(opts.createOnPush in m)) throw new WharfError('REQUEST_INVALID', '--create-on-push is yes, no or inherit');
      body.createOnPush = m[opts.createOnPush]!;
    }
    if (Object.keys(body).length === 0) throw new WharfError('REQUEST_INVALID', 'give --quota and/or --create-on-push');
    const n = await clientFor(opts, io).setNamespace(name, body);
    print(io, opts, n, () => `namespace ${n.namespace}: quota ${n.quotaBytes === null ? 'none' : formatByteSize(n.quotaBytes)}, create on push ${n.createOnPush === null ? 'inherit' : n.createOnPush}\n`);
  });
  withClientFlags(ns.command('delete <namespace>').description("remove a namespace's settings")).action(async (name: string, opts: ClientFlags) => {
    await clientFor(opts, io).deleteNamespace(name);
    print(io, opts, { deleted: name }, () => `removed the settings of namespace ${name}\n`);
  });
}
