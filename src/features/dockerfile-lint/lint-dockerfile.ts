import { parseDockerfile } from './dockerfile-model.js';
import { LintContext, SEVERITIES, type LintFinding, type LintRule, type Severity } from './lint-context.js';
import { aptListsNotRemoved, aptNoInstallRecommends, baseImageUnpinned, copyContextBeforeInstall, cudaDevelFinal, pipNoCacheDir } from './rules-build.js';
import { addUrl, finalUserMissing, finalUserRoot, secretInBuild, shellFormCommand, weightsInImage } from './rules-runtime.js';

/**
 * `wharf lint`: a Dockerfile in, findings out. Pure: no I/O, no server. The rules catch before
 * the build what the image analysis (docs/insights.md) finds after it; docs/lint.md lists them.
 */
export const LINT_RULES: readonly LintRule[] = [
  baseImageUnpinned,
  cudaDevelFinal,
  pipNoCacheDir,
  aptNoInstallRecommends,
  aptListsNotRemoved,
  copyContextBeforeInstall,
  weightsInImage,
  addUrl,
  secretInBuild,
  finalUserRoot,
  finalUserMissing,
  shellFormCommand,
];

export interface LintReport {
  findings: LintFinding[];
  summary: Record<Severity, number>;
}

/** Throws WharfError('REQUEST_INVALID') for input that is not a Dockerfile (see dockerfile-model.ts). */
export function lintDockerfile(input: Buffer | string): LintReport {
  const ctx = new LintContext(parseDockerfile(input));
  const findings = LINT_RULES.flatMap((r) => r.check(ctx)).sort((a, b) => a.line - b.line || a.rule.localeCompare(b.rule));
  return { findings, summary: summarize(findings) };
}

export function summarize(findings: LintFinding[]): Record<Severity, number> {
  const summary = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const f of findings) summary[f.severity]++;
  return summary;
}

/** true when a finding is at or above `threshold` */
export function failsAt(findings: LintFinding[], threshold: Severity): boolean {
  const limit = SEVERITIES.indexOf(threshold);
  return findings.some((f) => SEVERITIES.indexOf(f.severity) <= limit);
}

export { SEVERITIES, type LintFinding, type LintRule, type Severity };
