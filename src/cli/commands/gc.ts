import type { Command } from 'commander';
import type { GcReport } from '../../client/wharf-client.js';
import { formatByteSize } from '../../domain/byte-size.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';

/**
 * `wharf gc [--dry-run]` runs online garbage collection on the server now (POST /api/v1/gc, admins)
 * and prints what it reclaimed (or would); `wharf gc runs` lists past runs. `--json` is short for
 * `--output json`.
 */
interface GcFlags extends ClientFlags {
  dryRun?: boolean;
  json?: boolean;
}

const LISTED = 20;

function outputOf<T extends GcFlags>(opts: T): T {
  return opts.json ? { ...opts, output: 'json' } : opts;
}

export function describeReport(r: GcReport): string {
  const would = r.dryRun ? 'would be ' : '';
  const lines = [
    `${r.dryRun ? 'GC dry run (nothing was changed)' : 'GC finished'} in ${r.durationMs} ms`,
    `reclaimed: ${formatByteSize(r.bytesReclaimed + r.orphanBytesReclaimed)}${r.dryRun ? ' (would be)' : ''}`,
    `manifests ${would}deleted: ${r.manifestsDeleted}`,
    `links ${would}removed: ${r.linksRemoved}`,
    `blobs ${would}deleted: ${r.blobsDeleted} (${formatByteSize(r.bytesReclaimed)})`,
    `orphan blobs ${would}deleted: ${r.orphanBlobsDeleted} (${formatByteSize(r.orphanBytesReclaimed)})`,
  ];
  if (r.tombstonesRecovered > 0) lines.push(`interrupted deletions finished: ${r.tombstonesRecovered}`);
  if (r.manifests.length > 0) {
    lines.push(`manifests ${would}deleted:`);
    for (const m of r.manifests.slice(0, LISTED)) lines.push(`  ${m.repository}@${m.digest}`);
    if (r.manifestsDeleted > LISTED) lines.push(`  ... and ${r.manifestsDeleted - LISTED} more (--output json lists up to 1000)`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerGcCommands(program: Command, io: CliIO): void {
  const gc = withClientFlags(
    program
      .command('gc')
      .description('online garbage collection on the server (admins): run now, or list past runs')
      .option('--dry-run', 'only report what would be reclaimed; change nothing')
      .option('--json', 'JSON output (same as --output json)'),
  );
  // `gc runs --json`: the options after `runs` are its own, not gc's
  gc.enablePositionalOptions();
  gc.action(async (opts: GcFlags) => {
    const o = outputOf(opts);
    if (o.output !== 'json' && o.output !== 'text') throw new WharfError('REQUEST_INVALID', `--output is text or json, not ${JSON.stringify(o.output)}`);
    const report = await clientFor(o, io).runGc({ dryRun: o.dryRun === true });
    print(io, o, report, () => describeReport(report));
  });

  withClientFlags(
    gc
      .command('runs')
      .description('recent GC runs (scheduled and on demand), newest first')
      .option('--limit <n>', 'at most this many (1-200)', '20')
      .option('--json', 'JSON output (same as --output json)'),
  ).action(async (opts: GcFlags & { limit: string }) => {
    const o = outputOf(opts);
    if (!/^[0-9]{1,3}$/.test(o.limit) || Number(o.limit) < 1 || Number(o.limit) > 200) {
      throw new WharfError('REQUEST_INVALID', `--limit takes a number from 1 to 200, not ${JSON.stringify(o.limit)}`);
    }
    const r = await clientFor(o, io).gcRuns(Number(o.limit));
    print(io, o, r, () =>
      table([
        ['ID', 'STARTED', 'TRIGGER', 'DRY RUN', 'STATUS', 'RECLAIMED', 'MANIFESTS', 'BLOBS'],
        ...r.items.map((run) => [
          String(run.id),
          run.startedAt,
          run.trigger,
          run.dryRun ? 'yes' : 'no',
          run.error !== null ? `failed: ${run.error.slice(0, 60)}` : run.finishedAt === null ? 'running' : 'done',
          run.report ? formatByteSize(run.report.bytesReclaimed + run.report.orphanBytesReclaimed) : '-',
          run.report ? String(run.report.manifestsDeleted) : '-',
          run.report ? String(run.report.blobsDeleted + run.report.orphanBlobsDeleted) : '-',
        ]),
      ]),
    );
  });
}
