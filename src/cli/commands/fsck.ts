import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { openStores } from '../../main.js';
import { fsck } from '../../registry/fsck.js';
import { EXIT, type CliIO } from '../io.js';
import { configFlags, type ServeFlags } from './serve.js';

export function registerFsckCommand(program: Command, io: CliIO): void {
  program
    .command('fsck')
    .description('check every stored blob and the metadata for consistency (exit 3 when problems are found)')
    .option('-c, --config <file>', 'YAML config file')
    .option('--data <dir>', 'data directory')
    .option('--quick', 'check presence and sizes only; do not re-hash blob contents')
    .option('--output <format>', 'text or json', 'text')
    .action(async (opts: ServeFlags & { quick?: boolean; output: string }) => {
      const config = loadConfig({ file: opts.config, env: io.env, flags: { ...configFlags(opts), 'log.level': 'silent' } });
      // a check must not create what it checks: a mistyped --data would otherwise pass as an empty registry
      const missing = [
        config.storage.metadata.driver === 'sqlite' ? config.storage.metadata.path : undefined,
        config.storage.blob.driver === 'fs' ? config.storage.blob.path : undefined,
      ].filter((p): p is string => p !== undefined && !existsSync(p));
      if (missing.length > 0) {
        io.err(`no Wharf data at ${missing.join(' and ')} (is --data or the config right?)\n`);
        io.exitCode = EXIT.failure;
        return;
      }
      const stores = await openStores(config, io.env);
      const { metadata, blobs } = stores;
      try {
        const report = await fsck(metadata, blobs, { verifyContent: !opts.quick });
        if (opts.output === 'json') {
          io.out(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          for (const p of report.problems) io.out(`PROBLEM ${p.kind}: ${p.message}\n`);
          for (const w of report.warnings) io.out(`warning ${w.kind}: ${w.message}\n`);
          const s = report.stats;
          io.out(
            `${s.blobs} blobs (${s.bytesVerified} bytes re-hashed), ${s.manifests} manifests, ` +
              `${s.unreferencedBlobs} unreferenced blobs: ${report.problems.length} problems, ${report.warnings.length} warnings\n`,
          );
        }
        if (report.problems.length > 0) io.exitCode = EXIT.problemsFound;
      } finally {
        await stores.close();
      }
    });
}
