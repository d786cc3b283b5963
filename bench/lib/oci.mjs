// The OCI Distribution operations the scenarios time, written once and used against every
// target. Every response is checked (status, Docker-Content-Digest, sizes) so a server that
// cuts corners fails instead of winning.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { CheckError, expectHeader, expectStatus, treq, withQuery } from './http.mjs';
import { sha256 } from './blobs.mjs';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

const OCTET = 'application/octet-stream';

/** POST /v2/<name>/blobs/uploads/ -> the upload Location (202 demanded). */
export async function startUpload(t, name) {
  const res = await treq(t, `${t.base}/v2/${name}/blobs/uploads/`, {
    method: 'POST',
    headers: { 'content-length': '0' },
  });
  expectStatus(res, 202, `POST /v2/${name}/blobs/uploads/`);
  const loc = res.headers.location;
  if (!loc) throw new CheckError(`POST /v2/${name}/blobs/uploads/: 202 without Location`);
  return loc;
}

function expectCreated(res, digest, what) {
  expectStatus(res, 201, what);
  expectHeader(res, 'docker-content-digest', digest, what);
}

/** Monolithic push: POST, then PUT <location>?digest= with the whole file streamed as the body. */
export async function pushFileMonolithic(t, name, file, highWaterMark = 4 << 20) {
  const loc = await startUpload(t, name);
  const res = await treq(t, withQuery(t.base, loc, { digest: file.digest }), {
    method: 'PUT',
    headers: { 'content-type': OCTET, 'content-length': String(file.size) },
    body: createReadStream(file.path, { highWaterMark }),
  });
  expectCreated(res, file.digest, `PUT upload (monolithic, ${file.size} bytes)`);
}

/** Chunked push: POST, PATCH chunks of chunkSize with Content-Range start-end, PUT ?digest= empty. */
export async function pushFileChunked(t, name, file, chunkSize) {
  let loc = await startUpload(t, name);
  const fh = await open(file.path, 'r');
  const buf = Buffer.allocUnsafe(Math.min(chunkSize, file.size));
  try {
    for (let off = 0; off < file.size; ) {
      const n = Math.min(chunkSize, file.size - off);
      const chunk = buf.subarray(0, n);
      for (let r = 0; r < n; ) {
        const { bytesRead } = await fh.read(chunk, r, n - r, off + r);
        if (bytesRead === 0) throw new Error(`${file.path}: unexpected end of file`);
        r += bytesRead;
      }
      const end = off + n - 1;
      const res = await treq(t, new URL(loc, t.base), {
        method: 'PATCH',
        headers: { 'content-type': OCTET, 'content-length': String(n), 'content-range': `${off}-${end}` },
        body: chunk,
      });
      const what = `PATCH upload ${off}-${end}`;
      expectStatus(res, 202, what);
      expectHeader(res, 'range', `0-${end}`, what);
      if (!res.headers.location) throw new CheckError(`${what}: 202 without Location`);
      loc = res.headers.location;
      off += n;
    }
  } finally {
    await fh.close();
  }
  const res = await treq(t, withQuery(t.base, loc, { digest: file.digest }), {
    method: 'PUT',
    headers: { 'content-length': '0' },
  });
  expectCreated(res, file.digest, 'PUT upload (close chunked)');
}

/**
 * Small in-memory blob. mode 'post' = monolithic POST ?digest= with the body (one round trip);
 * mode 'post-put' = POST then PUT ?digest= with the body.
 */
export async function pushBuffer(t, name, blob, mode) {
  const headers = { 'content-type': OCTET, 'content-length': String(blob.body.length) };
  if (mode === 'post') {
    const res = await treq(t, `${t.base}/v2/${name}/blobs/uploads/?digest=${blob.digest}`, {
      method: 'POST',
      headers,
      body: blob.body,
    });
    expectCreated(res, blob.digest, 'POST upload ?digest= (monolithic)');
    return;
  }
  const loc = await startUpload(t, name);
  const res = await treq(t, withQuery(t.base, loc, { digest: blob.digest }), { method: 'PUT', headers, body: blob.body });
  expectCreated(res, blob.digest, 'PUT upload (small blob)');
}

/**
 * Does the target complete a monolithic POST ?digest= with a body in one round trip (201)?
 * A 202 means it started an ordinary upload session instead (allowed by the spec).
 */
export async function supportsMonolithicPost(t, name, blob) {
  const res = await treq(t, `${t.base}/v2/${name}/blobs/uploads/?digest=${blob.digest}`, {
    method: 'POST',
    headers: { 'content-type': OCTET, 'content-length': String(blob.body.length) },
    body: blob.body,
  });
  if (res.status === 201) {
    expectHeader(res, 'docker-content-digest', blob.digest, 'POST upload ?digest=');
    return true;
  }
  expectStatus(res, 202, 'POST upload ?digest= (probe)');
  return false;
}

export async function headBlob(t, name, digest, size) {
  const res = await treq(t, `${t.base}/v2/${name}/blobs/${digest}`, { method: 'HEAD' });
  const what = `HEAD /v2/${name}/blobs/${digest.slice(0, 19)}…`;
  expectStatus(res, 200, what);
  expectHeader(res, 'docker-content-digest', digest, what);
  if (Number(res.headers['content-length']) !== size) {
    throw new CheckError(`${what}: Content-Length ${res.headers['content-length']}, expected ${size}`);
  }
}

/** GET a whole blob; consume 'discard' (count bytes) or 'hash' (verify content). */
export async function getBlob(t, name, digest, size, consume = 'discard') {
  const res = await treq(t, `${t.base}/v2/${name}/blobs/${digest}`, { consume });
  const what = `GET /v2/${name}/blobs/${digest.slice(0, 19)}…`;
  expectStatus(res, 200, what);
  expectHeader(res, 'docker-content-digest', digest, what);
  if (res.bytes !== size) throw new CheckError(`${what}: received ${res.bytes} bytes, expected ${size}`);
  if (consume === 'hash' && res.sha256 !== digest) throw new CheckError(`${what}: content hashes to ${res.sha256}`);
  return res;
}

/** Pushes config + one layer + an OCI image manifest under `tag`; returns { digest, bytes }. */
export async function pushSmallImage(t, name, tag, layer) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }));
  const configBlob = { body: config, digest: sha256(config) };
  await pushBuffer(t, name, configBlob, 'post-put');
  await pushBuffer(t, name, layer, 'post-put');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configBlob.digest, size: config.length },
      layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.body.length }],
      annotations: { 'org.opencontainers.image.description': 'wharf benchmark image' },
    }),
  );
  const digest = sha256(manifest);
  await putManifest(t, name, tag, manifest, digest);
  return { digest, bytes: manifest };
}

export async function putManifest(t, name, ref, bytes, digest) {
  const res = await treq(t, `${t.base}/v2/${name}/manifests/${ref}`, {
    method: 'PUT',
    headers: { 'content-type': OCI_MANIFEST, 'content-length': String(bytes.length) },
    body: bytes,
  });
  expectCreated(res, digest, `PUT /v2/${name}/manifests/${ref}`);
}

export async function getManifest(t, name, ref, expected) {
  const res = await treq(t, `${t.base}/v2/${name}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
  const what = `GET /v2/${name}/manifests/${ref}`;
  expectStatus(res, 200, what);
  expectHeader(res, 'docker-content-digest', expected.digest, what);
  if (!res.body.equals(expected.bytes)) throw new CheckError(`${what}: body differs from the manifest pushed`);
  const ct = res.headers['content-type'];
  if (ct !== OCI_MANIFEST) throw new CheckError(`${what}: Content-Type ${ct}, expected ${OCI_MANIFEST}`);
}
