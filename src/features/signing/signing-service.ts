/**
 * Signatures and attestations of an image, found where each format stores them (cosign's
 * `sha256-<hex>.sig` / `.att` tags, OCI 1.1 referrers), parsed, checked to speak about this very
 * digest, and verified against the attestors admins configured. Nothing here trusts a format's
 * own claims about who signed: "verified by" means an attestor's key or root verified it.
 */
import { X509Certificate } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../../domain/digest.js';
import { parseDigest } from '../../domain/digest.js';
import { parseTag, type Reference } from '../../domain/names.js';
import { isWharfError, WharfError } from '../../errors/wharf-error.js';
import type { RegistryService } from '../../registry/registry-service.js';
import { loadAttestor, type Attestor, type AttestorDocument, type LoadedAttestor, type SqlAttestorStore } from './attestors.js';
import {
  ANNOTATION_BUNDLE,
  ANNOTATION_CERTIFICATE,
  ANNOTATION_SIGNATURE,
  cosignTag,
  decodeBase64,
  DSSE_MEDIA_TYPE,
  MAX_ENVELOPE_BYTES,
  MAX_SIMPLE_SIGNING_BYTES,
  NOTATION_ARTIFACT_TYPE,
  NOTATION_COSE_MEDIA_TYPE,
  NOTATION_JWS_MEDIA_TYPE,
  pae,
  parseDsseEnvelope,
  parseInTotoStatement,
  parseSimpleSigning,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  SIMPLE_SIGNING_MEDIA_TYPE,
  statementNames,
  IN_TOTO_PAYLOAD_TYPE,
} from './formats.js';
import { notationIntegrity, notationTrusted, parseNotationJws } from './notation.js';
import { parsePublicKeyPem, verifyWith, type PublicKey } from './public-keys.js';
import { parseSigstoreBundle, verifyBundleWith } from './sigstore-bundles.js';

export type SignatureFormat = 'cosign' | 'cosign-attestation' | 'sigstore-bundle' | 'notation';

export interface SignatureEntry {
  format: SignatureFormat;
  kind: 'signature' | 'attestation';
  /** the manifest that carries it (the .sig/.att manifest or the referrer) */
  manifest: string;
  /** the layer (payload, envelope or bundle) within it */
  layer: string;
  /** what the signature says it signs */
  claims: { digest?: string; dockerReference?: string; predicateType?: string };
  /** who signed it, as far as the signature says (not a verification) */
  signer: { keyFingerprint?: string; keyId?: string; certificateSubject?: string; issuer?: string };
  /** parsed, well-formed and about this image's digest */
  wellFormed: boolean;
  /** the attestors that verified it */
  verifiedBy: string[];
  problems: string[];
}

export interface SignatureListing {
  repository: string;
  digest: string;
  /** the image manifest's media type and size (a referrer's subject descriptor needs them) */
  mediaType: string;
  size: number;
  /** for an index: the manifests it lists (sign them too: clients pull platforms by digest) */
  manifests?: string[];
  signatures: SignatureEntry[];
  /** attestors that verified at least one signature (or attestation, with its predicate type) */
  verifiedBy: string[];
}

/** How signatures are looked at: bounded, so a hostile signature manifest cannot exhaust the server. */
const MAX_LAYERS = 64;
const MAX_REFERRERS = 128;

export interface SigningServiceOptions {
  registry: RegistryService;
  attestors: SqlAttestorStore;
  now?: () => number;
  /** told when an attestor is created, replaced or deleted (cached verdicts elsewhere go stale) */
  onAttestorsChanged?: () => void;
}

export class SigningService {
  private readonly registry: RegistryService;
  private readonly store: SqlAttestorStore;
  private readonly now: () => number;
  private cache: { at: number; list: LoadedAttestor[] } | undefined;
  private readonly changed: () => void;

  constructor(o: SigningServiceOptions) {
    this.changed = o.onAttestorsChanged ?? (() => undefined);
    this.registry = o.registry;
    this.store = o.attestors;
    this.now = o.now ?? Date.now;
  }

  // --- attestors ---

  listAttestors = (): Promise<Attestor[]> => this.store.list();

  async getAttestor(name: string): Promise<Attestor> {
    const a = await this.store.find(name);
    if (!a) throw new WharfError('RESOURCE_UNKNOWN', `no attestor named ${name}`);
    return a;
  }

  async putAttestor(name: string, doc: AttestorDocument, by: string): Promise<{ attestor: Attestor; created: boolean }> {
    const { problems } = loadAttestor(name, doc);
    if (problems.length > 0) throw new WharfError('ATTESTOR_INVALID', `attestor invalid: ${problems.slice(0, 3).map((p) => `${p.pointer || '/'}: ${p.message}`).join('; ')}`, problems);
    const created = await this.store.put(name, doc, by, this.now());
    this.cache = undefined;
    this.changed();
    return { attestor: await this.getAttestor(name), created };
  }

  async deleteAttestor(name: string): Promise<void> {
    if (!(await this.store.delete(name))) throw new WharfError('RESOURCE_UNKNOWN', `no attestor named ${name}`);
    this.cache = undefined;
    this.changed();
  }

  /** The attestors, parsed; cached for 5 s (other replicas' changes show within that). */
  async loadedAttestors(): Promise<LoadedAttestor[]> {
    const now = this.now();
    if (this.cache && now - this.cache.at < 5000) return this.cache.list;
    const list: LoadedAttestor[] = [];
    for (const a of await this.store.list()) {
      const { attestor } = loadAttestor(a.name, a);
      if (attestor) list.push(attestor);
    }
    this.cache = { at: now, list };
    return list;
  }

  // --- signatures ---

  /** Resolves `ref` to its digest (tags move; verification is always of a digest). */
  async resolve(repository: string, ref: Reference): Promise<Digest> {
    return (await this.registry.getManifest(repository, ref)).digest;
  }

  /**
   * Every signature and attestation of `repository@ref`, verified against `attestors` (all
   * configured ones unless given; a key given ad hoc is an attestor named `key`).
   */
  async list(repository: string, ref: Reference, o: { attestors?: LoadedAttestor[] } = {}): Promise<SignatureListing> {
    const image = await this.registry.getManifest(repository, ref);
    const digest = image.digest;
    const attestors = o.attestors ?? (await this.loadedAttestors());
    const out: SignatureEntry[] = [];
    await this.fromTag(repository, digest, 'sig', attestors, out);
    await this.fromTag(repository, digest, 'att', attestors, out);
    await this.fromReferrers(repository, digest, image.content, attestors, out);
    const verifiedBy = [...new Set(out.filter((s) => s.wellFormed).flatMap((s) => s.verifiedBy))].sort();
    const manifests = indexChildren(image.content);
    return { repository, digest, mediaType: image.mediaType, size: image.size, ...(manifests.length > 0 ? { manifests } : {}), signatures: out, verifiedBy };
  }

  /** Verifies with one attestor or an ad-hoc PEM key. */
  async verify(repository: string, ref: Reference, o: { attestor?: string; publicKey?: string }): Promise<SignatureListing & { verified: boolean }> {
    let attestors: LoadedAttestor[];
    if (o.publicKey !== undefined) {
      const k = parsePublicKeyPem(o.publicKey);
      if (!k.ok) throw new WharfError('ATTESTOR_INVALID', `publicKey: ${k.reason}`, [{ pointer: '/publicKey', message: k.reason }]);
      attestors = [{ name: 'key', keys: [k.key], roots: [], identities: [] }];
    } else if (o.attestor !== undefined) {
      const a = await this.getAttestor(o.attestor);
      const { attestor } = loadAttestor(a.name, a);
      if (!attestor) throw new WharfError('ATTESTOR_INVALID', `attestor ${a.name} no longer loads`);
      attestors = [attestor];
    } else {
      attestors = await this.loadedAttestors();
    }
    const listing = await this.list(repository, ref, { attestors });
    return { ...listing, verified: listing.verifiedBy.length > 0 };
  }

  /** Attestors that verified an image (deploy policy facts): signature or attestation, by predicate type. */
  async verifiedFacts(repository: string, digest: Digest): Promise<{ attestors: string[]; attestations: { attestor: string; predicateType: string }[] }> {
    const l = await this.list(repository, { kind: 'digest', digest });
    const attestations = l.signatures
      .filter((s) => s.wellFormed && s.kind === 'attestation' && s.claims.predicateType)
      .flatMap((s) => s.verifiedBy.map((a) => ({ attestor: a, predicateType: s.claims.predicateType! })));
    return { attestors: l.verifiedBy, attestations };
  }

  /**
   * Deletes the cosign signature and attestation manifests of `digest` (its `sha256-<hex>.sig`
   * and `.att` tags) once the image itself is deleted; answers how many went. Referrers need
   * nothing here: GC and cleanup delete a referrer whose subject is gone. Idempotent.
   */
  async deleteSignaturesOf(repository: string, digest: Digest): Promise<number> {
    let n = 0;
    for (const suffix of ['sig', 'att'] as const) {
      try {
        const m = await this.registry.getManifest(repository, { kind: 'tag', tag: parseTag(cosignTag(digest, suffix)) });
        await this.registry.deleteManifest(repository, { kind: 'digest', digest: m.digest });
        n++;
      } catch (err) {
        if (!isWharfError(err, 'MANIFEST_UNKNOWN')) throw err;
      }
    }
    return n;
  }

  private async fromTag(repository: string, digest: Digest, suffix: 'sig' | 'att', attestors: LoadedAttestor[], out: SignatureEntry[]): Promise<void> {
    let sigManifest;
    try {
      sigManifest = await this.registry.getManifest(repository, { kind: 'tag', tag: parseTag(cosignTag(digest, suffix)) });
    } catch (err) {
      if (isWharfError(err, 'MANIFEST_UNKNOWN')) return;
      throw err;
    }
    const layers = manifestLayers(sigManifest.content);
    if (layers === undefined) {
      out.push(broken(suffix === 'sig' ? 'cosign' : 'cosign-attestation', sigManifest.digest, '', `the ${suffix} tag does not hold an image manifest`));
      return;
    }
    for (const layer of layers.slice(0, MAX_LAYERS)) {
      if (suffix === 'sig') out.push(await this.cosignSignature(repository, digest, sigManifest.digest, layer, attestors));
      else out.push(await this.cosignAttestation(repository, digest, sigManifest.digest, layer, attestors));
    }
    if (layers.length > MAX_LAYERS) out.push(broken('cosign', sigManifest.digest, '', `${layers.length - MAX_LAYERS} more layers not read`));
  }

  private async cosignSignature(repository: string, digest: Digest, manifest: string, layer: Layer, attestors: LoadedAttestor[]): Promise<SignatureEntry> {
    const e = entry('cosign', 'signature', manifest, layer.digest);
    if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) return fail(e, `layer media type ${layer.mediaType.slice(0, 80)} is not a simple-signing payload`);
    const sig = decodeBase64(layer.annotations[ANNOTATION_SIGNATURE], 64 * 1024);
    if (!sig || sig.length === 0) return fail(e, `the ${ANNOTATION_SIGNATURE} annotation is missing or not base64`);
    if (layer.annotations[ANNOTATION_CERTIFICATE]) e.signer.certificateSubject = certificateSubject(layer.annotations[ANNOTATION_CERTIFICATE]);
    if (layer.annotations[ANNOTATION_BUNDLE]) e.signer.issuer = 'rekor bundle present (not verified offline)';
    const payload = await this.readBlob(repository, layer.digest, MAX_SIMPLE_SIGNING_BYTES, e);
    if (!payload) return e;
    const parsed = parseSimpleSigning(payload);
    if (!parsed.ok) return fail(e, parsed.reason);
    e.claims = { digest: parsed.value.manifestDigest, dockerReference: parsed.value.dockerReference };
    if (parsed.value.manifestDigest !== digest) return fail(e, `the payload signs ${parsed.value.manifestDigest.slice(0, 80)}, not this image (${digest})`);
    e.wellFormed = true;
    const byKey = (k: PublicKey): boolean => verifyWith(k, payload, sig);
    for (const a of attestors) {
      const k = a.keys.find(byKey);
      if (k) {
        e.verifiedBy.push(a.name);
        e.signer.keyFingerprint ??= k.fingerprint;
      }
    }
    if (e.verifiedBy.length === 0) e.problems.push('no attestor key verifies the signature');
    return e;
  }

  private async cosignAttestation(repository: string, digest: Digest, manifest: string, layer: Layer, attestors: LoadedAttestor[]): Promise<SignatureEntry> {
    const e = entry('cosign-attestation', 'attestation', manifest, layer.digest);
    if (layer.mediaType !== DSSE_MEDIA_TYPE) return fail(e, `layer media type ${layer.mediaType.slice(0, 80)} is not a DSSE envelope`);
    const bytes = await this.readBlob(repository, layer.digest, MAX_ENVELOPE_BYTES, e);
    if (!bytes) return e;
    return this.dsse(e, bytes, digest, attestors);
  }

  private dsse(e: SignatureEntry, bytes: Buffer, digest: Digest, attestors: LoadedAttestor[]): SignatureEntry {
    const env = parseDsseEnvelope(bytes);
    if (!env.ok) return fail(e, env.reason);
    if (env.value.payloadType !== IN_TOTO_PAYLOAD_TYPE) return fail(e, `DSSE payloadType ${env.value.payloadType.slice(0, 80)} is not in-toto`);
    const st = parseInTotoStatement(env.value.payload);
    if (!st.ok) return fail(e, st.reason);
    e.claims = { predicateType: st.value.predicateType, ...(st.value.subjects[0]?.sha256 ? { digest: `sha256:${st.value.subjects[0].sha256}` } : {}) };
    e.signer.keyId = env.value.signatures[0]!.keyid || undefined;
    if (!statementNames(st.value, digest)) return fail(e, `the statement's subjects do not name this image (${digest})`);
    e.wellFormed = true;
    const signed = pae(env.value.payloadType, env.value.payload);
    for (const a of attestors) {
      const k = a.keys.find((key) => env.value.signatures.some((s) => verifyWith(key, signed, s.sig)));
      if (k) {
        e.verifiedBy.push(a.name);
        e.signer.keyFingerprint ??= k.fingerprint;
      }
    }
    if (e.verifiedBy.length === 0) e.problems.push('no attestor key verifies the envelope');
    return e;
  }

  private async fromReferrers(repository: string, digest: Digest, imageBytes: Buffer, attestors: LoadedAttestor[], out: SignatureEntry[]): Promise<void> {
    const refs = (await this.registry.referrers(repository, digest)).index.manifests;
    for (const d of refs.slice(0, MAX_REFERRERS)) {
      if (d.artifactType !== SIGSTORE_BUNDLE_MEDIA_TYPE && d.artifactType !== NOTATION_ARTIFACT_TYPE) continue;
      const m = await this.registry.getManifest(repository, { kind: 'digest', digest: parseDigest(d.digest) });
      const layers = manifestLayers(m.content);
      const format: SignatureFormat = d.artifactType === SIGSTORE_BUNDLE_MEDIA_TYPE ? 'sigstore-bundle' : 'notation';
      if (!layers || layers.length === 0) {
        out.push(broken(format, m.digest, '', 'the referrer has no layers'));
        continue;
      }
      const layer = layers[0]!;
      if (format === 'sigstore-bundle') out.push(await this.bundle(repository, digest, m.digest, layer, imageBytes, attestors));
      else out.push(await this.notation(repository, digest, m.digest, layer, attestors));
    }
  }

  private async bundle(repository: string, digest: Digest, manifest: string, layer: Layer, imageBytes: Buffer, attestors: LoadedAttestor[]): Promise<SignatureEntry> {
    const e = entry('sigstore-bundle', 'signature', manifest, layer.digest);
    const bytes = await this.readBlob(repository, layer.digest, MAX_ENVELOPE_BYTES, e);
    if (!bytes) return e;
    const b = parseSigstoreBundle(bytes);
    if (!b.ok) return fail(e, b.reason);
    if (b.value.content === 'dsse-envelope') e.kind = 'attestation';
    if (b.value.predicateType) e.claims.predicateType = b.value.predicateType;
    if (b.value.keyHint) e.signer.keyId = b.value.keyHint;
    if (b.value.certificateSubject) e.signer.certificateSubject = b.value.certificateSubject;
    if (!b.value.names(digest)) return fail(e, `the bundle does not speak about this image (${digest})`);
    e.claims.digest = digest;
    e.wellFormed = true;
    for (const a of attestors) {
      const why = verifyBundleWith(b.value, a, imageBytes);
      if (why === undefined) e.verifiedBy.push(a.name);
    }
    if (e.verifiedBy.length === 0) e.problems.push('no attestor verifies the bundle');
    return e;
  }

  private async notation(repository: string, digest: Digest, manifest: string, layer: Layer, attestors: LoadedAttestor[]): Promise<SignatureEntry> {
    const e = entry('notation', 'signature', manifest, layer.digest);
    if (layer.mediaType === NOTATION_COSE_MEDIA_TYPE) return fail(e, 'COSE envelopes are listed but not verified yet');
    if (layer.mediaType !== NOTATION_JWS_MEDIA_TYPE) return fail(e, `unknown Notation envelope ${layer.mediaType.slice(0, 80)}`);
    const bytes = await this.readBlob(repository, layer.digest, 1024 * 1024, e);
    if (!bytes) return e;
    const jws = parseNotationJws(bytes);
    if (!jws.ok) return fail(e, jws.reason);
    e.claims.digest = jws.value.target.digest;
    e.signer.certificateSubject = jws.value.chain[0]!.subject.replace(/\n/g, ', ');
    e.signer.issuer = jws.value.chain[0]!.issuer.replace(/\n/g, ', ');
    if (jws.value.target.digest !== digest) return fail(e, `the signature's targetArtifact is ${jws.value.target.digest.slice(0, 80)}, not this image (${digest})`);
    const integrity = notationIntegrity(jws.value);
    if (integrity) return fail(e, integrity);
    e.wellFormed = true;
    const now = new Date(this.now());
    for (const a of attestors) {
      const why = notationTrusted(jws.value, a, now);
      if (why === undefined) e.verifiedBy.push(a.name);
      else if (a.roots.length > 0) e.problems.push(`${a.name}: ${why}`);
    }
    if (e.verifiedBy.length === 0 && e.problems.length === 0) e.problems.push('no attestor has x509 roots for Notation signatures');
    return e;
  }

  private async readBlob(repository: string, digest: string, max: number, e: SignatureEntry): Promise<Buffer | undefined> {
    try {
      const d = parseDigest(digest);
      const stat = await this.registry.statBlob(repository, d);
      if (stat.size > max) {
        fail(e, `the layer is ${stat.size} bytes; at most ${max} are read`);
        return undefined;
      }
      return await readAll(await this.registry.openBlob(repository, d), max);
    } catch (err) {
      fail(e, isWharfError(err) ? `the layer cannot be read: ${err.message.slice(0, 120)}` : 'the layer cannot be read');
      return undefined;
    }
  }
}

interface Layer {
  mediaType: string;
  digest: string;
  annotations: Record<string, string>;
}

/** The manifests an index lists (none for an image manifest). */
function indexChildren(content: Buffer): string[] {
  try {
    const m = JSON.parse(content.toString('utf8')) as { manifests?: { digest?: unknown }[] };
    return Array.isArray(m.manifests) ? m.manifests.map((d) => d.digest).filter((d): d is string => typeof d === 'string' && /^sha256:[0-9a-f]{64}$/.test(d)).slice(0, 256) : [];
  } catch {
    return [];
  }
}

/** The layers of an image manifest (undefined when it is not one). */
function manifestLayers(content: Buffer): Layer[] | undefined {
  let m: unknown;
  try {
    m = JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
  const layers = (m as { layers?: unknown }).layers;
  if (!Array.isArray(layers)) return undefined;
  return layers
    .filter((l): l is Record<string, unknown> => typeof l === 'object' && l !== null && typeof (l as Layer).digest === 'string')
    .map((l) => ({
      mediaType: typeof l.mediaType === 'string' ? l.mediaType : '',
      digest: l.digest as string,
      annotations: typeof l.annotations === 'object' && l.annotations !== null ? (l.annotations as Record<string, string>) : {},
    }));
}

function entry(format: SignatureFormat, kind: SignatureEntry['kind'], manifest: string, layer: string): SignatureEntry {
  return { format, kind, manifest, layer, claims: {}, signer: {}, wellFormed: false, verifiedBy: [], problems: [] };
}

function fail(e: SignatureEntry, reason: string): SignatureEntry {
  e.wellFormed = false;
  e.verifiedBy = [];
  e.problems.push(reason);
  return e;
}

function broken(format: SignatureFormat, manifest: string, layer: string, reason: string): SignatureEntry {
  return fail(entry(format, 'signature', manifest, layer), reason);
}

function certificateSubject(pem: string): string {
  try {
    const c = new X509Certificate(pem);
    return c.subjectAltName ?? c.subject.replace(/\n/g, ', ');
  } catch {
    return 'unreadable certificate';
  }
}

async function readAll(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > max) {
      stream.destroy();
      throw new WharfError('SIZE_INVALID', `more than ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
