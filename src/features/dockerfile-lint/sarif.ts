import type { LintFinding, LintRule, Severity } from './lint-context.js';

/**
 * The findings as a SARIF 2.1.0 log (OASIS Static Analysis Results Interchange Format), the
 * format GitHub code scanning and most CI dashboards import. One run, the rules in the driver,
 * a result per finding with its region; the fix and, with --image, what the image confirmed go in
 * the result's properties. test/lint/sarif.test.ts validates it against the 2.1.0 JSON schema.
 */
const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note' };
/** GitHub code scanning reads this property (0-10) to rank security results */
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0' };

export function toSarif(findings: LintFinding[], rules: readonly LintRule[], artifact: string, toolVersion: string): object {
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const uri = artifact.split(/[\\/]/).map(encodeURIComponent).join('/');
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'wharf lint',
            version: toolVersion,
            rules: rules.map((r) => ({
              id: r.id,
              shortDescription: { text: r.title },
              fullDescription: { text: r.why },
              help: { text: `${r.title}. ${r.why}` },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { 'security-severity': SECURITY_SEVERITY[r.severity], severity: r.severity, tags: ['dockerfile', 'container'] },
            })),
          },
        },
        artifacts: [{ location: { uri } }],
        results: findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: index.get(f.rule) ?? -1,
          level: LEVEL[f.severity],
          message: { text: `${f.message}. Fix: ${f.fix}${f.confirmed ? ` (confirmed by the image: ${f.confirmed.evidence})` : ''}` },
          locations: [{ physicalLocation: { artifactLocation: { uri, index: 0 }, region: { startLine: f.line, endLine: Math.max(f.endLine, f.line) } } }],
          partialFingerprints: { 'wharfLint/v1': `${f.rule}:${f.stage}:${f.message}` },
          properties: { severity: f.severity, stage: f.stage, fix: f.fix, ...(f.confirmed ? { confirmed: f.confirmed } : {}) },
        })),
      },
    ],
  };
}
