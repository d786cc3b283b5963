import type { Command } from 'commander';
import { formatByteSize } from '../../domain/byte-size.js';
import { WharfError } from '../../errors/wharf-error.js';
import { EXIT, type CliIO } from '../io.js';
import { failsAt, parseLevel } from './scan.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';

/**
 * `wharf pypi list|yank|unyank|delete`: Python package repositories through /api/v1 (issue 17).
 * Uploading and installing are twine's and pip's job (docs/python.md).
 */
export function registerPypiCommands(program: Command, io: CliIO): void {
  const pypi = program.command('pypi').description('Python package repositories (format pypi): files, yanks, deletes');

  withClientFlags(
    pypi.command('list <repository> [project]').description("a repository's files (or one project's): version, type, size, Requires-Python, yanked"),
  ).action(async (repository: string, project: string | undefined, opts: ClientFlags) => {
    const r = await clientFor(opts, io).listPypiFiles(repository, project);
    print(io, opts, r, () =>
      r.items.length === 0
        ? `no files in ${repository}${project ? ` for ${project}` : ''}\n`
        : table([
            ['PROJECT', 'VERSION', 'FILE', 'SIZE', 'REQUIRES-PYTHON', 'YANKED', 'UPLOADED'],
            ...r.items.map((f) => [
              f.name,
              f.version,
              f.filename,
              formatByteSize(f.size),
              f.requiresPython ?? '-',
              f.yanked ? (f.yankedReason ? `yes: ${f.yankedReason}` : 'yes') : 'no',
              `${f.uploadedAt} by ${f.uploadedBy}`,
            ]),
          ]),
    );
  });

  withClientFlags(
    pypi
      .command('audit <repository> [project] [version]')
      .description('vulnerabilities of the releases, matched against the imported OSV data (wharf vulndb import)')
      .option('--fail-on <level>', 'exit 4 when a finding is at or above: critical, high, medium, low, unknown'),
  ).action(async (repository: string, project: string | undefined, version: string | undefined, opts: ClientFlags & { failOn?: string }) => {
    const level = opts.failOn === undefined ? undefined : parseLevel(opts.failOn);
    const r = await clientFor(opts, io).pypiFindings(repository, project, version);
    print(io, opts, r, () => {
      const head = `${repository}: ${r.releases} release${r.releases === 1 ? '' : 's'}\n${Object.entries(r.summary).map(([l, n]) => `${l}: ${n}`).join('  ')}\n`;
      if (r.findings.length === 0) return head;
      return `${head}\n${table([
        ['SEVERITY', 'ID', 'PACKAGE', 'INSTALLED', 'FIXED', 'ALIASES'],
        ...r.findings.map((f) => [f.severity, f.id, f.package.name, f.installed, f.fixed ?? '-', f.aliases.slice(0, 3).join(',')]),
      ])}`;
    });
    if (level !== undefined && failsAt(r.summary, level)) {
      io.err(`wharf: findings at or above ${level.toLowerCase()}: failing (exit ${EXIT.policyFailed})\n`);
      io.exitCode = EXIT.policyFailed;
    }
  });

  withClientFlags(
    pypi
      .command('yank <repository> <project> <version>')
      .description('yank every file of a version (PEP 592): pip skips it unless it is pinned with ==')
      .option('--reason <text>', 'shown to pip users who install it anyway'),
  ).action(async (repository: string, project: string, version: string, opts: ClientFlags & { reason?: string }) => {
    const r = await clientFor(opts, io).yankPypiRelease(repository, project, version, true, opts.reason);
    print(io, opts, r, () => `yanked ${project} ${version} (${r.files} file${r.files === 1 ? '' : 's'})\n`);
  });

  withClientFlags(pypi.command('unyank <repository> <project> <version>').description('undo a yank')).action(
    async (repository: string, project: string, version: string, opts: ClientFlags) => {
      const r = await clientFor(opts, io).yankPypiRelease(repository, project, version, false);
      print(io, opts, r, () => `un-yanked ${project} ${version} (${r.files} file${r.files === 1 ? '' : 's'})\n`);
    },
  );

  withClientFlags(
    pypi
      .command('delete <repository> <project> [version]')
      .description('delete a project, or one version of it (GC reclaims the bytes); prefer yank for a release others may pin')
      .option('--yes', 'do not ask (required)'),
  ).action(async (repository: string, project: string, version: string | undefined, opts: ClientFlags & { yes?: boolean }) => {
    if (!opts.yes) throw new WharfError('REQUEST_INVALID', `deleting ${project}${version ? ` ${version}` : ' (every version)'} removes its files: add --yes to confirm`);
    const r = await clientFor(opts, io).deletePypiFiles(repository, project, version);
    print(io, opts, r, () => `deleted ${r.files} file${r.files === 1 ? '' : 's'} of ${project}${version ? ` ${version}` : ''}\n`);
  });
}
