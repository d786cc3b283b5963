import type { Command } from 'commander';
import type { ImageInsights, InsightsAnalysis, InsightsCategory, InsightsDiff, InsightsReport, InsightsSeverity } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { EXIT, type CliIO } from '../io.js';
import { clientFor, print, table, withClientFlags, type ClientFlags } from './client-context.js';
import { parseImageRef } from './scan.js';

/**
 * `wharf insights REPO:TAG`: the image's analysis (features/insights) as a terminal report — layer
 * table with a bar per layer, bytes by category, findings sorted by saving — or JSON. The CI gate:
 * `--fail-on <severity>`, `--max-waste <size>`, `--min-efficiency <ratio>`, `--no-baked-weights`
 * exit 4 (EXIT.policyFailed) when the image breaks one, naming each broken rule on stderr.
 */
const SEVERITIES: InsightsSeverity[] = ['critical', 'high', 'medium', 'low'];
const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** 500MB, 1.5GiB, 1048576 -> bytes */
export function parseSize(v: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new WharfError('REQUEST_INVALID', `not a size: ${JSON.stringify(v)} (e.g. 500MB, 2GiB, 1048576)`);
  return Math.round(Number(m[1]) * unit);
}

/** 0.9, 90% -> 0.9 */
export function parseRatio(v: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$/.exec(v);
  const n = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(n >= 0 && n <= 1)) throw new WharfError('REQUEST_INVALID', `not a ratio between 0 and 1 (or a percentage): ${JSON.stringify(v)}`);
  return n;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function bar(value: number, max: number, width: number): string {
  const filled = max <= 0 ? 0 : Math.round((value / max) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

function oneLine(s: string | null, max: number): string {
  const t = (s ?? '').replace(/\s+/g, ' ').replace(/^\/bin\/sh -c (#\(nop\) )?/, '').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

export interface Gate {
  failOn?: InsightsSeverity;
  maxWaste?: number;
  minEfficiency?: number;
  noBakedWeights?: boolean;
}

/** The rules `a` breaks, as sentences (empty when it passes). */
export function gateProblems(a: InsightsAnalysis, gate: Gate): string[] {
  const problems: string[] = [];
  if (gate.failOn) {
    const limit = SEVERITIES.indexOf(gate.failOn);
    const hits = a.findings.filter((f) => SEVERITIES.indexOf(f.severity) <= limit);
    if (hits.length > 0) problems.push(`${hits.length} finding(s) at or above ${gate.failOn}: ${[...new Set(hits.map((f) => f.id))].join(', ')}`);
  }
  if (gate.maxWaste !== undefined && a.waste.totalBytes > gate.maxWaste) problems.push(`waste ${bytes(a.waste.totalBytes)} is over --max-waste ${bytes(gate.maxWaste)}`);
  if (gate.minEfficiency !== undefined && a.efficiency.score < gate.minEfficiency) problems.push(`efficiency ${(a.efficiency.score * 100).toFixed(1)}% is under --min-efficiency ${(gate.minEfficiency * 100).toFixed(1)}%`);
  if (gate.noBakedWeights && a.totals.categories['model-weights'] > 0) problems.push(`${bytes(a.totals.categories['model-weights'])} of model weights are baked into the image (--no-baked-weights)`);
  return problems;
}

function humanImage(repository: string, img: ImageInsights): string {
  const head = `${repository}@${img.digest}${img.platform ? ` (${img.platform})` : ''}`;
  if (img.state !== 'done' || !img.analysis) return `${head}\n  analysis ${img.state}${img.error ? `: ${img.error.message}` : ''}\n`;
  const a = img.analysis;
  const lines: string[] = [head];
  const c = a.coldStart;
  lines.push(`size: ${bytes(a.totals.compressedBytes)} compressed, ${bytes(a.totals.uncompressedBytes)} uncompressed, ${a.totals.files} files; final filesystem ${bytes(a.totals.finalBytes)}`);
  lines.push(`efficiency: ${(a.efficiency.score * 100).toFixed(1)}% (dive's score); waste ${bytes(a.waste.totalBytes)} (overwritten ${bytes(a.waste.overwrittenBytes)}, deleted ${bytes(a.waste.deletedBytes)}, duplicates ${bytes(a.waste.duplicateBytes)})`);
  lines.push(
    `cold start: ${bytes(c.pullBytes)} to pull at ${(c.bandwidthBitsPerSecond / 1e9).toFixed(2)} Gbit/s = ${c.pullSeconds.toFixed(1)} s, ${bytes(c.decompressBytes)} to decompress at ${(c.decompressBytesPerSecond / 1e6).toFixed(0)} MB/s = ${c.decompressSeconds.toFixed(1)} s -> ${c.seconds.toFixed(1)} s per cold node`,
  );
  if (a.os || a.ml.cuda.length || a.ml.frameworks.length) {
    const stack = [a.os?.prettyName ?? a.os?.id, a.ml.cuda[0] && `CUDA ${a.ml.cuda[0].version}`, ...a.ml.frameworks.map((f) => `${f.name} ${f.version}${f.cuda ? ` (CUDA ${f.cuda})` : ''}`)].filter(Boolean);
    lines.push(`stack: ${stack.join(', ')}`);
  }
  if (a.partial) lines.push('PARTIAL: some layers have more entries than the analysis keeps');
  let out = `${lines.join('\n')}\n\n`;
  const max = Math.max(...a.layers.map((l) => l.uncompressedBytes), 1);
  out += table([
    ['LAYER', 'COMPRESSED', 'SIZE', 'FILES', 'SIZE BAR', 'CREATED BY'],
    ...a.layers.map((l) => [String(l.index), bytes(l.compressedBytes), bytes(l.uncompressedBytes), String(l.files), bar(l.uncompressedBytes, max, 24), oneLine(l.createdBy, 60) || '-']),
  ]);
  const cats = (Object.entries(a.totals.categories) as [InsightsCategory, number][]).filter(([, b]) => b > 0).sort((x, y) => y[1] - x[1]);
  const total = cats.reduce((n, [, b]) => n + b, 0);
  out += `\n${table([['CATEGORY', 'BYTES', 'SHARE', ''], ...cats.map(([k, b]) => [k, bytes(b), `${((b / Math.max(total, 1)) * 100).toFixed(1)}%`, bar(b, total, 24)])])}`;
  if (a.pythonPackages.length > 0) out += `python packages: ${a.pythonPackages.slice(0, 8).map((p) => `${p.name} ${bytes(p.bytes)}`).join(', ')}\n`;
  if (a.findings.length === 0) out += '\nno findings\n';
  else {
    out += `\nFINDINGS (${a.findings.length}, largest saving first)\n`;
    for (const f of a.findings) {
      out += `${f.severity.toUpperCase().padEnd(8)} ${f.id}: ${f.title}\n`;
      const ev = [f.evidence.paths.slice(0, 3).join(', ') + (f.evidence.paths.length > 3 ? ` (+${f.evidence.paths.length - 3} more)` : ''), f.evidence.layers.length ? `layers ${f.evidence.layers.join(',')}` : ''].filter(Boolean).join('; ');
      if (ev) out += `         evidence: ${ev}\n`;
      out += `         fix: ${f.fix}\n`;
      if (f.saving.bytes > 0) out += `         saves: ${bytes(f.saving.bytes)} (${bytes(f.saving.compressedBytes)} to pull), ${f.saving.seconds.toFixed(1)} s per cold node\n`;
    }
  }
  for (const w of a.warnings) out += `warning: ${w}\n`;
  return out;
}

export function humanInsights(r: InsightsReport): string {
  return r.images.map((img) => humanImage(r.repository, img)).join('\n');
}

export function humanDiff(r: InsightsDiff): string {
  const d = r.diff;
  let out = `${r.a.repository}@${r.a.digest}\n -> ${r.b.repository}@${r.b.digest}\n`;
  out += `layers: ${d.layers.shared.length} shared, ${d.layers.onlyInA.length} only in A, ${d.layers.onlyInB.length} only in B\n`;
  out += `a node that has A pulls ${bytes(d.pullBytes)} to run B (${d.pullSeconds.toFixed(1)} s at the configured bandwidth)\n`;
  if (d.layers.onlyInB.length > 0) out += `\n${table([['NEW LAYER', 'COMPRESSED', 'CREATED BY'], ...d.layers.onlyInB.map((l) => [l.digest.slice(0, 19), bytes(l.compressedBytes), oneLine(l.createdBy, 70) || '-'])])}`;
  const p = d.packages;
  out += `\npackages: ${p.added.length} added, ${p.removed.length} removed, ${p.upgraded.length} upgraded\n`;
  for (const x of p.upgraded) out += `  ~ ${x.type} ${x.name} ${x.from} -> ${x.to}\n`;
  for (const x of p.added) out += `  + ${x.type} ${x.name} ${x.version}\n`;
  for (const x of p.removed) out += `  - ${x.type} ${x.name} ${x.version}\n`;
  const rows = (Object.entries(d.files.byCategory) as [InsightsCategory, InsightsDiff['diff']['files']['byCategory'][InsightsCategory]][]).filter(([, c]) => c.added + c.removed + c.changed > 0);
  out += `\n${rows.length === 0 ? 'no files changed\n' : table([['CATEGORY', 'ADDED', 'REMOVED', 'CHANGED', '+BYTES', '-BYTES'], ...rows.map(([k, c]) => [k, String(c.added), String(c.removed), String(c.changed), bytes(c.bytesAdded), bytes(c.bytesRemoved)])])}`;
  return out;
}

export function registerInsightsCommands(program: Command, io: CliIO): void {
  withClientFlags(
    program
      .command('diff <imageA> <imageB>')
      .description('what changes from image A to image B (REPO:TAG or REPO@DIGEST): layers, bytes to pull, packages, files by category')
      .option('--platform <os/arch>', 'the platform of multi-platform images (default linux/amd64)'),
  ).action(async (a: string, b: string, opts: ClientFlags & { platform?: string }) => {
    const r = await clientFor(opts, io).insightsDiff(parseImageRef(a), parseImageRef(b), opts.platform);
    print(io, opts, r, () => humanDiff(r));
  });

  withClientFlags(
    program
      .command('insights <image>')
      .description('where the bytes of an image (REPO:TAG or REPO@DIGEST) are, what to fix and what it saves; a CI gate with the --fail-on / --max-* flags (exit 4)')
      .option('--platform <os/arch>', 'one platform of a multi-platform image (default: every platform)')
      .option('--force', 'analyse again even when an analysis exists')
      .option('--fail-on <severity>', 'exit 4 when a finding is at or above: critical, high, medium, low')
      .option('--max-waste <size>', 'exit 4 when waste (overwritten + deleted + duplicated bytes) is over this, e.g. 200MB')
      .option('--min-efficiency <ratio>', "exit 4 when dive's efficiency score is under this, e.g. 0.95 or 95%")
      .option('--no-baked-weights', 'exit 4 when the image has model weights in it'),
  ).action(async (image: string, opts: ClientFlags & { platform?: string; force?: boolean; failOn?: string; maxWaste?: string; minEfficiency?: string; bakedWeights?: boolean }) => {
    const gate: Gate = {};
    if (opts.failOn !== undefined) {
      const s = opts.failOn.toLowerCase() as InsightsSeverity;
      if (!SEVERITIES.includes(s)) throw new WharfError('REQUEST_INVALID', `--fail-on takes ${SEVERITIES.join(', ')}`);
      gate.failOn = s;
    }
    if (opts.maxWaste !== undefined) gate.maxWaste = parseSize(opts.maxWaste);
    if (opts.minEfficiency !== undefined) gate.minEfficiency = parseRatio(opts.minEfficiency);
    if (opts.bakedWeights === false) gate.noBakedWeights = true;
    const { repository, reference } = parseImageRef(image);
    const report = await clientFor(opts, io).runInsights(repository, reference, { ...(opts.force ? { force: true } : {}), ...(opts.platform ? { platform: opts.platform } : {}) });
    print(io, opts, report, () => humanInsights(report));
    const failed = report.images.filter((i) => i.state !== 'done');
    for (const f of failed) io.err(`wharf: the analysis of ${f.digest} ${f.state === 'failed' ? `failed: ${f.error?.message ?? 'unknown error'}` : 'is not done'}\n`);
    const problems = report.images.flatMap((i) => (i.analysis ? gateProblems(i.analysis, gate).map((p) => `${i.platform ? `${i.platform}: ` : ''}${p}`) : []));
    for (const p of problems) io.err(`wharf: ${p}\n`);
    if (problems.length > 0) {
      io.err(`wharf: the image breaks ${problems.length} insights rule(s): failing (exit ${EXIT.policyFailed})\n`);
      io.exitCode = EXIT.policyFailed;
    } else if (failed.length > 0) io.exitCode = EXIT.failure;
  });
}
