import type { Command } from 'commander';
import type { UsageReport } from '../../client/wharf-client.js';
import { formatByteSize } from '../../domain/byte-size.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';

/**
 * `wharf usage [REPO] [--days N | --from DATE [--to DATE]] [--json]`: storage, pulls, egress and
 * a monthly cost estimate per repository (/api/v1/usage), with registry totals and the dedup
 * ratio for admins (issue 5).
 */
interface UsageFlags extends ClientFlags {
  days?: string;
  from?: string;
  to?: string;
  json?: boolean;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function money(n: number, currency: string): string {
  return `${n.toFixed(2)} ${currency}`;
}

function quotaText(r: UsageReport['repositories'][number]): string {
  if (r.quotas.length === 0) return '-';
  return r.quotas.map((q) => `${q.scope === 'namespace' ? `${q.name}/: ` : ''}${formatByteSize(q.usedBytes)} of ${formatByteSize(q.quotaBytes)} (${percent(q.usedBytes, q.quotaBytes)})`).join('; ');
}

function percent(used: number, limit: number): string {
  return limit === 0 ? '100%' : `${Math.round((used / limit) * 1000) / 10}%`;
}

export function renderUsage(r: UsageReport): string {
  const c = r.pricing.currency;
  const rows = [
    ['REPOSITORY', 'LOGICAL', 'UNIQUE', 'SHARED', 'IMAGES', 'PULLS', 'EGRESS', 'EST. MONTHLY COST', 'QUOTA'],
    ...r.repositories.map((x) => [
      x.repository,
      formatByteSize(x.logicalBytes),
      formatByteSize(x.uniqueBytes),
      formatByteSize(x.sharedBytes),
      String(x.images),
      String(x.pulls),
      formatByteSize(x.egressBytes),
      money(x.monthlyCost.total, c),
      quotaText(x),
    ]),
  ];
  const t = r.totals;
  if (t) {
    rows.push(['TOTAL', formatByteSize(t.logicalBytes), '', '', String(t.images), String(t.pulls), formatByteSize(t.egressBytes), money(t.monthlyCost.total, c), '']);
  }
  let out = `Period: ${r.period.from.slice(0, 10)} to ${r.period.to.slice(0, 10)} (${r.period.days} ${r.period.days === 1 ? 'day' : 'days'}, UTC)\n`;
  out += table(rows).replace(/ +\n/g, '\n');
  if (r.namespaces && r.namespaces.length > 0) {
    out += `\n${table([
      ['NAMESPACE', 'REPOSITORIES', 'STORED', 'LOGICAL', 'IMAGES', 'PULLS', 'EGRESS', 'EST. MONTHLY COST', 'QUOTA'],
      ...r.namespaces.map((n) => [
        n.namespace,
        String(n.repositories),
        formatByteSize(n.storedBytes),
        formatByteSize(n.logicalBytes),
        String(n.images),
        String(n.pulls),
        formatByteSize(n.egressBytes),
        money(n.monthlyCost.total, c),
        n.quotaBytes === null ? '-' : `${formatByteSize(n.quotaBytes)} (${percent(n.storedBytes, n.quotaBytes)})`,
      ]),
    ])}`;
  }
  if (t) {
    out += `\nStored once: ${formatByteSize(t.physicalBytes)} in ${t.blobs} blobs for ${formatByteSize(t.logicalBytes)} of images; dedup ratio ${t.dedupRatio.toFixed(2)}\n`;
    out += `Estimated monthly cost: ${money(t.monthlyCost.total, c)} (storage ${money(t.monthlyCost.storage, c)}, egress ${money(t.monthlyCost.egress, c)})\n`;
  }
  out += `Prices: ${r.pricing.storagePerGiBMonth} ${c} per GiB-month stored, ${r.pricing.egressPerGiB} ${c} per GiB egress (the period's egress scaled to 30 days)\n`;
  return out;
}

export function registerUsageCommand(program: Command, io: CliIO): void {
  withClientFlags(
    program
      .command('usage [repository]')
      .description('storage (logical, unique, shared), images, pulls, egress and estimated monthly cost per repository; totals and dedup ratio for admins')
      .option('--days <n>', 'the last N days, today included (default 30)')
      .option('--from <date>', 'first UTC day of the period, YYYY-MM-DD')
      .option('--to <date>', 'last UTC day of the period, YYYY-MM-DD (default today)')
      .option('--json', 'the same as --output json'),
  ).action(async (repository: string | undefined, opts: UsageFlags) => {
    if (opts.days !== undefined && (opts.from !== undefined || opts.to !== undefined)) throw new WharfError('REQUEST_INVALID', 'give --days, or --from and --to, not both');
    if (opts.days !== undefined && !/^[0-9]+$/.test(opts.days)) throw new WharfError('REQUEST_INVALID', `--days takes a whole number of days, not ${JSON.stringify(opts.days)}`);
    if (opts.to !== undefined && opts.from === undefined) throw new WharfError('REQUEST_INVALID', '--to needs --from');
    for (const [flag, v] of [['--from', opts.from], ['--to', opts.to]] as const) {
      if (v !== undefined && !DATE.test(v)) throw new WharfError('REQUEST_INVALID', `${flag} takes a date YYYY-MM-DD, not ${JSON.stringify(v)}`);
    }
    const r = await clientFor(opts, io).usage({ repository, days: opts.days === undefined ? undefined : Number(opts.days), from: opts.from, to: opts.to });
    print(io, opts.json ? { ...opts, output: 'json' } : opts, r, () => renderUsage(r));
  });
}
