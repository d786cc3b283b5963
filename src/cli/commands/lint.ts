import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { InsightsReport } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import { crossCheck, type ImageEvidence } from '../../features/dockerfile-lint/cross-check.js';
import { MAX_DOCKERFILE_BYTES } from '../../features/dockerfile-lint/dockerfile-model.js';
import { failsAt, LINT_RULES, lintDockerfile, SEVERITIES, summarize, type LintFinding, type Severity } from '../../features/dockerfile-lint/lint-dockerfile.js';
import { toSarif } from '../../features/dockerfile-lint/sarif.js';
import { EXIT, type CliIO } from '../io.js';
import { clientFor, DEFAULT_SERVER } from './client-context.js';
import { parseImageRef } from './scan.js';

/**
 * `wharf lint PATH [--output text|json|sarif] [--fail-on SEVERITY] [--image REPO:TAG]`.
 * Lints locally (features/dockerfile-lint, no server); `-` reads the Dockerfile from standard
 * input. With --image the findings are cross-checked against the pushed image's insights
 * analysis (the only part that talks to a server). Exit codes: 0 nothing at or above
 * --fail-on (default low: any finding), 4 findings, 2 usage or a file that is not a Dockerfile,
 * 1 other failures (e.g. the server for --image).
 */
interface LintOptions {
  output: string;
  failOn: string;
  image?: string;
  platform?: string;
  server?: string;
}


const VERSION = '0.1.0';

export function registerLintCommand(program: Command, io: CliIO): void {
  program
    .command('lint <dockerfile>')
    .description('lint a Dockerfile for what makes ML images big, slow or unsafe (- reads standard input)')
    .option('--output <format>', 'text, json or sarif', 'text')
    .option('--fail-on <severity>', 'exit 4 when a finding is at or above: critical, high, medium, low, or none', 'low')
    .option('--image <image>', "cross-check the findings against a pushed image's insights analysis (REPO:TAG or REPO@DIGEST)")
    .option('--platform <os/arch>', 'with --image, for a multi-platform image (default linux/amd64, else the first)')
    .option('--server <url>', `registry URL for --image (default: $WHARF_SERVER or ${DEFAULT_SERVER})`)
    .action(async (path: string, opts: LintOptions) => {
      if (!['text', 'json', 'sarif'].includes(opts.output)) throw new WharfError('REQUEST_INVALID', '--output takes text, json or sarif');
      const failOn = opts.failOn.toLowerCase();
      if (failOn !== 'none' && !SEVERITIES.includes(failOn as Severity)) throw new WharfError('REQUEST_INVALID', `--fail-on takes ${SEVERITIES.join(', ')} or none`);
      const label = path === '-' ? 'stdin' : path;
      const report = lintDockerfile(await readDockerfile(path, io));
      let findings = report.findings;
      if (opts.image !== undefined) {
        findings = crossCheck(findings, await imageEvidence(opts.image, opts, io), opts.image);
      }
      const summary = summarize(findings);
      if (opts.output === 'sarif') io.out(`${JSON.stringify(toSarif(findings, LINT_RULES, label, VERSION), null, 2)}\n`);
      else if (opts.output === 'json') io.out(`${JSON.stringify({ path: label, ...(opts.image ? { image: opts.image } : {}), summary, findings }, null, 2)}\n`);
      else io.out(human(label, findings, summary));
      if (failOn !== 'none' && failsAt(findings, failOn as Severity)) {
        if (opts.output === 'text') io.err(`wharf: findings at or above ${failOn}: failing (exit ${EXIT.policyFailed})\n`);
        io.exitCode = EXIT.policyFailed;
      }
    });
}

/** The image's insights analysis (its InsightsAnalysis is an ImageEvidence): analysed now if it was not; the server reuses stored analyses. */
async function imageEvidence(image: string, opts: LintOptions, io: CliIO): Promise<ImageEvidence> {
  const { repository, reference } = parseImageRef(image);
  let answer: InsightsReport;
  try {
    answer = await clientFor(opts, io).runInsights(repository, reference, opts.platform ? { platform: opts.platform } : {});
  } catch (err) {
    throw new Error(`cannot cross-check with ${image}: ${(err as Error).message}`, { cause: err });
  }
  const one = answer.images.find((i) => i.platform === (opts.platform ?? 'linux/amd64')) ?? answer.images[0];
  if (!one || one.state !== 'done' || !one.analysis) {
    throw new Error(`cannot cross-check with ${image}: its analysis is ${one ? `${one.state}${one.error ? ` (${one.error.message})` : ''}` : 'missing'}`);
  }
  return one.analysis;
}

/** The file's bytes, or standard input through a real pipe for `-`; bounded either way. */
async function readDockerfile(path: string, io: CliIO): Promise<Buffer | string> {
  if (path === '-') return io.readStdin(MAX_DOCKERFILE_BYTES);
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new WharfError('REQUEST_INVALID', `${path} is not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof WharfError) throw err;
    throw new WharfError('REQUEST_INVALID', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (size > MAX_DOCKERFILE_BYTES) throw new WharfError('REQUEST_INVALID', `${path} is ${size} bytes, over the ${MAX_DOCKERFILE_BYTES}-byte limit of a Dockerfile`);
  return readFileSync(path);
}

function human(label: string, findings: LintFinding[], summary: Record<Severity, number>): string {
  if (findings.length === 0) return `${label}: no findings\n`;
  let out = '';
  for (const f of findings) {
    out += `${label}:${f.line} ${f.rule} ${f.severity} ${f.message}\n  fix: ${f.fix}\n`;
    // the evidence names the size already; JSON and SARIF carry the exact bytes
    if (f.confirmed) out += `  confirmed: ${f.confirmed.evidence}\n`;
  }
  const confirmed = findings.filter((f) => f.confirmed).length;
  out += `\n${findings.length} finding${findings.length === 1 ? '' : 's'}: ${SEVERITIES.map((s) => `${summary[s]} ${s}`).join(', ')}${confirmed > 0 ? `; ${confirmed} confirmed by the image` : ''}\n`;
  return out;
}
