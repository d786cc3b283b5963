import type { JobRunner } from '../../jobs/job-runner.js';
import type { CleanupService } from './cleanup-service.js';

/**
 * Cleanup policies as background jobs (DESIGN.md "Background work"):
 * - `lifecycle.cleanup` {repository, requestedBy}: one repository's policy applied (on demand
 *   from the API, or fanned out by the schedule); keyed per repository, so a repository is never
 *   cleaned by two jobs at once;
 * - `lifecycle.cleanup-all`: fired by the schedule once across replicas; enqueues one
 *   `lifecycle.cleanup` per repository with a policy.
 * Both are idempotent: a second run finds nothing more to delete.
 */
export const CLEANUP_JOB = 'lifecycle.cleanup';
export const CLEANUP_ALL_JOB = 'lifecycle.cleanup-all';

export function cleanupJobKey(repository: string): string {
  return `cleanup:${repository}`;
}

export function registerLifecycleJobs(runner: JobRunner, service: CleanupService, options: { cleanupIntervalMs: number }): void {
  runner.register(CLEANUP_JOB, async (payload, ctx) => {
    const p = payload as { repository?: unknown; requestedBy?: unknown };
    if (typeof p.repository !== 'string') throw new Error('lifecycle.cleanup needs a repository');
    const actor = typeof p.requestedBy === 'string' ? p.requestedBy : 'lifecycle-schedule';
    try {
      const report = await service.runPolicy(p.repository, actor);
      ctx.logger.info(
        { repository: p.repository, deleted: report.deleted, selected: report.delete.length, skipped: report.skipped.length, dryRun: report.dryRun },
        report.dryRun ? 'cleanup policy dry run' : 'cleanup policy applied',
      );
    } catch (err) {
      // the repository or its policy went away since the job was queued: nothing to do
      if ((err as { code?: string }).code === 'RESOURCE_UNKNOWN') return;
      throw err;
    }
  });
  runner.register(CLEANUP_ALL_JOB, async (_payload, ctx) => {
    for (const repository of await service.repositoriesWithPolicies()) {
      ctx.signal.throwIfAborted();
      await runner.enqueue(CLEANUP_JOB, { repository, requestedBy: 'lifecycle-schedule' }, { key: cleanupJobKey(repository) });
    }
  });
  runner.every(CLEANUP_ALL_JOB, options.cleanupIntervalMs, CLEANUP_ALL_JOB);
}
