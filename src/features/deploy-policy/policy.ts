/**
 * The deploy policy document: YAML (or JSON) modelled on GCP Binary Authorization's policy
 * (`admissionWhitelistPatterns`, `defaultAdmissionRule` with `evaluationMode`, `enforcementMode`,
 * `requireAttestationsBy`), plus a `wharf:` block with the registry's own conditions. One policy
 * per scope: the registry (`*`), a namespace (`team-a/*`) or a repository (`team-a/app`); an image
 * is judged by the most specific policy that exists.
 *
 * ```yaml
 * admissionWhitelistPatterns:
 *   - namePattern: registry.k8s.io/**
 * defaultAdmissionRule:
 *   evaluationMode: REQUIRE_ATTESTATION      # ALWAYS_ALLOW | ALWAYS_DENY | REQUIRE_ATTESTATION
 *   enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG   # or DRYRUN_AUDIT_LOG_ONLY
 *   requireAttestationsBy: [ci]
 * wharf:
 *   maxSeverity: MEDIUM          # a finding above this (HIGH, CRITICAL) fails
 *   onlyFixable: true            # ... counting only findings with a fixed version
 *   scannedWithinDays: 7
 *   noMutableLatest: true        # `:latest` without a digest fails
 *   requireAttestations: [{ attestor: ci, predicateType: https://slsa.dev/provenance/v1 }]
 *   enforceAtPull: true          # manifests are served only when the policy passes
 *   breakGlassPrincipals: [oncall]
 *   cel:                         # CEL over the same facts (cel.ts), each must be true
 *     - name: no-fixable-high
 *       expression: image.fixable.high == 0
 * ```
 * Every problem is reported with a JSON pointer (RFC 6901) into the document.
 */
import { parse as parseYaml } from 'yaml';
import { WharfError } from '../../errors/wharf-error.js';
import { celProblem } from './cel.js';

export type EvaluationMode = 'ALWAYS_ALLOW' | 'ALWAYS_DENY' | 'REQUIRE_ATTESTATION';
export type EnforcementMode = 'ENFORCED_BLOCK_AND_AUDIT_LOG' | 'DRYRUN_AUDIT_LOG_ONLY';
export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW';
export const SEVERITIES: readonly Severity[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

export interface DeployPolicy {
  allowlist: string[];
  evaluationMode: EvaluationMode;
  enforcementMode: EnforcementMode;
  requireAttestationsBy: string[];
  maxSeverity?: Severity;
  onlyFixable: boolean;
  scannedWithinDays?: number;
  noMutableLatest: boolean;
  requireAttestations: { attestor: string; predicateType: string }[];
  enforceAtPull: boolean;
  breakGlassPrincipals: string[];
  /** CEL expressions over the image's facts (cel.ts), each must be true */
  cel: { name: string; expression: string }[];
}

export interface PolicyProblem {
  pointer: string;
  message: string;
}

const MAX_SOURCE_BYTES = 64 * 1024;
const MAX_ITEMS = 100;
const MODES: EvaluationMode[] = ['ALWAYS_ALLOW', 'ALWAYS_DENY', 'REQUIRE_ATTESTATION'];
const ENFORCEMENTS: EnforcementMode[] = ['ENFORCED_BLOCK_AND_AUDIT_LOG', 'DRYRUN_AUDIT_LOG_ONLY'];
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const esc = (t: string | number): string => String(t).replace(/~/g, '~0').replace(/\//g, '~1');

/** A scope: `*`, a namespace `a/b/*` or a repository name. */
export function parseScope(scope: string): string {
  if (scope === '*' || /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?:\/\*)?$/.test(scope)) {
    if (scope.length <= 255) return scope;
  }
  throw new WharfError('DEPLOY_POLICY_INVALID', `scope must be "*", a namespace ("team-a/*") or a repository name`, [{ pointer: '/scope', message: 'malformed scope' }]);
}

/** Parses a policy from YAML or JSON text; DEPLOY_POLICY_INVALID lists every problem. */
export function parseDeployPolicy(source: string): DeployPolicy {
  if (Buffer.byteLength(source) > MAX_SOURCE_BYTES) throw invalid([{ pointer: '', message: `the document is larger than ${MAX_SOURCE_BYTES} bytes` }]);
  let doc: unknown;
  try {
    doc = parseYaml(source, { maxAliasCount: 20, uniqueKeys: true });
  } catch (e) {
    throw invalid([{ pointer: '', message: `not YAML: ${(e as Error).message.split('\n')[0]!.slice(0, 160)}` }]);
  }
  return validateDeployPolicy(doc);
}

export function validateDeployPolicy(doc: unknown): DeployPolicy {
  const problems: PolicyProblem[] = [];
  const add = (pointer: string, message: string): void => {
    if (problems.length < 50) problems.push({ pointer, message });
  };
  if (!isObject(doc)) throw invalid([{ pointer: '', message: 'the policy must be a mapping' }]);
  only(doc, ['admissionWhitelistPatterns', 'defaultAdmissionRule', 'wharf', 'name', 'description'], '', add);

  const allowlist: string[] = [];
  const wl = doc.admissionWhitelistPatterns;
  if (wl !== undefined) {
    if (!Array.isArray(wl) || wl.length > MAX_ITEMS) add('/admissionWhitelistPatterns', `must be a list of at most ${MAX_ITEMS} {namePattern}`);
    else
      wl.forEach((p, i) => {
        const at = `/admissionWhitelistPatterns/${i}`;
        if (!isObject(p) || typeof p.namePattern !== 'string' || p.namePattern === '' || p.namePattern.length > 300) add(at, 'must be {namePattern: "<host>/<path>[*|**]"}');
        else {
          only(p, ['namePattern'], at, add);
          allowlist.push(p.namePattern);
        }
      });
  }

  let evaluationMode: EvaluationMode = 'ALWAYS_ALLOW';
  let enforcementMode: EnforcementMode = 'ENFORCED_BLOCK_AND_AUDIT_LOG';
  let requireAttestationsBy: string[] = [];
  const rule = doc.defaultAdmissionRule;
  if (rule === undefined) add('/defaultAdmissionRule', 'is required');
  else if (!isObject(rule)) add('/defaultAdmissionRule', 'must be a mapping');
  else {
    only(rule, ['evaluationMode', 'enforcementMode', 'requireAttestationsBy'], '/defaultAdmissionRule', add);
    if (!MODES.includes(rule.evaluationMode as EvaluationMode)) add('/defaultAdmissionRule/evaluationMode', `must be one of ${MODES.join(', ')}`);
    else evaluationMode = rule.evaluationMode as EvaluationMode;
    if (rule.enforcementMode !== undefined && !ENFORCEMENTS.includes(rule.enforcementMode as EnforcementMode)) add('/defaultAdmissionRule/enforcementMode', `must be one of ${ENFORCEMENTS.join(', ')}`);
    else if (rule.enforcementMode !== undefined) enforcementMode = rule.enforcementMode as EnforcementMode;
    requireAttestationsBy = names(rule.requireAttestationsBy, '/defaultAdmissionRule/requireAttestationsBy', add);
    if (evaluationMode === 'REQUIRE_ATTESTATION' && requireAttestationsBy.length === 0) add('/defaultAdmissionRule/requireAttestationsBy', 'REQUIRE_ATTESTATION needs at least one attestor');
    if (evaluationMode !== 'REQUIRE_ATTESTATION' && requireAttestationsBy.length > 0) add('/defaultAdmissionRule/requireAttestationsBy', `is only allowed with REQUIRE_ATTESTATION`);
  }

  const policy: DeployPolicy = {
    allowlist,
    evaluationMode,
    enforcementMode,
    requireAttestationsBy,
    onlyFixable: false,
    noMutableLatest: false,
    requireAttestations: [],
    enforceAtPull: false,
    breakGlassPrincipals: [],
    cel: [],
  };
  const w = doc.wharf;
  if (w !== undefined) {
    if (!isObject(w)) add('/wharf', 'must be a mapping');
    else {
      only(w, ['maxSeverity', 'onlyFixable', 'scannedWithinDays', 'noMutableLatest', 'requireAttestations', 'enforceAtPull', 'breakGlassPrincipals', 'cel'], '/wharf', add);
      if (w.maxSeverity !== undefined) {
        const s = typeof w.maxSeverity === 'string' ? (w.maxSeverity.toUpperCase() as Severity) : undefined;
        if (!s || !SEVERITIES.includes(s)) add('/wharf/maxSeverity', `must be one of ${SEVERITIES.join(', ')}`);
        else policy.maxSeverity = s;
      }
      for (const k of ['onlyFixable', 'noMutableLatest', 'enforceAtPull'] as const) {
        if (w[k] !== undefined && typeof w[k] !== 'boolean') add(`/wharf/${k}`, 'must be true or false');
        else if (w[k] !== undefined) policy[k] = w[k] as boolean;
      }
      if (policy.onlyFixable && policy.maxSeverity === undefined) add('/wharf/onlyFixable', 'needs maxSeverity');
      if (w.scannedWithinDays !== undefined) {
        if (typeof w.scannedWithinDays !== 'number' || !Number.isInteger(w.scannedWithinDays) || w.scannedWithinDays < 1 || w.scannedWithinDays > 3650) add('/wharf/scannedWithinDays', 'must be a whole number of days, 1 to 3650');
        else policy.scannedWithinDays = w.scannedWithinDays;
      }
      if (w.requireAttestations !== undefined) {
        if (!Array.isArray(w.requireAttestations) || w.requireAttestations.length > MAX_ITEMS) add('/wharf/requireAttestations', 'must be a list of {attestor, predicateType}');
        else
          w.requireAttestations.forEach((r, i) => {
            const at = `/wharf/requireAttestations/${i}`;
            if (!isObject(r) || typeof r.attestor !== 'string' || !NAME_RE.test(r.attestor) || typeof r.predicateType !== 'string' || r.predicateType === '' || r.predicateType.length > 300) {
              add(at, 'must be {attestor: <name>, predicateType: <URI>}');
            } else {
              only(r, ['attestor', 'predicateType'], at, add);
              policy.requireAttestations.push({ attestor: r.attestor, predicateType: r.predicateType });
            }
          });
      }
      if (w.cel !== undefined) {
        if (!Array.isArray(w.cel) || w.cel.length > 20) add('/wharf/cel', 'must be a list of at most 20 {name, expression}');
        else
          w.cel.forEach((c, i) => {
            const at = `/wharf/cel/${i}`;
            if (!isObject(c) || typeof c.name !== 'string' || !NAME_RE.test(c.name) || typeof c.expression !== 'string' || c.expression === '') {
              add(at, 'must be {name: <lower-case name>, expression: <CEL>}');
              return;
            }
            only(c, ['name', 'expression'], at, add);
            const problem = celProblem(c.expression);
            if (problem) add(`${at}/expression`, problem);
            else policy.cel.push({ name: c.name, expression: c.expression });
          });
      }
      if (w.breakGlassPrincipals !== undefined) policy.breakGlassPrincipals = names(w.breakGlassPrincipals, '/wharf/breakGlassPrincipals', add, /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/);
    }
  }
  if (problems.length > 0) throw invalid(problems);
  return policy;
}

function names(v: unknown, at: string, add: (p: string, m: string) => void, re = NAME_RE): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_ITEMS) {
    add(at, `must be a list of at most ${MAX_ITEMS} names`);
    return [];
  }
  const out: string[] = [];
  v.forEach((n, i) => {
    if (typeof n !== 'string' || !re.test(n)) add(`${at}/${i}`, 'is not a valid name');
    else out.push(n);
  });
  return out;
}

function only(obj: Record<string, unknown>, allowed: string[], at: string, add: (p: string, m: string) => void): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) add(`${at}/${esc(k)}`, `unknown field ${JSON.stringify(k.slice(0, 64))}; expected one of ${allowed.join(', ')}`);
}

function invalid(problems: PolicyProblem[]): WharfError {
  const first = problems.slice(0, 3).map((p) => `${p.pointer || '/'}: ${p.message}`);
  return new WharfError('DEPLOY_POLICY_INVALID', `deploy policy invalid: ${first.join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}`, problems);
}

/** Binary Authorization's name patterns: `*` within one path segment, `**` across segments; else exact. */
export function namePatternMatches(pattern: string, image: string): boolean {
  const name = image.replace(/@sha256:[0-9a-f]{64}$/, '');
  const re = new RegExp(`^${pattern.split('**').map((p) => p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('.*')}$`);
  if (re.test(name)) return true;
  // a pattern without a tag matches every tag of the name
  return re.test(name.replace(/:[^/:]+$/, ''));
}
