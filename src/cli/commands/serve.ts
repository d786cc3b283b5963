import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { createWharf } from '../../main.js';
import type { CliIO } from '../io.js';

export interface ServeFlags {
  config?: string;
  listen?: string;
  data?: string;
  logLevel?: string;
}

export function configFlags(opts: ServeFlags): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  if (opts.listen !== undefined) flags.listen = opts.listen;
  if (opts.data !== undefined) flags.data = opts.data;
  if (opts.logLevel !== undefined) flags['log.level'] = opts.logLevel;
  return flags;
}

export function registerServeCommand(program: Command, io: CliIO): void {
  program
    .command('serve')
    .description('run the registry')
    .option('-c, --config <file>', 'YAML config file')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:5000)')
    .option('--data <dir>', 'data directory for the embedded stores (default ./data)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .action(async (opts: ServeFlags) => {
      const config = loadConfig({ file: opts.config, env: io.env, flags: configFlags(opts) });
      const wharf = await createWharf(config, { env: io.env, announce: (line) => io.out(line) });
      const address = await wharf.listen();
      wharf.logger.info({ address, data: config.data }, 'wharf listening');
      io.keepAlive = true;
      let closing = false;
      const shutdown = (signal: string): void => {
        if (closing) return;
        closing = true;
        wharf.logger.info({ signal }, 'shutting down: draining requests');
        const force = setTimeout(() => {
          wharf.logger.warn('shutdown timed out; exiting');
          process.exit(1);
        }, 30_000);
        force.unref();
        wharf.close().then(
          () => process.exit(0),
          (err) => {
            wharf.logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
