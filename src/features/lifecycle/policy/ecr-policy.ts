import { wildcardMatches } from '../tag-patterns.js';
import { isObject, onlyKeys, ptr, stringList, type Problems } from './problems.js';

/** ECR's tag pattern: `*` matches any run of characters (also none); the whole tag must match. */
export const ecrPatternMatches = wildcardMatches;

/**
 * AWS ECR lifecycle policies, as `aws ecr put-lifecycle-policy --lifecycle-policy-text` takes them
 * (an object, or the same JSON as a string):
 *
 *   { "rules": [ { "rulePriority": 1, "description": "...",
 *       "selection": { "tagStatus": "tagged", "tagPatternList": ["prod*"],
 *                      "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14 },
 *       "action": { "type": "expire" } } ] }
 *
 * Rules checked as ECR documents them: unique positive rulePriority; tagStatus tagged needs
 * tagPrefixList or tagPatternList (not both), untagged and any take neither; a tagStatus any rule
 * has the highest rulePriority; only one rule selects untagged images; no two rules select the
 * same tag prefixes; at most four `*` per pattern; countUnit "days" goes with sinceImagePushed
 * (and sinceImagePulled) and is absent for imageCountMoreThan; countNumber is a positive whole
 * number; the action is expire. ECR's archive storage class (storageClass, transition,
 * sinceImageTransitioned) has no counterpart in Wharf and is refused with a message saying so.
 *
 * Checked against AWS's documentation:
 * - https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html
 *   (properties; "A rule with a tagStatus value of any must have the highest value for
 *   rulePriority"; tagged needs tagPrefixList or tagPatternList, untagged omits both; with
 *   several prefixes or patterns "only the images with all specified tags are selected"; at most
 *   four `*` per pattern: ["*test*1*2*3", "test*1*2*3*"] valid, ["test*1*2*3*4*5*6"] invalid)
 * - https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html (evaluation
 *   rules: an image is expired by one rule or none; an image that matches the tagging
 *   requirements of a rule cannot be expired by a rule with a lower priority, but lower rules
 *   still count it; only one rule may select untagged images; rules need unique tag prefixes;
 *   older images (push time) are expired before newer ones)
 * - https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html
 *   (the template and the worked examples, which test/lifecycle/policy-evaluate.test.ts replays)
 */
export type EcrTagStatus = 'tagged' | 'untagged' | 'any';
export type EcrCountType = 'imageCountMoreThan' | 'sinceImagePushed' | 'sinceImagePulled';

export interface EcrRule {
  rulePriority: number;
  description?: string;
  tagStatus: EcrTagStatus;
  tagPrefixList?: string[];
  tagPatternList?: string[];
  countType: EcrCountType;
  countNumber: number;
}

export interface EcrPolicy {
  /** sorted by rulePriority */
  rules: EcrRule[];
}

export const ECR_MAX_RULES = 50;
const TAG_CHARS = /^[A-Za-z0-9_.*-]+$/;

export function parseEcrPolicy(v: unknown, base: string, problems: Problems): EcrPolicy {
  if (typeof v === 'string') {
    // --lifecycle-policy-text is a string of JSON; accept it as sent
    try {
      v = JSON.parse(v) as unknown;
    } catch {
      problems.add(base, 'is a string but not JSON: give the lifecycle policy as an object or its JSON text');
      return { rules: [] };
    }
  }
  if (!isObject(v)) {
    problems.add(base, 'an ECR lifecycle policy is an object with a "rules" list');
    return { rules: [] };
  }
  onlyKeys(v, ['rules'], base, problems);
  const at = ptr(base, 'rules');
  if (!Array.isArray(v.rules)) {
    problems.add(at, 'is required: a list of rules');
    return { rules: [] };
  }
  if (v.rules.length === 0) problems.add(at, 'lists no rule');
  if (v.rules.length > ECR_MAX_RULES) {
    problems.add(at, `has ${v.rules.length} rules; at most ${ECR_MAX_RULES}`);
    return { rules: [] };
  }
  const rules: { rule: EcrRule; at: string }[] = [];
  v.rules.forEach((item, i) => {
    const r = parseRule(item, ptr(at, i), problems);
    if (r) rules.push({ rule: r, at: ptr(at, i) });
  });

  // priorities across every rule with a usable one, also rules with problems of their own (so one
  // round trip reports them all)
  const prioritized: { priority: number; any: boolean; at: string }[] = [];
  v.rules.forEach((item, i) => {
    if (isObject(item) && typeof item.rulePriority === 'number' && Number.isInteger(item.rulePriority) && item.rulePriority >= 1) {
      prioritized.push({ priority: item.rulePriority, any: isObject(item.selection) && item.selection.tagStatus === 'any', at: ptr(at, i) });
    }
  });
  const priorities = new Map<number, string>();
  for (const { priority, at: ra } of prioritized) {
    const other = priorities.get(priority);
    if (other !== undefined) problems.add(ptr(ra, 'rulePriority'), `${priority} is also the priority of ${other}; priorities must be unique`);
    else priorities.set(priority, ra);
  }
  const maxPriority = Math.max(...prioritized.map((r) => r.priority));
  for (const { priority, any, at: ra } of prioritized) {
    if (any && priority !== maxPriority) {
      problems.add(ptr(ra, 'rulePriority'), 'a rule with tagStatus any must have the highest rulePriority (it is evaluated last)');
    }
  }
  const untagged = rules.filter((r) => r.rule.tagStatus === 'untagged');
  for (const extra of untagged.slice(1)) {
    problems.add(ptr(ptr(extra.at, 'selection'), 'tagStatus'), `only one rule may select untagged images (${untagged[0]!.at} does already)`);
  }
  const prefixSets = new Map<string, string>();
  for (const { rule, at: ra } of rules) {
    if (!rule.tagPrefixList) continue;
    const key = [...new Set(rule.tagPrefixList)].sort().join('\u0000');
    const other = prefixSets.get(key);
    if (other !== undefined) problems.add(ptr(ptr(ra, 'selection'), 'tagPrefixList'), `selects the same tag prefixes as ${other}; each rule's prefixes must differ`);
    else prefixSets.set(key, ra);
  }
  return { rules: rules.map((r) => r.rule).sort((a, b) => a.rulePriority - b.rulePriority) };
}

function parseRule(v: unknown, at: string, problems: Problems): EcrRule | undefined {
  if (!isObject(v)) {
    problems.add(at, 'must be an object with rulePriority, selection and action');
    return undefined;
  }
  const before = problems.list.length;
  onlyKeys(v, ['rulePriority', 'description', 'selection', 'action'], at, problems);
  const priority = v.rulePriority;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 1 || priority > 1_000_000) {
    problems.add(ptr(at, 'rulePriority'), 'is required: a whole number from 1 to 1000000');
  }
  if (v.description !== undefined && (typeof v.description !== 'string' || v.description.length > 256)) {
    problems.add(ptr(at, 'description'), 'must be a string of at most 256 characters');
  }
  const actionAt = ptr(at, 'action');
  if (!isObject(v.action)) problems.add(actionAt, 'is required: {"type": "expire"}');
  else {
    onlyKeys(v.action, ['type', 'targetStorageClass'], actionAt, problems);
    if (v.action.type === 'transition' || v.action.targetStorageClass !== undefined) {
      problems.add(ptr(actionAt, 'type'), 'transition to an archive storage class is not supported by Wharf; use expire');
    } else if (v.action.type !== 'expire') problems.add(ptr(actionAt, 'type'), 'must be "expire"');
  }
  const sel = parseSelection(v.selection, ptr(at, 'selection'), problems);
  if (!sel || problems.list.length > before) return undefined;
  return {
    rulePriority: priority as number,
    ...(typeof v.description === 'string' ? { description: v.description } : {}),
    ...sel,
  };
}

function parseSelection(v: unknown, at: string, problems: Problems): Omit<EcrRule, 'rulePriority' | 'description'> | undefined {
  if (!isObject(v)) {
    problems.add(at, 'is required: an object with tagStatus, countType and countNumber');
    return undefined;
  }
  onlyKeys(v, ['tagStatus', 'tagPrefixList', 'tagPatternList', 'countType', 'countUnit', 'countNumber', 'storageClass'], at, problems);
  if (v.storageClass !== undefined && v.storageClass !== 'standard') {
    problems.add(ptr(at, 'storageClass'), 'only the standard storage class exists in Wharf');
  }
  const tagStatus = v.tagStatus;
  if (tagStatus !== 'tagged' && tagStatus !== 'untagged' && tagStatus !== 'any') {
    problems.add(ptr(at, 'tagStatus'), 'is required: tagged, untagged or any');
  }
  const hasPrefixes = v.tagPrefixList !== undefined;
  const hasPatterns = v.tagPatternList !== undefined;
  const list = { maxItems: 100, maxLength: 128 };
  const tagPrefixList = hasPrefixes
    ? stringList(v.tagPrefixList, ptr(at, 'tagPrefixList'), problems, { ...list, pattern: /^[A-Za-z0-9_.-]+$/, patternText: 'is not a tag prefix (letters, digits, _ . -)' })
    : undefined;
  const tagPatternList = hasPatterns
    ? stringList(v.tagPatternList, ptr(at, 'tagPatternList'), problems, { ...list, pattern: TAG_CHARS, patternText: 'is not a tag pattern (letters, digits, _ . - and *)' })
    : undefined;
  tagPatternList?.forEach((p, i) => {
    if ((p.match(/\*/g) ?? []).length > 4) problems.add(ptr(ptr(at, 'tagPatternList'), i), 'has more than four * wildcards');
  });
  if (tagStatus === 'tagged' && !hasPrefixes && !hasPatterns) problems.add(ptr(at, 'tagStatus'), 'tagged needs tagPrefixList or tagPatternList');
  if (hasPrefixes && hasPatterns) problems.add(ptr(at, 'tagPatternList'), 'give tagPrefixList or tagPatternList, not both');
  if (tagStatus !== 'tagged' && (hasPrefixes || hasPatterns)) {
    problems.add(ptr(at, hasPrefixes ? 'tagPrefixList' : 'tagPatternList'), `applies only to tagStatus tagged (this rule selects ${String(tagStatus)} images)`);
  }
  const countType = v.countType;
  if (countType === 'sinceImageTransitioned') problems.add(ptr(at, 'countType'), 'archive transitions are not supported by Wharf');
  else if (countType !== 'imageCountMoreThan' && countType !== 'sinceImagePushed' && countType !== 'sinceImagePulled') {
    problems.add(ptr(at, 'countType'), 'is required: imageCountMoreThan, sinceImagePushed or sinceImagePulled');
  }
  if (countType === 'imageCountMoreThan' && v.countUnit !== undefined) problems.add(ptr(at, 'countUnit'), 'must be omitted with imageCountMoreThan');
  if ((countType === 'sinceImagePushed' || countType === 'sinceImagePulled') && v.countUnit !== 'days') {
    problems.add(ptr(at, 'countUnit'), `is required with ${countType}: "days"`);
  }
  const n = v.countNumber;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1_000_000) problems.add(ptr(at, 'countNumber'), 'is required: a whole number from 1 to 1000000');
  if (
    (tagStatus !== 'tagged' && tagStatus !== 'untagged' && tagStatus !== 'any') ||
    (countType !== 'imageCountMoreThan' && countType !== 'sinceImagePushed' && countType !== 'sinceImagePulled') ||
    typeof n !== 'number'
  ) {
    return undefined;
  }
  return {
    tagStatus,
    countType,
    countNumber: n,
    ...(tagPrefixList ? { tagPrefixList } : {}),
    ...(tagPatternList ? { tagPatternList } : {}),
  };
}
