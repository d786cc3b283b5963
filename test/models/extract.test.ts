/**
 * Model metadata read by Range requests, on the filesystem and on S3 (s3rver): model artifacts of
 * each kind pushed into a real RegistryService, metadata asserted exactly, and every byte the
 * blob store handed out counted — the weights' reads are their headers only. Malformed headers
 * give errors on the metadata while the artifact stays whole and pullable.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseDigest, type Digest } from '../../src/domain/digest.js';
import { ModelService } from '../../src/features/models/model-service.js';
import { SqlModelStore } from '../../src/features/models/sql-model-store.js';
import type { ModelMetadata } from '../../src/features/models/model-extractor.js';
import { RegistryService } from '../../src/registry/registry-service.js';
import type { BlobStore, ByteRange, UploadStore } from '../../src/storage/blob/blob-store.js';
import { FsBlobStore } from '../../src/storage/blob/fs-blob-store.js';
import { S3BlobStore } from '../../src/storage/blob/s3-blob-store.js';
import { openPostgresMetadataStore, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { makeTar } from '../support/oci-layout.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import {
  dockerModelManifest,
  ggufFile,
  modelkitManifest,
  modelpackConfig,
  modelpackFileAnnotations,
  modelpackManifest,
  rawSafetensors,
  safetensorsFile,
  sha256,
  type Blob,
} from './support.js';

interface Read {
  digest: string;
  range?: ByteRange;
  bytes: number;
}

/** The store as the registry sees it, counting every byte `open` hands out. */
function counting(inner: BlobStore & UploadStore): { store: BlobStore & UploadStore; reads: Read[] } {
  const reads: Read[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'openFile') return undefined; // every read goes through open(range)
      if (prop !== 'open') {
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      }
      return async (digest: Digest, range?: ByteRange) => {
        const stream = await target.open(digest, range);
        const read: Read = { digest, range, bytes: 0 };
        reads.push(read);
        stream.on('data', (c: Buffer) => (read.bytes += c.length));
        return stream;
      };
    },
  });
  return { store, reads };
}

interface Backend {
  registry: RegistryService;
  models: ModelService;
  reads: Read[];
  close(): Promise<void>;
}

let s3: S3TestServer;
before(async () => {
  s3 = await startS3Server();
});
after(() => s3?.stop());

async function backend(kind: 'fs' | 's3' | 'postgres'): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-models-'));
  let inner: FsBlobStore | S3BlobStore;
  if (kind !== 's3') inner = new FsBlobStore({ root: join(dir, 'blobs'), fsync: false });
  else {
    inner = new S3BlobStore({
      endpoint: s3.endpoint,
      region: s3.region,
      bucket: s3.bucket,
      prefix: `m-${Date.now()}/`,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
  }
  await inner.init();
  let scratch: ScratchDatabase | undefined;
  if (kind === 'postgres') scratch = await createScratchDatabase();
  const metadata: SqlMetadataStore = scratch ? openPostgresMetadataStore({ connectionString: scratch.url }) : openSqliteMetadataStore({ path: join(dir, 'wharf.db') });
  await metadata.migrate();
  const { store, reads } = counting(inner);
  const registry = new RegistryService({ metadata, blobs: store, uploads: store });
  const models = new ModelService({ registry, store: new SqlModelStore(metadata.database) });
  return {
    registry,
    models,
    reads,
    async close() {
      await registry.close();
      await metadata.close();
      await scratch?.drop();
      if (inner instanceof S3BlobStore) inner.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function push(b: Backend, repo: string, tag: string, config: Buffer, layers: Blob[], manifest: Buffer): Promise<Digest> {
  for (const bytes of [config, ...layers.map((l) => l.bytes)]) await b.registry.pushBlob(repo, parseDigest(sha256(bytes)), Readable.from([bytes]));
  const { digest } = await b.registry.putManifest(repo, { kind: 'tag', tag: tag as never }, manifest, 'application/vnd.oci.image.manifest.v1+json');
  b.reads.length = 0; // count only what extraction reads
  return digest;
}

async function readAll(b: Backend, repo: string, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await b.registry.openBlob(repo, parseDigest(digest))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const README = '---\nlicense: apache-2.0\ntags:\n  - text-generation\nbase_model: tiny/base\n---\n\n# Tiny Llama\n\nA small model for tests.\n';
const HF_CONFIG = JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', torch_dtype: 'bfloat16', hidden_size: 512, num_hidden_layers: 2, vocab_size: 1000, max_position_embeddings: 2048 });

function raw(mediaType: string, path: string, bytes: Buffer): Blob {
  return { mediaType, bytes, annotations: modelpackFileAnnotations(path, bytes.length) };
}

const pgSkip = await postgresSkipReason();
for (const kind of ['fs', 's3', 'postgres'] as const) {
  describe(`model metadata from range reads (${kind === 'postgres' ? 'fs + PostgreSQL' : kind})`, { skip: kind === 'postgres' ? pgSkip : undefined }, () => {
    let b: Backend;
    before(async () => {
      b = await backend(kind);
    });
    after(async () => b?.close());

    test('ModelPack with raw files: tensors, dtypes, card, config — the weights read for their first 64 KiB only', async () => {
      const weights = safetensorsFile(
        [
          { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [1000, 512] },
          { name: 'model.layers.0.mlp.weight', dtype: 'F32', shape: [512, 512] },
          { name: 'model.norm.weight', dtype: 'F32', shape: [512] },
          { name: 'lm_head.weight', dtype: 'F16', shape: [1000, 512] },
        ],
        { format: 'pt' },
      );
      assert.ok(weights.file.length > 3_000_000);
      const layers = [
        raw('application/vnd.cncf.model.weight.v1.raw', 'model.safetensors', weights.file),
        raw('application/vnd.cncf.model.weight.config.v1.raw', 'config.json', Buffer.from(HF_CONFIG)),
        raw('application/vnd.cncf.model.weight.config.v1.raw', 'generation_config.json', Buffer.from('{"max_new_tokens": 64}')),
        raw('application/vnd.cncf.model.weight.config.v1.raw', 'tokenizer.json', Buffer.from('{"version":"1.0","model":{"type":"BPE"}}')),
        raw('application/vnd.cncf.model.doc.v1.raw', 'README.md', Buffer.from(README)),
        raw('application/vnd.cncf.model.doc.v1.raw', 'LICENSE', Buffer.from('Apache License\nVersion 2.0\n')),
      ];
      const config = modelpackConfig(layers, { name: 'tiny-llama', family: 'llama', licenses: ['Apache-2.0'], version: '1.0' }, { architecture: 'transformer', format: 'safetensors', paramSize: '1.3m', precision: 'bfloat16' });
      const digest = await push(b, 'ml/tiny', 'v1', config, layers, modelpackManifest(config, layers));
      const row = await b.models.extract('ml/tiny', digest, 'v1');
      const m = JSON.parse(row.metadata) as ModelMetadata;
      assert.equal(m.format, 'modelpack');
      assert.equal(m.weightFormat, 'safetensors');
      assert.equal(m.name, 'tiny-llama');
      assert.equal(m.architecture, 'LlamaForCausalLM');
      assert.equal(m.parameters, 512000 + 262144 + 512 + 512000);
      assert.equal(m.parameters, weights.parameters);
      assert.deepEqual(m.parametersByDtype, { BF16: 512000, F32: 262656, F16: 512000 });
      assert.equal(m.memoryToLoadBytes, 512000 * 2 + 262656 * 4 + 512000 * 2);
      assert.equal(m.weightBytes, weights.file.length);
      assert.equal(m.totalBytes, layers.reduce((n, l) => n + l.bytes.length, 0));
      assert.equal(m.contextLength, 2048);
      assert.equal(m.license, 'apache-2.0');
      assert.deepEqual(m.card, { title: 'Tiny Llama', frontMatter: { license: 'apache-2.0', tags: ['text-generation'], base_model: 'tiny/base' }, bytes: README.length });
      assert.deepEqual([m.hasConfig, m.hasGenerationConfig, m.hasTokenizer, m.hasReadme, m.hasLicenseFile], [true, true, true, true, true]);
      assert.deepEqual(m.hfConfig, JSON.parse(HF_CONFIG));
      assert.deepEqual(m.errors, []);
      const st = m.files.find((f) => f.path === 'model.safetensors')!;
      assert.equal(st.weights!.tensors, 4);
      assert.deepEqual(st.weights!.metadata, { format: 'pt' });
      assert.deepEqual(st.weights!.tensorList[0], { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [1000, 512] });
      assert.equal(st.weights!.headerBytes, weights.file.readUInt32LE(0));
      assert.equal(row.error, null);

      // what the blob store handed out: the config, the small files whole, the weights' first 64 KiB
      const weightReads = b.reads.filter((r) => r.digest === sha256(weights.file));
      assert.deepEqual(weightReads.map((r) => [r.range, r.bytes]), [[{ start: 0, end: 65535 }, 65536]]);
      assert.ok(b.reads.every((r) => r.range !== undefined), 'every read is a range');
      const expected = 65536 + config.length + layers.slice(1).filter((l) => !l.annotations!['org.cncf.model.filepath']!.startsWith('tokenizer')).reduce((n, l) => n + l.bytes.length, 0);
      assert.equal(b.reads.reduce((n, r) => n + r.bytes, 0), expected);
      assert.deepEqual(m.reads, { ranges: b.reads.length, bytes: expected });

      // the weight file is indexed by its content digest, for matching images that bake it
      const all = async (names: string[]) => names;
      assert.deepEqual(await b.models.findByFileDigests([sha256(weights.file), sha256('other')], all), [
        { fileDigest: sha256(weights.file), path: 'model.safetensors', size: weights.file.length, repository: 'ml/tiny', digest, tag: 'v1' },
      ]);
      assert.deepEqual(await b.models.findByFileDigests([sha256(weights.file)], async () => []), [], 'only repositories the caller may pull');
      assert.deepEqual(await b.models.findByFileDigests([sha256(Buffer.from(HF_CONFIG))], all), [], 'weights only');
    });

    test('a sharded checkpoint: the index names the shards; a header over 64 KiB takes a second read of exactly the rest', async () => {
      const many = Array.from({ length: 1500 }, (_, i) => ({ name: `model.layers.${i}.self_attn.q_proj.weight.with.a.long.name`, dtype: 'F16', shape: [16, 16] }));
      const shard1 = safetensorsFile([{ name: 'embed', dtype: 'F32', shape: [256, 256] }]);
      const shard2 = safetensorsFile(many);
      assert.ok(shard2.headerLength > 65536);
      const index = JSON.stringify({ metadata: { total_size: 262144 + 1500 * 512 }, weight_map: { embed: 'model-00001-of-00003.safetensors', ...Object.fromEntries(many.map((t) => [t.name, 'model-00002-of-00003.safetensors'])), extra: 'model-00003-of-00003.safetensors' } });
      const layers = [
        raw('application/vnd.cncf.model.weight.v1.raw', 'model-00001-of-00003.safetensors', shard1.file),
        raw('application/vnd.cncf.model.weight.v1.raw', 'model-00002-of-00003.safetensors', shard2.file),
        raw('application/vnd.cncf.model.weight.config.v1.raw', 'model.safetensors.index.json', Buffer.from(index)),
      ];
      const config = modelpackConfig(layers, { name: 'sharded' }, { format: 'safetensors' });
      const digest = await push(b, 'ml/sharded', 'v1', config, layers, modelpackManifest(config, layers));
      const m = (await b.models.get('ml/sharded', { kind: 'digest', digest })) as ModelMetadata;
      assert.equal(m.parameters, 65536 + 1500 * 256);
      assert.deepEqual(m.shards, { files: ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'], tensors: 1502, totalSize: 262144 + 768000, missing: ['model-00003-of-00003.safetensors'] });
      assert.deepEqual(m.errors, ['model.safetensors.index.json names shards the artifact lacks: model-00003-of-00003.safetensors']);
      const r2 = b.reads.filter((r) => r.digest === sha256(shard2.file));
      assert.deepEqual(r2.map((r) => r.range), [{ start: 0, end: 65535 }, { start: 65536, end: 8 + shard2.headerLength - 1 }]);
      assert.equal(r2.reduce((n, r) => n + r.bytes, 0), 8 + shard2.headerLength, 'exactly the header');
    });

    test('Docker Model Runner GGUF: architecture, quantization, context length, parameters — key/values past the first MiB read in bounded steps', async () => {
      const tokens = Array.from({ length: 60_000 }, (_, i) => `token-number-${i}`);
      const gguf = ggufFile(
        [
          ['general.architecture', 'string', 'qwen2'],
          ['general.name', 'string', 'Qwen Tiny'],
          ['general.file_type', 'u32', 15],
          ['general.license', 'string', 'apache-2.0'],
          ['qwen2.context_length', 'u32', 32768],
          ['tokenizer.ggml.model', 'string', 'gpt2'],
          ['tokenizer.ggml.tokens', 'string[]', tokens],
        ],
        [
          { name: 'token_embd.weight', dims: [1024, 4096], type: 8 },
          { name: 'output_norm.weight', dims: [256], type: 0 },
        ],
      );
      assert.ok(gguf.dataOffset > 1024 * 1024 && gguf.dataOffset < 2 * 1024 * 1024);
      const config = Buffer.from(JSON.stringify({ config: { format: 'gguf', quantization: 'Q4_K_M', parameters: '1.05 M', architecture: 'qwen2', size: '1.1 MB' }, descriptor: { created: '2025-01-01T00:00:00Z' }, rootfs: { type: 'rootfs', diff_ids: [sha256(gguf.file)] } }));
      const layers = [
        { mediaType: 'application/vnd.docker.ai.gguf.v3', bytes: gguf.file },
        { mediaType: 'application/vnd.docker.ai.license', bytes: Buffer.from('Apache License 2.0') },
      ];
      const digest = await push(b, 'ai/qwen', 'tiny', config, layers, dockerModelManifest(config, layers));
      const m = (await b.models.get('ai/qwen', { kind: 'tag', tag: 'tiny' as never })) as ModelMetadata & { tag: string; digest: string };
      assert.equal(m.digest, digest);
      assert.equal(m.tag, 'tiny');
      assert.equal(m.format, 'docker');
      assert.equal(m.weightFormat, 'gguf');
      assert.equal(m.architecture, 'qwen2');
      assert.equal(m.name, 'Qwen Tiny');
      assert.equal(m.quantization, 'MOSTLY_Q4_K_M');
      assert.equal(m.contextLength, 32768);
      assert.equal(m.parameters, 1024 * 4096 + 256);
      assert.equal(m.license, 'apache-2.0');
      assert.equal(m.hasTokenizer, true);
      assert.equal(m.hasLicenseFile, true);
      assert.deepEqual(m.files.map((f) => f.path), ['model.gguf', 'LICENSE']);
      assert.deepEqual(m.files[0]!.weights!.gguf, { version: 3, architecture: 'qwen2', name: 'Qwen Tiny', fileType: 15, fileTypeName: 'MOSTLY_Q4_K_M', contextLength: 32768 });
      const r = b.reads.filter((x) => x.digest === sha256(gguf.file));
      assert.deepEqual(r.map((x) => x.range), [{ start: 0, end: 1024 * 1024 - 1 }, { start: 1024 * 1024, end: 2 * 1024 * 1024 - 1 }]);
      assert.ok(gguf.file.length > 2 * 1024 * 1024 + 1_000_000, 'the tensor data was never read');
    });

    test('KitOps ModelKit: files found inside an uncompressed tar by its headers; the Kitfile names the paths', async () => {
      const weights = safetensorsFile([{ name: 'w', dtype: 'F32', shape: [300, 300] }]);
      const modelTar = makeTar([{ name: 'model/' }, { name: 'model/model.safetensors', content: weights.file }, { name: 'model/config.json', content: Buffer.from(HF_CONFIG) }]);
      const docsTar = makeTar([{ name: 'README.md', content: Buffer.from(README) }]);
      const layers = [
        { mediaType: 'application/vnd.kitops.modelkit.model.v1.tar', bytes: modelTar },
        { mediaType: 'application/vnd.kitops.modelkit.docs.v1.tar', bytes: docsTar },
      ];
      const kitfile = Buffer.from(JSON.stringify({ manifestVersion: '1.0.0', package: { name: 'kit-tiny', version: '1.0.0', license: 'MIT', authors: ['ml team'] }, model: { name: 'tiny', path: 'model', framework: 'pytorch', format: 'safetensors', digest: sha256(modelTar) }, docs: [{ path: 'README.md', digest: sha256(docsTar) }] }));
      const digest = await push(b, 'kit/tiny', 'v1', kitfile, layers, modelkitManifest(kitfile, layers));
      const m = JSON.parse((await b.models.extract('kit/tiny', digest)).metadata) as ModelMetadata;
      assert.equal(m.format, 'modelkit');
      assert.equal(m.name, 'kit-tiny');
      assert.equal(m.parameters, 90000);
      assert.equal(m.architecture, 'LlamaForCausalLM');
      assert.equal(m.license, 'apache-2.0'); // the model card's, first
      assert.deepEqual(m.files.map((f) => [f.path, f.offset]), [['model/model.safetensors', 1024], ['model/config.json', 1024 + 512 + Math.ceil(weights.file.length / 512) * 512], ['README.md', 512]]);
      const w = b.reads.filter((r) => r.digest === sha256(modelTar));
      // headers (512 bytes each), the weights' first 64 KiB at their offset, config.json whole
      assert.ok(w.some((r) => r.range!.start === 1024 && r.range!.end === 1024 + 65535));
      assert.ok(w.reduce((n, r) => n + r.bytes, 0) < 70 * 1024, 'only headers of a 360 KB layer');
      assert.deepEqual(m.errors, []);
    });

    test('bad headers: a clear error on the metadata, the artifact still stored and pullable byte for byte', async () => {
      const cases: [string, Buffer, RegExp][] = [
        ['length past the end', rawSafetensors('{}', 100, 1n << 20n).file, /header length 1048576 runs past the end/],
        ['length over the cap', rawSafetensors('{}', 100, 1n << 40n).file, /over the limit/],
        ['malformed JSON', rawSafetensors('{"a": [', 64).file, /not valid JSON/],
        ['overlapping offsets', rawSafetensors('{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}}', 12).file, /overlaps/],
        ['offsets past the end', rawSafetensors('{"a":{"dtype":"U8","shape":[64],"data_offsets":[0,64]}}', 16).file, /runs past the end of the file/],
      ];
      const truncatedGguf = ggufFile([['general.architecture', 'string', 'llama']], [{ name: 't', dims: [1024], type: 0 }], { tensorCount: 1n << 40n }).file;
      const layers: Blob[] = cases.map(([, bytes], i) => raw('application/vnd.cncf.model.weight.v1.raw', `bad-${i}.safetensors`, bytes));
      layers.push(raw('application/vnd.cncf.model.weight.v1.raw', 'bad.gguf', truncatedGguf));
      const config = modelpackConfig(layers, { name: 'bad' }, {});
      const digest = await push(b, 'ml/bad', 'v1', config, layers, modelpackManifest(config, layers));
      const row = await b.models.extract('ml/bad', digest);
      const m = JSON.parse(row.metadata) as ModelMetadata;
      cases.forEach(([what, , re], i) => assert.match(m.files[i]!.error ?? '', re, what));
      assert.match(m.files[5]!.error!, /tensor count 1099511627776 is absurd/);
      assert.equal(m.errors.length, 6);
      assert.ok(row.error!.includes('bad-0.safetensors: safetensors: the header length 1048576 runs past the end'));
      assert.equal(m.parameters, 0);
      assert.equal(m.memoryToLoadBytes, layers.reduce((n, l) => n + l.bytes.length, 0));
      // none of it read past the first 64 KiB / 1 MiB of a file
      assert.ok(b.reads.every((r) => r.range !== undefined && r.range.start === 0));
      for (const l of layers) assert.ok((await readAll(b, 'ml/bad', sha256(l.bytes))).equals(l.bytes));
      const manifest = await b.registry.getManifest('ml/bad', { kind: 'tag', tag: 'v1' as never });
      assert.equal(manifest.digest, digest);
    });

    test('an image is not a model: MODEL_UNKNOWN, nothing stored', async () => {
      const cfg = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
      await b.registry.pushBlob('app/web', parseDigest(sha256(cfg)), Readable.from([cfg]));
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length }, layers: [] }));
      const { digest } = await b.registry.putManifest('app/web', { kind: 'tag', tag: 'v1' as never }, manifest, 'application/vnd.oci.image.manifest.v1+json');
      await assert.rejects(b.models.extract('app/web', digest), (e: Error & { code?: string }) => e.code === 'MODEL_UNKNOWN');
      const list = await b.models.search({ limit: 100 }, async (names) => names);
      assert.ok(!list.items.some((i) => i.repository === 'app/web'));
    });
  });
}
