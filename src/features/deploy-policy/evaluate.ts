/**
 * Judging one image against one deploy policy (pure: facts in, every rule's result out).
 * Order: the allowlist (a match admits at once, as in Binary Authorization), then the default
 * rule's evaluation mode, then Wharf's conditions. Every rule that was looked at is reported.
 */
import { evaluateCel } from './cel.js';
import type { ImageFacts } from './facts.js';

export type { ImageFacts };
import { namePatternMatches, SEVERITIES, type DeployPolicy, type Severity } from './policy.js';

export interface RuleResult {
  rule: string;
  passed: boolean;
  message: string;
}

export interface Decision {
  image: string;
  digest?: string;
  /** the scope whose policy judged the image (`none`: no policy, allowed) */
  scope: string;
  /** every rule passed */
  passed: boolean;
  /** what to do: false only when a rule failed under ENFORCED */
  allowed: boolean;
  dryRun: boolean;
  rules: RuleResult[];
}

export function evaluate(policy: DeployPolicy, scope: string, facts: ImageFacts, now: number): Decision {
  const rules: RuleResult[] = [];
  const decide = (): Decision => {
    const passed = rules.every((r) => r.passed);
    const dryRun = policy.enforcementMode === 'DRYRUN_AUDIT_LOG_ONLY';
    return { image: facts.image, ...(facts.digest ? { digest: facts.digest } : {}), scope, passed, allowed: passed || dryRun, dryRun, rules };
  };
  const allow = policy.allowlist.find((p) => namePatternMatches(p, facts.image));
  if (allow !== undefined) {
    rules.push({ rule: 'allowlist', passed: true, message: `matches admissionWhitelistPatterns ${allow}` });
    return decide();
  }
  switch (policy.evaluationMode) {
    case 'ALWAYS_ALLOW':
      rules.push({ rule: 'evaluationMode', passed: true, message: 'ALWAYS_ALLOW' });
      break;
    case 'ALWAYS_DENY':
      rules.push({ rule: 'evaluationMode', passed: false, message: 'ALWAYS_DENY: no image outside the allowlist is admitted' });
      return decide();
    case 'REQUIRE_ATTESTATION':
      for (const a of policy.requireAttestationsBy) {
        const ok = facts.attestors.includes(a);
        rules.push({ rule: `attestor:${a}`, passed: ok, message: ok ? `verified by attestor ${a}` : facts.repository ? `no signature verified by attestor ${a}` : `image is not in this registry, so attestor ${a} cannot be checked` });
      }
      break;
  }
  for (const r of policy.requireAttestations) {
    const ok = facts.attestations.some((a) => a.attestor === r.attestor && a.predicateType === r.predicateType);
    rules.push({ rule: `attestation:${r.predicateType}`, passed: ok, message: ok ? `attestation ${r.predicateType} verified by ${r.attestor}` : `no attestation ${r.predicateType} verified by ${r.attestor}` });
  }
  if (policy.noMutableLatest) {
    const bad = facts.tag === 'latest' && !facts.image.includes('@');
    rules.push({ rule: 'noMutableLatest', passed: !bad, message: bad ? 'named by the mutable tag latest without a digest' : 'not named by latest alone' });
  }
  if (policy.scannedWithinDays !== undefined) {
    const at = facts.scan?.scannedAt;
    const ok = at !== undefined && now - at <= policy.scannedWithinDays * 86_400_000;
    rules.push({
      rule: 'scannedWithinDays',
      passed: ok,
      message: at === undefined ? 'never scanned' : ok ? `scanned ${new Date(at).toISOString()}` : `last scanned ${new Date(at).toISOString()}, more than ${policy.scannedWithinDays} days ago`,
    });
  }
  if (policy.maxSeverity !== undefined) {
    const limit = SEVERITIES.indexOf(policy.maxSeverity);
    if (facts.scan === undefined) rules.push({ rule: 'maxSeverity', passed: false, message: 'never scanned, so its vulnerabilities are unknown' });
    else {
      const over = facts.scan.findings.filter((f) => SEVERITIES.indexOf(f.severity as Severity) > limit && (!policy.onlyFixable || f.fixable));
      const counts = SEVERITIES.filter((s) => SEVERITIES.indexOf(s) > limit)
        .map((s) => `${over.filter((f) => f.severity === s).length} ${s}`)
        .join(', ');
      rules.push({
        rule: 'maxSeverity',
        passed: over.length === 0,
        message: over.length === 0 ? `no ${policy.onlyFixable ? 'fixable ' : ''}finding above ${policy.maxSeverity}` : `${policy.onlyFixable ? 'fixable ' : ''}findings above ${policy.maxSeverity}: ${counts}`,
      });
    }
  }
  for (const c of policy.cel ?? []) {
    const r = evaluateCel(c.expression, facts, now);
    rules.push({ rule: `cel:${c.name}`, passed: r === true, message: r === true ? `${c.expression} is true` : `${c.expression}: ${r}` });
  }
  return decide();
}
