import { createHmac, randomBytes } from 'node:crypto';
import { WharfError } from '../errors/wharf-error.js';
import type { IdentityStore, PrincipalRecord } from '../storage/metadata/identity-store.js';
import type { LoginThrottle } from './login-throttle.js';
import type { PasswordHasher } from './password-hasher.js';
import { ANONYMOUS, type Principal } from './principal.js';
import { isRole, scopeFromColumns, type Binding } from './roles.js';
import { API_KEY_PREFIX, REFRESH_TOKEN_PREFIX, issueSecret, parseSecret, secretMatches } from './secret-tokens.js';
import type { TokenService } from './token-service.js';

/**
 * Credentials -> Principal. Accepts HTTP Basic with a user's password or a service account's API
 * key (as the password), and Bearer tokens from the token service. Every failure of a password or
 * key says the same thing ("invalid username or password") and takes about the same time, whether
 * or not the account exists; failures feed the LoginThrottle.
 *
 * A successful password check is remembered for `cacheTtlMs` (keyed by an HMAC of the credentials
 * under a per-process random key, and tied to the stored hash, so a password change ends it):
 * clients that send Basic on every request must not pay for scrypt on every request. Identical
 * credentials checked at the same time share one scrypt (64 connections sending the same Basic
 * header when the remembered success expires would otherwise queue 64 of them: a stall of seconds).
 *
 * Who a principal is (disabled? its password hash, its role bindings) is remembered for at most
 * PRINCIPAL_TTL_MS and forgotten as soon as this process changes any principal or role binding
 * (IdentityStore.changeCount): a disabled or deleted account, a changed password or a revoked
 * role is refused at once on the replica that made the change, and within PRINCIPAL_TTL_MS on the
 * others. API keys are looked up on every use (a revoked key is refused at once everywhere).
 */
export type Credentials = { kind: 'basic'; username: string; password: string } | { kind: 'bearer'; token: string };

export interface AuthenticatorOptions {
  store: IdentityStore;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  tokens: TokenService;
  refreshTokenLifetimeSeconds: number;
  now?: () => number;
  cacheTtlMs?: number;
}

const INVALID = 'invalid username or password';
const MAX_CACHE = 1000;
const TOUCH_EVERY_MS = 60_000;
const PRINCIPAL_TTL_MS = 1000;
const MAX_PRINCIPALS = 1000;

interface KnownPrincipal {
  record: PrincipalRecord;
  bindings: readonly Binding[];
  until: number;
  changeCount: number;
}

/** Parses an Authorization header; undefined when absent, throws UNAUTHORIZED when malformed. */
export function parseAuthorization(header: string | undefined): Credentials | undefined {
  if (header === undefined || header === '') return undefined;
  const space = header.indexOf(' ');
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const value = space === -1 ? '' : header.slice(space + 1).trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0 || value.length > 4096) throw new WharfError('UNAUTHORIZED', 'malformed Basic credentials');
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (scheme === 'bearer' && value !== '' && value.length <= 16_384) return { kind: 'bearer', token: value };
  throw new WharfError('UNAUTHORIZED', 'unsupported or malformed Authorization header');
}

export class Authenticator {
  private readonly o: AuthenticatorOptions;
  private readonly now: () => number;
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new Map<string, { principalId: number; passwordHash: string; until: number }>();
  private readonly checking = new Map<string, Promise<Principal | undefined>>();
  private readonly principals = new Map<string, KnownPrincipal>();

  constructor(options: AuthenticatorOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
  }

  /** The principal for a request's credentials (ANONYMOUS when there are none). */
  async authenticate(credentials: Credentials | undefined, address: string): Promise<Principal> {
    if (!credentials) return ANONYMOUS;
    if (credentials.kind === 'basic') return this.login(credentials.username, credentials.password, address);
    return this.fromToken(credentials.token);
  }

  /**
   * Username + password (or API key). Throws UNAUTHORIZED, or TOOMANYREQUESTS while backed off.
   * The back-off comes first, before any check of the credentials and before the cache of recent
   * successes: while an account or address is blocked, the right password and a wrong one get the
   * same refusal, so a blocked guesser learns nothing (a fast path that answered 200 to the right
   * password during a block would be a perfect oracle at full request rate).
   */
  async login(username: string, password: string, address: string): Promise<Principal> {
    const blockedMs = await this.o.throttle.blockedFor(username, address);
    if (blockedMs > 0) {
      throw new WharfError('TOOMANYREQUESTS', 'too many failed logins; try again later', { retryAfterSeconds: Math.ceil(blockedMs / 1000) });
    }
    const cached = this.cached(username, password);
    if (cached) {
      const known = await this.known('id', cached.principalId);
      if (known && !known.record.disabled && known.record.passwordHash === cached.passwordHash) return principalFrom(known, 'password');
    }
    const principal = password.startsWith(API_KEY_PREFIX)
      ? await this.checkApiKey(username, password)
      : await this.checkPasswordOnce(username, password);
    if (!principal) {
      await this.o.throttle.failure(username, address);
      throw new WharfError('UNAUTHORIZED', INVALID);
    }
    await this.o.throttle.success(username);
    return principal;
  }

  private cacheId(username: string, password: string): string {
    return createHmac('sha256', this.cacheKey).update(username).update('\0').update(password).digest('base64url');
  }

  private cached(username: string, password: string): { principalId: number; passwordHash: string } | undefined {
    const key = this.cacheId(username, password);
    const hit = this.cache.get(key);
    if (!hit) return undefined;
    if (hit.until < this.now()) {
      this.cache.delete(key);
      return undefined;
    }
    return hit;
  }

  /** checkPassword, with concurrent checks of identical credentials sharing one. */
  private checkPasswordOnce(username: string, password: string): Promise<Principal | undefined> {
    const id = this.cacheId(username, password);
    let check = this.checking.get(id);
    if (!check) {
      check = this.checkPassword(username, password).finally(() => this.checking.delete(id));
      this.checking.set(id, check);
    }
    return check;
  }

  /** A principal and its bindings, remembered briefly (see the class comment); undefined when unknown. */
  private async known(by: 'id' | 'name', value: number | string): Promise<KnownPrincipal | undefined> {
    const key = `${by}:${value}`;
    const changeCount = this.o.store.changeCount;
    const hit = this.principals.get(key);
    if (hit && hit.changeCount === changeCount && hit.until > this.now()) return hit;
    if (hit) this.principals.delete(key);
    const record = by === 'id' ? await this.o.store.findPrincipalById(value as number) : await this.o.store.findPrincipalByName(value as string);
    if (!record) return undefined;
    const known: KnownPrincipal = { record, bindings: (await this.principalOf(record, 'none')).bindings, until: this.now() + PRINCIPAL_TTL_MS, changeCount };
    if (this.principals.size >= MAX_PRINCIPALS) this.principals.delete(this.principals.keys().next().value!);
    this.principals.set(key, known);
    return known;
  }

  private async checkPassword(username: string, password: string): Promise<Principal | undefined> {
    const record = username.length <= 256 ? await this.o.store.findPrincipalByName(username) : undefined;
    if (!record || record.kind !== 'user' || record.passwordHash === null) {
      await this.o.hasher.verifyNothing(password);
      return undefined;
    }
    const ok = await this.o.hasher.verify(password, record.passwordHash);
    if (!ok || record.disabled) return undefined;
    const ttl = this.o.cacheTtlMs ?? 60_000;
    if (ttl > 0) {
      if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(this.cacheId(username, password), { principalId: record.id, passwordHash: record.passwordHash, until: this.now() + ttl });
    }
    return this.principalOf(record, 'password');
  }

  private async checkApiKey(username: string, presented: string): Promise<Principal | undefined> {
    const parsed = parseSecret(API_KEY_PREFIX, presented);
    const key = parsed ? await this.o.store.findApiKey(parsed.id) : undefined;
    if (!parsed || !key) return undefined;
    const now = this.now();
    const valid =
      secretMatches(parsed.secret, key.secretHash) &&
      key.principalName === username &&
      key.revokedAt === null &&
      (key.expiresAt === null || key.expiresAt > now);
    if (!valid) return undefined;
    const known = await this.known('id', key.principalId);
    if (!known || known.record.disabled) return undefined;
    // last-used is advisory: written at most once a minute per key, not on every request
    if (key.lastUsedAt === null || now - key.lastUsedAt > TOUCH_EVERY_MS) await this.o.store.touchApiKey(key.id, now);
    return principalFrom(known, 'api_key');
  }

  /** A bearer token: verified, then its subject looked up again (deleted or disabled = refused). */
  async fromToken(token: string): Promise<Principal> {
    const verified = await this.o.tokens.verify(token);
    if (verified.sub === '') return { ...ANONYMOUS, via: 'token', tokenAccess: verified.access };
    const known = await this.known('name', verified.sub);
    if (!known || known.record.disabled) throw new WharfError('UNAUTHORIZED', 'invalid token');
    return { ...principalFrom(known, 'token'), tokenAccess: verified.access };
  }

  async principalOf(record: PrincipalRecord, via: Principal['via']): Promise<Principal> {
    const bindings: Binding[] = [];
    for (const b of await this.o.store.listRoleBindings({ principalId: record.id })) {
      const scope = scopeFromColumns(b.scopeKind, b.scopeValue);
      if (isRole(b.role) && scope) bindings.push({ role: b.role, scope });
    }
    return { kind: record.kind, id: record.id, name: record.name, bindings, via };
  }

  /** A refresh token (OAuth2 offline access / Docker identity token) for an authenticated principal. */
  async issueRefreshToken(p: Principal): Promise<string> {
    if (p.kind === 'anonymous') throw new WharfError('UNAUTHORIZED', 'anonymous callers get no refresh token');
    const secret = issueSecret(REFRESH_TOKEN_PREFIX);
    const now = this.now();
    await this.o.store.createRefreshToken({
      id: secret.id,
      principalId: p.id,
      secretHash: secret.hash,
      createdAt: now,
      expiresAt: now + this.o.refreshTokenLifetimeSeconds * 1000,
    });
    return secret.plaintext;
  }

  /** The principal a refresh token stands for; UNAUTHORIZED when unknown, expired or its account is gone. */
  async fromRefreshToken(presented: string): Promise<Principal> {
    const parsed = parseSecret(REFRESH_TOKEN_PREFIX, presented);
    const row = parsed ? await this.o.store.findRefreshToken(parsed.id) : undefined;
    const now = this.now();
    if (!parsed || !row || !secretMatches(parsed.secret, row.secretHash) || row.expiresAt <= now) {
      throw new WharfError('UNAUTHORIZED', 'invalid refresh token');
    }
    const record = await this.o.store.findPrincipalById(row.principalId);
    if (!record || record.disabled) throw new WharfError('UNAUTHORIZED', 'invalid refresh token');
    if (row.lastUsedAt === null || now - row.lastUsedAt > TOUCH_EVERY_MS) await this.o.store.touchRefreshToken(row.id, now);
    return this.principalOf(record, 'token');
  }
}

function principalFrom(known: KnownPrincipal, via: Principal['via']): Principal {
  const { kind, id, name } = known.record;
  return { kind, id, name, bindings: known.bindings, via };
}
