/**
 * Model artifacts as a user moves them: the built binary (dist/cli/main.js) against a spawned
 * `wharf serve` with auth on. `wharf model push` packs a directory (sharded safetensors with an
 * index, config, tokenizer, card, license, a script) as ModelPack; the metadata job reads the
 * headers; `skopeo copy --preserve-digests` moves the artifact unchanged; `wharf model pull`
 * restores the directory byte for byte (parallel ranges, modes, resumed); `wharf model list`
 * shows only what the caller may pull; a hostile path is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { OciClient } from '../../src/client/oci-client.js';
import { WHARF_MAIN, startRegistry, type RegistryProcess } from '../support/registry-process.js';
import { makeContainersEnv, type ContainersEnv } from '../support/containers-env.js';
import { Skopeo } from '../support/skopeo.js';
import { have } from '../support/exec.js';
import { modelkitManifest, safetensorsFile, sha256 } from './support.js';
import { makeTar } from '../support/oci-layout.js';
import { gzipSync } from 'node:zlib';

const ADMIN = { username: 'admin', password: 'admin-password-1' };
let reg: RegistryProcess;
let dir: string;
let host: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function wharf(args: string[], stdin?: string, home = dir): Promise<Result> {
  return await new Promise<Result>((resolve, reject) => {
    const child = spawn(process.execPath, [WHARF_MAIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json'), WHARF_SERVER: reg.url },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(stdin ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function ok(args: string[], stdin?: string, home?: string): Promise<Result> {
  const r = await wharf(args, stdin, home);
  assert.equal(r.code, 0, `wharf ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r;
}

function filesOf(root: string): Map<string, { bytes: Buffer; mode: number }> {
  const out = new Map<string, { bytes: Buffer; mode: number }>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(root, p), { bytes: readFileSync(p), mode: statSync(p).mode & 0o777 });
    }
  };
  walk(root);
  return out;
}

const shard1 = safetensorsFile([
  { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [1024, 512] },
  { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'BF16', shape: [512, 512] },
]);
const shard2 = safetensorsFile([
  { name: 'model.layers.1.mlp.up_proj.weight', dtype: 'F32', shape: [512, 512] },
  { name: 'lm_head.weight', dtype: 'BF16', shape: [1024, 512] },
]);

function writeModelDir(root: string): void {
  mkdirSync(join(root, 'scripts'), { recursive: true });
  writeFileSync(join(root, 'model-00001-of-00002.safetensors'), shard1.file);
  writeFileSync(join(root, 'model-00002-of-00002.safetensors'), shard2.file);
  writeFileSync(
    join(root, 'model.safetensors.index.json'),
    JSON.stringify({
      metadata: { total_size: shard1.file.length + shard2.file.length },
      weight_map: {
        'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
        'model.layers.0.mlp.up_proj.weight': 'model-00001-of-00002.safetensors',
        'model.layers.1.mlp.up_proj.weight': 'model-00002-of-00002.safetensors',
        'lm_head.weight': 'model-00002-of-00002.safetensors',
      },
    }),
  );
  writeFileSync(join(root, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', max_position_embeddings: 4096 }));
  writeFileSync(join(root, 'generation_config.json'), '{"temperature": 0.7}');
  writeFileSync(join(root, 'tokenizer.json'), '{"version": "1.0"}');
  writeFileSync(join(root, 'README.md'), '---\nlicense: mit\n---\n# Tiny Sharded\n');
  writeFileSync(join(root, 'LICENSE'), 'MIT License\n');
  writeFileSync(join(root, 'scripts', 'serve.py'), '#!/usr/bin/env python3\nprint("hi")\n');
  chmodSync(join(root, 'scripts', 'serve.py'), 0o755);
}

const PARAMS = 1024 * 512 + 512 * 512 + 512 * 512 + 1024 * 512;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-cli-model-'));
  reg = await startRegistry({ credentials: ADMIN, readyTimeoutMs: 90_000 });
  host = new URL(reg.url).host;
  await ok(['login', reg.url, '-u', ADMIN.username, '--password-stdin'], `${ADMIN.password}\n`);
});
after(async () => {
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('wharf model push / inspect / pull / list through the built binary', () => {
  const src = () => join(dir, 'tiny-sharded');

  test('push packs the directory as ModelPack, one raw layer per file; a second push sends only the new config', async () => {
    writeModelDir(src());
    const r = JSON.parse((await ok(['model', 'push', src(), 'ml/tiny:v1', '--output', 'json'])).stdout);
    assert.equal(r.files, 9);
    assert.equal(r.blobsPushed, 10);
    const again = JSON.parse((await ok(['model', 'push', src(), 'ml/tiny:v1', '--output', 'json'])).stdout);
    assert.deepEqual([again.blobsPushed, again.blobsSkipped], [1, 9]); // the config carries its creation time

    const client = new OciClient({ server: reg.url, ...ADMIN });
    const m = await client.getManifest('ml/tiny', 'v1');
    const manifest = JSON.parse(m.bytes.toString());
    assert.equal(manifest.artifactType, 'application/vnd.cncf.model.manifest.v1+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.cncf.model.config.v1+json');
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string; annotations: Record<string, string> }) => [l.annotations['org.cncf.model.filepath'], l.mediaType]),
      [
        ['LICENSE', 'application/vnd.cncf.model.doc.v1.raw'],
        ['README.md', 'application/vnd.cncf.model.doc.v1.raw'],
        ['config.json', 'application/vnd.cncf.model.weight.config.v1.raw'],
        ['generation_config.json', 'application/vnd.cncf.model.weight.config.v1.raw'],
        ['model-00001-of-00002.safetensors', 'application/vnd.cncf.model.weight.v1.raw'],
        ['model-00002-of-00002.safetensors', 'application/vnd.cncf.model.weight.v1.raw'],
        ['model.safetensors.index.json', 'application/vnd.cncf.model.weight.config.v1.raw'],
        ['scripts/serve.py', 'application/vnd.cncf.model.code.v1.raw'],
        ['tokenizer.json', 'application/vnd.cncf.model.weight.config.v1.raw'],
      ],
    );
    const config = JSON.parse(Buffer.from(await (await client.getBlob('ml/tiny', manifest.config.digest)).arrayBuffer()).toString());
    assert.equal(config.descriptor.name, 'tiny-sharded');
    assert.equal(config.descriptor.version, 'v1');
    assert.deepEqual(config.config, { format: 'safetensors', paramSize: '1.6M', precision: 'bfloat16,float32' });
    assert.deepEqual(config.modelfs.diffIds, manifest.layers.map((l: { digest: string }) => l.digest));
  });

  test('inspect: the metadata job read the headers — tensors, dtypes, shards, card — without the weights', async () => {
    const r = JSON.parse((await ok(['model', 'inspect', 'ml/tiny:v1', '--output', 'json'])).stdout);
    assert.equal(r.format, 'modelpack');
    assert.equal(r.tag, 'v1');
    assert.equal(r.architecture, 'LlamaForCausalLM');
    assert.equal(r.parameters, PARAMS);
    assert.deepEqual(r.parametersByDtype, { BF16: PARAMS - 512 * 512, F32: 512 * 512 });
    assert.equal(r.memoryToLoadBytes, (PARAMS - 512 * 512) * 2 + 512 * 512 * 4);
    assert.equal(r.contextLength, 4096);
    assert.equal(r.license, 'mit');
    assert.deepEqual(r.shards, { files: ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'], tensors: 4, totalSize: shard1.file.length + shard2.file.length, missing: [] });
    assert.deepEqual(r.errors, []);
    // two 64 KiB header reads, the config blob and the small files: far from the 4 MB of weights
    assert.ok(r.reads.bytes < 2 * 65536 + 10_000, `read ${r.reads.bytes} bytes`);
    const human = (await ok(['model', 'inspect', 'ml/tiny:v1'])).stdout;
    assert.match(human, /parameters: 1\.57M \(BF16 1\.31M, F32 262\.1K\)/);
    assert.match(human, /model-00002-of-00002\.safetensors\s+2\.0 MiB\s+safetensors\s+2\s+786\.4K/);
  });

  test('skopeo copy --preserve-digests moves the artifact unchanged; pull restores the directory byte for byte', { skip: !have('skopeo') }, async () => {
    const cenv: ContainersEnv = makeContainersEnv({ insecureRegistries: [host], credentials: [{ host, creds: ADMIN }] });
    try {
      await new Skopeo(cenv).copy(`docker://${host}/ml/tiny:v1`, `docker://${host}/ml/tiny-copy:v1`);
    } finally {
      cenv.dispose();
    }
    const a = JSON.parse((await ok(['model', 'inspect', 'ml/tiny:v1', '--output', 'json'])).stdout);
    const b = JSON.parse((await ok(['model', 'inspect', 'ml/tiny-copy:v1', '--output', 'json'])).stdout);
    assert.equal(b.digest, a.digest);
    assert.equal(b.parameters, PARAMS);

    const out = join(dir, 'pulled');
    const r = JSON.parse((await ok(['model', 'pull', 'ml/tiny-copy:v1', out, '--parallel', '4', '--chunk-size', '1', '--output', 'json'])).stdout);
    assert.deepEqual([r.files, r.pulled, r.skipped], [9, 9, 0]);
    const want = filesOf(src());
    const got = filesOf(out);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [p, f] of want) {
      assert.ok(got.get(p)!.bytes.equals(f.bytes), `${p} differs`);
      assert.equal(got.get(p)!.mode, f.mode, `${p} mode`);
    }

    // resumed: a file lost and a half-written one are fetched again, the rest skipped
    rmSync(join(out, 'model-00002-of-00002.safetensors'));
    writeFileSync(join(out, 'config.json'), 'garbage');
    const again = JSON.parse((await ok(['model', 'pull', 'ml/tiny-copy:v1', out, '--output', 'json'])).stdout);
    assert.deepEqual([again.pulled, again.skipped], [2, 7]);
    assert.ok(readFileSync(join(out, 'model-00002-of-00002.safetensors')).equals(shard2.file));
  });

  test('list: filters, and only what the caller may pull', async () => {
    const all = JSON.parse((await ok(['model', 'list', '--output', 'json'])).stdout);
    assert.ok(all.items.some((m: { repository: string }) => m.repository === 'ml/tiny'));
    const llama = JSON.parse((await ok(['model', 'list', '--architecture', 'llamaforcausallm', '--output', 'json'])).stdout);
    assert.ok(llama.items.length >= 1 && llama.items.every((m: { architecture: string }) => m.architecture === 'LlamaForCausalLM'));
    const big = JSON.parse((await ok(['model', 'list', '--min-parameters', '1000000000', '--output', 'json'])).stdout);
    assert.deepEqual(big.items, []);

    await ok(['user', 'create', 'bob', '--password-stdin'], 'bob-password-1\n');
    await ok(['role', 'grant', 'bob', 'reader', 'ml/tiny-copy']);
    const bobHome = mkdtempSync(join(tmpdir(), 'wharf-cli-model-bob-'));
    try {
      await ok(['login', reg.url, '-u', 'bob', '--password-stdin'], 'bob-password-1\n', bobHome);
      const seen = JSON.parse((await ok(['model', 'list', '--output', 'json'], undefined, bobHome)).stdout);
      assert.deepEqual(seen.items.map((m: { repository: string }) => m.repository), have('skopeo') ? ['ml/tiny-copy'] : []);
      const denied = await wharf(['model', 'inspect', 'ml/tiny:v1'], undefined, bobHome);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /DENIED|denied|not allowed|access/i);
    } finally {
      rmSync(bobHome, { recursive: true, force: true });
    }
  });

  test('a KitOps ModelKit (tar layers, as kit writes them) pulls into the directory, digests checked', async () => {
    const client = new OciClient({ server: reg.url, ...ADMIN });
    const modelTar = makeTar([{ name: 'model/' }, { name: 'model/model.safetensors', content: shard1.file }]);
    const docsTar = gzipSync(makeTar([{ name: 'README.md', content: Buffer.from('# kit\n') }]));
    const kitfile = Buffer.from(JSON.stringify({ manifestVersion: '1.0.0', package: { name: 'kit' }, model: { path: 'model' }, docs: [{ path: 'README.md' }] }));
    for (const b of [modelTar, docsTar, kitfile]) await client.pushBlob('kit/tiny', sha256(b), () => Readable.from([b]));
    await client.putManifest('kit/tiny', 'v1', modelkitManifest(kitfile, [{ mediaType: 'application/vnd.kitops.modelkit.model.v1.tar', bytes: modelTar }, { mediaType: 'application/vnd.kitops.modelkit.docs.v1.tar+gzip', bytes: docsTar }]), 'application/vnd.oci.image.manifest.v1+json');
    const out = join(dir, 'kit-out');
    const r = JSON.parse((await ok(['model', 'pull', 'kit/tiny:v1', out, '--output', 'json'])).stdout);
    assert.equal(r.files, 2);
    assert.ok(readFileSync(join(out, 'model/model.safetensors')).equals(shard1.file));
    assert.equal(readFileSync(join(out, 'README.md'), 'utf8'), '# kit\n');
  });

  test('pull refuses a file path that leaves the directory, and writes nothing', async () => {
    const client = new OciClient({ server: reg.url, ...ADMIN });
    const evil = Buffer.from('pwned\n');
    const config = Buffer.from(JSON.stringify({ descriptor: {}, config: {}, modelfs: { type: 'layers', diffIds: [sha256(evil)] } }));
    for (const b of [evil, config]) await client.pushBlob('ml/evil', sha256(b), () => Readable.from([b]));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.cncf.model.manifest.v1+json',
        config: { mediaType: 'application/vnd.cncf.model.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.cncf.model.doc.v1.raw', digest: sha256(evil), size: evil.length, annotations: { 'org.cncf.model.filepath': '../escaped.txt' } }],
      }),
    );
    await client.putManifest('ml/evil', 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');
    const out = join(dir, 'evil-out');
    const r = await wharf(['model', 'pull', 'ml/evil:v1', out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unsafe file path "\.\.\/escaped\.txt"/);
    assert.equal(existsSync(join(dir, 'escaped.txt')), false);
  });
});
