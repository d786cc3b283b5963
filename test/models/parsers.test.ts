/**
 * The pure model parsers (src/content/models/): safetensors headers, GGUF headers, tar headers,
 * recognising model manifests — exact results for files written here, and a clear error for
 * every malformed, oversized or hostile header.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSafetensorsHeader, parseSafetensorsIndex, safetensorsHeaderLength } from '../../src/content/models/safetensors.js';
import { parseGgufHeader } from '../../src/content/models/gguf.js';
import { ModelFileError, NeedMoreBytes } from '../../src/content/models/model-file-error.js';
import { recognizeModelArtifact } from '../../src/content/models/model-artifact.js';
import { dockerModelManifest, ggufFile, modelkitManifest, modelpackManifest, rawSafetensors, safetensorsFile } from './support.js';

function parseSt(file: Buffer) {
  const n = safetensorsHeaderLength(file.subarray(0, 8), file.length);
  return parseSafetensorsHeader(file.subarray(8, 8 + n), file.length);
}

describe('safetensors headers', () => {
  test('tensors, dtypes, shapes, offsets, __metadata__ and parameter counts', () => {
    const { file, headerLength } = safetensorsFile(
      [
        { name: 'embed.weight', dtype: 'BF16', shape: [64, 32] },
        { name: 'layer.0.weight', dtype: 'F32', shape: [32, 32] },
        { name: 'layer.0.bias', dtype: 'F16', shape: [32] },
        { name: 'step', dtype: 'I64', shape: [] },
      ],
      { format: 'pt' },
    );
    const h = parseSt(file);
    assert.equal(h.headerBytes, headerLength);
    assert.deepEqual(h.metadata, { format: 'pt' });
    assert.deepEqual(h.tensors.map((t) => [t.name, t.dtype, t.shape, t.dataOffsets]), [
      ['embed.weight', 'BF16', [64, 32], [0, 4096]],
      ['layer.0.weight', 'F32', [32, 32], [4096, 8192]],
      ['layer.0.bias', 'F16', [32], [8192, 8256]],
      ['step', 'I64', [], [8256, 8264]],
    ]);
    assert.equal(h.parameters, 2048 + 1024 + 32 + 1);
    assert.deepEqual(h.parametersByDtype, { BF16: 2048, F32: 1024, F16: 32, I64: 1 });
    assert.deepEqual(h.bytesByDtype, { BF16: 4096, F32: 4096, F16: 64, I64: 8 });
    assert.equal(h.dataBytes, 8264);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['shorter than 8 bytes', () => safetensorsHeaderLength(Buffer.from([1, 2, 3]), 3), /shorter than the 8-byte/],
    ['length past the end of the file', () => safetensorsHeaderLength(rawSafetensors('{}', 0, 4096n).file, 16), /runs past the end/],
    ['length over the cap', () => safetensorsHeaderLength(rawSafetensors('{}', 0, 2n ** 40n).file, 2 ** 41), /over the limit/],
    ['length of 2^64-1', () => safetensorsHeaderLength(rawSafetensors('{}', 0, 2n ** 64n - 1n).file, 100), /over the limit/],
    ['malformed JSON', () => parseSt(rawSafetensors('{"a": {"dtype": "F32",', 0).file), /not valid JSON/],
    ['not an object', () => parseSt(rawSafetensors('[1,2,3]', 0).file), /not a JSON object/],
    ['invalid UTF-8', () => parseSafetensorsHeader(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 100), /not valid JSON/],
    ['unknown dtype', () => parseSt(rawSafetensors('{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}', 1).file), /unknown dtype/],
    ['negative shape', () => parseSt(rawSafetensors('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}', 1).file), /bad shape/],
    ['offsets past the end', () => parseSt(rawSafetensors('{"a":{"dtype":"U8","shape":[64],"data_offsets":[0,64]}}', 8).file), /past the end of the file/],
    ['size not matching dtype x shape', () => parseSt(rawSafetensors('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}', 8).file), /spans 8 bytes, but F32\[4\] is 16/],
    [
      'overlapping tensors',
      () => parseSt(rawSafetensors('{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}}', 12).file),
      /overlaps/,
    ],
    ['a gap', () => parseSt(rawSafetensors('{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}', 8).file), /a gap before/],
    ['bytes after the last tensor', () => parseSt(rawSafetensors('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', 8).file), /cover 4 of the file's 8/],
    ['element count overflow', () => parseSt(rawSafetensors('{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}}', 1).file), /more elements than can be counted/],
    ['__metadata__ with a non-string', () => parseSt(rawSafetensors('{"__metadata__":{"a":1}}', 0).file), /__metadata__ must be an object of strings/],
  ];
  for (const [what, run, message] of bad) {
    test(`bad input: ${what}`, () => assert.throws(run, (e: unknown) => e instanceof ModelFileError && message.test(e.message)));
  }

  test('a sharded checkpoint index', () => {
    const idx = parseSafetensorsIndex(JSON.stringify({ metadata: { total_size: 123 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' } }));
    assert.deepEqual(idx, { totalSize: 123, shards: { 'model-00001-of-00002.safetensors': 1, 'model-00002-of-00002.safetensors': 2 }, tensors: 3 });
    assert.throws(() => parseSafetensorsIndex('{"weight_map": []}'), ModelFileError);
    assert.throws(() => parseSafetensorsIndex('nope'), ModelFileError);
  });
});

describe('GGUF headers', () => {
  const kvs = [
    ['general.architecture', 'string', 'llama'],
    ['general.name', 'string', 'Tiny Llama'],
    ['general.file_type', 'u32', 7],
    ['general.quantization_version', 'u32', 2],
    ['llama.context_length', 'u32', 4096],
    ['llama.embedding_length', 'u32', 64],
    ['tokenizer.ggml.model', 'string', 'llama'],
    ['tokenizer.ggml.tokens', 'string[]', Array.from({ length: 100 }, (_, i) => `tok${i}`)],
    ['llama.rope.freq_base', 'f32', 10000],
    ['some.flags', 'i32[]', [1, -2, 3]],
  ] as Parameters<typeof ggufFile>[0];
  const tensors = [
    { name: 'token_embd.weight', dims: [64, 100], type: 8 },
    { name: 'blk.0.attn_norm.weight', dims: [64], type: 0 },
    { name: 'output.weight', dims: [64, 100], type: 1 },
  ];

  test('version, counts, architecture, file type, context length, parameters', () => {
    const { file, dataOffset, parameters } = ggufFile(kvs, tensors);
    const h = parseGgufHeader(file, file.length);
    assert.equal(h.version, 3);
    assert.equal(h.tensorCount, 3);
    assert.equal(h.kvCount, kvs.length);
    assert.equal(h.architecture, 'llama');
    assert.equal(h.name, 'Tiny Llama');
    assert.equal(h.fileType, 7);
    assert.equal(h.fileTypeName, 'MOSTLY_Q8_0');
    assert.equal(h.contextLength, 4096);
    assert.equal(h.dataOffset, dataOffset);
    assert.equal(h.parameters, parameters);
    assert.equal(parameters, 6400 + 64 + 6400);
    assert.deepEqual(h.parametersByType, { Q8_0: 6400, F32: 64, F16: 6400 });
    assert.deepEqual(h.bytesByType, { Q8_0: 200 * 34, F32: 256, F16: 12800 });
    assert.deepEqual(h.metadata['tokenizer.ggml.tokens'], { type: 'array', itemType: 'STRING', length: 100 });
    assert.deepEqual(h.metadata['some.flags'], { type: 'array', itemType: 'INT32', length: 3, values: [1, -2, 3] });
    assert.equal(h.metadata['llama.rope.freq_base'], 10000);
  });

  test('a prefix too short asks for more; the whole file never does', () => {
    const { file, dataOffset } = ggufFile(kvs, tensors);
    assert.throws(
      () => parseGgufHeader(file.subarray(0, 40), file.length),
      (e: unknown) => e instanceof NeedMoreBytes && e.bytes > 40 && e.bytes <= file.length,
    );
    assert.equal(parseGgufHeader(file.subarray(0, dataOffset), file.length).tensorCount, 3);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['wrong magic', () => parseGgufHeader(Buffer.from('GGML\x03\0\0\0' + '\0'.repeat(16), 'latin1'), 24), /GGUF magic/],
    ['version 1', () => { const f = ggufFile(kvs, tensors, { version: 1 }).file; return parseGgufHeader(f, f.length); }, /version 1/],
    ['big-endian', () => { const f = ggufFile(kvs, tensors, { version: 0x03000000 }).file; return parseGgufHeader(f, f.length); }, /big-endian/],
    ['absurd tensor count', () => { const f = ggufFile(kvs, tensors, { tensorCount: 2n ** 63n }).file; return parseGgufHeader(f, f.length); }, /tensor count .* is absurd/],
    ['absurd key count', () => { const f = ggufFile(kvs, tensors, { kvCount: 10_000_000n }).file; return parseGgufHeader(f, f.length); }, /key\/value count .* is absurd/],
    ['more keys than written (truncated)', () => { const f = ggufFile(kvs, [], { kvCount: BigInt(kvs.length + 1) }).file; return parseGgufHeader(f, f.length); }, /ends inside|unknown value type/],
    ['truncated file', () => { const f = ggufFile(kvs, tensors).file.subarray(0, 200); return parseGgufHeader(f, f.length); }, /the file ends inside/],
    ['overlapping tensors', () => { const f = ggufFile(kvs, tensors, { offsets: [0, 0, 7040] }).file; return parseGgufHeader(f, f.length); }, /overlaps/],
    ['tensor past the end', () => { const f = ggufFile(kvs, tensors, { offsets: [0, 6816, 14080] }).file; return parseGgufHeader(f, f.length); }, /output.weight" runs past the end/],
    ['offset past the file', () => { const f = ggufFile(kvs, tensors, { offsets: [0, 6816, 1_000_000] }).file; return parseGgufHeader(f, f.length); }, /offset of output.weight 1000000 is absurd/],
    ['misaligned tensor', () => { const f = ggufFile(kvs, tensors, { offsets: [0, 6801, 7072] }).file; return parseGgufHeader(f, f.length); }, /not aligned/],
    ['header over the limit', () => { const f = ggufFile(kvs, tensors).file; return parseGgufHeader(f, f.length, { maxHeaderBytes: 256, maxTensors: 10, maxKeys: 100, maxStringBytes: 1000 }); }, /longer than the limit/],
  ];
  for (const [what, run, message] of bad) {
    test(`bad input: ${what}`, () => assert.throws(run, (e: unknown) => e instanceof ModelFileError && message.test(e.message)));
  }

  test('a string length of 2^64-1 is an error before any allocation', () => {
    const f = Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.alloc(8), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(8, 0xff)]);
    assert.throws(() => parseGgufHeader(f, f.length), (e: unknown) => e instanceof ModelFileError && /the file ends inside a key/.test(e.message));
  });
});

describe('recognising model artifacts', () => {
  const w = { mediaType: 'application/vnd.cncf.model.weight.v1.raw', bytes: Buffer.from('x'), annotations: { 'org.cncf.model.filepath': 'model.safetensors' } };
  test('ModelPack: roles and packings from the media types, paths from the annotations', () => {
    const layers = [
      w,
      { mediaType: 'application/vnd.cncf.model.weight.config.v1.tar', bytes: Buffer.from('c') },
      { mediaType: 'application/vnd.cncf.model.doc.v1.tar+gzip', bytes: Buffer.from('d') },
      { mediaType: 'application/vnd.cncf.model.code.v1.tar+zstd', bytes: Buffer.from('e') },
      { mediaType: 'application/vnd.cncf.model.dataset.v1.raw', bytes: Buffer.from('f') },
    ];
    const a = recognizeModelArtifact(JSON.parse(modelpackManifest(Buffer.from('{}'), layers).toString()))!;
    assert.equal(a.format, 'modelpack');
    assert.deepEqual(a.layers.map((l) => [l.role, l.packing, l.path]), [
      ['weight', 'raw', 'model.safetensors'],
      ['weight-config', 'tar', null],
      ['doc', 'tar+gzip', null],
      ['code', 'tar+zstd', null],
      ['dataset', 'raw', null],
    ]);
  });
  test('KitOps and Docker models; images and other artifacts are not models', () => {
    const kit = recognizeModelArtifact(JSON.parse(modelkitManifest(Buffer.from('{}'), [{ mediaType: 'application/vnd.kitops.modelkit.model.v1.tar', bytes: Buffer.from('m') }, { mediaType: 'application/vnd.kitops.modelkit.docs.v1.tar+gzip', bytes: Buffer.from('d') }]).toString()))!;
    assert.equal(kit.format, 'modelkit');
    assert.deepEqual(kit.layers.map((l) => [l.role, l.packing]), [['weight', 'tar'], ['doc', 'tar+gzip']]);
    const docker = recognizeModelArtifact(JSON.parse(dockerModelManifest(Buffer.from('{}'), [{ mediaType: 'application/vnd.docker.ai.gguf.v3', bytes: Buffer.from('g') }, { mediaType: 'application/vnd.docker.ai.license', bytes: Buffer.from('l') }]).toString()))!;
    assert.equal(docker.format, 'docker');
    assert.deepEqual(docker.layers.map((l) => [l.role, l.packing]), [['weight', 'raw'], ['license', 'raw']]);
    assert.equal(recognizeModelArtifact({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }] }), undefined);
    assert.equal(recognizeModelArtifact({ schemaVersion: 2, manifests: [] }), undefined);
    assert.equal(recognizeModelArtifact('nonsense'), undefined);
  });
});
