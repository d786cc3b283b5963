import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { DeployDecision } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { EXIT, type CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';
import { parseImageRef } from './scan.js';

/**
 * `wharf deploy-policy set|get|delete|list|check`. Its own noun: `wharf policy` is the cleanup
 * policy (set|get|delete|dry-run|run) and a `check` there would read as a cleanup dry run.
 * `check IMAGE` explains every rule's result and exits 4 (EXIT.policyFailed) when the image
 * would be denied; `check IMAGE --dry-run --file draft.yaml` judges by a draft, storing nothing.
 */
export function humanDecision(d: DeployDecision): string {
  const verdict = d.passed ? 'PASS' : d.allowed ? 'FAIL (dry run: would be denied, allowed for now)' : 'DENY';
  let out = `${d.image}${d.digest && !d.image.includes('@') ? `@${d.digest}` : ''}\npolicy: ${d.scope}   verdict: ${verdict}\n`;
  if (d.rules.length > 0) out += table([['RULE', 'RESULT', 'WHY'], ...d.rules.map((r) => [r.rule, r.passed ? 'pass' : 'FAIL', r.message])]);
  return out;
}

async function readPolicy(file: string, io: CliIO): Promise<string> {
  if (file === '-') return io.readStdin(64 * 1024);
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new WharfError('REQUEST_INVALID', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function registerDeployPolicyCommands(program: Command, io: CliIO): void {
  const dp = program.command('deploy-policy').description('deploy policies (signatures, vulnerabilities, tags) enforced at pull and at Kubernetes admission');
  withClientFlags(
    dp
      .command('set <scope>')
      .description('set the policy of a scope: "*" (registry), "team-a/*" (namespace) or a repository')
      .requiredOption('-f, --file <file>', 'the policy YAML ("-" for standard input)'),
  ).action(async (scope: string, opts: ClientFlags & { file: string }) => {
    const r = await clientFor(opts, io).setDeployPolicy(scope, await readPolicy(opts.file, io));
    print(io, opts, r, () => `deploy policy of ${r.scope} saved\n`);
  });
  withClientFlags(dp.command('get <scope>').description('show the policy of a scope (its YAML)')).action(async (scope: string, opts: ClientFlags) => {
    const r = await clientFor(opts, io).getDeployPolicy(scope);
    print(io, opts, r, () => r.source.endsWith('\n') ? r.source : `${r.source}\n`);
  });
  withClientFlags(dp.command('list').description('list policies')).action(async (opts: ClientFlags) => {
    const r = await clientFor(opts, io).listDeployPolicies();
    print(io, opts, r, () => table([['SCOPE', 'UPDATED', 'BY'], ...r.items.map((p) => [p.scope, p.updatedAt, p.updatedBy])]));
  });
  withClientFlags(dp.command('delete <scope>').description('delete the policy of a scope')).action(async (scope: string, opts: ClientFlags) => {
    await clientFor(opts, io).deleteDeployPolicy(scope);
    print(io, opts, { deleted: scope }, () => `deploy policy of ${scope} deleted\n`);
  });
  withClientFlags(
    dp
      .command('check <image>')
      .description("judge an image (REPO:TAG or REPO@DIGEST) by its policy and explain every rule; exit 4 when it would be denied")
      .option('--dry-run', 'judge by the draft in --file instead of the stored policy (nothing is stored)')
      .option('-f, --file <file>', 'the draft policy YAML, with --dry-run'),
  ).action(async (image: string, opts: ClientFlags & { dryRun?: boolean; file?: string }) => {
    if ((opts.dryRun === true) !== (opts.file !== undefined)) throw new WharfError('REQUEST_INVALID', '--dry-run and --file go together');
    const { repository, reference } = parseImageRef(image);
    const draft = opts.file !== undefined ? await readPolicy(opts.file, io) : undefined;
    const d = await clientFor(opts, io).checkDeployPolicy(repository, reference, draft);
    print(io, opts, d, () => humanDecision(d));
    if (!d.passed) io.exitCode = EXIT.policyFailed;
  });
}
