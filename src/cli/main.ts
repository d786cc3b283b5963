#!/usr/bin/env node
/**
 * The `wharf` command. Noun/verb subcommands, each a module with its own options and a run()
 * that gets its IO injected. Exit codes: 0 ok, 1 failure, 2 usage or configuration error,
 * 3 a check found problems (fsck), 4 a policy gate failed (scan --fail-on).
 */
import { Command, CommanderError } from 'commander';
import { WharfError } from '../errors/wharf-error.js';
import { registerConfigCommands } from './commands/config.js';
import { registerFsckCommand } from './commands/fsck.js';
import { registerGcCommands } from './commands/gc.js';
import { registerIdentityCommands } from './commands/identity.js';
import { registerInsightsCommands } from './commands/insights.js';
import { registerLintCommand } from './commands/lint.js';
import { registerLoginCommands } from './commands/login.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerPypiCommands } from './commands/pypi.js';
import { registerRepositoryCommands } from './commands/repository.js';
import { registerScanCommands } from './commands/scan.js';
import { registerModelCommands } from './commands/model.js';
import { registerSignCommands } from './commands/sign.js';
import { registerVerifyCommands } from './commands/verify.js';
import { registerDeployPolicyCommands } from './commands/deploy-policy.js';
import { registerFilesCommands } from './commands/files.js';
import { registerServeCommand } from './commands/serve.js';
import { registerUsageCommand } from './commands/usage.js';
import { EXIT, processIO, type CliIO } from './io.js';

export function buildCli(io: CliIO): Command {
  const program = new Command('wharf')
    .description('Wharf: an OCI container and artifact registry for machine-learning teams')
    .version('0.1.0')
    .exitOverride()
    // a command's options end at its subcommand (`wharf gc --json` vs `wharf gc runs --json`)
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  registerServeCommand(program, io);
  registerFsckCommand(program, io);
  registerConfigCommands(program, io);
  registerLoginCommands(program, io);
  registerIdentityCommands(program, io);
  registerRepositoryCommands(program, io);
  registerPolicyCommands(program, io);
  registerScanCommands(program, io);
  registerModelCommands(program, io);
  registerSignCommands(program, io);
  registerVerifyCommands(program, io);
  registerDeployPolicyCommands(program, io);
  registerFilesCommands(program, io);
  registerInsightsCommands(program, io);
  registerLintCommand(program, io);
  registerPypiCommands(program, io);
  registerGcCommands(program, io);
  registerUsageCommand(program, io);
  return program;
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const program = buildCli(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return io.exitCode ?? EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof WharfError && (err.code === 'REQUEST_INVALID' || err.code === 'BODY_INVALID')) {
      io.err(`error: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof WharfError && err.code === 'CONFIG_INVALID') {
      io.err(`${err.message}\n`);
      for (const p of (err.detail as unknown[] | undefined) ?? []) io.err(`  - ${formatProblem(p)}\n`);
      return EXIT.usage;
    }
    io.err(`error: ${(err as Error).message}\n`);
    return EXIT.failure;
  }
}

function formatProblem(p: unknown): string {
  if (typeof p === 'string') return p;
  if (p && typeof p === 'object') {
    const o = p as Record<string, unknown>;
    return [o.path, o.message, o.source ? `(from ${String(o.source)})` : undefined].filter(Boolean).join(' ');
  }
  return String(p);
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain || process.argv[1]?.endsWith('/wharf')) {
  const io = processIO();
  runCli(process.argv.slice(2), io).then(
    (code) => {
      if (code !== EXIT.ok || !io.keepAlive) process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
