import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt (memory-hard, in node:crypto). Stored form, self-describing so the
 * cost can be raised later without invalidating old hashes:
 *   scrypt$<N>$<r>$<p>$<salt base64url>$<hash base64url>
 * Default cost N=2^15, r=8, p=1: 32 MiB and a few tens of ms per hash (OWASP's scrypt minimum is
 * N=2^17 with r=8 at p=1 for 128 MiB; 2^15 keeps a login under the 2-core budget we target, and the
 * per-account and per-address back-off bounds online guessing). Passwords are never logged:
 * nothing here returns or throws them.
 */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const MAX_PASSWORD_BYTES = 1024;

function scryptAsync(password: Buffer, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export class PasswordHasher {
  private readonly cost: ScryptCost;
  /** a hash of a random password, verified against when the account does not exist (equal timing) */
  private dummy: Promise<string> | undefined;

  constructor(cost: ScryptCost = DEFAULT_SCRYPT_COST) {
    this.cost = cost;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await scryptAsync(Buffer.from(password.slice(0, MAX_PASSWORD_BYTES), 'utf8'), salt, this.cost);
    return ['scrypt', this.cost.N, this.cost.r, this.cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
  }

  /** Constant-time comparison; false (never a throw) for a malformed stored hash. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parts = stored.split('$');
    if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
    const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
    if (![N, r, p].every((x) => Number.isSafeInteger(x) && x > 0) || N > 2 ** 20 || r > 32 || p > 16) return false;
    const salt = Buffer.from(parts[4]!, 'base64url');
    const expected = Buffer.from(parts[5]!, 'base64url');
    if (expected.length !== KEY_LENGTH) return false;
    const actual = await scryptAsync(Buffer.from(password.slice(0, MAX_PASSWORD_BYTES), 'utf8'), salt, { N, r, p });
    return timingSafeEqual(actual, expected);
  }

  /** Spends the time of a verification, for an account that does not exist; always false. */
  async verifyNothing(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(16).toString('hex'));
    await this.verify(password, await this.dummy);
    return false;
  }
}
