import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { ScanReport, SeverityLevel } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { EXIT, type CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';

/**
 * `wharf scan REPO:TAG [--fail-on LEVEL]`, `wharf sbom REPO:TAG --format spdx|cyclonedx [--attach]`,
 * `wharf vulndb import PATH`, `wharf vulndb status`: clients of /api/v1 (features/scan).
 * `--fail-on` is the CI gate: exit 4 (EXIT.policyFailed) when a finding is at or above the level.
 */
const LEVELS: SeverityLevel[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];

/** REPO:TAG or REPO@DIGEST (a tag after the last slash; a digest after @). */
export function parseImageRef(input: string): { repository: string; reference: string } {
  const at = input.indexOf('@');
  if (at > 0) return { repository: input.slice(0, at), reference: input.slice(at + 1) };
  const slash = input.lastIndexOf('/');
  const colon = input.lastIndexOf(':');
  if (colon > slash && colon > 0) return { repository: input.slice(0, colon), reference: input.slice(colon + 1) };
  return { repository: input, reference: 'latest' };
}

export function parseLevel(v: string): SeverityLevel {
  const level = v.toUpperCase() as SeverityLevel;
  if (!LEVELS.includes(level)) throw new WharfError('REQUEST_INVALID', `--fail-on takes ${LEVELS.map((l) => l.toLowerCase()).join(', ')}`);
  return level;
}

/** true when the report has a finding at or above `level` (UNKNOWN counts only for --fail-on unknown). */
export function failsAt(summary: Record<SeverityLevel, number>, level: SeverityLevel): boolean {
  const limit = LEVELS.indexOf(level);
  return LEVELS.some((l, i) => i <= limit && (summary[l] ?? 0) > 0);
}

function human(r: ScanReport): string {
  const lines: string[] = [];
  lines.push(`${r.repository}@${r.digest}${r.index ? ` (${r.index.platform} of ${r.index.digest})` : ''}`);
  lines.push(`os: ${r.os?.prettyName ?? r.os?.id ?? 'unknown'}   packages: ${r.packageCount}   scanned: ${r.scannedAt}`);
  const ml = r.ml;
  const stack = [
    ml.cuda[0] && `CUDA ${ml.cuda[0].version}`,
    ml.cudnn[0] && `cuDNN ${ml.cudnn[0].version}`,
    ml.nccl[0] && `NCCL ${ml.nccl[0].version}`,
    ...ml.frameworks.map((f) => `${f.name} ${f.version}${f.cuda ? ` (CUDA ${f.cuda})` : ''}`),
  ].filter(Boolean);
  if (stack.length > 0) lines.push(`ml: ${stack.join(', ')}`);
  lines.push(`vulnerability data: ${r.vulnerabilityData.advisories} advisories, imported ${r.vulnerabilityData.importedAt ?? 'never'}`);
  lines.push(LEVELS.map((l) => `${l}: ${r.summary[l]}`).join('  '));
  let out = `${lines.join('\n')}\n`;
  if (r.findings.length > 0) {
    out += `\n${table([
      ['SEVERITY', 'ID', 'PACKAGE', 'INSTALLED', 'FIXED', 'LAYER', 'ALIASES'],
      ...r.findings.map((f) => [f.severity, f.id, f.package.name, f.installed, f.fixed ?? '-', String(f.layer), f.aliases.slice(0, 3).join(',')]),
    ])}`;
  }
  for (const w of r.warnings) out += `warning: ${w}\n`;
  return out;
}

/** A directory's OSV records (every *.json below it) as one NDJSON stream, a file at a time. */
function* directoryLines(dir: string): Generator<Buffer> {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* directoryLines(p);
    else if (e.isFile() && e.name.endsWith('.json')) yield* jsonFileLines(p);
  }
}

/** One JSON file (a record, or a list of them) as NDJSON lines. Unparseable files go as they are: the server counts them rejected. */
function* jsonFileLines(file: string): Generator<Buffer> {
  const text = readFileSync(file, 'utf8');
  try {
    const v: unknown = JSON.parse(text);
    for (const r of Array.isArray(v) ? v : [v]) yield Buffer.from(`${JSON.stringify(r)}\n`);
  } catch {
    yield Buffer.from(`${text.replace(/\n/g, ' ')}\n`);
  }
}

export function registerScanCommands(program: Command, io: CliIO): void {
  withClientFlags(
    program
      .command('scan <image>')
      .description('scan an image (REPO:TAG or REPO@DIGEST) for known vulnerabilities')
      .option('--fail-on <level>', 'exit 4 when a finding is at or above: critical, high, medium, low, unknown')
      .option('--force', 'read the layers again even when the image has an inventory')
      .option('--platform <os/arch>', 'for a multi-platform image (default linux/amd64)'),
  ).action(async (image: string, opts: ClientFlags & { failOn?: string; force?: boolean; platform?: string }) => {
    const level = opts.failOn === undefined ? undefined : parseLevel(opts.failOn);
    const { repository, reference } = parseImageRef(image);
    const report = await clientFor(opts, io).scan(repository, reference, { ...(opts.force ? { force: true } : {}), ...(opts.platform ? { platform: opts.platform } : {}) });
    print(io, opts, report, () => human(report));
    if (level && failsAt(report.summary, level)) {
      io.err(`wharf: findings at or above ${level.toLowerCase()}: failing (exit ${EXIT.policyFailed})\n`);
      io.exitCode = EXIT.policyFailed;
    }
  });

  withClientFlags(
    program
      .command('sbom <image>')
      .description('the SBOM of an image as SPDX 2.3 or CycloneDX 1.6 JSON')
      .option('--format <format>', 'spdx or cyclonedx', 'spdx')
      .option('-f, --file <path>', 'write it to a file instead of standard output')
      .option('--attach', 'attach it to the image as an OCI referrer (needs push)')
      .option('--platform <os/arch>', 'for a multi-platform image (default linux/amd64)'),
  ).action(async (image: string, opts: ClientFlags & { format: string; file?: string; attach?: boolean; platform?: string }) => {
    if (opts.format !== 'spdx' && opts.format !== 'cyclonedx') throw new WharfError('REQUEST_INVALID', '--format takes spdx or cyclonedx');
    const { repository, reference } = parseImageRef(image);
    const client = clientFor(opts, io);
    if (opts.attach) {
      const r = await client.attachSbom(repository, reference, opts.format, opts.platform);
      print(io, opts, r, () => `attached ${opts.format} SBOM ${r.digest} to ${repository}@${r.subject}\n`);
      return;
    }
    const doc = await client.sbom(repository, reference, opts.format, opts.platform);
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (opts.file) {
      writeFileSync(opts.file, text);
      if (opts.output !== 'json') io.err(`wrote ${opts.file}\n`);
    } else io.out(text);
  });

  const vulndb = program.command('vulndb').description('the vulnerability database (OSV data)');
  withClientFlags(
    vulndb
      .command('import <path>')
      .description('import OSV records: an OSV zip archive (e.g. PyPI/all.zip), a JSON file, or a directory of them (admins)')
      .option('--source <name>', 'what to record as the source (default: the file or directory name)'),
  ).action(async (path: string, opts: ClientFlags & { source?: string }) => {
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new WharfError('REQUEST_INVALID', `no such file or directory: ${path}`);
    }
    const source = opts.source ?? basename(path.replace(/\/+$/, ''));
    const client = clientFor(opts, io);
    let r;
    if (st.isDirectory()) {
      r = await client.importVulnDb(source, Readable.toWeb(Readable.from(directoryLines(path))) as ReadableStream<Uint8Array>, 'application/x-ndjson');
    } else if (extname(path).toLowerCase() === '.zip') {
      r = await client.importVulnDb(source, Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>, 'application/zip');
    } else {
      r = await client.importVulnDb(source, Buffer.concat([...jsonFileLines(path)]), 'application/x-ndjson');
    }
    print(io, opts, r, () => {
      let out = `imported ${source}: ${r.records} records, ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.rejected} rejected\n`;
      for (const e of r.errors.slice(0, 5)) out += `  rejected: ${e}\n`;
      if (r.rematch.job !== undefined) out += `re-matching stored inventories in the background (job ${r.rematch.job})\n`;
      else if (r.rematch.inventories !== undefined) out += `re-matched ${r.rematch.inventories} inventories: ${r.rematch.newFindings ?? 0} new findings\n`;
      return out;
    });
  });
  withClientFlags(vulndb.command('status').description('advisories and recent imports')).action(async (opts: ClientFlags) => {
    const s = await clientFor(opts, io).vulndbStatus();
    print(io, opts, s, () => `${s.advisories} advisories (${s.withdrawn} withdrawn)\n${table([['ID', 'SOURCE', 'IMPORTED', 'NEWEST RECORD', 'RECORDS', 'ADDED', 'UPDATED', 'REJECTED'], ...s.imports.map((i) => [String(i.id), i.source, i.importedAt ?? '-', i.newestRecord ?? '-', String(i.records), String(i.added), String(i.updated), String(i.rejected)])])}`);
  });
}
