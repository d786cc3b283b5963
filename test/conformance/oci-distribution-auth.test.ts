/**
 * Issue 10 §1, beyond what the conformance suite itself checks (oci-distribution-spec.test.ts),
 * against a spawned default `wharf serve`, with clients that follow the Docker token flow as the
 * suite's client does (oci-conformance-support.ts):
 *
 * (a) with auth on, a cross-repository mount by a client following the token flow mounts the
 *     blob (201), and the 401 challenge asks for `repository:<source>:pull` beside the target's
 *     scope, as Distribution's challenge does;
 * (b) a caller that may push to the target but cannot read the source — a user with writer on the
 *     target only, or a token that lacks the source's scope — gets 202 and an upload session in
 *     the target repository: never a 401, never the blob; and the answer does not tell a blob
 *     the source has from one it lacks;
 * (c) a reference that is neither a tag nor a digest names no manifest: HEAD and GET answer 404
 *     MANIFEST_UNKNOWN; PUT with it answers 400 TAG_INVALID;
 * (d) a manifest that references a blob the repository does not have answers 400
 *     MANIFEST_BLOB_UNKNOWN.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WharfClient } from '../../src/client/wharf-client.js';
import { sha256 } from '../support/oci-layout.js';
import { e2eTarget, startRegistry, wharfBuilt, type Credentials, type RegistryProcess } from '../support/registry-process.js';
import { ConformanceClient, NONEXISTENT_MANIFEST, errorCodesOf, parseAuthHeader, relativeLocation, type OciResponse } from './oci-conformance-support.js';

const ADMIN: Credentials = { username: 'admin', password: 'conformance-admin-password' };
const BOB: Credentials = { username: 'bob', password: 'bob-password-1234' };
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const skip = e2eTarget() !== 'wharf' ? 'Wharf only' : !wharfBuilt() ? 'dist/cli/main.js missing: npm run build' : false;

interface Blob {
  content: Buffer;
  digest: string;
}
const newBlob = (size = 64): Blob => {
  const content = randomBytes(size);
  return { content, digest: sha256(content) };
};

/** The suite's setup push: POST an upload, PUT the bytes to its Location. */
async function pushBlob(client: ConformanceClient, name: string, blob: Blob): Promise<void> {
  const started = await client.do('POST', '/v2/<name>/blobs/uploads/', { name });
  const res = await client.do('PUT', relativeLocation(started), { query: { digest: blob.digest }, headers: { 'Content-Type': 'application/octet-stream' }, body: blob.content });
  assert.equal(res.status, 201, `push ${blob.digest} to ${name}: ${res.status} ${res.body.toString('utf8')}`);
}

function imageManifest(config: Blob, layers: Blob[]): Buffer {
  const d = (mediaType: string, b: Blob) => ({ mediaType, digest: b.digest, size: b.content.length });
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: d('application/vnd.oci.image.config.v1+json', config),
      layers: layers.map((l) => d('application/vnd.oci.image.layer.v1.tar+gzip', l)),
    }),
  );
}

/** The scopes of a challenge: `repository:<name>` -> its actions. */
function challengeScopes(challenge: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of (parseAuthHeader(challenge ?? '').scope ?? '').split(' ').filter(Boolean)) {
    const last = s.lastIndexOf(':');
    out.set(s.slice(0, last), s.slice(last + 1).split(','));
  }
  return out;
}

/**
 * Status and headers, with what differs on every request blanked: the upload id (Docker-Upload-UUID,
 * Location's last segment), Date and X-Request-Id.
 */
function shape(res: OciResponse): { status: number; headers: Record<string, string> } {
  const loc = relativeLocation(res).split('?')[0] ?? '';
  const id = String(res.headers['docker-upload-uuid'] ?? loc.slice(loc.lastIndexOf('/') + 1));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    headers[k] = k === 'date' || k === 'x-request-id' ? '<per request>' : (Array.isArray(v) ? v.join(', ') : v).replaceAll(id, '<upload-id>');
  }
  return { status: res.status, headers };
}

describe('issue 10: cross-repository mount with auth on (token flow)', { skip, timeout: 120_000 }, () => {
  let reg: RegistryProcess;
  let admin: ConformanceClient;
  const source = 'mount-src/app';
  const present = newBlob();

  before(async () => {
    reg = await startRegistry({ credentials: ADMIN });
    admin = new ConformanceClient({ url: reg.url, namespace: source, ...ADMIN });
    await pushBlob(admin, source, present);
    const api = new WharfClient({ server: reg.url, ...ADMIN });
    await api.createUser({ name: BOB.username, password: BOB.password });
    for (const target of ['mount-dst/bob', 'mount-dst/bob-basic']) await api.grant({ principal: BOB.username, role: 'writer', scope: target });
  });
  after(async () => {
    await reg?.stop();
  });

  const mount = (client: ConformanceClient, target: string, digest: string, headers?: Record<string, string>): Promise<OciResponse> =>
    client.do('POST', '/v2/<name>/blobs/uploads/', { name: target, query: { mount: digest, from: source }, headers });
  const headBlob = (target: string, digest: string): Promise<OciResponse> => admin.do('HEAD', '/v2/<name>/blobs/<digest>', { name: target, digest });

  test('(a) the admin mounts with the token flow: 201, the blob is in the target, and the challenge asked for the source', async () => {
    const target = 'mount-dst/admin';
    const res = await mount(admin, target, present.digest);
    assert.equal(res.status, 201, `${res.status} ${res.body.toString('utf8')} (challenge: ${res.challenge})`);
    assert.equal(relativeLocation(res), `/v2/${target}/blobs/${present.digest}`);
    const scopes = challengeScopes(res.challenge);
    assert.deepEqual(scopes.get(`repository:${source}`), ['pull'], `challenge: ${res.challenge}`);
    assert.ok(['pull', 'push'].every((a) => scopes.get(`repository:${target}`)?.includes(a)), `challenge: ${res.challenge}`);
    const got = await admin.do('GET', '/v2/<name>/blobs/<digest>', { name: target, digest: present.digest });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, present.content);
  });

  // (b): each caller may push to its target but not read the source
  const callers: { title: string; target: string; client: () => ConformanceClient; headers?: () => Record<string, string> }[] = [
    { title: 'a user with writer on the target only, token flow', target: 'mount-dst/bob', client: () => admin.with(BOB) },
    {
      title: 'the same user with Basic credentials on /v2',
      target: 'mount-dst/bob-basic',
      client: () => admin.with(BOB),
      headers: () => ({ Authorization: `Basic ${Buffer.from(`${BOB.username}:${BOB.password}`).toString('base64')}` }),
    },
    // OCI_AUTH_SCOPE: the token is asked for the target only, whatever the challenge says
    { title: "the admin with a token that lacks the source's scope", target: 'mount-dst/scoped', client: () => admin.with({ authScope: 'repository:mount-dst/scoped:pull,push' }) },
  ];
  for (const caller of callers) {
    test(`(b) ${caller.title}: 202 and an upload session in the target, the blob not mounted, the same answer for a blob the source lacks`, async () => {
      const client = caller.client();
      const res = await mount(client, caller.target, present.digest, caller.headers?.());
      assert.equal(res.status, 202, `${res.status} ${res.body.toString('utf8')} (challenge: ${res.challenge})`);
      assert.ok(relativeLocation(res).startsWith(`/v2/${caller.target}/blobs/uploads/`), `Location: ${String(res.headers.location)}`);
      assert.equal((await headBlob(caller.target, present.digest)).status, 404, 'the blob must not have been mounted');

      const absent = await mount(client, caller.target, newBlob().digest, caller.headers?.());
      assert.deepEqual(shape(absent), shape(res), 'a blob the source has and one it lacks must be answered alike');
      assert.equal(absent.challenge, res.challenge);

      // the session is a real upload into the target
      const done = await client.do('PUT', relativeLocation(res), { query: { digest: present.digest }, headers: { ...caller.headers?.(), 'Content-Type': 'application/octet-stream' }, body: present.content });
      assert.equal(done.status, 201, done.body.toString('utf8'));
      assert.equal((await headBlob(caller.target, present.digest)).status, 200);
    });
  }

  test('(b) the challenge a caller without the source gets still asks for the source (it cannot know beforehand)', async () => {
    const res = await mount(admin.with(BOB), 'mount-dst/bob', newBlob().digest);
    assert.deepEqual(challengeScopes(res.challenge).get(`repository:${source}`), ['pull'], `challenge: ${res.challenge}`);
  });
});

for (const mode of [
  { title: 'auth on', credentials: ADMIN as Credentials | undefined },
  { title: 'auth off', credentials: undefined },
]) {
  describe(`issue 10: invalid references and unknown blobs in manifests (${mode.title})`, { skip, timeout: 120_000 }, () => {
    let reg: RegistryProcess;
    let client: ConformanceClient;
    const name = 'refs/app';
    const config = newBlob();
    const layer = newBlob(256);

    before(async () => {
      reg = await startRegistry({ credentials: mode.credentials });
      client = new ConformanceClient({ url: reg.url, namespace: name, ...mode.credentials });
      await pushBlob(client, name, config);
      await pushBlob(client, name, layer);
    });
    after(async () => {
      await reg?.stop();
    });

    test('(c) HEAD and GET of a reference that is neither tag nor digest: 404 MANIFEST_UNKNOWN', async () => {
      for (const reference of [NONEXISTENT_MANIFEST, 'a'.repeat(129), 'tag%20with%20space', 'sha256:totallywrong']) {
        const head = await client.do('HEAD', '/v2/<name>/manifests/<reference>', { reference });
        assert.equal(head.status, 404, `HEAD ${reference}`);
        const get = await client.do('GET', '/v2/<name>/manifests/<reference>', { reference });
        assert.equal(get.status, 404, `GET ${reference}: ${get.body.toString('utf8')}`);
        assert.deepEqual(errorCodesOf(get), ['MANIFEST_UNKNOWN'], `GET ${reference}`);
      }
    });

    test('(c) PUT with an invalid tag: 400 TAG_INVALID, and nothing is stored', async () => {
      const res = await client.do('PUT', '/v2/<name>/manifests/<reference>', { reference: NONEXISTENT_MANIFEST, headers: { 'Content-Type': OCI_MANIFEST }, body: imageManifest(config, [layer]) });
      assert.equal(res.status, 400, res.body.toString('utf8'));
      assert.deepEqual(errorCodesOf(res), ['TAG_INVALID']);
      const tags = await client.do('GET', '/v2/<name>/tags/list');
      assert.deepEqual((JSON.parse(tags.body.toString('utf8')) as { tags: string[] | null }).tags ?? [], []);
    });

    // The OCI spec (v1.1.1, "Pushing Manifests"): "A registry MAY reject a manifest uploaded to the
    // manifest endpoint with descriptors in other fields that reference a manifest or blob that
    // does not exist in the registry. When a manifest is rejected for this reason, it MUST result
    // in one or more MANIFEST_BLOB_UNKNOWN errors" — it names the code, not the status (its
    // endpoint table lists 404/413 as end-7's failures without saying which error is which).
    // Distribution (registry/api/v2/errors.go, ErrorCodeManifestBlobUnknown) and the Docker
    // registry API answer 400 Bad Request with it; so does Wharf.
    test('(d) a manifest whose config or layer the repository lacks: 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const elsewhere = newBlob();
      await pushBlob(client, 'refs/other', elsewhere); // in the registry, but not in this repository
      const cases = [
        { why: 'config unknown', body: imageManifest(newBlob(), [layer]) },
        { why: 'layer unknown', body: imageManifest(config, [layer, newBlob()]) },
        { why: 'layer only in another repository', body: imageManifest(config, [elsewhere]) },
      ];
      for (const c of cases) {
        const res = await client.do('PUT', '/v2/<name>/manifests/<reference>', { reference: 'v1', headers: { 'Content-Type': OCI_MANIFEST }, body: c.body });
        assert.equal(res.status, 400, `${c.why}: ${res.status} ${res.body.toString('utf8')}`);
        assert.ok(errorCodesOf(res).length > 0 && errorCodesOf(res).every((code) => code === 'MANIFEST_BLOB_UNKNOWN'), `${c.why}: ${res.body.toString('utf8')}`);
      }
      const ok = await client.do('PUT', '/v2/<name>/manifests/<reference>', { reference: 'v1', headers: { 'Content-Type': OCI_MANIFEST }, body: imageManifest(config, [layer]) });
      assert.equal(ok.status, 201, 'the same manifest with its blobs present is accepted');
    });
  });
}
