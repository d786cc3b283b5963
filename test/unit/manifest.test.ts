import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../../src/domain/digest.js';
import { MAX_MANIFEST_BYTES, parseManifest } from '../../src/domain/manifest.js';
import { MediaTypes } from '../../src/domain/media-types.js';
import { WharfError } from '../../src/errors/wharf-error.js';

const d = (s: string): string => digestOf(Buffer.from(s));
const bytes = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function invalid(body: unknown, contentType: string | undefined, mentions?: RegExp): void {
  assert.throws(
    () => parseManifest(bytes(body), contentType),
    (err: unknown) => err instanceof WharfError && err.code === 'MANIFEST_INVALID' && (!mentions || mentions.test(err.message)),
  );
}

const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const EMPTY = { mediaType: MediaTypes.ociEmpty, digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

function ociImage(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: d('config'), size: 7023 },
    layers: [
      { mediaType: OCI_LAYER, digest: d('os'), size: 29_534_055 },
      { mediaType: OCI_LAYER, digest: d('cuda'), size: 3_146_250_001 },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: d('weights'), size: 9_007_199_254_740_991 },
    ],
    annotations: { 'org.opencontainers.image.created': '2024-05-01T12:00:00Z', 'org.opencontainers.image.source': 'https://example.com/repo' },
    ...extra,
  };
}

const ociIndex = {
  schemaVersion: 2,
  mediaType: MediaTypes.ociIndex,
  manifests: [
    { mediaType: MediaTypes.ociManifest, digest: d('amd64'), size: 1024, platform: { architecture: 'amd64', os: 'linux' } },
    { mediaType: MediaTypes.ociManifest, digest: d('arm64'), size: 1025, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
  ],
  annotations: { 'org.opencontainers.image.ref.name': 'v1' },
};

const dockerImage = {
  schemaVersion: 2,
  mediaType: MediaTypes.dockerManifest,
  config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1469, digest: d('dconfig') },
  layers: [
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 27_145_915, digest: d('d1') },
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 851, digest: d('d2') },
  ],
};

const dockerList = {
  schemaVersion: 2,
  mediaType: MediaTypes.dockerManifestList,
  manifests: [
    { mediaType: MediaTypes.dockerManifest, size: 529, digest: d('l1'), platform: { architecture: 'amd64', os: 'linux' } },
    { mediaType: MediaTypes.dockerManifest, size: 529, digest: d('l2'), platform: { architecture: 'ppc64le', os: 'linux' } },
  ],
};

describe('parseManifest: real-world shapes', () => {
  test('OCI image manifest', () => {
    const p = parseManifest(bytes(ociImage()), MediaTypes.ociManifest);
    assert.equal(p.mediaType, MediaTypes.ociManifest);
    assert.equal(p.isIndex, false);
    assert.equal(p.artifactType, MediaTypes.ociConfig);
    assert.equal(p.config?.digest, d('config'));
    assert.deepEqual(
      p.references.map((r) => [r.kind, r.descriptor.digest, r.descriptor.size, r.mustExist]),
      [
        ['config', d('config'), 7023, true],
        ['layer', d('os'), 29_534_055, true],
        ['layer', d('cuda'), 3_146_250_001, true],
        ['layer', d('weights'), 9_007_199_254_740_991, true],
      ],
    );
    assert.equal(p.annotations?.['org.opencontainers.image.created'], '2024-05-01T12:00:00Z');
    assert.equal(p.subject, undefined);
  });

  test('OCI index', () => {
    const p = parseManifest(bytes(ociIndex), `${MediaTypes.ociIndex}; charset=utf-8`);
    assert.equal(p.mediaType, MediaTypes.ociIndex);
    assert.equal(p.isIndex, true);
    assert.equal(p.artifactType, undefined);
    assert.equal(p.config, undefined);
    assert.deepEqual(p.references.map((r) => [r.kind, r.descriptor.digest, r.mustExist]), [
      ['manifest', d('amd64'), true],
      ['manifest', d('arm64'), true],
    ]);
    assert.equal(p.references[1]?.descriptor.platform?.variant, 'v8');
  });

  test('Docker schema 2 manifest and manifest list', () => {
    const img = parseManifest(bytes(dockerImage), MediaTypes.dockerManifest);
    assert.equal(img.mediaType, MediaTypes.dockerManifest);
    assert.equal(img.isIndex, false);
    assert.equal(img.references.length, 3);
    const list = parseManifest(bytes(dockerList), MediaTypes.dockerManifestList);
    assert.equal(list.isIndex, true);
    assert.deepEqual(list.references.map((r) => r.kind), ['manifest', 'manifest']);
  });

  test('the bytes are parsed as given, pretty-printed or not', () => {
    const pretty = Buffer.from(JSON.stringify(ociImage(), null, 3));
    assert.deepEqual(parseManifest(pretty, MediaTypes.ociManifest), parseManifest(bytes(ociImage()), MediaTypes.ociManifest));
  });
});

describe('parseManifest: artifacts and referrers', () => {
  test('explicit artifactType with the empty config, and a subject', () => {
    const body = ociImage({
      artifactType: 'application/vnd.example.sbom.v1+json',
      config: EMPTY,
      layers: [{ mediaType: 'application/spdx+json', digest: d('sbom'), size: 4096 }],
      subject: { mediaType: MediaTypes.ociManifest, digest: d('subject'), size: 1234 },
    });
    const p = parseManifest(bytes(body), undefined);
    assert.equal(p.artifactType, 'application/vnd.example.sbom.v1+json');
    assert.deepEqual(p.subject, { mediaType: MediaTypes.ociManifest, digest: d('subject'), size: 1234 });
    assert.equal(p.references.find((r) => r.kind === 'config')?.descriptor.digest, EMPTY.digest);
    assert.ok(!p.references.some((r) => r.descriptor.digest === d('subject')), 'the subject need not exist');
  });

  test('without artifactType the config mediaType is the artifactType', () => {
    const body = ociImage({ config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: d('helm'), size: 117 } });
    assert.equal(parseManifest(bytes(body), MediaTypes.ociManifest).artifactType, 'application/vnd.cncf.helm.config.v1+json');
  });

  test('an index may carry artifactType and subject', () => {
    const body = { ...ociIndex, artifactType: 'application/vnd.example.bundle', subject: { mediaType: MediaTypes.ociIndex, digest: d('s'), size: 9 } };
    const p = parseManifest(bytes(body), MediaTypes.ociIndex);
    assert.equal(p.artifactType, 'application/vnd.example.bundle');
    assert.equal(p.subject?.digest, d('s'));
  });

  test('empty layers are fine for OCI, refused for Docker schema 2', () => {
    assert.deepEqual(parseManifest(bytes(ociImage({ layers: [] })), MediaTypes.ociManifest).references.map((r) => r.kind), ['config']);
    invalid({ ...dockerImage, layers: [] }, MediaTypes.dockerManifest, /layer/);
  });

  test('foreign / non-distributable layers with urls need not exist', () => {
    const foreign = { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', size: 1, digest: d('win'), urls: ['https://mcr.microsoft.com/x'] };
    const nondist = { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', size: 2, digest: d('nd'), urls: ['https://example.com/l'] };
    const foreignNoUrls = { ...foreign, digest: d('w2'), urls: undefined };
    const ordinaryWithUrls = { mediaType: OCI_LAYER, size: 3, digest: d('o'), urls: ['https://example.com/o'] };
    const p = parseManifest(bytes(ociImage({ layers: [foreign, nondist, foreignNoUrls, ordinaryWithUrls] })), MediaTypes.ociManifest);
    assert.deepEqual(p.references.map((r) => r.mustExist), [true, false, false, true, true]);
    invalid(ociImage({ layers: [{ ...foreign, urls: [1] }] }), MediaTypes.ociManifest);
    invalid(ociImage({ layers: [{ ...foreign, urls: 'https://x' }] }), MediaTypes.ociManifest);
  });
});

describe('parseManifest: media type resolution', () => {
  test('schema 1 is refused by Content-Type, with a message about schema 1', () => {
    for (const ct of [MediaTypes.dockerSchema1, MediaTypes.dockerSchema1Signed, `${MediaTypes.dockerSchema1Signed}; charset=utf-8`, 'Application/VND.Docker.Distribution.Manifest.V1+JSON']) {
      invalid(ociImage(), ct, /schema 1/);
    }
  });

  test('schema 1 is refused by body, with a message about schema 1', () => {
    const schema1 = { schemaVersion: 1, name: 'library/x', tag: 'latest', architecture: 'amd64', fsLayers: [{ blobSum: d('x') }], history: [], signatures: [] };
    invalid(schema1, undefined, /schema 1/);
    invalid(schema1, 'application/json', /schema 1/);
    invalid({ ...dockerImage, mediaType: MediaTypes.dockerSchema1 }, undefined, /schema 1/);
  });

  test('Content-Type and body mediaType must agree', () => {
    invalid(ociImage(), MediaTypes.dockerManifest, /does not match/);
    invalid(ociIndex, MediaTypes.ociManifest);
    invalid(dockerImage, MediaTypes.ociManifest);
  });

  test('a Content-Type-only media type is taken when the body has none', () => {
    const { mediaType: _omit, ...body } = ociImage();
    assert.equal(parseManifest(bytes(body), MediaTypes.ociManifest).mediaType, MediaTypes.ociManifest);
    // an index Content-Type over an image body is caught by shape
    invalid(body, MediaTypes.ociIndex);
  });

  test('a generic or absent Content-Type is inferred from the body shape', () => {
    const { mediaType: _m, ...image } = ociImage();
    const { mediaType: _i, ...index } = ociIndex;
    for (const ct of ['application/json', 'application/octet-stream', 'application/json; charset=utf-8', undefined]) {
      assert.equal(parseManifest(bytes(image), ct).mediaType, MediaTypes.ociManifest);
      assert.equal(parseManifest(bytes(index), ct).mediaType, MediaTypes.ociIndex);
      assert.equal(parseManifest(bytes(dockerImage), ct).mediaType, MediaTypes.dockerManifest);
    }
    invalid({ schemaVersion: 2 }, 'application/json', /media type/);
  });

  test('unsupported or malformed media types', () => {
    invalid({ ...ociImage(), mediaType: 'application/vnd.oci.artifact.manifest.v1+json' }, undefined, /not supported/);
    invalid(ociImage(), 'text/plain');
    invalid({ ...ociImage(), mediaType: 42 }, undefined);
    invalid({ ...ociImage(), artifactType: 'not a media type' }, undefined);
  });

  test('image manifests and indexes do not mix fields', () => {
    invalid({ ...ociImage(), manifests: [] }, undefined);
    invalid({ ...ociIndex, layers: [] }, undefined);
    invalid({ ...ociIndex, config: EMPTY }, undefined);
    invalid({ ...ociImage(), layers: {} }, undefined);
    invalid({ ...ociImage(), config: undefined }, undefined);
    invalid({ ...ociIndex, manifests: 'x' }, undefined);
  });
});

describe('parseManifest: malformed bodies', () => {
  test('not JSON, or not an object', () => {
    for (const body of ['', ' ', '{', '{"schemaVersion":2,}', 'nul', '\uFEFF{"schemaVersion":2}', "{'a':1}", '[]', 'null', '2', '"x"', 'true', '[{"schemaVersion":2}]']) {
      invalid(body, MediaTypes.ociManifest);
    }
    assert.throws(() => parseManifest(Buffer.from([0xff, 0xfe, 0x00, 0x7b]), undefined), (e: unknown) => e instanceof WharfError && e.code === 'MANIFEST_INVALID');
  });

  test('schemaVersion must be the number 2', () => {
    const { schemaVersion: _s, ...noVersion } = ociImage();
    invalid(noVersion, MediaTypes.ociManifest, /schemaVersion/);
    for (const v of [3, 0, '2', null, 2.5, [2]]) invalid(ociImage({ schemaVersion: v }), MediaTypes.ociManifest, /schemaVersion/);
  });

  test('descriptor fields are checked', () => {
    const layer = (fields: Record<string, unknown>) => ociImage({ layers: [{ mediaType: OCI_LAYER, digest: d('l'), size: 1, ...fields }] });
    for (const digest of ['sha256:abc', `md5:${'a'.repeat(32)}`, d('l').toUpperCase(), '', 42, undefined, `${d('l')}\n`]) invalid(layer({ digest }), undefined, /digest/);
    for (const size of [-1, 1.5, 1e20, 2 ** 53, Number.MAX_VALUE, '10', null, undefined, true]) invalid(layer({ size }), undefined, /size/);
    for (const mediaType of [undefined, '', 'text', 'application/', '/json', 'a/b c', 'a/b/c', `a/${'b'.repeat(200)}`, 5, 'application/json\r\nX: y']) {
      invalid(layer({ mediaType }), undefined, /mediaType/);
    }
    invalid(ociImage({ layers: ['sha256:abc'] }), undefined);
    invalid(ociImage({ layers: [null] }), undefined);
    invalid(ociImage({ config: [] }), undefined);
    invalid(ociImage({ subject: 'x' }), undefined);
    invalid(ociImage({ layers: [{ mediaType: OCI_LAYER, digest: d('l'), size: 1, artifactType: 'nope' }] }), undefined);
  });

  test('platform needs string architecture and os', () => {
    const withPlatform = (platform: unknown) => ({ ...ociIndex, manifests: [{ mediaType: MediaTypes.ociManifest, digest: d('p'), size: 1, platform }] });
    for (const platform of [{ architecture: 'amd64' }, { os: 'linux' }, { architecture: 1, os: 'linux' }, 'linux/amd64', []]) {
      invalid(withPlatform(platform), undefined, /platform/);
    }
  });

  test('annotations must map strings to strings', () => {
    for (const annotations of [{ a: 1 }, { a: null }, { a: { b: 'c' } }, { a: ['b'] }, { a: true }, ['a'], 'a', 7]) {
      invalid(ociImage({ annotations }), undefined, /annotations/);
      invalid(ociImage({ layers: [{ mediaType: OCI_LAYER, digest: d('l'), size: 1, annotations }] }), undefined, /annotations/);
    }
  });

  test(`more than ${MAX_MANIFEST_BYTES} bytes is refused; exactly the limit is parsed`, () => {
    const base = JSON.stringify(ociImage());
    const atLimit = Buffer.from(base + ' '.repeat(MAX_MANIFEST_BYTES - Buffer.byteLength(base)));
    assert.equal(atLimit.byteLength, MAX_MANIFEST_BYTES);
    assert.equal(parseManifest(atLimit, MediaTypes.ociManifest).references.length, 4);
    const over = Buffer.concat([atLimit, Buffer.from(' ')]);
    assert.throws(() => parseManifest(over, MediaTypes.ociManifest), (e: unknown) => e instanceof WharfError && e.code === 'MANIFEST_INVALID' && /limit/.test(e.message));
    // refused by size before any parsing, even when it is not JSON at all
    assert.throws(() => parseManifest(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x5b), undefined), (e: unknown) => e instanceof WharfError && e.code === 'MANIFEST_INVALID' && /limit/.test(e.message));
  });

  test('deeply nested JSON is a clean MANIFEST_INVALID or parses, never a crash', () => {
    const depth = 100_000;
    invalid('['.repeat(depth) + ']'.repeat(depth), MediaTypes.ociManifest, /object/);
    invalid('['.repeat(depth), MediaTypes.ociManifest, /JSON/);
    invalid(`{"schemaVersion":2,"annotations":${'['.repeat(depth)}${']'.repeat(depth)}}`, MediaTypes.ociManifest, /annotations/);
    // an unknown field may hold anything; the manifest is still fine
    const image = JSON.stringify(ociImage());
    const nested = `${image.slice(0, -1)},"x-extra":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    assert.equal(parseManifest(Buffer.from(nested), MediaTypes.ociManifest).references.length, 4);
  });

  test('__proto__ keys do not pollute prototypes and are not inherited as fields', () => {
    const body = `{"schemaVersion":2,"__proto__":{"mediaType":"${MediaTypes.ociManifest}","polluted":"yes"},"config":${JSON.stringify(EMPTY)},"layers":[],"annotations":{"__proto__":"x","constructor":"y"}}`;
    const p = parseManifest(Buffer.from(body), undefined);
    assert.equal(p.mediaType, MediaTypes.ociManifest, 'inferred from shape, not inherited');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(p.annotations), Object.prototype);
    assert.deepEqual(Object.keys(p.annotations ?? {}), ['__proto__', 'constructor']);
    assert.equal(JSON.parse(JSON.stringify(p.annotations)).__proto__, 'x');
    // a descriptor whose fields hide behind __proto__ is not a descriptor
    invalid(`{"schemaVersion":2,"mediaType":"${MediaTypes.ociManifest}","config":{"__proto__":${JSON.stringify(EMPTY)}},"layers":[]}`, undefined, /config/);
    invalid(`{"schemaVersion":2,"mediaType":"${MediaTypes.ociManifest}","config":${JSON.stringify(EMPTY)},"layers":[],"annotations":{"__proto__":{"a":"b"}}}`, undefined, /annotations/);
    assert.equal(({} as Record<string, unknown>).a, undefined);
  });
});
