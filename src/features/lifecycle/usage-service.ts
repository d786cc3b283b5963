import { WharfError } from '../../errors/wharf-error.js';
import type { SqlRepositorySettingsStore } from '../../storage/metadata/repository-settings-store.js';
import { settingsView } from './repository-settings.js';
import { dayOf, namespacesOf, type RepositoryUsageRow, type SqlLifecycleStore, type TrafficRow } from './sql-lifecycle-store.js';

/**
 * Usage and cost (issue 5): what each repository stores (logical, unique and shared bytes), its
 * images, pulls and egress over a period (counted by TrafficCounter), its quotas with their usage,
 * and a monthly cost estimate from configured prices; registry totals, the dedup ratio and
 * namespace rollups for admins. Definitions: README "Usage and cost" and docs/configuration.md.
 */
export interface Pricing {
  /** per GiB (2^30 bytes) stored for a month, in `currency` */
  storagePerGiBMonth: number;
  /** per GiB (2^30 bytes) sent to clients */
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

/** The period: the last `days` UTC days (today included), or the UTC days `from` to `to` (YYYY-MM-DD, both included). */
export interface PeriodQuery {
  days?: number;
  from?: string;
  to?: string;
}

export interface Cost {
  storage: number;
  egress: number;
  total: number;
}

export interface RepositoryUsage {
  repository: string;
  /** Σ over its manifests of (manifest bytes + config + layers) */
  logicalBytes: number;
  /** distinct blob bytes it links (what its quota counts) */
  storedBytes: number;
  /** of storedBytes, blobs no other repository links */
  uniqueBytes: number;
  /** of storedBytes, blobs other repositories link too */
  sharedBytes: number;
  /** storedBytes with each blob split evenly among the repositories that link it */
  attributedBytes: number;
  manifestBytes: number;
  images: number;
  tags: number;
  pulls: number;
  egressBytes: number;
  quotaBytes: number | null;
  /** the quotas that apply, with their usage: the repository's own and its namespaces' */
  quotas: { scope: 'repository' | 'namespace'; name: string; quotaBytes: number; usedBytes: number }[];
  monthlyCost: Cost;
}

export interface NamespaceUsage {
  namespace: string;
  repositories: number;
  /** distinct blob bytes linked by its repositories (a blob in two of them counts once; what its quota counts) */
  storedBytes: number;
  logicalBytes: number;
  images: number;
  pulls: number;
  egressBytes: number;
  quotaBytes: number | null;
  monthlyCost: Cost;
}

export interface UsageTotals {
  repositories: number;
  images: number;
  blobs: number;
  /** every blob once, plus every manifest row */
  physicalBytes: number;
  storedBytes: number;
  logicalBytes: number;
  /** logicalBytes / physicalBytes (1 when nothing is stored) */
  dedupRatio: number;
  pulls: number;
  egressBytes: number;
  monthlyCost: Cost;
}

export interface UsageReport {
  period: { from: string; to: string; days: number };
  pricing: Pricing;
  repositories: RepositoryUsage[];
  /** admins only */
  namespaces?: NamespaceUsage[];
  /** admins only */
  totals?: UsageTotals;
}

const GiB = 2 ** 30;
const DAY = 86_400_000;
/** the longest period */
export const MAX_PERIOD_DAYS = 366;
/** a month, for scaling a period's egress to a monthly estimate */
const MONTH_DAYS = 30;

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

  /** The period's first and last UTC day; BODY_INVALID (400) with what is wrong. */
  period(q: PeriodQuery): { fromDay: number; toDay: number; days: number } {
    const today = dayOf(this.now());
    if (q.days !== undefined && (q.from !== undefined || q.to !== undefined)) {
      throw new WharfError('BODY_INVALID', 'give days, or from and to, not both');
    }
    if (q.from === undefined && q.to === undefined) {
      const days = q.days ?? 30;
      if (!Number.isInteger(days) || days < 1 || days > MAX_PERIOD_DAYS) throw new WharfError('BODY_INVALID', `days must be a whole number from 1 to ${MAX_PERIOD_DAYS}, not ${days}`);
      return { fromDay: today - days + 1, toDay: today, days };
    }
    if (q.from === undefined) throw new WharfError('BODY_INVALID', 'to needs from (a UTC date, YYYY-MM-DD)');
    const fromDay = parseDay(q.from, 'from');
    // `to` defaults to today; a period never reaches past today (there is no traffic there yet)
    const toDay = Math.min(q.to === undefined ? today : parseDay(q.to, 'to'), today);
    if (fromDay > today) throw new WharfError('BODY_INVALID', `from (${q.from}) is after today (${isoDay(today)})`);
    if (fromDay > toDay) throw new WharfError('BODY_INVALID', `from (${q.from}) is after to (${q.to})`);
    const days = toDay - fromDay + 1;
    if (days > MAX_PERIOD_DAYS) throw new WharfError('BODY_INVALID', `the period is ${days} days; at most ${MAX_PERIOD_DAYS}`);
    return { fromDay, toDay, days };
  }

  /**
   * Usage of `names` (the repositories the caller may see; undefined: all) over the period, with
   * a monthly cost estimate: attributed stored bytes plus manifest bytes at the storage price, plus
   * the period's egress scaled to 30 days at the egress price. With `admin`, registry totals
   * (physical bytes, dedup ratio) and namespace rollups over every repository.
   */
  async usage(names: readonly string[] | undefined, o: PeriodQuery & { admin: boolean }): Promise<UsageReport> {
    const { fromDay, toDay, days } = this.period(o);
    await this.flushTraffic?.().catch(() => undefined);
    const now = this.now();
    const all = o.admin ? await this.store.usage() : undefined;
    const rows = names === undefined ? (all ?? (await this.store.usage())) : await this.store.usage(names);
    const allTraffic = o.admin ? await this.store.traffic(fromDay, toDay) : undefined;
    const trafficRows = names === undefined ? (allTraffic ?? (await this.store.traffic(fromDay, toDay))) : await this.store.traffic(fromDay, toDay, names);
    const traffic = new Map(trafficRows.map((t) => [t.repository, t]));
    const settings = await this.settings.findSettings(rows.map((r) => r.repository));
    const scale = MONTH_DAYS / days;
    const cost = (storedBytes: number, egressBytes: number): Cost => {
      const storage = (storedBytes / GiB) * this.pricing.storagePerGiBMonth;
      const egress = (egressBytes / GiB) * scale * this.pricing.egressPerGiB;
      return { storage: round(storage), egress: round(egress), total: round(storage + egress) };
    };

    // namespace quotas above the repositories shown, with their usage
    const nsNames = [...new Set(rows.flatMap((r) => namespacesOf(r.repository)))];
    const nsQuota = new Map<string, { quotaBytes: number; usedBytes: number }>();
    for (const ns of await this.store.namespaces(nsNames)) {
      if (ns.quotaBytes !== null) nsQuota.set(ns.namespace, { quotaBytes: ns.quotaBytes, usedBytes: await this.store.namespaceStoredBytes(ns.namespace) });
    }

    const repositories = rows.map((r): RepositoryUsage => {
      const t = traffic.get(r.repository);
      const egressBytes = t?.egressBytes ?? 0;
      const quotaBytes = settingsView(settings.get(r.repository)).quotaBytes;
      const quotas: RepositoryUsage['quotas'] = [];
      if (quotaBytes !== null) quotas.push({ scope: 'repository', name: r.repository, quotaBytes, usedBytes: r.storedBytes });
      for (const ns of namespacesOf(r.repository)) {
        const q = nsQuota.get(ns);
        if (q) quotas.push({ scope: 'namespace', name: ns, ...q });
      }
      return {
        repository: r.repository,
        logicalBytes: r.logicalBytes,
        storedBytes: r.storedBytes,
        uniqueBytes: r.uniqueBytes,
        sharedBytes: r.storedBytes - r.uniqueBytes,
        attributedBytes: r.attributedBytes,
        manifestBytes: r.manifestBytes,
        images: r.images,
        tags: r.tags,
        pulls: t?.pulls ?? 0,
        egressBytes,
        quotaBytes,
        quotas,
        monthlyCost: cost(r.attributedBytes + r.manifestBytes, egressBytes),
      };
    });
    const period = { from: new Date(fromDay * DAY).toISOString(), to: new Date(Math.min(now, (toDay + 1) * DAY)).toISOString(), days };
    const pricing = this.pricing;
    if (!o.admin || all === undefined || allTraffic === undefined) return { period, pricing, repositories };

    const physical = await this.store.physicalBytes();
    const logical = sum(all, (r) => r.logicalBytes);
    const egressBytes = sum(allTraffic, (t) => t.egressBytes);
    const physicalBytes = physical.blobBytes + physical.manifestBytes;
    return {
      period,
      pricing,
      repositories,
      namespaces: await this.namespaceRollups(all, allTraffic, cost),
      totals: {
        repositories: all.length,
        images: sum(all, (r) => r.images),
        blobs: physical.blobs,
        physicalBytes,
        storedBytes: sum(all, (r) => r.storedBytes),
        logicalBytes: logical,
        dedupRatio: physicalBytes === 0 ? 1 : round(logical / physicalBytes),
        pulls: sum(allTraffic, (t) => t.pulls),
        egressBytes,
        monthlyCost: cost(physicalBytes, egressBytes),
      },
    };
  }

  /** Every namespace (`a` and `a/b` of `a/b/c`) with what its repositories add up to. */
  private async namespaceRollups(
    all: readonly RepositoryUsageRow[],
    traffic: readonly TrafficRow[],
    cost: (storedBytes: number, egressBytes: number) => Cost,
  ): Promise<NamespaceUsage[]> {
    const t = new Map(traffic.map((x) => [x.repository, x]));
    const groups = new Map<string, RepositoryUsageRow[]>();
    for (const r of all) {
      for (const ns of namespacesOf(r.repository)) {
        let g = groups.get(ns);
        if (!g) groups.set(ns, (g = []));
        g.push(r);
      }
    }
    const names = [...groups.keys()].sort();
    const quotas = new Map((await this.store.namespaces(names)).map((n) => [n.namespace, n.quotaBytes]));
    const out: NamespaceUsage[] = [];
    for (const ns of names) {
      const g = groups.get(ns)!;
      const egressBytes = sum(g, (r) => t.get(r.repository)?.egressBytes ?? 0);
      out.push({
        namespace: ns,
        repositories: g.length,
        storedBytes: await this.store.namespaceStoredBytes(ns),
        logicalBytes: sum(g, (r) => r.logicalBytes),
        images: sum(g, (r) => r.images),
        pulls: sum(g, (r) => t.get(r.repository)?.pulls ?? 0),
        egressBytes,
        quotaBytes: quotas.get(ns) ?? null,
        monthlyCost: cost(sum(g, (r) => r.attributedBytes + r.manifestBytes), egressBytes),
      });
    }
    return out;
  }
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  return items.reduce((n, x) => n + f(x), 0);
}

/** Costs to 1/10000 of the currency unit (the CLI shows cents). */
function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

function parseDay(s: string, what: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // Date.UTC rolls 2024-02-30 over to March: such a date is not the one given
  if (!m || Number.isNaN(t) || isoDay(t / DAY) !== s) throw new WharfError('BODY_INVALID', `${what} must be a UTC date YYYY-MM-DD, not ${JSON.stringify(s)}`);
  return t / DAY;
}

function isoDay(day: number): string {
  return new Date(day * DAY).toISOString().slice(0, 10);
}
