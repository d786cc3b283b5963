/**
 * The signature and attestation formats Wharf reads (pure: bytes in, typed values or a reason out).
 * Read from their specifications, not from another implementation's code:
 *
 * - cosign's tag scheme (sigstore/cosign specs/SIGNATURE_SPEC.md): the signatures of image
 *   `sha256:<hex>` live in an OCI image manifest tagged `sha256-<hex>.sig`; each layer is a
 *   simple-signing payload (`application/vnd.dev.cosign.simplesigning.v1+json`) whose signature is
 *   the base64 `dev.cosignproject.cosign/signature` annotation, with optional
 *   `dev.sigstore.cosign/certificate`, `.../chain` and `.../bundle` annotations.
 * - cosign attestations (specs/ATTESTATION_SPEC.md): tag `sha256-<hex>.att`, each layer a DSSE
 *   envelope (`application/vnd.dsse.envelope.v1+json`) around an in-toto statement whose subject
 *   names the image digest; signatures are inside the envelope (the annotation is empty).
 * - OCI 1.1 referrers: cosign v3 Sigstore bundles (`application/vnd.dev.sigstore.bundle.v0.3+json`,
 *   specs/BUNDLE_SPEC.md) and Notation signatures (`application/vnd.cncf.notary.signature`,
 *   notaryproject/specifications signature-specification.md, JWS or COSE envelopes).
 */
import { createHash } from 'node:crypto';
import type { Digest } from '../../domain/digest.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const NOTATION_JWS_MEDIA_TYPE = 'application/jose+json';
export const NOTATION_COSE_MEDIA_TYPE = 'application/cose';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
export const ANNOTATION_CERTIFICATE = 'dev.sigstore.cosign/certificate';
export const ANNOTATION_CHAIN = 'dev.sigstore.cosign/chain';
export const ANNOTATION_BUNDLE = 'dev.sigstore.cosign/bundle';
export const ANNOTATION_PREDICATE_TYPE = 'predicateType';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

/** Predicate types `wharf attest --type` knows by cosign's short names (cosign attest --type). */
export const PREDICATE_TYPES: Record<string, string> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

/** the most a simple-signing payload may weigh (cosign's are a few hundred bytes) */
export const MAX_SIMPLE_SIGNING_BYTES = 64 * 1024;
/** the most an envelope or bundle may weigh (SBOM attestations can be large) */
export const MAX_ENVELOPE_BYTES = 16 * 1024 * 1024;

/** `sha256:<hex>` -> `sha256-<hex>.sig` (and `.att`, `.sbom`): cosign's tag scheme. */
export function cosignTag(digest: Digest | string, suffix: 'sig' | 'att'): string {
  return `${digest.replace(':', '-')}.${suffix}`;
}

/** The result of a parse: the value, or why it was refused. Parsers never throw on bad input. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const refuse = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

function parseJson(bytes: Uint8Array, max: number, what: string): Parsed<unknown> {
  if (bytes.length > max) return refuse(`${what} is ${bytes.length} bytes; at most ${max}`);
  try {
    return { ok: true, value: JSON.parse(Buffer.from(bytes).toString('utf8')) };
  } catch {
    return refuse(`${what} is not JSON`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;

/** Strict base64 (standard alphabet, optional padding): undefined when it is not. */
export function decodeBase64(s: unknown, max = MAX_ENVELOPE_BYTES): Buffer | undefined {
  if (typeof s !== 'string' || s.length > (max * 4) / 3 + 4 || s.length % 4 === 1) return undefined;
  const t = s.replace(/\s+/g, '');
  if (!BASE64_RE.test(t)) return undefined;
  return Buffer.from(t, 'base64');
}

export function decodeBase64Url(s: unknown, max = MAX_ENVELOPE_BYTES): Buffer | undefined {
  if (typeof s !== 'string' || s.length > (max * 4) / 3 + 4 || !BASE64URL_RE.test(s)) return undefined;
  return Buffer.from(s, 'base64url');
}

// --- simple signing (cosign's signed payload) ---

export interface SimpleSigningPayload {
  dockerReference: string;
  manifestDigest: string;
  type: string;
  optional: Record<string, unknown> | null;
}

export function parseSimpleSigning(bytes: Uint8Array): Parsed<SimpleSigningPayload> {
  const json = parseJson(bytes, MAX_SIMPLE_SIGNING_BYTES, 'simple-signing payload');
  if (!json.ok) return json;
  const v = json.value;
  if (!isObject(v) || !isObject(v.critical)) return refuse('simple-signing payload has no "critical" object');
  const c = v.critical;
  if (!isObject(c.identity) || typeof c.identity['docker-reference'] !== 'string') return refuse('critical.identity.docker-reference is missing');
  if (!isObject(c.image) || typeof c.image['docker-manifest-digest'] !== 'string') return refuse('critical.image.docker-manifest-digest is missing');
  if (typeof c.type !== 'string') return refuse('critical.type is missing');
  if (c.type !== COSIGN_SIGNATURE_TYPE) return refuse(`critical.type is ${JSON.stringify(c.type.slice(0, 80))}, not "${COSIGN_SIGNATURE_TYPE}"`);
  if (v.optional !== undefined && v.optional !== null && !isObject(v.optional)) return refuse('optional must be an object or null');
  return {
    ok: true,
    value: {
      dockerReference: c.identity['docker-reference'],
      manifestDigest: c.image['docker-manifest-digest'],
      type: c.type,
      optional: (v.optional as Record<string, unknown> | null | undefined) ?? null,
    },
  };
}

/**
 * The payload `wharf sign` signs, laid out as cosign writes it (critical then optional; the
 * verifier reads the exact bytes stored, so key order matters only for humans).
 */
export function simpleSigningPayload(dockerReference: string, digest: string, optional: Record<string, string> | null = null): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: COSIGN_SIGNATURE_TYPE },
      optional,
    }),
  );
}

// --- DSSE and in-toto ---

export interface DsseEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: { keyid: string; sig: Buffer }[];
}

/** At most this many signatures per envelope are looked at (a bigger list is refused). */
export const MAX_DSSE_SIGNATURES = 16;

export function parseDsseEnvelope(bytes: Uint8Array): Parsed<DsseEnvelope> {
  const json = parseJson(bytes, MAX_ENVELOPE_BYTES, 'DSSE envelope');
  if (!json.ok) return json;
  return dsseFromObject(json.value);
}

export function dsseFromObject(v: unknown): Parsed<DsseEnvelope> {
  if (!isObject(v)) return refuse('DSSE envelope is not an object');
  if (typeof v.payloadType !== 'string' || v.payloadType.length > 200) return refuse('DSSE payloadType is missing');
  const payload = decodeBase64(v.payload);
  if (payload === undefined) return refuse('DSSE payload is not base64');
  if (!Array.isArray(v.signatures) || v.signatures.length === 0) return refuse('DSSE envelope has no signatures');
  if (v.signatures.length > MAX_DSSE_SIGNATURES) return refuse(`DSSE envelope has ${v.signatures.length} signatures; at most ${MAX_DSSE_SIGNATURES}`);
  const signatures: DsseEnvelope['signatures'] = [];
  for (const s of v.signatures) {
    if (!isObject(s)) return refuse('a DSSE signature is not an object');
    const sig = decodeBase64(s.sig, 64 * 1024);
    if (sig === undefined || sig.length === 0) return refuse('a DSSE signature is not base64');
    signatures.push({ keyid: typeof s.keyid === 'string' ? s.keyid.slice(0, 200) : '', sig });
  }
  return { ok: true, value: { payloadType: v.payloadType, payload, signatures } };
}

/** DSSE's pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export interface InTotoStatement {
  type: string;
  predicateType: string;
  subjects: { name: string; sha256?: string }[];
  predicate: unknown;
}

export function parseInTotoStatement(bytes: Uint8Array): Parsed<InTotoStatement> {
  const json = parseJson(bytes, MAX_ENVELOPE_BYTES, 'in-toto statement');
  if (!json.ok) return json;
  const v = json.value;
  if (!isObject(v)) return refuse('in-toto statement is not an object');
  if (typeof v._type !== 'string' || !v._type.startsWith('https://in-toto.io/Statement/')) return refuse('_type is not an in-toto statement type');
  if (typeof v.predicateType !== 'string') return refuse('predicateType is missing');
  if (!Array.isArray(v.subject) || v.subject.length === 0 || v.subject.length > 1000) return refuse('subject must be a non-empty list');
  const subjects: InTotoStatement['subjects'] = [];
  for (const s of v.subject) {
    if (!isObject(s) || !isObject(s.digest)) return refuse('a subject has no digest');
    const sha = s.digest.sha256;
    subjects.push({ name: typeof s.name === 'string' ? s.name : '', ...(typeof sha === 'string' ? { sha256: sha.toLowerCase() } : {}) });
  }
  return { ok: true, value: { type: v._type, predicateType: v.predicateType, subjects, predicate: v.predicate } };
}

/** An in-toto v1 statement about one image (what `wharf attest` signs). */
export function inTotoStatement(name: string, digest: string, predicateType: string, predicate: unknown): Buffer {
  const [alg, hex] = digest.split(':');
  return Buffer.from(
    JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name, digest: { [alg!]: hex } }], predicateType, predicate }),
  );
}

/** Whether the statement is about the image `digest` (sha256 subjects only). */
export function statementNames(statement: InTotoStatement, digest: string): boolean {
  const [alg, hex] = digest.split(':');
  return alg === 'sha256' && statement.subjects.some((s) => s.sha256 === hex);
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
