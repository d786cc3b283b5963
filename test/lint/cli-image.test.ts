/**
 * `wharf lint Dockerfile --image REPO:TAG` end to end: a real `wharf serve` (auth on), an image
 * pushed over /v2 whose layers hold what its Dockerfile's findings predict (apt lists, a pip cache,
 * no User in the config), and the built binary under bash. The findings the image shows are
 * confirmed with the bytes the server's insights analysis measured; the others are not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzip, tarOf } from '../content/support/layers.js';
import { run } from '../support/exec.js';
import { RegistryClient } from '../support/registry-client.js';
import { WHARF_MAIN, startRegistry, type RegistryProcess } from '../support/registry-process.js';

const ADMIN = { username: 'admin', password: 'lint admin password' };
const APT_LISTS = 3 * 1024 * 1024 + 17;
const PIP_CACHE = 5 * 1024 * 1024 + 3;
let reg: RegistryProcess;
let dir: string;

const DOCKERFILE = `FROM debian:12.5
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip
RUN pip install --break-system-packages requests
CMD ["python3", "-m", "http.server"]
`;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushMlImage(client: RegistryClient, repo: string, tag: string): Promise<void> {
  // bytes that do not compress away, so the layers are as large as the files
  const noise = (n: number, seed: string) => {
    const out = Buffer.alloc(n);
    for (let off = 0, i = 0; off < n; i++) off += createHash('sha256').update(`${seed}${i}`).digest().copy(out, off);
    return out;
  };
  const tars = [
    await tarOf([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' },
    ]),
    await tarOf([{ name: 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages', content: noise(APT_LISTS, 'apt') }]),
    await tarOf([
      { name: 'root/.cache/pip/http-v2/a/b/c/d/e/0123456789abcdef', content: noise(PIP_CACHE, 'pip') },
      { name: 'usr/lib/python3/dist-packages/requests/__init__.py', content: '__version__ = "2.31.0"\n' },
    ]),
  ];
  const layers = tars.map(gzip);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['python3', '-m', 'http.server'] },
      rootfs: { type: 'layers', diff_ids: tars.map(sha256) },
      history: [{ created_by: 'debian:12.5' }, { created_by: 'RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends python3-pip' }, { created_by: 'RUN /bin/sh -c pip install --break-system-packages requests' }],
    }),
  );
  for (const b of [config, ...layers]) await client.pushBlobPostPut(repo, b);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
    }),
  );
  const res = await client.putManifest(repo, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(res.status, 201, res.body.toString());
}

const sh = (script: string) =>
  run('bash', ['-o', 'pipefail', '-c', script], {
    cwd: dir,
    env: { WHARF: `${process.execPath} ${WHARF_MAIN}`, HOME: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json'), WHARF_SERVER: reg.url },
  });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-lint-image-'));
  reg = await startRegistry({ credentials: ADMIN });
  const auth = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;
  await pushMlImage(new RegistryClient({ url: reg.url, headers: { authorization: auth } }), 'ml/app', '1');
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  const login = await sh(`printf %s '${ADMIN.password}' | $WHARF login -u admin --password-stdin`);
  assert.equal(login.code, 0, login.stderr);
});
after(async () => {
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('--image confirms apt lists, the pip cache and root with what the image holds', async () => {
  const r = await sh('$WHARF lint Dockerfile --image ml/app:1 --output json');
  assert.equal(r.code, 4, r.stderr);
  const doc = JSON.parse(r.stdout) as { image: string; findings: { rule: string; line: number; confirmed?: { bytes: number; evidence: string } }[] };
  assert.equal(doc.image, 'ml/app:1');
  const view = doc.findings.map((f) => `${f.line} ${f.rule} ${f.confirmed ? f.confirmed.bytes : '-'}`);
  assert.deepEqual(view, ['1 final-user-missing 0', `2 apt-lists-not-removed ${APT_LISTS}`, `3 pip-no-cache-dir ${PIP_CACHE}`]);
  assert.match(doc.findings[2]!.confirmed!.evidence, /^ml\/app:1: 5\.0 MiB of pip's cache/);
  assert.match(doc.findings[0]!.confirmed!.evidence, /runs as root/);
});

test('text output shows the confirmation; SARIF carries it in the result properties', async () => {
  const text = await sh('$WHARF lint Dockerfile --image ml/app:1');
  assert.equal(text.code, 4, text.stderr);
  assert.match(text.stdout, /Dockerfile:3 pip-no-cache-dir medium .*\n {2}fix: .*\n {2}confirmed: ml\/app:1: 5\.0 MiB of pip's cache \(~\/\.cache\/pip\) in the image\n/);
  assert.match(text.stdout, /3 findings: 0 critical, 0 high, 2 medium, 1 low; 3 confirmed by the image\n$/);
  const sarif = await sh('cat Dockerfile | $WHARF lint - --image ml/app:1 --output sarif');
  const result = (JSON.parse(sarif.stdout) as { runs: { results: { ruleId: string; properties: { confirmed?: { bytes: number } } }[] }[] }).runs[0]!.results.find((x) => x.ruleId === 'apt-lists-not-removed')!;
  assert.equal(result.properties.confirmed?.bytes, APT_LISTS);
});

test('an image that does not exist, or a reference the caller cannot read: exit 1 and why', async () => {
  const missing = await sh('$WHARF lint Dockerfile --image ml/app:nope');
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /cannot cross-check with ml\/app:nope/);
  const anon = await run('bash', ['-c', '$WHARF lint Dockerfile --image ml/app:1'], { cwd: dir, env: { WHARF: `${process.execPath} ${WHARF_MAIN}`, HOME: dir, REGISTRY_AUTH_FILE: join(dir, 'none.json'), WHARF_SERVER: reg.url } });
  assert.equal(anon.code, 1, anon.stderr);
  assert.match(anon.stderr, /not logged in/);
});

