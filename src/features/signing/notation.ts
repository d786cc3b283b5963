/**
 * Notation signatures in the JWS envelope (notaryproject/specifications,
 * specs/signature-envelope-jws.md): JSON serialization with `payload`, `protected`, `header.x5c`
 * (DER certificates, leaf first) and `signature`. The payload is
 * `{"targetArtifact": <descriptor>}`; the protected header names `alg`, `cty`
 * (`application/vnd.cncf.notary.payload.v1+json`) and the critical signing scheme.
 *
 * Verification follows the trust-policy's `strict` level as far as it can be done offline
 * without a timestamp authority: integrity (signature by the leaf's key), authenticity (the chain
 * ends at one of the attestor's roots, each link's signature checked), trusted identity (the
 * leaf's subject holds every attribute of a `x509.subject:` identity), expiry (every certificate
 * valid now). Revocation (OCSP/CRL) and RFC 3161 timestamps are not checked.
 */
import { X509Certificate } from 'node:crypto';
import { parseDn, parseX509Identity, type LoadedAttestor } from './attestors.js';
import { decodeBase64, decodeBase64Url, type Parsed } from './formats.js';
import { keyFromObject, verifyWith } from './public-keys.js';

export const NOTATION_PAYLOAD_TYPE = 'application/vnd.cncf.notary.payload.v1+json';

export interface NotationJws {
  alg: string;
  signingScheme: string;
  signingTime?: string;
  target: { digest: string; mediaType: string; size: number };
  chain: X509Certificate[];
  signingInput: Buffer;
  signature: Buffer;
}

const ALGS: Record<string, { hash: 'sha256' | 'sha384' | 'sha512'; ec: boolean }> = {
  ES256: { hash: 'sha256', ec: true },
  ES384: { hash: 'sha384', ec: true },
  ES512: { hash: 'sha512', ec: true },
  PS256: { hash: 'sha256', ec: false },
  PS384: { hash: 'sha384', ec: false },
  PS512: { hash: 'sha512', ec: false },
};

const MAX_CHAIN = 10;

export function parseNotationJws(bytes: Uint8Array): Parsed<NotationJws> {
  if (bytes.length > 1024 * 1024) return { ok: false, reason: 'JWS envelope is larger than 1 MiB' };
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { ok: false, reason: 'JWS envelope is not JSON' };
  }
  if (typeof v !== 'object' || v === null) return { ok: false, reason: 'JWS envelope is not an object' };
  const e = v as Record<string, unknown>;
  if (typeof e.payload !== 'string' || typeof e.protected !== 'string' || typeof e.signature !== 'string') return { ok: false, reason: 'JWS needs payload, protected and signature' };
  const protectedBytes = decodeBase64Url(e.protected, 64 * 1024);
  const payloadBytes = decodeBase64Url(e.payload, 64 * 1024);
  const signature = decodeBase64Url(e.signature, 64 * 1024);
  if (!protectedBytes || !payloadBytes || !signature) return { ok: false, reason: 'JWS parts are not base64url' };
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(protectedBytes.toString('utf8')) as Record<string, unknown>;
    payload = JSON.parse(payloadBytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'JWS protected header or payload is not JSON' };
  }
  if (typeof header.alg !== 'string' || !ALGS[header.alg]) return { ok: false, reason: `unsupported JWS alg ${JSON.stringify(String(header.alg).slice(0, 20))}` };
  if (header.cty !== NOTATION_PAYLOAD_TYPE) return { ok: false, reason: `cty must be ${NOTATION_PAYLOAD_TYPE}` };
  const scheme = header['io.cncf.notary.signingScheme'];
  if (scheme !== 'notary.x509' && scheme !== 'notary.x509.signingAuthority') return { ok: false, reason: 'unknown io.cncf.notary.signingScheme' };
  if (!Array.isArray(header.crit) || !header.crit.includes('io.cncf.notary.signingScheme')) return { ok: false, reason: 'crit must list io.cncf.notary.signingScheme' };
  const t = payload.targetArtifact as Record<string, unknown> | undefined;
  if (!t || typeof t.digest !== 'string' || typeof t.mediaType !== 'string' || typeof t.size !== 'number') return { ok: false, reason: 'payload has no targetArtifact descriptor' };
  const unprotected = e.header as Record<string, unknown> | undefined;
  const x5c = unprotected?.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN) return { ok: false, reason: `header.x5c must hold 1 to ${MAX_CHAIN} certificates` };
  const chain: X509Certificate[] = [];
  for (const c of x5c) {
    const der = decodeBase64(c, 64 * 1024);
    if (!der) return { ok: false, reason: 'an x5c certificate is not base64' };
    try {
      chain.push(new X509Certificate(der));
    } catch {
      return { ok: false, reason: 'an x5c certificate is not DER x509' };
    }
  }
  return {
    ok: true,
    value: {
      alg: header.alg,
      signingScheme: scheme,
      ...(typeof header['io.cncf.notary.signingTime'] === 'string' ? { signingTime: header['io.cncf.notary.signingTime'] } : {}),
      target: { digest: t.digest, mediaType: t.mediaType, size: t.size },
      chain,
      signingInput: Buffer.from(`${e.protected}.${e.payload}`, 'ascii'),
      signature,
    },
  };
}

/** Why the envelope's signature itself is not valid (leaf key over the signing input), or undefined when it is. */
export function notationIntegrity(jws: NotationJws): string | undefined {
  const leaf = keyFromObject(jws.chain[0]!.publicKey);
  if (!leaf.ok) return leaf.reason;
  const a = ALGS[jws.alg]!;
  if (a.ec !== leaf.key.kind.startsWith('ecdsa')) return `alg ${jws.alg} does not fit the leaf's ${leaf.key.kind} key`;
  const ok = verifyWith(leaf.key, jws.signingInput, jws.signature, { hash: a.hash, ieeeP1363: a.ec, rsaPss: a.ec ? undefined : true });
  return ok ? undefined : 'the JWS signature does not verify with the leaf certificate';
}

/** Whether `attestor` trusts the chain (authenticity, identity, expiry); the reason when it does not. */
export function notationTrusted(jws: NotationJws, attestor: LoadedAttestor, now: Date): string | undefined {
  if (attestor.roots.length === 0) return 'the attestor has no x509 roots';
  for (const c of jws.chain) {
    if (new Date(c.validFrom) > now || new Date(c.validTo) < now) return `certificate ${c.subject.replace(/\n/g, ', ')} is not valid now (${c.validFrom} - ${c.validTo})`;
  }
  for (let i = 0; i + 1 < jws.chain.length; i++) {
    const child = jws.chain[i]!;
    const parent = jws.chain[i + 1]!;
    if (!parent.ca || !child.checkIssued(parent) || !child.verify(parent.publicKey)) return `chain link ${i} is not issued by the next certificate`;
  }
  const last = jws.chain[jws.chain.length - 1]!;
  const anchored = attestor.roots.some(
    (r) => r.fingerprint256 === last.fingerprint256 || (last.checkIssued(r) && last.verify(r.publicKey) && new Date(r.validTo) >= now),
  );
  if (!anchored) return 'the chain does not end at a root of the attestor';
  const leafDn = parseDn(jws.chain[0]!.subject, '\n');
  const identityOk = attestor.identities.some((id) => {
    if (id === '*') return true;
    const want = parseX509Identity(id);
    return want !== undefined && leafDn !== undefined && [...want].every(([k, v]) => leafDn.get(k) === v);
  });
  return identityOk ? undefined : `the signer ${jws.chain[0]!.subject.replace(/\n/g, ', ')} is not a trusted identity of the attestor`;
}
