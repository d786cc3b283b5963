import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CleanupDecision, CleanupPolicyInfo, CleanupReport } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { EXIT, type CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';

/**
 * `wharf policy set|get|delete|dry-run|run REPO`: a repository's cleanup policy (issue 5), a
 * client of /api/v1/cleanup-policies, -dry-runs and -runs. The file `set` and `dry-run --file`
 * take is JSON in either documented format — a gcloud cleanup policy file (a list of policies)
 * or an ECR lifecycle policy ({"rules": [...]}) — or Wharf's whole document
 * ({"format": ..., "policy": ..., "keepPulledWithinDays": ...}); flags set Wharf's extras.
 * A policy the server refuses is printed problem by problem, each with its JSON pointer (exit 2).
 */
interface ExtrasFlags {
  format?: string;
  keepPulledWithinDays?: string;
  keepProtectedTags?: boolean;
  dryRunOnly?: boolean;
}

const MAX_FILE = 1024 * 1024;

async function readPolicyFile(file: string, io: CliIO): Promise<unknown> {
  let text: string;
  try {
    if (file === '-') text = await io.readStdin(MAX_FILE);
    else text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WharfError('REQUEST_INVALID', `cannot read ${file}: ${(err as Error).message}`);
  }
  if (text.length > MAX_FILE) throw new WharfError('REQUEST_INVALID', `${file} is larger than ${MAX_FILE} bytes; a cleanup policy is much smaller`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new WharfError('REQUEST_INVALID', `${file} is not JSON: ${(err as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The document to send: the file as Wharf's envelope, or wrapped in one by its shape; flags on top. */
export function policyDocument(content: unknown, flags: ExtrasFlags, given: (key: string) => boolean): Record<string, unknown> {
  let doc: Record<string, unknown>;
  if (isObject(content) && 'format' in content) doc = { ...content };
  else {
    const format = flags.format ?? (Array.isArray(content) ? 'artifact-registry' : isObject(content) && 'rules' in content ? 'ecr' : undefined);
    if (format === undefined) {
      throw new WharfError(
        'REQUEST_INVALID',
        'cannot tell the format: a gcloud cleanup policy file is a JSON list, an ECR lifecycle policy an object with "rules"; or give --format',
      );
    }
    doc = { format, policy: content };
  }
  if (flags.format !== undefined) {
    if (flags.format !== 'artifact-registry' && flags.format !== 'ecr') throw new WharfError('REQUEST_INVALID', '--format is artifact-registry or ecr');
    doc.format = flags.format;
  }
  if (flags.keepPulledWithinDays !== undefined) {
    const n = Number(flags.keepPulledWithinDays);
    if (!/^[0-9]{1,5}$/.test(flags.keepPulledWithinDays) || n < 1) throw new WharfError('REQUEST_INVALID', '--keep-pulled-within-days takes a whole number of days (1 or more)');
    doc.keepPulledWithinDays = n;
  }
  if (given('keepProtectedTags')) doc.keepProtectedTags = flags.keepProtectedTags === true;
  if (flags.dryRunOnly) doc.dryRun = true;
  return doc;
}

function withExtrasFlags<T extends Command>(cmd: T): T {
  cmd
    .option('--format <format>', 'artifact-registry or ecr (default: from the file: a list is Artifact Registry, {"rules": ...} is ECR)')
    .option('--keep-pulled-within-days <n>', 'also keep every image pulled in the last n days')
    .option('--keep-protected-tags', 'keep what an immutable tag points to (the default)')
    .option('--no-keep-protected-tags', 'let the policy delete images with immutable tags too');
  return cmd;
}

/** POLICY_INVALID: every problem with its pointer, exit 2; anything else is rethrown. */
async function reportingProblems<T>(io: CliIO, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof WharfError) || err.code !== 'POLICY_INVALID') throw err;
    const problems = Array.isArray(err.detail) ? (err.detail as { pointer?: string; message?: string }[]) : [];
    io.err(`cleanup policy invalid: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
    for (const p of problems) io.err(`  - ${p.pointer || '/'}: ${p.message ?? ''}\n`);
    if (problems.length === 0) io.err(`  ${err.message}\n`);
    io.exitCode = EXIT.usage;
    return undefined;
  }
}

function short(digest: string): string {
  return digest.replace(/^(sha256:)([0-9a-f]{12})[0-9a-f]*$/, '$1$2');
}

function describePolicy(p: CleanupPolicyInfo): string {
  const lines = [
    `Format:               ${p.format}`,
    `Keep pulled within:   ${p.keepPulledWithinDays === undefined ? '-' : `${p.keepPulledWithinDays} days`}`,
    `Keep protected tags:  ${p.keepProtectedTags === false ? 'no' : 'yes'}`,
    `Scheduled runs:       ${p.dryRun ? 'dry run only (report, delete nothing)' : 'delete'}`,
    `Updated:              ${p.updatedAt}${p.updatedBy ? ` by ${p.updatedBy}` : ''}`,
    `Policy:`,
    JSON.stringify(p.policy, null, 2),
  ];
  return `${lines.join('\n')}\n`;
}

function decisions(list: CleanupDecision[], withReason: boolean): string {
  const head = ['DIGEST', 'TAGS', 'PUSHED', 'LAST PULLED', 'RULE', ...(withReason ? ['KEPT BECAUSE'] : [])];
  return table([
    head,
    ...list.map((d) => [short(d.digest), d.tags.join(',') || '-', d.pushedAt, d.lastPulledAt ?? 'never', d.rule, ...(withReason ? [d.keptBecause ?? ''] : [])]),
  ]);
}

function renderReport(r: CleanupReport, run: boolean): string {
  const out: string[] = [];
  if (run && !r.dryRun) out.push(`deleted ${r.deleted} of ${r.delete.length} selected manifests in ${r.repository} (of ${r.images})\n`);
  else out.push(`${r.repository}: ${r.delete.length} of ${r.images} manifests would be deleted${run ? ' (the policy is set to dry run only: nothing was deleted)' : ''}\n`);
  if (r.delete.length > 0) out.push(`\n${run && !r.dryRun ? 'Selected' : 'Would delete'}:\n`, decisions(r.delete, false));
  if (r.kept.length > 0) out.push('\nKept although a rule selects them:\n', decisions(r.kept, true));
  if (r.skipped.length > 0) out.push('\nSkipped (changed since the evaluation):\n', table([['DIGEST', 'REASON'], ...r.skipped.map((s) => [short(s.digest), s.reason])]));
  return out.join('');
}

export function registerPolicyCommands(program: Command, io: CliIO): void {
  const policy = program
    .command('policy')
    .description('cleanup policies: Artifact Registry or ECR format, keep pulled within N days, keep immutable tags; dry run, run');

  withClientFlags(
    withExtrasFlags(policy.command('set <repository> <file>').description("set a repository's cleanup policy from a JSON file ('-' reads standard input)")).option(
      '--dry-run-only',
      'scheduled and on-demand runs only report what they would delete',
    ),
  ).action(async (repository: string, file: string, opts: ClientFlags & ExtrasFlags, cmd: Command) => {
    const doc = policyDocument(await readPolicyFile(file, io), opts, (k) => cmd.getOptionValueSource(k) === 'cli');
    const stored = await reportingProblems(io, () => clientFor(opts, io).setCleanupPolicy(repository, doc));
    if (stored) print(io, opts, stored, () => `cleanup policy of ${repository} set\n${describePolicy(stored)}`);
  });

  withClientFlags(policy.command('get <repository>').description("a repository's cleanup policy")).action(async (repository: string, opts: ClientFlags) => {
    const p = await clientFor(opts, io).getCleanupPolicy(repository);
    print(io, opts, p, () => describePolicy(p));
  });

  withClientFlags(policy.command('delete <repository>').description("remove a repository's cleanup policy")).action(async (repository: string, opts: ClientFlags) => {
    await clientFor(opts, io).deleteCleanupPolicy(repository);
    print(io, opts, { deleted: repository }, () => `removed the cleanup policy of ${repository}\n`);
  });

  withClientFlags(
    withExtrasFlags(
      policy
        .command('dry-run <repository>')
        .description('every image the policy would delete now, with the rule selecting it, and what is kept although selected; deletes nothing')
        .option('--file <file>', 'evaluate this policy instead of the stored one (not stored)')
        .option('--json', 'the report as JSON (same as --output json)'),
    ),
  ).action(async (repository: string, opts: ClientFlags & ExtrasFlags & { file?: string; json?: boolean }, cmd: Command) => {
    const given = (k: string) => cmd.getOptionValueSource(k) === 'cli';
    if (opts.file === undefined && (opts.format !== undefined || opts.keepPulledWithinDays !== undefined || given('keepProtectedTags'))) {
      throw new WharfError('REQUEST_INVALID', '--format, --keep-pulled-within-days and --[no-]keep-protected-tags go with --file');
    }
    const doc = opts.file === undefined ? undefined : policyDocument(await readPolicyFile(opts.file, io), opts, given);
    const r = await reportingProblems(io, () => clientFor(opts, io).cleanupDryRun(repository, doc));
    if (r) print(io, opts.json ? { ...opts, output: 'json' } : opts, r, () => renderReport(r, false));
  });

  withClientFlags(
    policy
      .command('run <repository>')
      .description('apply the stored policy now: delete what it selects (audited as cleanup.delete); see dry-run first')
      .option('--json', 'the report as JSON (same as --output json)'),
  ).action(async (repository: string, opts: ClientFlags & { json?: boolean }) => {
    const r = await clientFor(opts, io).runCleanup(repository);
    print(io, opts.json ? { ...opts, output: 'json' } : opts, r, () => renderReport(r, true));
  });
}
