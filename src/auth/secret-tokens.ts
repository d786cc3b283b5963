import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Opaque secrets handed to clients: service-account API keys and refresh tokens.
 *   wharf_sa_<id>_<secret>   API key      (works as the password in docker/podman/skopeo login)
 *   wharf_rt_<id>_<secret>   refresh token (the OAuth2 refresh_token / Docker identity token)
 * `id` (16 base62 chars) names the row; `secret` (43 base64url chars, 256 random bits) is stored
 * only as its SHA-256. A fast hash is right here, unlike for passwords: the secret is random and
 * long, so there is nothing to guess offline, and a key is checked on every request.
 * The prefix lets secret scanners (and people) recognise a leaked key.
 */
export const API_KEY_PREFIX = 'wharf_sa_';
export const REFRESH_TOKEN_PREFIX = 'wharf_rt_';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_RE = /^[0-9A-Za-z]{16}$/;
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

function randomId(): string {
  // 62 * 4 = 248 < 256: rejection keeps the characters uniform
  let out = '';
  while (out.length < 16) {
    for (const b of randomBytes(32)) {
      if (b < 248 && out.length < 16) out += BASE62[b % 62];
    }
  }
  return out;
}

export interface IssuedSecret {
  id: string;
  /** the whole string given to the client, once */
  plaintext: string;
  /** what is stored */
  hash: string;
}

export function issueSecret(prefix: string): IssuedSecret {
  const id = randomId();
  const secret = randomBytes(32).toString('base64url');
  return { id, plaintext: `${prefix}${id}_${secret}`, hash: hashSecret(secret) };
}

/** Splits a presented secret into id and secret; undefined unless it has the exact shape. */
export function parseSecret(prefix: string, presented: string): { id: string; secret: string } | undefined {
  if (!presented.startsWith(prefix)) return undefined;
  const rest = presented.slice(prefix.length);
  const id = rest.slice(0, 16);
  const secret = rest.slice(17);
  if (rest[16] !== '_' || !ID_RE.test(id) || !SECRET_RE.test(secret)) return undefined;
  return { id, secret };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret));
  const b = Buffer.from(storedHash);
  return a.length === b.length && timingSafeEqual(a, b);
}
