import { createPrivateKey, createPublicKey, createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { WharfClient } from '../../client/wharf-client.js';
import { WharfError } from '../../errors/wharf-error.js';
import {
  ANNOTATION_PREDICATE_TYPE,
  ANNOTATION_SIGNATURE,
  cosignTag,
  DSSE_MEDIA_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  inTotoStatement,
  pae,
  PREDICATE_TYPES,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  SIMPLE_SIGNING_MEDIA_TYPE,
  simpleSigningPayload,
} from '../../features/signing/formats.js';
import type { CliIO } from '../io.js';
import { clientFor, print, withClientFlags, type ClientFlags } from './client-context.js';
import { parseImageRef } from './scan.js';

/**
 * `wharf sign IMAGE --key KEY` and `wharf attest IMAGE --predicate FILE --type T`: sign on the
 * client (the private key never leaves it) and store the result in cosign's tag scheme, so
 * `cosign verify --key` and `cosign verify-attestation --key` read it: a simple-signing payload
 * layer with the base64 signature annotation under `sha256-<hex>.sig`, or a DSSE envelope around
 * an in-toto statement under `sha256-<hex>.att`. Signatures already there are kept (a new layer
 * is appended, as cosign does). Keys: PEM PKCS#8 / SEC1 / PKCS#1, unencrypted (cosign's own
 * encrypted key format is not read: export it with `openssl` or use a KMS in CI).
 */
export function loadPrivateKey(path: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw new WharfError('REQUEST_INVALID', `cannot read the key file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (pem.includes('ENCRYPTED SIGSTORE PRIVATE KEY') || pem.includes('ENCRYPTED COSIGN PRIVATE KEY')) {
    throw new WharfError('REQUEST_INVALID', "cosign's encrypted key format is not supported: give an unencrypted PEM key (PKCS#8)");
  }
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    const t = key.asymmetricKeyType;
    if (t !== 'ec' && t !== 'rsa' && t !== 'ed25519') throw new Error(`unsupported key type ${t}`);
    return key;
  } catch (e) {
    throw new WharfError('REQUEST_INVALID', `${path} is not a usable PEM private key: ${(e as Error).message.slice(0, 120)}`);
  }
}

/** The signature cosign expects: SHA-256 (SHA-384 for P-384), ECDSA as ASN.1 DER; Ed25519 pure. */
export function signBytes(key: KeyObject, data: Uint8Array): Buffer {
  if (key.asymmetricKeyType === 'ed25519') return cryptoSign(null, data, key);
  const hash = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
  return cryptoSign(hash, data, key);
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface NewLayer {
  bytes: Buffer;
  mediaType: string;
  annotations: Record<string, string>;
}

/** Appends `layer` to the manifest under `tag` (creating it), cosign-style: config lists each layer's diff_id. */
export async function appendLayer(client: WharfClient, repository: string, tag: string, layer: NewLayer): Promise<{ manifest: string; layer: string }> {
  const layerDigest = sha256(layer.bytes);
  await client.pushBlobBytes(repository, layerDigest, layer.bytes);
  const existing = await client.getManifestBytes(repository, tag);
  let layers: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] = [];
  if (existing) {
    const m = JSON.parse(existing.bytes.toString('utf8')) as { layers?: typeof layers };
    layers = Array.isArray(m.layers) ? m.layers : [];
  }
  const entry = { mediaType: layer.mediaType, digest: layerDigest, size: layer.bytes.length, annotations: layer.annotations };
  if (!layers.some((l) => l.digest === entry.digest && JSON.stringify(l.annotations ?? {}) === JSON.stringify(entry.annotations))) layers.push(entry);
  const config = Buffer.from(
    JSON.stringify({ architecture: '', config: {}, created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }),
  );
  const configDigest = sha256(config);
  await client.pushBlobBytes(repository, configDigest, config);
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: configDigest }, layers }),
  );
  await client.putManifestBytes(repository, tag, manifest, OCI_MANIFEST);
  return { manifest: sha256(manifest), layer: layerDigest };
}

/** host/repository as cosign writes docker-reference */
function dockerReference(client: WharfClient, repository: string): string {
  return `${new URL(client.server).host}/${repository}`;
}

/**
 * The digest `reference` names, through the management API: under a deploy policy enforced at
 * pull, /v2 would not serve an unsigned image's manifest to the one about to sign it.
 */
async function resolveDigest(client: WharfClient, repository: string, reference: string): Promise<string> {
  return (await client.signatures(repository, reference)).digest;
}

export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/**
 * A Sigstore bundle v0.3 (sigstore/protobuf-specs `Bundle`) with a DSSE envelope around an
 * in-toto statement naming the image, signed with `key` (no Fulcio certificate, no Rekor entry:
 * the key hint is the base64 SHA-256 of the public key's DER), pushed as a referrer of the image
 * (cosign specs/BUNDLE_SPEC.md: empty config, one layer, `dev.sigstore.bundle.*` annotations).
 */
async function pushBundle(client: WharfClient, repository: string, image: { digest: string; mediaType: string; size: number }, key: KeyObject): Promise<{ manifest: string; bundle: string }> {
  const statement = inTotoStatement(dockerReference(client, repository), image.digest, COSIGN_SIGN_PREDICATE, {});
  const sig = signBytes(key, pae(IN_TOTO_PAYLOAD_TYPE, statement));
  const publicDer = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const bundle = Buffer.from(
    JSON.stringify({
      mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: createHash('sha256').update(publicDer).digest('base64') }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
      dsseEnvelope: { payload: statement.toString('base64'), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: sig.toString('base64'), keyid: '' }] },
    }),
  );
  const empty = Buffer.from('{}');
  await client.pushBlobBytes(repository, sha256(empty), empty);
  await client.pushBlobBytes(repository, sha256(bundle), bundle);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
      layers: [{ mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE, digest: sha256(bundle), size: bundle.length, annotations: { 'org.opencontainers.image.title': `${sha256(bundle).replace(':', '-')}.sigstore.json` } }],
      subject: { mediaType: image.mediaType, digest: image.digest, size: image.size },
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE, 'org.opencontainers.image.created': new Date().toISOString() },
    }),
  );
  await client.putManifestBytes(repository, sha256(manifest), manifest, OCI_MANIFEST);
  return { manifest: sha256(manifest), bundle: sha256(bundle) };
}

export function registerSignCommands(program: Command, io: CliIO): void {
  withClientFlags(
    program
      .command('sign <image>')
      .description("sign an image (REPO:TAG or REPO@DIGEST) with a private key, stored in cosign's tag scheme (sha256-<hex>.sig)")
      .requiredOption('--key <file>', 'PEM private key (ECDSA P-256/P-384, RSA, Ed25519; unencrypted)')
      .option('-a, --annotation <key=value...>', 'optional claims signed with the payload')
      .option('--recursive', 'for a multi-platform index, sign each platform manifest too (clients pull those by digest)')
      .option('--bundle', 'write a Sigstore bundle (v0.3, DSSE) as an OCI 1.1 referrer instead of the sha256-<hex>.sig tag (cosign v3)'),
  ).action(async (image: string, opts: ClientFlags & { key: string; annotation?: string[]; recursive?: boolean; bundle?: boolean }) => {
    const key = loadPrivateKey(opts.key);
    const client = clientFor(opts, io);
    const { repository, reference } = parseImageRef(image);
    const listing = await client.signatures(repository, reference);
    const digests = [listing.digest, ...(opts.recursive ? (listing.manifests ?? []) : [])];
    if (opts.bundle) {
      if (opts.recursive) throw new WharfError('REQUEST_INVALID', '--bundle signs one manifest; sign each platform manifest by digest');
      const r = await pushBundle(client, repository, listing, key);
      print(io, opts, r, () => `signed ${repository}@${listing.digest}\nbundle referrer: ${repository}@${r.manifest}\n`);
      return;
    }
    let optional: Record<string, string> | null = null;
    for (const a of opts.annotation ?? []) {
      const eq = a.indexOf('=');
      if (eq <= 0) throw new WharfError('REQUEST_INVALID', `--annotation takes key=value, got ${a}`);
      (optional ??= {})[a.slice(0, eq)] = a.slice(eq + 1);
    }
    const out: { repository: string; digest: string; tag: string; manifest: string; payload: string }[] = [];
    for (const digest of digests) {
      const payload = simpleSigningPayload(dockerReference(client, repository), digest, optional);
      const signature = signBytes(key, payload).toString('base64');
      const tag = cosignTag(digest, 'sig');
      const r = await appendLayer(client, repository, tag, { bytes: payload, mediaType: SIMPLE_SIGNING_MEDIA_TYPE, annotations: { [ANNOTATION_SIGNATURE]: signature } });
      out.push({ repository, digest, tag, manifest: r.manifest, payload: r.layer });
    }
    print(io, opts, opts.recursive ? out : out[0], () => out.map((o) => `signed ${repository}@${o.digest}\nsignature: ${repository}:${o.tag} (${o.manifest})\n`).join(''));
  });

  withClientFlags(
    program
      .command('attest <image>')
      .description('attach a signed in-toto attestation (DSSE) to an image, in cosign\'s tag scheme (sha256-<hex>.att)')
      .requiredOption('--key <file>', 'PEM private key')
      .requiredOption('--predicate <file>', 'the predicate (JSON)')
      .option('--type <type>', `predicate type: ${Object.keys(PREDICATE_TYPES).join(', ')} or a URI`, 'custom'),
  ).action(async (image: string, opts: ClientFlags & { key: string; predicate: string; type: string }) => {
    const key = loadPrivateKey(opts.key);
    const predicateType = PREDICATE_TYPES[opts.type] ?? (/^https?:\/\/\S+$/.test(opts.type) ? opts.type : undefined);
    if (!predicateType) throw new WharfError('REQUEST_INVALID', `--type takes ${Object.keys(PREDICATE_TYPES).join(', ')} or a URI`);
    let predicate: unknown;
    try {
      predicate = JSON.parse(readFileSync(opts.predicate, 'utf8'));
    } catch (e) {
      throw new WharfError('REQUEST_INVALID', `--predicate ${opts.predicate}: not a readable JSON file (${(e as Error).message.slice(0, 80)})`);
    }
    const client = clientFor(opts, io);
    const { repository, reference } = parseImageRef(image);
    const digest = await resolveDigest(client, repository, reference);
    const statement = inTotoStatement(dockerReference(client, repository), digest, predicateType, predicate);
    const sig = signBytes(key, pae(IN_TOTO_PAYLOAD_TYPE, statement));
    const envelope = Buffer.from(JSON.stringify({ payloadType: IN_TOTO_PAYLOAD_TYPE, payload: statement.toString('base64'), signatures: [{ keyid: '', sig: sig.toString('base64') }] }));
    const tag = cosignTag(digest, 'att');
    const r = await appendLayer(client, repository, tag, { bytes: envelope, mediaType: DSSE_MEDIA_TYPE, annotations: { [ANNOTATION_SIGNATURE]: '', [ANNOTATION_PREDICATE_TYPE]: predicateType } });
    const out = { repository, digest, tag, predicateType, manifest: r.manifest, envelope: r.layer };
    print(io, opts, out, () => `attested ${repository}@${digest} (${predicateType})\nattestation: ${repository}:${tag} (${r.manifest})\n`);
  });
}
