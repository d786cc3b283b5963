import type { Digest } from '../../domain/digest.js';
import { formatByteSize } from '../../domain/byte-size.js';
import { WharfError } from '../../errors/wharf-error.js';
import type { PushPolicy } from '../../registry/push-policy.js';
import type { SqlRepositorySettingsStore } from '../../storage/metadata/repository-settings-store.js';
import { tagProtection } from './repository-settings.js';
import { namespacesOf, type SqlLifecycleStore } from './sql-lifecycle-store.js';

/**
 * The push path's questions (registry/push-policy.ts), answered from repository settings and
 * namespace settings:
 * - implicit creation: a push may create a repository unless the nearest namespace that says so,
 *   else `lifecycle.createRepositoriesOnPush`, forbids it;
 * - quotas, per repository and per namespace, counted once per distinct blob: a blob the
 *   repository (namespace) already links adds nothing. Checked before the bytes are published.
 *   Concurrent pushes are each checked against the usage before any of them committed, so
 *   together they may overshoot by at most what they push at that moment;
 * - immutable tags.
 */
export class LifecyclePushPolicy implements PushPolicy {
  constructor(
    private readonly settings: SqlRepositorySettingsStore,
    private readonly store: SqlLifecycleStore,
    private readonly createOnPush: boolean,
  ) {}

  async checkRepository(repository: string, options: { quota?: boolean } = {}): Promise<void> {
    const s = (await this.settings.findSettings([repository])).get(repository);
    const namespaces = await this.store.namespaces(namespacesOf(repository));
    if (!s) {
      // nearest namespace with an opinion wins, then the registry-wide default
      const nearest = [...namespaces].reverse().find((n) => n.createOnPush !== null);
      const allowed = nearest ? nearest.createOnPush === true : this.createOnPush;
      if (!allowed) {
        throw new WharfError(
          'NAME_UNKNOWN',
          `repository ${repository} does not exist and pushes may not create repositories ${nearest ? `in namespace ${nearest.namespace}` : 'in this registry'}: create it first (wharf repo create ${repository})`,
        );
      }
    }
    if (!options.quota) return;
    if (typeof s?.quotaBytes === 'number') {
      const used = await this.store.repositoryStoredBytes(repository);
      if (used >= s.quotaBytes) throw quotaError('repository', repository, s.quotaBytes, used, 0);
    }
    for (const ns of namespaces) {
      if (ns.quotaBytes === null) continue;
      const used = await this.store.namespaceStoredBytes(ns.namespace);
      if (used >= ns.quotaBytes) throw quotaError('namespace', ns.namespace, ns.quotaBytes, used, 0);
    }
  }

  async checkBlob(repository: string, digest: Digest, size: number): Promise<void> {
    const s = (await this.settings.findSettings([repository])).get(repository);
    if (typeof s?.quotaBytes === 'number' && !(await this.store.repositoryHasBlob(repository, digest))) {
      const used = await this.store.repositoryStoredBytes(repository);
      if (used + size > s.quotaBytes) throw quotaError('repository', repository, s.quotaBytes, used, size);
    }
    for (const ns of await this.store.namespaces(namespacesOf(repository))) {
      if (ns.quotaBytes === null || (await this.store.namespaceHasBlob(ns.namespace, digest))) continue;
      const used = await this.store.namespaceStoredBytes(ns.namespace);
      if (used + size > ns.quotaBytes) throw quotaError('namespace', ns.namespace, ns.quotaBytes, used, size);
    }
  }

  async tagProtection(repository: string, tag: string): Promise<string | undefined> {
    return tagProtection((await this.settings.findSettings([repository])).get(repository), tag);
  }
}

function quotaError(kind: 'repository' | 'namespace', name: string, limit: number, used: number, adding: number): WharfError {
  const what = adding > 0 ? `pushing ${formatByteSize(adding)} would take ${kind} ${name} to ${formatByteSize(used + adding)}` : `${kind} ${name} uses ${formatByteSize(used)}`;
  return new WharfError('QUOTA_EXCEEDED', `${what}, over its quota of ${formatByteSize(limit)}; delete images (or ask an admin for more) and push again`, {
    quota: kind,
    name,
    limitBytes: limit,
    usedBytes: used,
    pushBytes: adding,
  });
}
