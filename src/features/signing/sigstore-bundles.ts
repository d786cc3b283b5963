/**
 * Sigstore bundles (v0.3, cosign v3's OCI referrers) verified offline with @sigstore/verify
 * against an attestor's public keys. A bundle signed with a key carries no certificate and may
 * carry no transparency-log entry: Wharf's trust is the attestor's key, so the verifier runs with
 * zero tlog/ctlog/timestamp thresholds. Keyless bundles (Fulcio certificates) need a trusted root
 * (Fulcio, Rekor, CT logs) to verify; not configured yet, so they are listed, not verified.
 */
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, Verifier, type TrustMaterial } from '@sigstore/verify';
import type { LoadedAttestor } from './attestors.js';
import { MAX_ENVELOPE_BYTES, parseInTotoStatement, statementNames, type Parsed } from './formats.js';

export interface ParsedBundle {
  bundle: Bundle;
  content: 'dsse-envelope' | 'message-signature';
  /** the key hint (public-key bundles) */
  keyHint?: string;
  /** the leaf certificate's subject (certificate bundles) */
  certificateSubject?: string;
  predicateType?: string;
  /** whether the bundle speaks about `digest` (DSSE: the statement's subject; message: the digest signed) */
  names(digest: string): boolean;
}

export function parseSigstoreBundle(bytes: Uint8Array): Parsed<ParsedBundle> {
  if (bytes.length > MAX_ENVELOPE_BYTES) return { ok: false, reason: `bundle is larger than ${MAX_ENVELOPE_BYTES} bytes` };
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(Buffer.from(bytes).toString('utf8')));
  } catch (e) {
    return { ok: false, reason: `not a Sigstore bundle: ${(e as Error).message.slice(0, 160)}` };
  }
  const vm = bundle.verificationMaterial.content;
  const keyHint = vm.$case === 'publicKey' ? vm.publicKey.hint : undefined;
  let certificateSubject: string | undefined;
  if (vm.$case === 'certificate' || vm.$case === 'x509CertificateChain') certificateSubject = 'x509 certificate (keyless)';
  const c = bundle.content;
  if (c.$case === 'dsseEnvelope') {
    const st = parseInTotoStatement(c.dsseEnvelope.payload);
    return {
      ok: true,
      value: {
        bundle,
        content: 'dsse-envelope',
        ...(keyHint !== undefined ? { keyHint } : {}),
        ...(certificateSubject ? { certificateSubject } : {}),
        ...(st.ok ? { predicateType: st.value.predicateType } : {}),
        names: (digest) => st.ok && statementNames(st.value, digest),
      },
    };
  }
  const md = c.messageSignature.messageDigest;
  return {
    ok: true,
    value: {
      bundle,
      content: 'message-signature',
      ...(keyHint !== undefined ? { keyHint } : {}),
      ...(certificateSubject ? { certificateSubject } : {}),
      names: (digest) => md !== undefined && md.algorithm === 1 /* HashAlgorithm.SHA2_256 (sigstore_common.proto) */ && `sha256:${md.digest.toString('hex')}` === digest,
    },
  };
}

/**
 * Verifies the bundle with each of the attestor's keys; `artifact` is what a message signature
 * signs (the image manifest's bytes). Answers the failure, or undefined when a key verifies it.
 */
export function verifyBundleWith(parsed: ParsedBundle, attestor: LoadedAttestor, artifact: Buffer | undefined): string | undefined {
  if (parsed.bundle.verificationMaterial.content.$case !== 'publicKey') return 'keyless bundles need a Sigstore trusted root, which is not configured';
  if (attestor.keys.length === 0) return 'the attestor has no public keys';
  let last = 'no key of the attestor verifies the bundle';
  for (const k of attestor.keys) {
    const trust: TrustMaterial = {
      certificateAuthorities: [],
      timestampAuthorities: [],
      tlogs: [],
      ctlogs: [],
      publicKey: () => ({ publicKey: k.key, validFor: () => true }),
    };
    try {
      const entity = toSignedEntity(parsed.bundle, parsed.content === 'message-signature' ? artifact : undefined);
      new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
      return undefined;
    } catch (e) {
      last = (e as Error).message.slice(0, 200);
    }
  }
  return last;
}
