/**
 * HTTPS (http.tls): Wharf serves a self-signed certificate made here with openssl; skopeo pushes and
 * pulls through it with TLS verification on (the certificate as its CA), using the token flow,
 * whose realm is https too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeContainersEnv, type ContainersEnv } from '../support/containers-env.js';
import { have, runOk } from '../support/exec.js';
import { writeImageLayout, type ImageLayout } from '../support/oci-layout.js';
import { e2eTarget, startRegistry, type RegistryProcess } from '../support/registry-process.js';
import { Skopeo } from '../support/skopeo.js';

const skip = e2eTarget() !== 'wharf' ? 'Wharf only' : !have('openssl') ? 'openssl not installed' : !have('skopeo') ? 'skopeo not installed' : false;
const ADMIN = { username: 'admin', password: 'tls-admin-password' };

describe('HTTPS with a self-signed certificate', { skip, timeout: 180_000 }, () => {
  let dir: string;
  let reg: RegistryProcess;
  let cenv: ContainersEnv;
  let certDir: string;
  let image: ImageLayout;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-e2e-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await runOk('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
    certDir = join(dir, 'certs');
    mkdirSync(certDir);
    copyFileSync(cert, join(certDir, 'ca.crt'));
    reg = await startRegistry({ credentials: ADMIN, tls: { cert, key } });
    cenv = makeContainersEnv();
    image = writeImageLayout({ dir: join(dir, 'layout'), tag: 'v1' });
  });
  after(async () => {
    await reg?.stop();
    cenv?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the challenge names an https realm; the certificate verifies against itself', async () => {
    const ca = readFileSync(join(certDir, 'ca.crt'));
    const res = await new Promise<{ status: number; challenge: string }>((resolve, reject) => {
      const req = request(`${reg.url}/v2/`, { ca }, (r) => {
        r.resume();
        r.on('end', () => resolve({ status: r.statusCode ?? 0, challenge: String(r.headers['www-authenticate']) }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 401);
    assert.equal(res.challenge, `Bearer realm="${reg.url}/auth/token",service="wharf"`);
  });

  test('skopeo pushes and pulls over verified TLS with credentials', async () => {
    const skopeo = new Skopeo(cenv);
    const creds = `${ADMIN.username}:${ADMIN.password}`;
    await skopeo.ok(['copy', '--dest-cert-dir', certDir, '--dest-creds', creds, '--preserve-digests', image.ref, `docker://${reg.host}/secure/app:v1`]);
    const raw = await skopeo.ok(['inspect', '--cert-dir', certDir, '--creds', creds, '--raw', `docker://${reg.host}/secure/app:v1`]);
    assert.equal(raw.stdout.trim(), image.image.manifest.toString('utf8').trim());
    const unverified = await skopeo.run(['inspect', '--creds', creds, '--raw', `docker://${reg.host}/secure/app:v1`]);
    assert.notEqual(unverified.code, 0, 'without the CA the self-signed certificate is refused');
  });
});
