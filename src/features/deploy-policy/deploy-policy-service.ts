/**
 * Deploy policies: stored per scope (deploy_policies, migration 0050_supply_chain), chosen for
 * an image by the most specific scope, evaluated over facts the composition root provides
 * (signatures verified by features/signing, scan results of features/scan — this feature imports
 * neither). Used by `wharf deploy-policy check`, by the pull path (a policy with `enforceAtPull`)
 * and by the Kubernetes admission webhook.
 */
import type { Kysely } from 'kysely';
import { WharfError } from '../../errors/wharf-error.js';
import { parseAdmissionReview, splitImage, type AdmissionRequest } from './admission-review.js';
import { evaluate, type Decision, type ImageFacts } from './evaluate.js';
import { parseDeployPolicy, parseScope, type DeployPolicy } from './policy.js';

/** What the policy needs to know about an image of this registry; main.ts wires the features. */
export interface PolicyFactsProvider {
  /** the digest a tag names now (MANIFEST_UNKNOWN/NAME_UNKNOWN when absent) */
  resolve(repository: string, tag: string): Promise<string>;
  signatures(repository: string, digest: string): Promise<{ attestors: string[]; attestations: { attestor: string; predicateType: string }[] }>;
  /** undefined when never scanned (or scanning is off) */
  scan(repository: string, digest: string): Promise<ImageFacts['scan']>;
}

export interface StoredPolicy {
  scope: string;
  source: string;
  policy: DeployPolicy;
  updatedAt: string;
  updatedBy: string;
}

interface PolicyTables {
  deploy_policies: { scope: string; source: string; policy: string; updated_at: number; updated_by: string };
}

export interface AdmissionOutcome {
  request?: AdmissionRequest;
  allowed: boolean;
  /** the denial's message (reasons per image) */
  message?: string;
  warnings: string[];
  decisions: Decision[];
  breakGlass: boolean;
  /** why the review itself was refused (malformed) */
  refused?: string;
  uid?: string;
}

export interface DeployPolicyServiceOptions {
  database: Kysely<any>;
  facts: PolicyFactsProvider;
  /** host[:port] names under which clusters pull from this registry */
  registryHosts: string[];
  now?: () => number;
  /** how long policies are cached (other replicas' changes show within it) */
  cacheMs?: number;
}

export class DeployPolicyService {
  private readonly db: Kysely<PolicyTables>;
  private readonly facts: PolicyFactsProvider;
  private readonly hosts: Set<string>;
  private readonly now: () => number;
  private readonly cacheMs: number;
  private cache: { at: number; byScope: Map<string, StoredPolicy> } | undefined;
  /** signatures and scan facts per repository@digest, for cacheMs (admission decisions are hot) */
  private readonly factCache = new Map<string, { at: number; value: Promise<Pick<ImageFacts, 'attestors' | 'attestations' | 'scan'>> }>();

  constructor(o: DeployPolicyServiceOptions) {
    this.db = o.database as Kysely<PolicyTables>;
    this.facts = o.facts;
    this.hosts = new Set(o.registryHosts.map((h) => h.toLowerCase()));
    this.now = o.now ?? Date.now;
    this.cacheMs = o.cacheMs ?? 5000;
  }

  /**
   * Forgets cached facts of a repository (a push or delete there may add or remove signatures),
   * or of everything (attestors changed, a scan finished). Other replicas see the change when
   * their cache entry expires (cacheMs).
   */
  invalidate(repository?: string): void {
    if (repository === undefined) this.factCache.clear();
    else for (const k of this.factCache.keys()) if (k.startsWith(`${repository}@`)) this.factCache.delete(k);
  }

  private imageFacts(repository: string, digest: string): Promise<Pick<ImageFacts, 'attestors' | 'attestations' | 'scan'>> {
    const key = `${repository}@${digest}`;
    const now = this.now();
    const hit = this.factCache.get(key);
    if (hit && now - hit.at < this.cacheMs) return hit.value;
    const value = Promise.all([this.facts.signatures(repository, digest), this.facts.scan(repository, digest)]).then(([sigs, scan]) => ({ ...sigs, ...(scan ? { scan } : {}) }));
    if (this.factCache.size > 10_000) this.factCache.clear();
    this.factCache.set(key, { at: now, value });
    value.catch(() => this.factCache.delete(key));
    return value;
  }

  async list(): Promise<StoredPolicy[]> {
    return [...(await this.policies(true)).values()].sort((a, b) => a.scope.localeCompare(b.scope));
  }

  async get(scope: string): Promise<StoredPolicy> {
    const p = (await this.policies(true)).get(parseScope(scope));
    if (!p) throw new WharfError('RESOURCE_UNKNOWN', `no deploy policy for scope ${scope}`);
    return p;
  }

  /** Validates and stores (replacing); answers the stored policy. */
  async put(scope: string, source: string, by: string): Promise<StoredPolicy> {
    const s = parseScope(scope);
    const policy = parseDeployPolicy(source);
    const row = { source, policy: JSON.stringify(policy), updated_at: this.now(), updated_by: by };
    const r = await this.db.updateTable('deploy_policies').set(row).where('scope', '=', s).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      try {
        await this.db.insertInto('deploy_policies').values({ scope: s, ...row }).execute();
      } catch {
        await this.db.updateTable('deploy_policies').set(row).where('scope', '=', s).execute();
      }
    }
    this.cache = undefined;
    return this.get(s);
  }

  async delete(scope: string): Promise<void> {
    const r = await this.db.deleteFrom('deploy_policies').where('scope', '=', parseScope(scope)).executeTakeFirst();
    this.cache = undefined;
    if (Number(r.numDeletedRows) === 0) throw new WharfError('RESOURCE_UNKNOWN', `no deploy policy for scope ${scope}`);
  }

  /** The policy that judges `repository` (undefined: a foreign image, judged by the registry's `*`). */
  async policyFor(repository: string | undefined): Promise<StoredPolicy | undefined> {
    const all = await this.policies(false);
    if (repository !== undefined) {
      const exact = all.get(repository);
      if (exact) return exact;
      const parts = repository.split('/');
      for (let i = parts.length - 1; i > 0; i--) {
        const ns = all.get(`${parts.slice(0, i).join('/')}/*`);
        if (ns) return ns;
      }
    }
    return all.get('*');
  }

  /**
   * Judges one image reference: `host/repo:tag@digest` (this registry when the host is one of
   * `registryHosts`), or with `local` a reference into this registry without a host (`repo:tag`). `policy` (a document not stored) replaces the stored one: `--dry-run` of a draft.
   */
  async check(image: string, o: { policySource?: string; scope?: string; local?: boolean; mayPull?: (repository: string) => Promise<boolean> } = {}): Promise<Decision> {
    const facts = await this.factsOf(image, o.local === true, o.mayPull);
    const stored = o.policySource !== undefined ? { scope: o.scope ?? 'draft', policy: parseDeployPolicy(o.policySource) } : await this.policyFor(facts.repository);
    if (!stored) return { image, ...(facts.digest ? { digest: facts.digest } : {}), scope: 'none', passed: true, allowed: true, dryRun: false, rules: [] };
    return evaluate(stored.policy, stored.scope, facts, this.now());
  }

  /**
   * The pull-time check: undefined when the repository's policy does not ask for it (no
   * `enforceAtPull`); else the decision for `repository@digest` as named by `reference`.
   * `principal` in the policy's breakGlassPrincipals gets `breakGlass: true` (the caller audits).
   */
  async pullCheck(repository: string, digest: string, tag: string | undefined, principal: string): Promise<(Decision & { breakGlass: boolean }) | undefined> {
    const stored = await this.policyFor(repository);
    if (!stored || !stored.policy.enforceAtPull) return undefined;
    const facts: ImageFacts = { image: `${repository}${tag ? `:${tag}` : ''}@${digest}`, repository, digest, ...(tag ? { tag } : {}), ...(await this.imageFacts(repository, digest)) };
    const d = evaluate(stored.policy, stored.scope, facts, this.now());
    return { ...d, breakGlass: !d.allowed && stored.policy.breakGlassPrincipals.includes(principal) };
  }

  /** Judges an AdmissionReview (already JSON-parsed, size-checked by HTTP). */
  async admission(body: unknown, o: { mayPull?: (repository: string) => Promise<boolean> } = {}): Promise<AdmissionOutcome> {
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) {
      return { allowed: false, refused: parsed.reason, message: `wharf: ${parsed.reason}`, warnings: [], decisions: [], breakGlass: false, ...(parsed.uid ? { uid: parsed.uid } : {}) };
    }
    const req = parsed.request;
    const decisions = await Promise.all(req.images.map((img) => this.check(img, { mayPull: o.mayPull }).catch((err: unknown) => this.failed(img, err))));
    const denied = decisions.filter((d) => !d.allowed);
    const warnings = decisions
      .filter((d) => !d.passed && d.allowed)
      .map((d) => `wharf deploy policy (dry run, ${d.scope}): ${d.image} would be denied: ${failures(d)}`);
    const message = denied.length > 0 ? `wharf deploy policy denied: ${denied.map((d) => `${d.image} (${d.scope}): ${failures(d)}`).join('; ')}`.slice(0, 4000) : undefined;
    if (denied.length > 0 && req.breakGlass) {
      warnings.push(`wharf deploy policy: break-glass annotation used; admitted despite: ${message}`.slice(0, 4000));
      return { request: req, allowed: true, warnings, decisions, breakGlass: true, uid: req.uid };
    }
    return { request: req, allowed: denied.length === 0, ...(message ? { message } : {}), warnings, decisions, breakGlass: false, uid: req.uid };
  }

  /** A reference that cannot be judged is denied (never an accidental allow). */
  private failed(image: string, err: unknown): Decision {
    const reason = err instanceof WharfError ? err.message.slice(0, 200) : 'internal error';
    return { image, scope: 'error', passed: false, allowed: false, dryRun: false, rules: [{ rule: 'resolve', passed: false, message: reason }] };
  }

  /**
   * `mayPull`: whether the caller may read a repository of ours; when it may not, the image is
   * refused with the same answer whether the repository or tag exists or not.
   */
  private async factsOf(image: string, local: boolean, mayPull?: (repository: string) => Promise<boolean>): Promise<ImageFacts> {
    const ref = splitImage(local ? `registry.invalid/${image}` : image);
    if (!ref) throw new WharfError('REQUEST_INVALID', `not an image reference: ${image.slice(0, 200)}`);
    const ours = local || this.hosts.has(ref.host.toLowerCase());
    const base: ImageFacts = { image, ...(ref.tag ? { tag: ref.tag } : {}), attestors: [], attestations: [] };
    if (!ours) return base;
    const repository = ref.path;
    if (mayPull && !(await mayPull(repository))) throw new WharfError('DENIED', `the webhook's credentials may not pull ${repository}`);
    const digest = ref.digest ?? (await this.facts.resolve(repository, ref.tag!));
    return { ...base, repository, digest, ...(await this.imageFacts(repository, digest)) };
  }

  private async policies(fresh: boolean): Promise<Map<string, StoredPolicy>> {
    const now = this.now();
    if (!fresh && this.cache && now - this.cache.at < this.cacheMs) return this.cache.byScope;
    const rows = await this.db.selectFrom('deploy_policies').selectAll().execute();
    const byScope = new Map<string, StoredPolicy>();
    for (const r of rows) {
      byScope.set(r.scope, { scope: r.scope, source: r.source, policy: JSON.parse(r.policy) as DeployPolicy, updatedAt: new Date(Number(r.updated_at)).toISOString(), updatedBy: r.updated_by });
    }
    this.cache = { at: now, byScope };
    return byScope;
  }
}

export function failures(d: Decision): string {
  return d.rules
    .filter((r) => !r.passed)
    .map((r) => `${r.rule}: ${r.message}`)
    .join(', ');
}
