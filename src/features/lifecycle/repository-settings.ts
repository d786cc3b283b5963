import type { RepositorySettings } from '../../storage/metadata/repository-settings-store.js';
import { wildcardMatches } from './tag-patterns.js';

/**
 * The rule that makes `tag` immutable under these settings, as text for the error and the audit,
 * or undefined when the tag may move: immutableTags on, and no exclusion pattern matches the tag
 * (ECR's IMMUTABLE_WITH_EXCLUSION: `*` wildcards over the whole tag, e.g. `dev-*`, `latest`).
 */
export function tagProtection(settings: RepositorySettings | undefined, tag: string): string | undefined {
  if (settings?.immutableTags !== true) return undefined;
  const exclusions = settings.immutableTagExclusions ?? [];
  if (exclusions.some((p) => wildcardMatches(p, tag))) return undefined;
  return exclusions.length > 0 ? `immutableTags; the tag matches no exclusion of ${exclusions.join(', ')}` : 'immutableTags';
}

/** The settings as the API shows them: every key, with its default when unset. */
export interface RepositorySettingsView {
  description: string;
  labels: Record<string, string>;
  public: boolean;
  immutableTags: boolean;
  immutableTagExclusions: string[];
  quotaBytes: number | null;
  scanOnPush: boolean;
  indexOnPush: boolean;
}

export function settingsView(s: RepositorySettings | undefined): RepositorySettingsView {
  return {
    description: typeof s?.description === 'string' ? s.description : '',
    labels: s?.labels && typeof s.labels === 'object' ? { ...s.labels } : {},
    public: s?.public === true,
    immutableTags: s?.immutableTags === true,
    immutableTagExclusions: Array.isArray(s?.immutableTagExclusions) ? [...s.immutableTagExclusions] : [],
    quotaBytes: typeof s?.quotaBytes === 'number' ? s.quotaBytes : null,
    scanOnPush: s?.scanOnPush === true,
    indexOnPush: s?.indexOnPush === true,
  };
}
