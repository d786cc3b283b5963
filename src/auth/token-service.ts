import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTHeaderParameters } from 'jose';
import { WharfError } from '../errors/wharf-error.js';
import type { IdentityStore, SigningKeyRecord } from '../storage/metadata/identity-store.js';
import type { TokenAccess } from './docker-scope.js';

/**
 * Bearer tokens of the Docker token protocol (distribution/docs/spec/auth/jwt.md): JWTs signed
 * with ES256 (asymmetric: replicas and tools can verify with the public key alone, and a verifier
 * cannot mint). Claims: iss, aud (the service), sub (principal name, "" for anonymous), iat, nbf,
 * exp, jti, and `access` — the granted subset of the requested scopes.
 *
 * Keys live in the DB (signing_keys), so every replica signs and verifies with the same set and a
 * restart keeps tokens valid. Rotation inserts a new key and retires the others, which keep
 * verifying for one token lifetime (+ leeway), so no token in flight is cut short; `kid` in the
 * header says which key signed. Only ES256 is accepted: `alg: none`, HS256 (with the public key
 * as the secret) or any other algorithm fails verification before a key is even chosen.
 *
 * A verified token is remembered by its exact string (bounded, least recently used goes first)
 * until its `exp` or its key's end of verification, whichever comes first — never past either:
 * clients send the same token on every request until it expires, and an ES256 verification costs
 * more than the rest of a manifest GET. Only the signature and claims are remembered; who the
 * subject is and what it may do is looked up by the Authenticator on every request.
 */
export interface TokenServiceOptions {
  store: IdentityStore;
  issuer: string;
  /** the `service` of the challenge and the token's audience */
  service: string;
  lifetimeSeconds: number;
  /** a key older than this is replaced on the next issue; 0 = only on request */
  rotationSeconds: number;
  now?: () => number;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
}

export interface VerifiedToken {
  sub: string;
  access: TokenAccess[];
  jti: string;
}

interface LoadedKey {
  record: SigningKeyRecord;
  publicKey: CryptoKey | Uint8Array;
  privateKey: CryptoKey | Uint8Array | undefined;
}

const ALG = 'ES256';
const LEEWAY_SECONDS = 30;
const RELOAD_AFTER_MS = 5000;
const VERIFIED_CACHE_MAX = 4096;

export class TokenService {
  private readonly options: TokenServiceOptions;
  private readonly now: () => number;
  private keys = new Map<string, LoadedKey>();
  private active: LoadedKey | undefined;
  private lastReload = 0;
  private rotating: Promise<void> | undefined;
  private readonly verified = new Map<string, { token: VerifiedToken; until: number }>();

  constructor(options: TokenServiceOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  get service(): string {
    return this.options.service;
  }

  get lifetimeSeconds(): number {
    return this.options.lifetimeSeconds;
  }

  /** Loads the keys; creates the first one on a fresh DB. */
  async init(): Promise<void> {
    await this.reload();
    if (!this.active) await this.rotate();
  }

  /** Makes a new signing key; the previous ones verify for one more token lifetime. */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const privateJwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const now = this.now();
    await this.options.store.rotateSigningKey(
      {
        kid,
        algorithm: ALG,
        privateJwk: JSON.stringify(privateJwk),
        publicJwk: JSON.stringify({ ...publicJwk, kid, alg: ALG, use: 'sig' }),
        createdAt: now,
        retiredAt: null,
        verifyUntil: null,
      },
      now + (this.options.lifetimeSeconds + LEEWAY_SECONDS) * 1000,
    );
    await this.options.store.deleteSigningKeysVerifiableBefore(now);
    await this.reload();
    this.verified.clear();
    return kid;
  }

  private async reload(): Promise<void> {
    this.lastReload = this.now();
    const keys = new Map<string, LoadedKey>();
    let active: LoadedKey | undefined;
    for (const record of await this.options.store.listSigningKeys()) {
      if (record.algorithm !== ALG) continue;
      const loaded: LoadedKey = {
        record,
        publicKey: await importJWK(JSON.parse(record.publicJwk) as JWK, ALG),
        privateKey: record.retiredAt === null ? await importJWK(JSON.parse(record.privateJwk) as JWK, ALG) : undefined,
      };
      keys.set(record.kid, loaded);
      if (record.retiredAt === null && (!active || record.createdAt >= active.record.createdAt)) active = loaded;
    }
    this.keys = keys;
    this.active = active;
  }

  async issue(sub: string, access: TokenAccess[]): Promise<IssuedToken> {
    const rotation = this.options.rotationSeconds;
    if (!this.active || (rotation > 0 && this.now() - this.active.record.createdAt > rotation * 1000)) {
      this.rotating ??= this.rotate()
        .then(() => undefined)
        .finally(() => {
          this.rotating = undefined;
        });
      await this.rotating;
    }
    const key = this.active;
    if (!key?.privateKey) throw new WharfError('INTERNAL', 'no token signing key');
    const nowSec = Math.floor(this.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: ALG, kid: key.record.kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.service)
      .setSubject(sub)
      .setIssuedAt(nowSec)
      .setNotBefore(nowSec)
      .setExpirationTime(nowSec + this.options.lifetimeSeconds)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresIn: this.options.lifetimeSeconds, issuedAt: new Date(nowSec * 1000).toISOString() };
  }

  /** Throws UNAUTHORIZED for any token that is not one of ours, unexpired, for this service. */
  async verify(token: string): Promise<VerifiedToken> {
    const hit = this.verified.get(token);
    if (hit) {
      this.verified.delete(token); // re-inserted below: Map order is the recency order
      if (hit.until > this.now()) {
        this.verified.set(token, hit);
        return hit.token;
      }
    }
    let key: LoadedKey | undefined;
    try {
      const { payload } = await jwtVerify(token, async (header) => (key = await this.keyFor(header)).publicKey, {
        algorithms: [ALG],
        issuer: this.options.issuer,
        audience: this.options.service,
        clockTolerance: LEEWAY_SECONDS,
        currentDate: new Date(this.now()),
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      });
      const access = parseAccessClaim(payload.access);
      if (access === undefined || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') {
        throw new WharfError('UNAUTHORIZED', 'token has a malformed access claim');
      }
      const verified = { sub: payload.sub, access, jti: payload.jti };
      const until = Math.min(payload.exp! * 1000, key?.record.verifyUntil ?? Infinity);
      if (until > this.now()) {
        if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
        this.verified.set(token, { token: verified, until });
      }
      return verified;
    } catch (err) {
      if (err instanceof WharfError) throw err;
      const code = (err as { code?: string }).code;
      const why = code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'invalid token';
      throw new WharfError('UNAUTHORIZED', why, { tokenError: code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid' });
    }
  }

  private async keyFor(header: JWTHeaderParameters): Promise<LoadedKey> {
    const kid = header.kid;
    if (typeof kid !== 'string' || kid.length > 100) throw new WharfError('UNAUTHORIZED', 'invalid token');
    let key = this.keys.get(kid);
    // another replica may have rotated: look again, but not more than every few seconds
    if (!key && this.now() - this.lastReload > RELOAD_AFTER_MS) {
      await this.reload();
      key = this.keys.get(kid);
    }
    if (!key || (key.record.verifyUntil !== null && key.record.verifyUntil < this.now())) {
      throw new WharfError('UNAUTHORIZED', 'invalid token');
    }
    return key;
  }

  /** JWKS of the keys that still verify (GET /auth/jwks.json), for other verifiers. */
  jwks(): { keys: JWK[] } {
    const now = this.now();
    return {
      keys: [...this.keys.values()]
        .filter((k) => k.record.verifyUntil === null || k.record.verifyUntil >= now)
        .map((k) => JSON.parse(k.record.publicJwk) as JWK),
    };
  }
}

function parseAccessClaim(v: unknown): TokenAccess[] | undefined {
  if (!Array.isArray(v) || v.length > 1000) return undefined;
  const out: TokenAccess[] = [];
  for (const e of v) {
    if (e === null || typeof e !== 'object') return undefined;
    const { type, name, actions } = e as Record<string, unknown>;
    if ((type !== 'repository' && type !== 'registry') || typeof name !== 'string') return undefined;
    if (!Array.isArray(actions) || !actions.every((a) => typeof a === 'string')) return undefined;
    out.push({ type, name, actions: actions as string[] });
  }
  return out;
}
