/**
 * The auth/ stack over a migrated SqlMetadataStore, as main.ts's createAuth builds it, with a cheap
 * scrypt cost (tests log in hundreds of times) and an injectable clock.
 */
import type { HttpAuthDeps } from '../../src/http/auth-gate.js';
import { AuditLog } from '../../src/auth/audit-log.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { Authorizer } from '../../src/auth/authorizer.js';
import { IdentityService } from '../../src/auth/identity-service.js';
import { LoginThrottle, type LoginThrottleOptions } from '../../src/auth/login-throttle.js';
import { PasswordHasher } from '../../src/auth/password-hasher.js';
import { TokenService } from '../../src/auth/token-service.js';
import { SqlIdentityStore } from '../../src/storage/metadata/sql-identity-store.js';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { SqlRepositorySettingsStore } from '../../src/storage/metadata/repository-settings-store.js';

export const TEST_ADMIN_PASSWORD = 'admin-password-for-tests';

export interface AuthStackOptions {
  now?: () => number;
  throttle?: LoginThrottleOptions;
  lifetimeSeconds?: number;
  rotationSeconds?: number;
  enabled?: boolean;
  publicUrl?: string;
  /** the authenticator's cache of recent password successes (0 = off, the default here) */
  cacheTtlMs?: number;
}

export interface AuthStack extends HttpAuthDeps {
  store: SqlIdentityStore;
  hasher: PasswordHasher;
}

export async function buildAuthStack(metadata: SqlMetadataStore, options: AuthStackOptions = {}): Promise<AuthStack> {
  const now = options.now ?? Date.now;
  const store = new SqlIdentityStore(metadata.database, now);
  const settings = new SqlRepositorySettingsStore(metadata.database);
  const hasher = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 });
  const tokens = new TokenService({
    store,
    issuer: 'wharf',
    service: 'wharf',
    lifetimeSeconds: options.lifetimeSeconds ?? 300,
    rotationSeconds: options.rotationSeconds ?? 0,
    now,
  });
  await tokens.init();
  const throttle = new LoginThrottle(store, options.throttle ?? { freeFailures: 1000, baseDelayMs: 1000, maxDelayMs: 60_000 }, now);
  const identity = new IdentityService(store, hasher, now);
  await identity.bootstrapAdmin(TEST_ADMIN_PASSWORD);
  return {
    enabled: options.enabled ?? true,
    authenticator: new Authenticator({ store, hasher, throttle, tokens, refreshTokenLifetimeSeconds: 3600, now, cacheTtlMs: options.cacheTtlMs ?? 0 }),
    authorizer: new Authorizer(settings),
    tokens,
    audit: new AuditLog(store),
    identity,
    settings,
    publicUrl: options.publicUrl,
    store,
    hasher,
  };
}

export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
