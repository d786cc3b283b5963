/**
 * /api/v1/models through the real composition root (createWharf: job runner, auth on): models
 * pushed over /v2 get their metadata from the `models.extract` job; the list filters and pages
 * and shows only what the caller may pull; bad input is a clear error; a hostile GGUF leaves
 * the artifact whole; concurrent re-reads agree.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { OciClient } from '../../src/client/oci-client.js';
import { loadConfig } from '../../src/config/index.js';
import { createWharf, type Wharf } from '../../src/main.js';
import { basic } from '../support/auth-stack.js';
import { dockerModelManifest, ggufFile, modelkitManifest, sha256, type Blob } from './support.js';
import { makeTar } from '../support/oci-layout.js';
import { safetensorsFile } from './support.js';

const PASSWORD = 'admin-password-1';
const ADMIN = { authorization: basic('admin', PASSWORD) };
let w: Wharf;
let url: string;
let dir: string;
let oci: OciClient;

async function push(repo: string, tag: string, config: Buffer, layers: Blob[], manifest: Buffer): Promise<string> {
  for (const b of [config, ...layers.map((l) => l.bytes)]) if (!(await oci.hasBlob(repo, sha256(b)))) await oci.pushBlob(repo, sha256(b), () => Readable.from([b]));
  return oci.putManifest(repo, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
}

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = ADMIN) {
  const res = await w.app.inject({ method: method as 'GET', url: path, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

const gguf = ggufFile(
  [
    ['general.architecture', 'string', 'llama'],
    ['general.name', 'string', 'Tiny GGUF'],
    ['general.file_type', 'u32', 1],
    ['general.license', 'string', 'mit'],
    ['llama.context_length', 'u32', 8192],
  ],
  [{ name: 'token_embd.weight', dims: [128, 1000], type: 1 }],
);
const dockerConfig = Buffer.from(JSON.stringify({ config: { format: 'gguf', quantization: 'F16', parameters: '128.00 K', architecture: 'llama', size: '250 KB' }, descriptor: { created: '2025-01-01T00:00:00Z' }, rootfs: { type: 'rootfs', diff_ids: [sha256(gguf.file)] } }));
const dockerLayers: Blob[] = [{ mediaType: 'application/vnd.docker.ai.gguf.v3', bytes: gguf.file }];

const weights = safetensorsFile([{ name: 'w', dtype: 'F16', shape: [2000, 1000] }]);
const kitTar = makeTar([{ name: 'model.safetensors', content: weights.file }]);
const kitfile = Buffer.from(JSON.stringify({ manifestVersion: '1.0.0', package: { name: 'big-kit', license: 'Apache-2.0' }, model: { name: 'big', path: 'model.safetensors', format: 'safetensors' } }));
const kitLayers: Blob[] = [{ mediaType: 'application/vnd.kitops.modelkit.model.v1.tar', bytes: kitTar }];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-models-api-'));
  const config = loadConfig({ flags: { data: dir, listen: '127.0.0.1:0', 'auth.adminPassword': PASSWORD } });
  w = await createWharf(config, { logger: pino({ level: 'silent' }), announce: () => undefined });
  url = await w.listen();
  oci = new OciClient({ server: url, username: 'admin', password: PASSWORD });
  await push('ai/tiny-gguf', 'v1', dockerConfig, dockerLayers, dockerModelManifest(dockerConfig, dockerLayers));
  await push('kit/big', 'v1', kitfile, kitLayers, modelkitManifest(kitfile, kitLayers));
});
after(async () => {
  await w?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function listed(query = '', headers = ADMIN): Promise<{ items: { repository: string; tag: string | null; parameters: number; format: string; weightFormat: string; architecture: string; license: string | null }[]; more: boolean }> {
  const r = await api('GET', `/api/v1/models${query}`, undefined, headers);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

describe('/api/v1/models', () => {
  test('the push enqueues the metadata job: both models are listed without anyone asking', async () => {
    let items: Awaited<ReturnType<typeof listed>>['items'] = [];
    for (let i = 0; i < 200 && items.length < 2; i++) {
      items = (await listed()).items;
      if (items.length < 2) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      items.map((m) => [m.repository, m.tag, m.format, m.weightFormat, m.architecture, m.parameters, m.license]),
      [
        ['ai/tiny-gguf', 'v1', 'docker', 'gguf', 'llama', 128000, 'mit'],
        ['kit/big', 'v1', 'modelkit', 'safetensors', null, 2_000_000, 'Apache-2.0'],
      ],
    );
  });

  test('one model: GGUF metadata, context length, memory to load', async () => {
    const r = await api('GET', '/api/v1/models/ai/tiny-gguf?reference=v1');
    assert.equal(r.status, 200);
    assert.equal(r.body.quantization, 'MOSTLY_F16');
    assert.equal(r.body.contextLength, 8192);
    assert.equal(r.body.name, 'Tiny GGUF');
    assert.equal(r.body.memoryToLoadBytes, 128000 * 2);
    assert.equal(r.body.files[0].weights.gguf.fileTypeName, 'MOSTLY_F16');
    assert.deepEqual(r.body.artifactConfig.config, JSON.parse(dockerConfig.toString()).config);
  });

  test('filters: format, architecture, license, parameter range, name; paging', async () => {
    assert.deepEqual((await listed('?format=gguf')).items.map((m) => m.repository), ['ai/tiny-gguf']);
    assert.deepEqual((await listed('?format=modelkit')).items.map((m) => m.repository), ['kit/big']);
    assert.deepEqual((await listed('?architecture=LLAMA')).items.map((m) => m.repository), ['ai/tiny-gguf']);
    assert.deepEqual((await listed('?license=apache-2.0')).items.map((m) => m.repository), ['kit/big']);
    assert.deepEqual((await listed('?minParameters=1000000')).items.map((m) => m.repository), ['kit/big']);
    assert.deepEqual((await listed('?maxParameters=1000000')).items.map((m) => m.repository), ['ai/tiny-gguf']);
    assert.deepEqual((await listed('?q=big')).items.map((m) => m.repository), ['kit/big']);
    const first = await listed('?limit=1');
    assert.deepEqual([first.items.map((m) => m.repository), first.more], [['ai/tiny-gguf'], true]);
    const d = (await api('GET', '/api/v1/models/ai/tiny-gguf?reference=v1')).body.digest;
    const second = await listed(`?limit=1&after=${encodeURIComponent(`ai/tiny-gguf@${d}`)}`);
    assert.deepEqual([second.items.map((m) => m.repository), second.more], [['kit/big'], false]);
  });

  test('model files by content digest: the GGUF file of ai/tiny-gguf; bad digests are 400', async () => {
    const r = await api('GET', `/api/v1/model-files?digest=${sha256(gguf.file)}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items.map((i: { repository: string; path: string; tag: string }) => [i.repository, i.path, i.tag]), [['ai/tiny-gguf', 'model.gguf', 'v1']]);
    assert.equal((await api('GET', '/api/v1/model-files?digest=sha256:xyz')).status, 400);
    assert.equal((await api('GET', '/api/v1/model-files')).status, 400);
  });

  test('bad input: no reference, unknown query fields, bad counts, an image instead of a model', async () => {
    assert.equal((await api('GET', '/api/v1/models/ai/tiny-gguf')).status, 400);
    assert.equal((await api('GET', '/api/v1/models?minParameters=-1')).status, 400);
    assert.equal((await api('GET', '/api/v1/models?color=blue')).status, 400);
    assert.equal((await api('GET', '/api/v1/models/ai/tiny-gguf?reference=nope')).status, 404);
    assert.equal((await api('GET', '/api/v1/models/ai/tiny-gguf?reference=bad%20tag')).status, 400);
    const cfg = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    await oci.pushBlob('app/web', sha256(cfg), () => Readable.from([cfg]));
    await oci.putManifest('app/web', 'v1', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length }, layers: [] })), 'application/vnd.oci.image.manifest.v1+json');
    const r = await api('GET', '/api/v1/models/app/web?reference=v1');
    assert.equal(r.status, 404);
    assert.equal(r.body.errors[0].code, 'MODEL_UNKNOWN');
  });

  test('a hostile GGUF: the error is on the metadata, the artifact pulls whole; concurrent re-reads agree', async () => {
    const hostile = ggufFile([['general.architecture', 'string', 'llama']], [{ name: 't', dims: [64], type: 0 }], { kvCount: 1n << 50n }).file;
    const layers: Blob[] = [{ mediaType: 'application/vnd.docker.ai.gguf.v3', bytes: hostile }];
    const cfg = Buffer.from('{"config":{"format":"gguf"},"descriptor":{},"rootfs":{"type":"rootfs","diff_ids":[]}}');
    await push('ai/hostile', 'v1', cfg, layers, dockerModelManifest(cfg, layers));
    const [a, b] = await Promise.all([api('POST', '/api/v1/models/ai/hostile', { reference: 'v1' }), api('POST', '/api/v1/models/ai/hostile', { reference: 'v1' })]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.body.errors.length, 1);
    assert.match(a.body.errors[0], /^model\.gguf: gguf: the key\/value count 1125899906842624 is absurd \(at most \d+ fit the file and the limits\)$/);
    assert.deepEqual(b.body.errors, a.body.errors);
    const res = await oci.getBlob('ai/hostile', sha256(hostile));
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(hostile));
    const row = (await listed('?q=hostile')).items;
    assert.equal(row.length, 1);
  });

  test('only models the caller may pull are listed; another repository is denied', async () => {
    assert.equal((await api('POST', '/api/v1/users', { name: 'carol', password: 'carol-password-1' })).status, 201);
    assert.equal((await api('POST', '/api/v1/role-bindings', { principal: 'carol', role: 'reader', scope: 'kit/big' })).status, 201);
    const carol = { authorization: basic('carol', 'carol-password-1') };
    assert.deepEqual((await listed('', carol)).items.map((m) => m.repository), ['kit/big']);
    assert.equal((await api('GET', '/api/v1/models/ai/tiny-gguf?reference=v1', undefined, carol)).status, 403);
    assert.equal((await api('GET', '/api/v1/models')).status === 200, true);
    assert.equal((await api('GET', '/api/v1/models', undefined, {})).status, 401);
  });
});
