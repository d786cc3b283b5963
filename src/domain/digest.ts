import { createHash, type Hash } from 'node:crypto';
import { WharfError } from '../errors/wharf-error.js';

/**
 * A content digest `algorithm:encoded` (OCI image-spec descriptor.md "Digests").
 * Only the registered algorithms sha256 and sha512 are accepted; anything else is DIGEST_INVALID.
 * A Digest string is always canonical (lower-case hex of the right length).
 */
export type Digest = string & { readonly __brand: 'Digest' };
export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// The spec's general grammar; used to tell "malformed" from "unsupported algorithm" in messages.
const GENERAL = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigestAlgorithm(a: string): a is DigestAlgorithm {
  return a === 'sha256' || a === 'sha512';
}

/** Parses and validates; throws DIGEST_INVALID with a message that says what is wrong. */
export function parseDigest(input: unknown): Digest {
  if (typeof input !== 'string' || input.length === 0) {
    throw new WharfError('DIGEST_INVALID', 'digest is missing');
  }
  if (input.length > 256 || !GENERAL.test(input)) {
    throw new WharfError('DIGEST_INVALID', `digest ${JSON.stringify(input.slice(0, 80))} is malformed`);
  }
  const colon = input.indexOf(':');
  const algorithm = input.slice(0, colon);
  const encoded = input.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    throw new WharfError('DIGEST_INVALID', `digest algorithm ${algorithm} is not supported (use sha256 or sha512)`);
  }
  if (encoded.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(encoded)) {
    throw new WharfError(
      'DIGEST_INVALID',
      `digest ${algorithm}:${encoded.slice(0, 16)}... must be ${HEX_LENGTH[algorithm]} lower-case hex characters`,
    );
  }
  return input as Digest;
}

export function isDigest(input: string): boolean {
  try {
    parseDigest(input);
    return true;
  } catch {
    return false;
  }
}

export function algorithmOf(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function encodedOf(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function newHasher(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

export function digestFromHash(algorithm: DigestAlgorithm, hash: Hash): Digest {
  return `${algorithm}:${hash.digest('hex')}` as Digest;
}
