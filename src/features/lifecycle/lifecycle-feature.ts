import type { Kysely } from 'kysely';
import type { ImageStore } from '../../storage/metadata/image-store.js';
import type { SqlRepositorySettingsStore } from '../../storage/metadata/repository-settings-store.js';
import type { Database } from '../../storage/metadata/schema.js';
import { CleanupService, type LifecycleAudit } from './cleanup-service.js';
import { LifecyclePushPolicy } from './lifecycle-push-policy.js';
import { LifecycleService } from './lifecycle-service.js';
import { SqlLifecycleStore } from './sql-lifecycle-store.js';
import { TrafficCounter } from './traffic-counter.js';
import { UsageService, type Pricing } from './usage-service.js';

/**
 * The lifecycle feature's parts over the metadata DB, for the composition root (main.ts) and
 * tests: its services (repositories, cleanup policies, usage; for the API and jobs), and the push
 * policy and traffic counter the RegistryService is built with. close() writes the last counts.
 */
export interface LifecycleFeature {
  service: LifecycleService;
  cleanup: CleanupService;
  usage: UsageService;
  pushPolicy: LifecyclePushPolicy;
  traffic: TrafficCounter;
  store: SqlLifecycleStore;
  close(): Promise<void>;
}

export interface LifecycleFeatureOptions {
  database: Kysely<Database>;
  /** the core's manifest graph and conditional deletes (SqlGcStore) */
  images: Pick<ImageStore, 'imageGraph' | 'deleteManifestIf'>;
  settings: SqlRepositorySettingsStore;
  createRepositoriesOnPush: boolean;
  pricing: Pricing;
  trafficFlushMs: number;
  audit?: LifecycleAudit;
  now?: () => number;
  onError?: (err: unknown) => void;
}

export function createLifecycleFeature(o: LifecycleFeatureOptions): LifecycleFeature {
  const store = new SqlLifecycleStore(o.database, o.now);
  const traffic = new TrafficCounter(store, { flushIntervalMs: o.trafficFlushMs, now: o.now, onError: o.onError });
  const service = new LifecycleService({ settings: o.settings, store, images: o.images });
  return {
    service,
    cleanup: new CleanupService({ repositories: service, store, images: o.images, now: o.now, audit: o.audit }),
    usage: new UsageService({ settings: o.settings, store, pricing: o.pricing, now: o.now, flushTraffic: () => traffic.flush() }),
    pushPolicy: new LifecyclePushPolicy(o.settings, store, o.createRepositoriesOnPush),
    traffic,
    store,
    close: () => traffic.close(),
  };
}
