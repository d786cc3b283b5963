import type { Command } from 'commander';
import { configJsonSchema, loadConfig } from '../../config/index.js';
import type { CliIO } from '../io.js';

export function registerConfigCommands(program: Command, io: CliIO): void {
  const config = program.command('config').description('inspect and validate configuration');
  config
    .command('check')
    .description('validate a config file (with WHARF_* env applied) and print the effective configuration')
    .argument('<file>', 'YAML config file')
    .option('--output <format>', 'text or json', 'text')
    .action((file: string, opts: { output: string }) => {
      const effective = loadConfig({ file, env: io.env });
      if (opts.output === 'json') io.out(`${JSON.stringify(effective, null, 2)}\n`);
      else io.out(`${file}: configuration is valid\n`);
    });
  config
    .command('schema')
    .description('print the JSON Schema of the configuration file')
    .action(() => {
      io.out(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
