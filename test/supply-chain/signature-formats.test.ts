/**
 * The signature formats other implementations write, read by SigningService over a real registry
 * (SQLite + fs, test/http/harness.ts): Sigstore bundles made by @sigstore/sign with a key signer
 * (DSSE and message signature) stored as OCI 1.1 referrers; Notation JWS envelopes whose
 * certificates and signatures come from openssl; DSSE attestations in cosign's .att scheme; and
 * hostile input (oversized, malformed, retargeted, wrong keys, unknown key types).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder } from '@sigstore/sign';
import { startHarness, pushBlob, pushImage, putManifest, type Harness } from '../http/harness.js';
import { SigningService } from '../../src/features/signing/signing-service.js';
import { SqlAttestorStore, loadAttestor } from '../../src/features/signing/attestors.js';
import { parseDsseEnvelope, parseSimpleSigning, parseInTotoStatement, decodeBase64 } from '../../src/features/signing/formats.js';
import { parsePublicKeyPem } from '../../src/features/signing/public-keys.js';
import { parseNotationJws } from '../../src/features/signing/notation.js';
import { parseSigstoreBundle } from '../../src/features/signing/sigstore-bundles.js';
import { isWharfError } from '../../src/errors/wharf-error.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = Buffer.from('{}');
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const ref = (digest: string) => ({ kind: 'digest' as const, digest: digest as never });

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

describe('signature formats', () => {
  let h: Harness;
  let signing: SigningService;
  let dir: string;
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pubPem = key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  /** Stores `bytes` as a referrer of `subject` with this artifact type and layer media type. */
  async function referrer(repo: string, subject: string, artifactType: string, layerType: string, bytes: Buffer): Promise<string> {
    await pushBlob(h.app, repo, EMPTY);
    await pushBlob(h.app, repo, bytes);
    const m = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI,
        artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(EMPTY), size: 2 },
        layers: [{ mediaType: layerType, digest: sha(bytes), size: bytes.length }],
        subject: { mediaType: OCI, digest: subject, size: 1 },
      }),
    );
    const r = await putManifest(h.app, repo, sha(m), m);
    assert.equal(r.statusCode, 201, r.body);
    return sha(m);
  }

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'wharf-sigfmt-'));
    signing = new SigningService({ registry: h.registry, attestors: new SqlAttestorStore(h.metadata.database) });
    await signing.putAttestor('ci', { publicKeys: [pubPem] }, 'test');
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const keySigner = (k: typeof key) => ({
    sign: async (data: Buffer) => ({ signature: nodeSign('sha256', data, k.privateKey), key: { $case: 'publicKey' as const, publicKey: pubPem, hint: 'ci-key' } }),
  });

  it('verifies a DSSE Sigstore bundle made by @sigstore/sign with a key signer, stored as a referrer', async () => {
    const img = await pushImage(h.app, 'ml/bundle', 'v1');
    const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'ml/bundle', digest: { sha256: img.digest.slice(7) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: {} }));
    const bundle = await new DSSEBundleBuilder({ signer: keySigner(key), witnesses: [] }).create({ data: statement, type: 'application/vnd.in-toto+json' });
    const bytes = Buffer.from(JSON.stringify(bundleToJSON(bundle)));
    await referrer('ml/bundle', img.digest, 'application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle.v0.3+json', bytes);
    const l = await signing.list('ml/bundle', ref(img.digest));
    const b = l.signatures.find((s) => s.format === 'sigstore-bundle')!;
    assert.equal(b.wellFormed, true, b.problems.join());
    assert.equal(b.kind, 'attestation');
    assert.equal(b.claims.predicateType, 'https://slsa.dev/provenance/v1');
    assert.deepEqual(b.verifiedBy, ['ci']);
    assert.equal(b.signer.keyId, 'ci-key');

    // the same bundle copied onto another image speaks about the first one: refused
    const img2 = await pushImage(h.app, 'ml/bundle', 'v2');
    await referrer('ml/bundle', img2.digest, 'application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle.v0.3+json', bytes);
    const l2 = await signing.list('ml/bundle', ref(img2.digest));
    assert.equal(l2.signatures[0]!.wellFormed, false);
    assert.deepEqual(l2.verifiedBy, []);

    // a tampered envelope payload fails @sigstore/verify
    const json = bundleToJSON(bundle) as { dsseEnvelope: { payload: string } };
    json.dsseEnvelope.payload = Buffer.from(statement.toString().replace('provenance/v1', 'provenance/v9')).toString('base64');
    await referrer('ml/bundle', img.digest, 'application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle.v0.3+json', Buffer.from(JSON.stringify(json)));
    const l3 = await signing.list('ml/bundle', ref(img.digest));
    const tampered = l3.signatures.find((s) => s.claims.predicateType === 'https://slsa.dev/provenance/v9')!;
    assert.deepEqual(tampered.verifiedBy, []);
  });

  it('verifies a message-signature bundle over the image manifest; another key does not', async () => {
    const img = await pushImage(h.app, 'ml/msg', 'v1');
    const bundle = await new MessageSignatureBundleBuilder({ signer: keySigner(key), witnesses: [] }).create({ data: img.manifest });
    await referrer('ml/msg', img.digest, 'application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle.v0.3+json', Buffer.from(JSON.stringify(bundleToJSON(bundle))));
    const l = await signing.list('ml/msg', ref(img.digest));
    assert.deepEqual(l.verifiedBy, ['ci']);
    const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const v = await signing.verify('ml/msg', ref(img.digest), { publicKey: otherPem });
    assert.equal(v.verified, false);
  });

  it('verifies a Notation JWS signature (openssl CA, leaf and PS256 signature) against x509 roots and trusted identities', async () => {
    const img = await pushImage(h.app, 'ml/notation', 'v1');
    const p = (n: string) => join(dir, n);
    writeFileSync(p('ca.cnf'), '[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n[v3_leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n');
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '30', '-subj', '/C=US/O=Acme/CN=Acme Root', '-extensions', 'v3_ca', '-config', p('ca.cnf')]);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', '/C=US/O=Acme/CN=builder']);
    openssl(['x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('leaf.pem'), '-days', '10', '-extfile', p('ca.cnf'), '-extensions', 'v3_leaf']);
    const der = (pem: string) => Buffer.from(readFileSync(pem, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64');
    const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const jws = (target: string) => {
      const protectedH = b64u({ alg: 'PS256', crit: ['io.cncf.notary.signingScheme'], cty: 'application/vnd.cncf.notary.payload.v1+json', 'io.cncf.notary.signingScheme': 'notary.x509', 'io.cncf.notary.signingTime': new Date().toISOString() });
      const payload = b64u({ targetArtifact: { mediaType: OCI, digest: target, size: img.manifest.length } });
      writeFileSync(p('input'), `${protectedH}.${payload}`);
      openssl(['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-sign', p('leaf.key'), '-out', p('input.sig'), p('input')]);
      return Buffer.from(JSON.stringify({ payload, protected: protectedH, header: { x5c: [der(p('leaf.pem')), der(p('ca.pem'))], 'io.cncf.notary.signingAgent': 'openssl-test' }, signature: readFileSync(p('input.sig')).toString('base64url') }));
    };
    await referrer('ml/notation', img.digest, 'application/vnd.cncf.notary.signature', 'application/jose+json', jws(img.digest));
    await signing.putAttestor('acme', { x509Roots: [readFileSync(p('ca.pem'), 'utf8')], trustedIdentities: ['x509.subject: C=US, O=Acme, CN=builder'] }, 'test');
    await signing.putAttestor('acme-other-identity', { x509Roots: [readFileSync(p('ca.pem'), 'utf8')], trustedIdentities: ['x509.subject: C=US, O=Acme, CN=someone-else'] }, 'test');
    const l = await signing.list('ml/notation', ref(img.digest));
    const n = l.signatures.find((s) => s.format === 'notation')!;
    assert.equal(n.wellFormed, true, n.problems.join());
    assert.deepEqual(n.verifiedBy, ['acme']);
    assert.match(n.signer.certificateSubject!, /CN=builder/);
    assert.ok(n.problems.some((x) => x.startsWith('acme-other-identity:')));

    // a signature over another digest, pushed as a referrer of this image
    const img2 = await pushImage(h.app, 'ml/notation', 'v2');
    await referrer('ml/notation', img2.digest, 'application/vnd.cncf.notary.signature', 'application/jose+json', jws(img.digest));
    const l2 = await signing.list('ml/notation', ref(img2.digest));
    assert.deepEqual(l2.verifiedBy, []);
    assert.match(l2.signatures[0]!.problems.join(), /not this image/);
    await signing.deleteAttestor('acme');
    await signing.deleteAttestor('acme-other-identity');
  });

  it('refuses malformed and oversized envelopes, payloads and keys without throwing', () => {
    assert.equal(parseDsseEnvelope(Buffer.from('not json')).ok, false);
    assert.equal(parseDsseEnvelope(Buffer.from('{"payloadType":"x","payload":"!!","signatures":[{"sig":"AA=="}]}')).ok, false);
    assert.equal(parseDsseEnvelope(Buffer.from('{"payloadType":"x","payload":"AA==","signatures":[]}')).ok, false);
    assert.equal(parseDsseEnvelope(Buffer.from(JSON.stringify({ payloadType: 'x', payload: 'AA==', signatures: Array(17).fill({ sig: 'AA==' }) }))).ok, false);
    assert.equal(parseDsseEnvelope(Buffer.alloc(17 * 1024 * 1024, 0x20)).ok, false);
    assert.equal(parseSimpleSigning(Buffer.from('{"critical":{"identity":{},"image":{},"type":"x"}}')).ok, false);
    assert.equal(parseSimpleSigning(Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'a' }, image: { 'docker-manifest-digest': 'sha256:00' }, type: 'atomic container signature' } }))).ok, false);
    assert.equal(parseSimpleSigning(Buffer.alloc(65 * 1024, 0x20)).ok, false);
    assert.equal(parseInTotoStatement(Buffer.from('{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[]}')).ok, false);
    assert.equal(decodeBase64('a'), undefined);
    assert.equal(decodeBase64('ab$c'), undefined);
    assert.equal(parseNotationJws(Buffer.from('{"payload":"x","protected":"e30","signature":"AA"}')).ok, false);
    assert.equal(parseSigstoreBundle(Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}')).ok, false);
    // unknown key types and weak keys
    const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    assert.match((parsePublicKeyPem(dsa) as { reason: string }).reason, /unsupported key type/);
    const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    assert.match((parsePublicKeyPem(k256) as { reason: string }).reason, /unsupported ECDSA curve/);
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    assert.match((parsePublicKeyPem(rsa1024) as { reason: string }).reason, /2048/);
    for (const t of ['ed25519', 'rsa'] as const) {
      const pem = (t === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).publicKey.export({ type: 'spki', format: 'pem' }) as string;
      assert.equal(parsePublicKeyPem(pem).ok, true);
    }
    assert.equal(loadAttestor('UPPER', { publicKeys: [pubPem] }).problems[0]!.pointer, '/name');
    assert.equal(loadAttestor('empty', {}).problems.length, 1);
  });

  it('concurrent writes of one attestor leave exactly one, equal to one of the writes', async () => {
    const keys = Array.from({ length: 12 }, () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const results = await Promise.all(keys.map((k, i) => signing.putAttestor('race', { publicKeys: [k], description: `writer ${i}` }, `w${i}`)));
    assert.equal(results.filter((r) => r.created).length, 1);
    const all = (await signing.listAttestors()).filter((a) => a.name === 'race');
    assert.equal(all.length, 1);
    assert.ok(keys.includes(all[0]!.publicKeys![0]!));
    assert.equal(all[0]!.description, `writer ${keys.indexOf(all[0]!.publicKeys![0]!)}`);
    await signing.deleteAttestor('race');
    await assert.rejects(signing.deleteAttestor('race'), (e) => isWharfError(e, 'RESOURCE_UNKNOWN'));
  });

  it('lists a hostile .sig manifest (oversized payload layer, wrong media type, junk annotation) as refused entries', async () => {
    const img = await pushImage(h.app, 'ml/hostile', 'v1');
    const big = Buffer.alloc(100 * 1024, 0x41);
    const small = Buffer.from('{}');
    await pushBlob(h.app, 'ml/hostile', big);
    await pushBlob(h.app, 'ml/hostile', small);
    await pushBlob(h.app, 'ml/hostile', EMPTY);
    const m = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(EMPTY), size: 2 },
        layers: [
          { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha(big), size: big.length, annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' } },
          { mediaType: 'text/plain', digest: sha(small), size: 2, annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' } },
          { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha(small), size: 2, annotations: { 'dev.cosignproject.cosign/signature': '%%%' } },
        ],
      }),
    );
    assert.equal((await putManifest(h.app, 'ml/hostile', `${img.digest.replace(':', '-')}.sig`, m)).statusCode, 201);
    const l = await signing.list('ml/hostile', ref(img.digest));
    assert.equal(l.signatures.length, 3);
    assert.ok(l.signatures.every((s) => !s.wellFormed && s.verifiedBy.length === 0 && s.problems.length > 0));
    assert.deepEqual(l.verifiedBy, []);
    await assert.rejects(signing.list('ml/hostile', { kind: 'tag', tag: 'nope' as never }), (e) => isWharfError(e, 'MANIFEST_UNKNOWN'));
  });
});
