/** Assertions over a registry's content, shared by the e2e tests. */
import assert from 'node:assert/strict';
import { sha256 } from './oci-layout.js';
import { errorCodes, type RegistryClient } from './registry-client.js';

/** GET manifest `ref` in `repo` returns exactly `bytes`, with the right Content-Type and Docker-Content-Digest. */
export async function assertManifest(client: RegistryClient, repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<void> {
  const r = await client.getManifest(repo, ref);
  const where = `GET /v2/${repo}/manifests/${ref}`;
  assert.equal(r.status, 200, `${where} -> ${r.status}: ${r.body.toString('utf8')}`);
  assert.equal(sha256(r.body), sha256(bytes), `${where}: body differs from the pushed manifest`);
  assert.ok(r.body.equals(bytes), `${where}: body differs from the pushed manifest`);
  assert.equal(r.headers.get('docker-content-digest'), sha256(bytes), `${where}: Docker-Content-Digest`);
  assert.equal(r.headers.get('content-type')?.split(';')[0]?.trim(), mediaType, `${where}: Content-Type`);
}

/** GET blob `digest` in `repo` returns bytes that hash to `digest` (and equal `expected` when given). */
export async function assertBlob(client: RegistryClient, repo: string, digest: string, expected?: Buffer): Promise<void> {
  const r = await client.getBlob(repo, digest);
  const where = `GET /v2/${repo}/blobs/${digest}`;
  assert.equal(r.status, 200, `${where} -> ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`);
  assert.equal(sha256(r.body), digest, `${where}: content does not hash to its digest (${r.body.length} bytes)`);
  if (expected) assert.equal(r.body.length, expected.length, `${where}: length`);
  assert.equal(r.headers.get('docker-content-digest'), digest, `${where}: Docker-Content-Digest`);
}

/** `res` is an OCI error response with status `status` carrying error code `code`. */
export function assertOciError(res: { status: number; body: Buffer }, status: number, code: string, where: string): void {
  assert.equal(res.status, status, `${where} -> ${res.status}, expected ${status}: ${res.body.toString('utf8')}`);
  if (where.startsWith('HEAD ')) return; // HEAD responses carry no body
  assert.ok(errorCodes(res.body).includes(code), `${where}: expected error code ${code}, body: ${res.body.toString('utf8')}`);
}
