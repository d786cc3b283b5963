import { WharfError } from '../../errors/wharf-error.js';
import type { ImageStore } from '../../storage/metadata/image-store.js';
import type { NewAuditEvent } from '../../storage/metadata/identity-store.js';
import type { RepositorySettings } from '../../storage/metadata/repository-settings-store.js';
import type { LifecycleService } from './lifecycle-service.js';
import { parseCleanupPolicy, type CleanupPolicyDocument } from './policy/cleanup-policy.js';
import { evaluatePolicy, type Decision } from './policy/evaluate-policy.js';
import { tagProtection } from './repository-settings.js';
import type { SqlLifecycleStore } from './sql-lifecycle-store.js';

/**
 * Cleanup policies (issue 5): stored per repository, validated on submission, evaluated in dry
 * runs and applied on demand and on a schedule (lifecycle-jobs.ts). Applying deletes through the
 * core's conditional delete (ImageStore.deleteManifestIf), so a manifest that an index lists, or
 * whose tags changed since the evaluation, is left alone; each deletion is audited.
 */
export interface LifecycleAudit {
  record(event: NewAuditEvent): void;
}

export interface CleanupServiceOptions {
  repositories: Pick<LifecycleService, 'mustExist'>;
  store: SqlLifecycleStore;
  images: Pick<ImageStore, 'imageGraph' | 'deleteManifestIf'>;
  now?: () => number;
  audit?: LifecycleAudit;
}

export interface DecisionView {
  digest: string;
  tags: string[];
  pushedAt: string;
  lastPulledAt: string | null;
  rule: string;
  keptBecause?: string;
}

export interface PolicyRunReport {
  repository: string;
  dryRun: boolean;
  evaluatedAt: string;
  images: number;
  /** what goes (dry run) or went, with the rule that selected it */
  delete: DecisionView[];
  /** selected by a delete rule but kept, and why */
  kept: DecisionView[];
  /** real runs: what was found changed at delete time and left alone */
  skipped: { digest: string; reason: string }[];
  deleted: number;
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export class CleanupService {
  private readonly repositories: Pick<LifecycleService, 'mustExist'>;
  private readonly store: SqlLifecycleStore;
  private readonly images: Pick<ImageStore, 'imageGraph' | 'deleteManifestIf'>;
  private readonly now: () => number;
  private readonly audit?: LifecycleAudit;

  constructor(o: CleanupServiceOptions) {
    this.repositories = o.repositories;
    this.store = o.store;
    this.images = o.images;
    this.now = o.now ?? Date.now;
    this.audit = o.audit;
  }

  private mustExist(name: string): Promise<RepositorySettings> {
    return this.repositories.mustExist(name);
  }

  async getPolicy(name: string): Promise<CleanupPolicyDocument & { updatedAt: string; updatedBy: string | null }> {
    await this.mustExist(name);
    const row = await this.store.getPolicy(name);
    if (!row) throw new WharfError('RESOURCE_UNKNOWN', `repository ${name} has no cleanup policy`);
    return { ...(JSON.parse(row.document) as CleanupPolicyDocument), updatedAt: new Date(row.updatedAt).toISOString(), updatedBy: row.updatedBy };
  }

  /** Validates (POLICY_INVALID with JSON pointers) and stores the policy. */
  async putPolicy(name: string, body: unknown, by: string): Promise<CleanupPolicyDocument & { updatedAt: string; updatedBy: string | null }> {
    const { document } = parseCleanupPolicy(body);
    await this.mustExist(name);
    if (!(await this.store.putPolicy(name, JSON.stringify(document), by))) throw new WharfError('RESOURCE_UNKNOWN', `repository ${name} does not exist`);
    return this.getPolicy(name);
  }

  async deletePolicy(name: string): Promise<void> {
    await this.mustExist(name);
    if (!(await this.store.deletePolicy(name))) throw new WharfError('RESOURCE_UNKNOWN', `repository ${name} has no cleanup policy`);
  }

  /** What the stored policy (or `body`, a policy not yet stored) would delete now. Changes nothing. */
  async dryRun(name: string, body?: unknown): Promise<PolicyRunReport> {
    const settings = await this.mustExist(name);
    const doc = body !== undefined ? parseCleanupPolicy(body).document : await this.storedDocument(name);
    return this.evaluate(name, settings, doc, true);
  }

  /**
   * Applies the stored policy: deletes what it selects, in the evaluation's order (an index
   * before its children, a subject before its referrers), each manifest only if, under lock, no
   * manifest lists it, its tags are what the evaluation saw, and — for a referrer — its subject is
   * gone (else it is skipped and reported, so a subject left alone keeps its signatures and SBOMs).
   * Referrers of a deleted subject pushed after the evaluation go too. Audited per deletion as
   * `cleanup.delete`. A policy stored with dryRun only reports.
   */
  async runPolicy(name: string, actor: string): Promise<PolicyRunReport> {
    const settings = await this.mustExist(name);
    const doc = await this.storedDocument(name);
    if (doc.dryRun === true) return this.evaluate(name, settings, doc, true);
    const report = await this.evaluate(name, settings, doc, false);
    const deleted = new Set<string>();
    const apply = async (d: DecisionView): Promise<boolean> => {
      const result = await this.images.deleteManifestIf(name, d.digest, { expectTags: d.tags, keepReferrerOfPresentSubject: true });
      if (result === 'deleted') {
        deleted.add(d.digest);
        report.deleted++;
        this.audit?.record({
          at: this.now(),
          actor,
          actorKind: 'system',
          action: 'cleanup.delete',
          repository: name,
          digest: d.digest,
          result: 'ok',
          detail: { rule: d.rule, tags: d.tags },
        });
        return true;
      }
      if (result === 'gone') deleted.add(d.digest);
      else {
        const reason =
          result === 'changed'
            ? 'its tags changed since the evaluation'
            : d.rule.startsWith('goes with its subject')
              ? 'its subject is still present'
              : 'a manifest still lists it';
        report.skipped.push({ digest: d.digest, reason });
      }
      return false;
    };
    for (const d of report.delete) await apply(d);

    // referrers pushed for a deleted subject after the evaluation (and their own referrers)
    const evaluated = new Set(report.delete.map((d) => d.digest));
    const keepProtected = doc.keepProtectedTags !== false;
    for (let round = 0; round < 8 && deleted.size > 0; round++) {
      const late = (await this.images.imageGraph(name)).filter(
        (m) =>
          m.subjectDigest !== null &&
          deleted.has(m.subjectDigest) &&
          !evaluated.has(m.digest) &&
          !(keepProtected && m.tags.some((t) => tagProtection(settings, t) !== undefined)),
      );
      if (late.length === 0) break;
      let progress = false;
      for (const m of late) {
        evaluated.add(m.digest);
        const d: DecisionView = {
          digest: m.digest,
          tags: m.tags,
          pushedAt: new Date(m.createdAt).toISOString(),
          lastPulledAt: iso(m.lastPulledAt),
          rule: `goes with its subject ${m.subjectDigest}`,
        };
        report.delete.push(d);
        if (await apply(d)) progress = true;
      }
      if (!progress) break;
    }
    return report;
  }

  /** Repositories with a stored policy (the scheduled run goes through them). */
  async repositoriesWithPolicies(): Promise<string[]> {
    return (await this.store.listPolicies()).map((p) => p.repository);
  }

  private async storedDocument(name: string): Promise<CleanupPolicyDocument> {
    const row = await this.store.getPolicy(name);
    if (!row) throw new WharfError('RESOURCE_UNKNOWN', `repository ${name} has no cleanup policy`);
    return JSON.parse(row.document) as CleanupPolicyDocument;
  }

  private async evaluate(name: string, settings: RepositorySettings, doc: CleanupPolicyDocument, dryRun: boolean): Promise<PolicyRunReport> {
    const { policy } = parseCleanupPolicy(doc);
    const now = this.now();
    const graph = await this.images.imageGraph(name);
    const result = evaluatePolicy(graph, policy, { repository: name, now, protectedTag: (tag) => tagProtection(settings, tag) });
    const view = (d: Decision): DecisionView => ({
      digest: d.digest,
      tags: d.tags,
      pushedAt: new Date(d.pushedAt).toISOString(),
      lastPulledAt: iso(d.lastPulledAt),
      rule: d.rule,
      ...(d.keptBecause !== undefined ? { keptBecause: d.keptBecause } : {}),
    });
    return {
      repository: name,
      dryRun,
      evaluatedAt: new Date(now).toISOString(),
      images: result.total,
      delete: result.delete.map(view),
      kept: result.kept.map(view),
      skipped: [],
      deleted: 0,
    };
  }

}
