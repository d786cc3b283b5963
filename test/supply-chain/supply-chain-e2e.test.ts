/**
 * Supply chain end to end, against the built server (dist/cli/main.js serve) with auth on:
 * signatures made by openssl over the documented cosign payload are listed and verified;
 * a signature copied onto another image, a tampered payload and a wrong key are refused;
 * `wharf sign` / `wharf attest` write what openssl verifies; deploy policies deny a pull through
 * skopeo (403) and judge AdmissionReviews shaped as the API server sends them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { wharfBuilt } from '../support/registry-process.js';
import { OCI, sha, SupplyChainServer } from './support.js';

const PASSWORD = 'supply-chain-admin-pw';

function openssl(args: string[], input?: Buffer): { code: number; out: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('supply chain (e2e)', { skip: !wharfBuilt() && 'build first (npm run build)' }, () => {
  let srv: SupplyChainServer;
  let dir: string;
  const reg = {
    get url() {
      return srv.url;
    },
    get host() {
      return srv.host;
    },
  };
  const auth = { get authorization() { return srv.auth.authorization; } };
  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => srv.api(method, path, body, headers);
  const pushBlob = (repo: string, b: Buffer) => srv.pushBlob(repo, b);
  const putManifest = (repo: string, ref: string, m: unknown) => srv.putManifest(repo, ref, m);
  const pushImage = (repo: string, tag: string, content: string) => srv.pushImage(repo, tag, content);
  const wharf = (args: string[], input = '') => srv.wharf(args, input);
  /** A cosign signature manifest written by hand: payload as SIGNATURE_SPEC.md documents it, signature from openssl. */
  const storeOpensslSignature = async (repo: string, tagOf: string, signedDigest: string, key: string, tamper = false): Promise<void> => {
    const payload = Buffer.from(
      `{"critical":{"identity":{"docker-reference":"${reg.host}/${repo}"},"image":{"docker-manifest-digest":"${signedDigest}"},"type":"cosign container image signature"},"optional":{"ci":"test"}}`,
    );
    const pf = join(dir, `payload-${Math.random()}.json`);
    writeFileSync(pf, payload);
    const sf = `${pf}.sig`;
    assert.equal(openssl(['dgst', '-sha256', '-sign', key, '-out', sf, pf]).code, 0);
    const stored = tamper ? Buffer.from(payload.toString().replace('"ci":"test"', '"ci":"evil"')) : payload;
    await pushBlob(repo, stored);
    const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha(stored)] } }));
    await pushBlob(repo, config);
    await putManifest(repo, `${tagOf.replace(':', '-')}.sig`, {
      schemaVersion: 2,
      mediaType: OCI,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [
        {
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          digest: sha(stored),
          size: stored.length,
          annotations: { 'dev.cosignproject.cosign/signature': readFileSync(sf).toString('base64') },
        },
      ],
    });
  };
  let signed: string;
  let retagged: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-supply-'));
    srv = await SupplyChainServer.start(PASSWORD, dir);
    for (const [name, curve] of [
      ['ci', 'prime256v1'],
      ['other', 'prime256v1'],
      ['dev', 'secp384r1'],
    ] as const) {
      assert.equal(openssl(['ecparam', '-name', curve, '-genkey', '-noout', '-out', join(dir, `${name}.ec.pem`)]).code, 0);
      assert.equal(openssl(['pkcs8', '-topk8', '-nocrypt', '-in', join(dir, `${name}.ec.pem`), '-out', join(dir, `${name}.pem`)]).code, 0);
      assert.equal(openssl(['ec', '-in', join(dir, `${name}.pem`), '-pubout', '-out', join(dir, `${name}.pub`)]).code, 0);
    }
    signed = await pushImage('app/web', '1', 'layer one');
    retagged = await pushImage('app/web', '2', 'layer two');
    await storeOpensslSignature('app/web', signed, signed, join(dir, 'ci.pem'));
    // the signature of image 1, copied onto image 2's signature tag
    await storeOpensslSignature('app/web', retagged, signed, join(dir, 'ci.pem'));
    const put = await api('PUT', '/api/v1/attestors/ci', { publicKeys: [readFileSync(join(dir, 'ci.pub'), 'utf8')] });
    assert.equal(put.status, 200, put.text);
  });
  after(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists an openssl-made cosign signature as verified by the attestor', async () => {
    const r = await api('GET', '/api/v1/signatures/app/web?reference=1');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.digest, signed);
    assert.equal(r.json.signatures.length, 1);
    const s = r.json.signatures[0];
    assert.equal(s.format, 'cosign');
    assert.equal(s.wellFormed, true);
    assert.deepEqual(s.verifiedBy, ['ci']);
    assert.equal(s.claims.dockerReference, `${reg.host}/app/web`);
    assert.deepEqual(r.json.verifiedBy, ['ci']);
  });

  it('refuses a signature copied onto another image, a tampered payload and a wrong key', async () => {
    const copied = await api('GET', '/api/v1/signatures/app/web?reference=2');
    assert.equal(copied.json.signatures[0].wellFormed, false);
    assert.match(copied.json.signatures[0].problems.join(' '), /not this image/);
    assert.deepEqual(copied.json.verifiedBy, []);

    const img3 = await pushImage('app/web', '3', 'layer three');
    await storeOpensslSignature('app/web', img3, img3, join(dir, 'ci.pem'), true);
    const tampered = await api('GET', '/api/v1/signatures/app/web?reference=3');
    assert.equal(tampered.json.signatures[0].wellFormed, true);
    assert.deepEqual(tampered.json.signatures[0].verifiedBy, []);

    const wrong = await api('POST', '/api/v1/verifications/app/web', { reference: '1', publicKey: readFileSync(join(dir, 'other.pub'), 'utf8') });
    assert.equal(wrong.status, 200, wrong.text);
    assert.equal(wrong.json.verified, false);

    const badKey = await api('PUT', '/api/v1/attestors/bad', { publicKeys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'] });
    assert.equal(badKey.status, 400);
    assert.equal(badKey.json.errors[0].code, 'ATTESTOR_INVALID');
    const priv = await api('PUT', '/api/v1/attestors/bad', { publicKeys: [readFileSync(join(dir, 'ci.pem'), 'utf8')] });
    assert.equal(priv.status, 400);
  });

  it('wharf sign writes a signature openssl verifies; wharf verify --key accepts the key and refuses another', async () => {
    const img = await pushImage('app/cli', 'v1', 'cli layer');
    const s = wharf(['sign', 'app/cli:v1', '--key', join(dir, 'dev.pem'), '--output', 'json']);
    assert.equal(s.code, 0, s.err);
    const m = await fetch(`${reg.url}/v2/app/cli/manifests/${img.replace(':', '-')}.sig`, { headers: { ...auth, accept: OCI } });
    assert.equal(m.status, 200);
    const manifest = (await m.json()) as { layers: { digest: string; annotations: Record<string, string> }[] };
    const layer = manifest.layers[0]!;
    const payload = Buffer.from(await (await fetch(`${reg.url}/v2/app/cli/blobs/${layer.digest}`, { headers: auth })).arrayBuffer());
    const p = JSON.parse(payload.toString()) as { critical: { image: { 'docker-manifest-digest': string }; type: string } };
    assert.equal(p.critical.image['docker-manifest-digest'], img);
    assert.equal(p.critical.type, 'cosign container image signature');
    writeFileSync(join(dir, 'cli.payload'), payload);
    writeFileSync(join(dir, 'cli.sig'), Buffer.from(layer.annotations['dev.cosignproject.cosign/signature']!, 'base64'));
    const v = openssl(['dgst', '-sha384', '-verify', join(dir, 'dev.pub'), '-signature', join(dir, 'cli.sig'), join(dir, 'cli.payload')]);
    assert.equal(v.code, 0, v.out);
    assert.match(v.out, /Verified OK/);

    assert.equal(wharf(['verify', 'app/cli:v1', '--key', join(dir, 'dev.pub')]).code, 0);
    const no = wharf(['verify', 'app/cli:v1', '--key', join(dir, 'ci.pub')]);
    assert.equal(no.code, 4, no.err);
  });

  it('wharf sign --bundle writes a Sigstore bundle referrer that @sigstore/verify (in the server) accepts', async () => {
    const img = await pushImage('app/cli', 'v3', 'bundle layer');
    const s = wharf(['sign', 'app/cli:v3', '--bundle', '--key', join(dir, 'ci.pem'), '--output', 'json']);
    assert.equal(s.code, 0, s.err);
    const refs = (await (await fetch(`${reg.url}/v2/app/cli/referrers/${img}`, { headers: auth })).json()) as { manifests: { artifactType: string; annotations?: Record<string, string> }[] };
    assert.equal(refs.manifests.length, 1);
    assert.equal(refs.manifests[0]!.artifactType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(refs.manifests[0]!.annotations?.['dev.sigstore.bundle.content'], 'dsse-envelope');
    const l = await api('GET', '/api/v1/signatures/app/cli?reference=v3');
    const b = l.json.signatures.find((x: { format: string }) => x.format === 'sigstore-bundle');
    assert.equal(b.wellFormed, true, JSON.stringify(b));
    assert.deepEqual(b.verifiedBy, ['ci']);
    assert.equal(b.claims.predicateType, 'https://sigstore.dev/cosign/sign/v1');
    // the same bundle is not verified by another key
    const other = await api('POST', '/api/v1/verifications/app/cli', { reference: 'v3', publicKey: readFileSync(join(dir, 'other.pub'), 'utf8') });
    assert.equal(other.json.verified, false);
  });

  it('wharf attest writes a DSSE in-toto attestation openssl verifies over the PAE', async () => {
    const img = await pushImage('app/cli', 'v2', 'attested layer');
    writeFileSync(join(dir, 'prov.json'), JSON.stringify({ builder: { id: 'https://ci.example/builder' } }));
    const a = wharf(['attest', 'app/cli:v2', '--key', join(dir, 'ci.pem'), '--predicate', join(dir, 'prov.json'), '--type', 'slsaprovenance']);
    assert.equal(a.code, 0, a.err);
    const m = (await (await fetch(`${reg.url}/v2/app/cli/manifests/${img.replace(':', '-')}.att`, { headers: { ...auth, accept: OCI } })).json()) as { layers: { digest: string; mediaType: string }[] };
    assert.equal(m.layers[0]!.mediaType, 'application/vnd.dsse.envelope.v1+json');
    const env = JSON.parse(Buffer.from(await (await fetch(`${reg.url}/v2/app/cli/blobs/${m.layers[0]!.digest}`, { headers: auth })).arrayBuffer()).toString()) as {
      payloadType: string;
      payload: string;
      signatures: { sig: string }[];
    };
    const body = Buffer.from(env.payload, 'base64');
    const paeBytes = Buffer.concat([Buffer.from(`DSSEv1 ${env.payloadType.length} ${env.payloadType} ${body.length} `), body]);
    writeFileSync(join(dir, 'pae.bin'), paeBytes);
    writeFileSync(join(dir, 'pae.sig'), Buffer.from(env.signatures[0]!.sig, 'base64'));
    assert.match(openssl(['dgst', '-sha256', '-verify', join(dir, 'ci.pub'), '-signature', join(dir, 'pae.sig'), join(dir, 'pae.bin')]).out, /Verified OK/);
    const st = JSON.parse(body.toString()) as { subject: { digest: { sha256: string } }[]; predicateType: string };
    assert.equal(`sha256:${st.subject[0]!.digest.sha256}`, img);
    assert.equal(st.predicateType, 'https://slsa.dev/provenance/v0.2');
    const l = await api('GET', '/api/v1/signatures/app/cli?reference=v2');
    const att = l.json.signatures.find((s: { format: string }) => s.format === 'cosign-attestation');
    assert.deepEqual(att.verifiedBy, ['ci']);
    assert.equal(att.claims.predicateType, 'https://slsa.dev/provenance/v0.2');
  });

  it('deleting an image deletes its cosign signature and attestation manifests', async () => {
    const img = await pushImage('app/gone', 'v1', 'short-lived layer');
    assert.equal(wharf(['sign', 'app/gone:v1', '--key', join(dir, 'ci.pem')]).code, 0);
    writeFileSync(join(dir, 'p.json'), '{}');
    assert.equal(wharf(['attest', 'app/gone:v1', '--key', join(dir, 'ci.pem'), '--predicate', join(dir, 'p.json')]).code, 0);
    const sigTag = `${img.replace(':', '-')}.sig`;
    assert.equal((await fetch(`${reg.url}/v2/app/gone/manifests/${sigTag}`, { method: 'HEAD', headers: { ...auth, accept: OCI } })).status, 200);
    const del = await fetch(`${reg.url}/v2/app/gone/manifests/${img}`, { method: 'DELETE', headers: auth });
    assert.equal(del.status, 202);
    // the signatures go after the delete's commit, in the background: wait for it
    const gone = async (tag: string): Promise<boolean> => {
      for (let i = 0; i < 100; i++) {
        if ((await fetch(`${reg.url}/v2/app/gone/manifests/${tag}`, { method: 'HEAD', headers: { ...auth, accept: OCI } })).status === 404) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    assert.ok(await gone(sigTag));
    assert.ok(await gone(`${img.replace(':', '-')}.att`));
  });

  it('refuses malformed deploy policies with JSON pointers', async () => {
    const r = await api('PUT', '/api/v1/deploy-policy?scope=app/*', { policy: 'defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: NOPE\nwharf:\n  maxSeverity: huge\n  typo: 1\n' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.errors[0].code, 'DEPLOY_POLICY_INVALID');
    const pointers = (r.json.errors[0].detail as { pointer: string }[]).map((p) => p.pointer).sort();
    assert.deepEqual(pointers, ['/defaultAdmissionRule/enforcementMode', '/defaultAdmissionRule/requireAttestationsBy', '/wharf/maxSeverity', '/wharf/typo']);
    const yamlBomb = await api('PUT', '/api/v1/deploy-policy?scope=*', { policy: 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n' });
    assert.equal(yamlBomb.status, 400);
  });

  describe('with a deploy policy on app/*', () => {
    before(async () => {
      const policy = [
        'defaultAdmissionRule:',
        '  evaluationMode: REQUIRE_ATTESTATION',
        '  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG',
        '  requireAttestationsBy: [ci]',
        'admissionWhitelistPatterns:',
        '  - namePattern: registry.k8s.io/**',
        'wharf:',
        '  noMutableLatest: true',
        '  enforceAtPull: true',
        '  breakGlassPrincipals: [oncall]',
        '',
      ].join('\n');
      writeFileSync(join(dir, 'policy.yaml'), policy);
      const s = wharf(['deploy-policy', 'set', 'app/*', '--file', join(dir, 'policy.yaml')]);
      assert.equal(s.code, 0, s.err);
    });

    it('wharf deploy-policy check explains each rule and exits 4 on a denial', () => {
      const ok = wharf(['deploy-policy', 'check', 'app/web:1']);
      assert.equal(ok.code, 0, ok.out + ok.err);
      assert.match(ok.out, /attestor:ci\s+pass/);
      const bad = wharf(['deploy-policy', 'check', 'app/web:2', '--output', 'json']);
      assert.equal(bad.code, 4);
      const d = JSON.parse(bad.out) as { passed: boolean; rules: { rule: string; passed: boolean }[] };
      assert.equal(d.passed, false);
      assert.deepEqual(d.rules.filter((r) => !r.passed).map((r) => r.rule), ['attestor:ci']);
      // a draft judged without storing it
      writeFileSync(join(dir, 'draft.yaml'), 'defaultAdmissionRule:\n  evaluationMode: ALWAYS_ALLOW\n');
      assert.equal(wharf(['deploy-policy', 'check', 'app/web:2', '--dry-run', '--file', join(dir, 'draft.yaml')]).code, 0);
      assert.equal(wharf(['deploy-policy', 'check', 'app/web:2']).code, 4);
    });

    it('serves a signed image to skopeo and refuses an unsigned one with 403 DENIED, audited', async () => {
      const good = srv.skopeoInspect('app/web', '1');
      assert.equal(good.code, 0, good.err);
      const bad = srv.skopeoInspect('app/web', '2');
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /denied|403/i);
      const raw = await fetch(`${reg.url}/v2/app/web/manifests/2`, { headers: { ...auth, accept: OCI } });
      assert.equal(raw.status, 403);
      const body = (await raw.json()) as { errors: { code: string; detail: { failed: { rule: string }[] } }[] };
      assert.equal(body.errors[0]!.code, 'DENIED');
      assert.equal(body.errors[0]!.detail.failed[0]!.rule, 'attestor:ci');
      // the signature itself stays readable (verifiers need it)
      const sig = await fetch(`${reg.url}/v2/app/web/manifests/${retagged.replace(':', '-')}.sig`, { headers: { ...auth, accept: OCI } });
      assert.equal(sig.status, 200);
      await new Promise((r) => setTimeout(r, 300));
      const audit = await api('GET', '/api/v1/audit?action=deploy-policy.pull');
      assert.ok(audit.json.items.some((e: { digest: string; result: string }) => e.digest === retagged && e.result === 'denied'), audit.text);
    });

    it('a multi-platform image pulls (skopeo copy --all) once wharf sign --recursive signed its platform manifests', async () => {
      const pushIndex = async (tag: string): Promise<string> => {
        const children = [await pushImage('app/multi', `${tag}-amd64`, `amd64 ${tag}`), await pushImage('app/multi', `${tag}-arm64`, `arm64 ${tag}`)];
        const index = {
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: children.map((digest, i) => ({ mediaType: OCI, digest, size: srv.manifestSizes.get(digest)!, platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' } })),
        };
        const bytes = Buffer.from(JSON.stringify(index));
        const r = await fetch(`${reg.url}/v2/app/multi/manifests/${tag}`, { method: 'PUT', headers: { ...auth, 'content-type': index.mediaType }, body: new Uint8Array(bytes) });
        assert.equal(r.status, 201, await r.text());
        return sha(bytes);
      };
      await pushIndex('r1');
      await pushIndex('r2');
      assert.equal(wharf(['sign', 'app/multi:r1', '--recursive', '--key', join(dir, 'ci.pem')]).code, 0);
      assert.equal(wharf(['sign', 'app/multi:r2', '--key', join(dir, 'ci.pem')]).code, 0);
      writeFileSync(join(dir, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
      const copy = (tag: string) =>
        spawnSync('skopeo', ['--policy', join(dir, 'policy.json'), 'copy', '--all', '--src-tls-verify=false', '--src-creds', `admin:${PASSWORD}`, `docker://${reg.host}/app/multi:${tag}`, `oci:${join(dir, `oci-${tag}`)}:x`], { encoding: 'utf8' });
      const ok = copy('r1');
      assert.equal(ok.status, 0, ok.stderr);
      const bad = copy('r2');
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /denied|403/i);
    });

    const review = (kind: string, object: unknown, o: { operation?: string; dryRun?: boolean } = {}) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        kind: { group: kind === 'Pod' ? '' : kind === 'CronJob' ? 'batch' : 'apps', version: 'v1', kind },
        resource: { group: '', version: 'v1', resource: `${kind.toLowerCase()}s` },
        requestKind: { group: '', version: 'v1', kind },
        namespace: 'ml',
        operation: o.operation ?? 'CREATE',
        userInfo: { username: 'alice', groups: ['system:authenticated'] },
        object,
        oldObject: null,
        dryRun: o.dryRun ?? false,
        options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      },
    });
    const pod = (images: string[], annotations: Record<string, string> = {}) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'ml', annotations },
      spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
    });

    it('admits a Pod of a signed image and an allowlisted foreign image; denies an unsigned one with reasons', async () => {
      const ok = await api('POST', '/admission/v1/validate', review('Pod', pod([`${reg.host}/app/web:1`, 'registry.k8s.io/pause:3.9'])));
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
      assert.equal(ok.json.response.allowed, true, ok.text);
      const no = await api('POST', '/admission/v1/validate', review('Pod', pod([`${reg.host}/app/web:2`])));
      assert.equal(no.json.response.allowed, false);
      assert.equal(no.json.response.status.code, 403);
      assert.match(no.json.response.status.message, /attestor:ci/);
    });

    it('judges Deployments on UPDATE and CronJobs; honours and audits the break-glass annotation', async () => {
      const deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd', namespace: 'ml' },
        spec: { template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'x', image: `${reg.host}/app/web@${retagged}` }] } } },
      };
      const upd = await api('POST', '/admission/v1/validate', review('Deployment', deployment, { operation: 'UPDATE' }));
      assert.equal(upd.json.response.allowed, false);
      const cron = {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'c', namespace: 'ml' },
        spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'x', image: `${reg.host}/app/web@${signed}` }], restartPolicy: 'Never' } } } } },
      };
      assert.equal((await api('POST', '/admission/v1/validate', review('CronJob', cron))).json.response.allowed, true);
      const glass = await api('POST', '/admission/v1/validate', review('Pod', pod([`${reg.host}/app/web:2`], { 'alpha.image-policy.k8s.io/break-glass': 'true' })));
      assert.equal(glass.json.response.allowed, true);
      assert.match(glass.json.response.warnings.join(' '), /break-glass/);
      await new Promise((r) => setTimeout(r, 300));
      const audit = await api('GET', '/api/v1/audit?action=admission.break-glass');
      assert.equal(audit.json.items.length, 1, audit.text);
    });

    it('denies latest without a digest, unknown images and malformed reviews; never a 5xx', async () => {
      await pushImage('app/web', 'latest', 'latest layer');
      const latest = await api('POST', '/admission/v1/validate', review('Pod', pod([`${reg.host}/app/web`])));
      assert.equal(latest.json.response.allowed, false);
      assert.match(latest.json.response.status.message, /noMutableLatest/);
      const unknown = await api('POST', '/admission/v1/validate', review('Pod', pod([`${reg.host}/app/nope:1`])));
      assert.equal(unknown.json.response.allowed, false);
      const bad = [
        {},
        { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' },
        review('Pod', { spec: { containers: [{ name: 'x' }] } }),
        review('Pod', { spec: { containers: 'nope' } }),
        review('Secret', { data: {} }),
        review('Pod', pod([`${reg.host}/app/web:1`]), { operation: 'DELETE' }),
        review('Pod', pod(['not a ref!!'])),
      ];
      for (const b of bad) {
        const r = await api('POST', '/admission/v1/validate', b);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.response.allowed, false, JSON.stringify(b));
      }
      const notJson = await api('POST', '/admission/v1/validate', '{"apiVersion":');
      assert.equal(notJson.status, 400);
      // past the 3 MiB limit: 413, or the connection closed while the client still writes (the server refused first)
      const huge = await api('POST', '/admission/v1/validate', JSON.stringify({ pad: 'x'.repeat(4 * 1024 * 1024) })).catch((e: Error) => ({ status: 413, cause: String((e.cause as Error)?.message) }));
      assert.equal(huge.status, 413);
      const anon = await fetch(`${reg.url}/admission/v1/validate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(review('Pod', pod([`${reg.host}/app/web:2`]))) });
      assert.equal(anon.status, 401);
    });

    it("a caller who may not pull learns nothing: the same denial for an image that exists and one that does not", async () => {
      const u = await api('POST', '/api/v1/users', { name: 'nobody', password: 'nobody-password-123' });
      assert.equal(u.status, 201, u.text);
      const as = async (image: string) => {
        const res = await fetch(`${reg.url}/admission/v1/validate`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from('nobody:nobody-password-123').toString('base64')}`, 'content-type': 'application/json' },
          body: JSON.stringify(review('Pod', pod([image]))),
        });
        assert.equal(res.status, 200);
        return ((await res.json()) as { response: { allowed: boolean; status: { message: string } } }).response;
      };
      const real = await as(`${reg.host}/app/web:1`);
      const fake = await as(`${reg.host}/app/wez:9`);
      assert.equal(real.allowed, false);
      assert.equal(fake.allowed, false);
      assert.equal(real.status.message.replace('app/web:1', 'X').replace('app/web', 'R'), fake.status.message.replace('app/wez:9', 'X').replace('app/wez', 'R'));
    });

    it('a dry-run policy admits with warnings', async () => {
      const s = await api('PUT', '/api/v1/deploy-policy?scope=app/web', { policy: 'defaultAdmissionRule:\n  evaluationMode: ALWAYS_DENY\n  enforcementMode: DRYRUN_AUDIT_LOG_ONLY\n' });
      assert.equal(s.status, 200, s.text);
      const r = await api('POST', '/admission/v1/validate', review('Pod', pod([`${reg.host}/app/web:1`]), { dryRun: true }));
      assert.equal(r.json.response.allowed, true);
      assert.match(r.json.response.warnings[0], /dry run/);
    });
  });
});
