import type { IdentityStore } from '../storage/metadata/identity-store.js';

/**
 * Back-off for failed logins, per account name and per client address, kept in the DB
 * (login_failures) so it holds across replicas and restarts. The first `freeFailures` failures
 * cost nothing; each further one doubles the wait, from `baseDelayMs` up to `maxDelayMs`. While a
 * key is blocked, logins on it are refused without checking the password (429 with Retry-After).
 * Account keys count for names that do not exist too, so the answers never tell which exist.
 * A success clears the account's count, not the address's: one valid account must not let an
 * address reset its budget while guessing others.
 */
export interface LoginThrottleOptions {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_THROTTLE: LoginThrottleOptions = { freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 15 * 60 * 1000 };

export class LoginThrottle {
  constructor(
    private readonly store: IdentityStore,
    private readonly options: LoginThrottleOptions = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  backoffMs(failures: number): number {
    const over = failures - this.options.freeFailures;
    if (over <= 0) return 0;
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(over - 1, 30));
  }

  private keys(account: string, address: string): string[] {
    return [`account:${account.slice(0, 256)}`, `address:${address.slice(0, 64)}`];
  }

  /** Milliseconds until a login may be tried again, or 0. */
  async blockedFor(account: string, address: string): Promise<number> {
    const now = this.now();
    const rows = await this.store.findLoginFailures(this.keys(account, address));
    return Math.max(0, ...rows.map((r) => r.blockedUntil - now));
  }

  async failure(account: string, address: string): Promise<void> {
    const at = this.now();
    for (const key of this.keys(account, address)) await this.store.recordLoginFailure(key, at, (n) => this.backoffMs(n));
  }

  async success(account: string): Promise<void> {
    await this.store.clearLoginFailures([`account:${account.slice(0, 256)}`]);
  }
}
