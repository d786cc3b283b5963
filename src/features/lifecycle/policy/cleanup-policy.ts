import { parseArtifactRegistryPolicies, type GarPolicy } from './artifact-registry-policy.js';
import { parseEcrPolicy, type EcrPolicy } from './ecr-policy.js';
import { Problems, isObject, onlyKeys } from './problems.js';

/**
 * A repository's cleanup policy as Wharf stores it: one of the two documented formats, plus what
 * teams ask for beyond them. The body of PUT /api/v1/repositories/NAME/-/cleanup-policy:
 *
 *   { "format": "artifact-registry" | "ecr",
 *     "policy": <the gcloud policy list | the ECR lifecycle policy (object or JSON text)>,
 *     "keepPulledWithinDays": 30,     // optional: keep every image pulled in the last 30 days
 *     "keepProtectedTags": true,      // default: keep what an immutable tag points to
 *     "dryRun": false }               // true: scheduled runs only report (Artifact Registry's dry run)
 *
 * The extras are Keep rules: they win over every delete, in both formats. Problems point into
 * this body (`/policy/0/condition/olderThan`).
 */
export type PolicyFormat = 'artifact-registry' | 'ecr';

export interface CleanupPolicy {
  format: PolicyFormat;
  gar?: GarPolicy[];
  ecr?: EcrPolicy;
  keepPulledWithinDays?: number;
  keepProtectedTags: boolean;
  dryRun: boolean;
}

/** The envelope as sent (after validation), which is what GET returns and the DB keeps. */
export interface CleanupPolicyDocument {
  format: PolicyFormat;
  policy: unknown;
  keepPulledWithinDays?: number;
  keepProtectedTags?: boolean;
  dryRun?: boolean;
}

export const FORMATS: readonly PolicyFormat[] = ['artifact-registry', 'ecr'];

/** Validates a policy document; throws POLICY_INVALID listing every problem with its JSON pointer. */
export function parseCleanupPolicy(input: unknown): { policy: CleanupPolicy; document: CleanupPolicyDocument } {
  const problems = new Problems();
  if (!isObject(input)) {
    problems.add('', 'a cleanup policy is an object: {"format": "artifact-registry" | "ecr", "policy": ...}');
    problems.throwIfAny();
  }
  const v = input as Record<string, unknown>;
  onlyKeys(v, ['format', 'policy', 'keepPulledWithinDays', 'keepProtectedTags', 'dryRun'], '', problems);
  const format = v.format;
  if (format !== 'artifact-registry' && format !== 'ecr') problems.add('/format', 'is required: "artifact-registry" or "ecr"');
  if (v.policy === undefined) problems.add('/policy', 'is required: the policy document in the chosen format');
  const keepPulled = v.keepPulledWithinDays;
  if (keepPulled !== undefined && (typeof keepPulled !== 'number' || !Number.isInteger(keepPulled) || keepPulled < 1 || keepPulled > 36_500)) {
    problems.add('/keepPulledWithinDays', 'must be a whole number of days from 1 to 36500');
  }
  for (const key of ['keepProtectedTags', 'dryRun'] as const) {
    if (v[key] !== undefined && typeof v[key] !== 'boolean') problems.add(`/${key}`, 'must be true or false');
  }
  const policy: CleanupPolicy = {
    format: format === 'ecr' ? 'ecr' : 'artifact-registry',
    keepProtectedTags: v.keepProtectedTags !== false,
    dryRun: v.dryRun === true,
    ...(typeof keepPulled === 'number' ? { keepPulledWithinDays: keepPulled } : {}),
  };
  if (v.policy !== undefined) {
    if (format === 'artifact-registry') policy.gar = parseArtifactRegistryPolicies(v.policy, '/policy', problems);
    else if (format === 'ecr') policy.ecr = parseEcrPolicy(v.policy, '/policy', problems);
  }
  problems.throwIfAny();
  const document: CleanupPolicyDocument = {
    format: policy.format,
    // ECR's JSON text is kept as the object it parses to
    policy: format === 'ecr' && typeof v.policy === 'string' ? (JSON.parse(v.policy) as unknown) : v.policy,
    ...(typeof keepPulled === 'number' ? { keepPulledWithinDays: keepPulled } : {}),
    keepProtectedTags: policy.keepProtectedTags,
    dryRun: policy.dryRun,
  };
  return { policy, document };
}
