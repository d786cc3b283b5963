/**
 * Public keys as attestors hold them (PEM, SubjectPublicKeyInfo) and signature checks with
 * node:crypto. Key types: ECDSA P-256 (SHA-256) and P-384 (SHA-384), RSA (PKCS#1 v1.5 or PSS,
 * SHA-256), Ed25519. Anything else is refused when the attestor is created, never at verify time.
 */
import { createHash, createPublicKey, constants, verify, X509Certificate, type KeyObject } from 'node:crypto';

export type KeyKind = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa' | 'ed25519';

export interface PublicKey {
  kind: KeyKind;
  key: KeyObject;
  /** sha256 of the DER SubjectPublicKeyInfo, hex: how signers are told apart in listings */
  fingerprint: string;
}

export type KeyResult = { ok: true; key: PublicKey } | { ok: false; reason: string };

const MAX_PEM_BYTES = 16 * 1024;

export function keyFromObject(key: KeyObject): KeyResult {
  let kind: KeyKind;
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') kind = 'ecdsa-p256';
    else if (curve === 'secp384r1' || curve === 'P-384') kind = 'ecdsa-p384';
    else return { ok: false, reason: `unsupported ECDSA curve ${curve ?? 'unknown'} (P-256 and P-384 are supported)` };
  } else if (type === 'rsa' || type === 'rsa-pss') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) return { ok: false, reason: `RSA keys need at least 2048 bits, this one has ${bits}` };
    kind = 'rsa';
  } else if (type === 'ed25519') {
    kind = 'ed25519';
  } else {
    return { ok: false, reason: `unsupported key type ${type ?? 'unknown'} (ECDSA P-256/P-384, RSA, Ed25519 are supported)` };
  }
  const der = key.export({ type: 'spki', format: 'der' });
  return { ok: true, key: { kind, key, fingerprint: createHash('sha256').update(der).digest('hex') } };
}

/** A PEM public key (or certificate, whose key is taken). */
export function parsePublicKeyPem(pem: string): KeyResult {
  if (pem.length > MAX_PEM_BYTES) return { ok: false, reason: `PEM is longer than ${MAX_PEM_BYTES} bytes` };
  if (!/-----BEGIN (PUBLIC KEY|CERTIFICATE|RSA PUBLIC KEY|EC PUBLIC KEY)-----/.test(pem)) {
    return { ok: false, reason: /PRIVATE KEY/.test(pem) ? 'this is a private key; give the public key' : 'not a PEM public key' };
  }
  try {
    const key = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey({ key: pem, format: 'pem' });
    if (key.type !== 'public') return { ok: false, reason: 'not a public key' };
    return keyFromObject(key);
  } catch (e) {
    return { ok: false, reason: `cannot read the key: ${(e as Error).message.slice(0, 120)}` };
  }
}

/**
 * Checks `signature` over `data` with `key`. ECDSA signatures are ASN.1 DER (cosign, DSSE) unless
 * `ieeeP1363` (JWS: r||s). Never throws: a malformed signature is simply not valid.
 */
export function verifyWith(key: PublicKey, data: Uint8Array, signature: Uint8Array, o: { ieeeP1363?: boolean; hash?: 'sha256' | 'sha384' | 'sha512'; rsaPss?: boolean } = {}): boolean {
  try {
    switch (key.kind) {
      case 'ed25519':
        return verify(null, data, key.key, signature);
      case 'ecdsa-p256':
      case 'ecdsa-p384': {
        const k = { key: key.key, dsaEncoding: o.ieeeP1363 ? ('ieee-p1363' as const) : ('der' as const) };
        if (o.hash !== undefined) return verify(o.hash, data, k, signature);
        // a P-384 key signs with SHA-384 by default (sigstore), but cosign --key may use SHA-256
        if (key.kind === 'ecdsa-p384' && verify('sha384', data, k, signature)) return true;
        return verify('sha256', data, k, signature);
      }
      case 'rsa': {
        const hash = o.hash ?? 'sha256';
        if (o.rsaPss !== true && verify(hash, data, { key: key.key, padding: constants.RSA_PKCS1_PADDING }, signature)) return true;
        if (o.rsaPss === false) return false;
        return verify(hash, data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
      }
    }
  } catch {
    return false;
  }
}
