import type { SqlRepositorySettingsStore } from '../../storage/metadata/repository-settings-store.js';
import { settingsView } from './repository-settings.js';
import { dayOf, type SqlLifecycleStore } from './sql-lifecycle-store.js';

/**
 * Usage and cost (issue 5): what each repository stores (logical, unique and shared bytes), its
 * images, pulls and egress over a period (counted by TrafficCounter), and a monthly cost estimate
 * from configured prices; registry totals and the dedup ratio for admins.
 */
export interface Pricing {
  /** per GiB stored for a month, in `currency` */
  storagePerGiBMonth: number;
  /** per GiB sent to clients */
  egressPerGiB: number;
  currency: string;
}

export interface UsageServiceOptions {
  settings: SqlRepositorySettingsStore;
  store: SqlLifecycleStore;
  pricing: Pricing;
  now?: () => number;
  /** writes buffered pull counts before usage is read (TrafficCounter.flush) */
  flushTraffic?: () => Promise<void>;
}

const GiB = 2 ** 30;

export class UsageService {
  private readonly settings: SqlRepositorySettingsStore;
  private readonly store: SqlLifecycleStore;
  readonly pricing: Pricing;
  private readonly now: () => number;
  private readonly flushTraffic?: () => Promise<void>;

  constructor(o: UsageServiceOptions) {
    this.settings = o.settings;
    this.store = o.store;
    this.pricing = o.pricing;
    this.now = o.now ?? Date.now;
    this.flushTraffic = o.flushTraffic;
  }

  /**
   * Usage of `names` (the repositories the caller may see) over the last `days` days, with a
   * monthly cost estimate: stored bytes (each blob's bytes split evenly among the repositories
   * that link it) at the storage price, plus the period's egress scaled to 30 days at the egress
   * price. `totals` (registry-wide, admins) adds physical bytes and the dedup ratio.
   */
  async usage(names: readonly string[] | undefined, o: { days: number; totals: boolean }) {
    await this.flushTraffic?.().catch(() => undefined);
    const now = this.now();
    const toDay = dayOf(now);
    const fromDay = toDay - o.days + 1;
    const rows = await this.store.usage(names);
    const traffic = new Map((await this.store.traffic(fromDay, toDay, names)).map((t) => [t.repository, t]));
    const settings = await this.settings.findSettings(rows.map((r) => r.repository));
    const monthly = 30 / o.days;
    const cost = (storedBytes: number, egressBytes: number) => {
      const storage = (storedBytes / GiB) * this.pricing.storagePerGiBMonth;
      const egress = (egressBytes / GiB) * monthly * this.pricing.egressPerGiB;
      return { storage: round(storage), egress: round(egress), total: round(storage + egress) };
    };
    const repositories = rows.map((r) => {
      const t = traffic.get(r.repository);
      const egressBytes = t?.egressBytes ?? 0;
      return {
        repository: r.repository,
        storedBytes: r.storedBytes,
        uniqueBytes: r.uniqueBytes,
        sharedBytes: r.storedBytes - r.uniqueBytes,
        logicalBytes: r.logicalBytes,
        images: r.images,
        tags: r.tags,
        pulls: t?.pulls ?? 0,
        egressBytes,
        quotaBytes: settingsView(settings.get(r.repository)).quotaBytes,
        monthlyCost: cost(r.attributedBytes + r.manifestBytes, egressBytes),
      };
    });
    const period = { from: new Date(fromDay * 86_400_000).toISOString(), to: new Date(now).toISOString(), days: o.days };
    const pricing = this.pricing;
    if (!o.totals) return { period, pricing, repositories };
    const physical = await this.store.physicalBytes();
    const allTraffic = names === undefined ? [...traffic.values()] : await this.store.traffic(fromDay, toDay);
    const all = names === undefined ? rows : await this.store.usage();
    const logical = all.reduce((n, r) => n + r.logicalBytes, 0);
    const stored = all.reduce((n, r) => n + r.storedBytes, 0);
    const egressBytes = allTraffic.reduce((n, t) => n + t.egressBytes, 0);
    const physicalBytes = physical.blobBytes + physical.manifestBytes;
    return {
      period,
      pricing,
      repositories,
      totals: {
        repositories: all.length,
        images: all.reduce((n, r) => n + r.images, 0),
        blobs: physical.blobs,
        physicalBytes,
        storedBytes: stored,
        logicalBytes: logical,
        /** what the images add up to, over what is stored once */
        dedupRatio: physicalBytes === 0 ? 1 : round(logical / physicalBytes),
        pulls: allTraffic.reduce((n, t) => n + t.pulls, 0),
        egressBytes,
        monthlyCost: cost(physicalBytes, egressBytes),
      },
    };
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
