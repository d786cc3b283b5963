/**
 * Support for the port of the OCI distribution-spec v1.1.1 conformance suite
 * (opencontainers/distribution-spec, tag v1.1.1, conformance/): a client that talks to the
 * registry the way the suite's client (bloodorangeio/reggie v0.6.1) does, and the suite's test
 * data (setup.go, image.go) built byte for byte the same way.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { sha256 } from '../support/oci-layout.js';

export interface OciResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** WWW-Authenticate of the 401 that started the token flow for this request (auth on only) */
  challenge?: string;
  /** the body of the token endpoint's answer, when the flow ran */
  token?: { token?: string; access_token?: string; scope?: string };
}

export interface RequestOptions {
  /** replaces <name> (default: the client's namespace), as reggie.WithName */
  name?: string;
  /** replaces <reference>, as reggie.WithReference */
  reference?: string;
  /** replaces <digest>, as reggie.WithDigest */
  digest?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface ClientOptions {
  /** OCI_ROOT_URL */
  url: string;
  /** OCI_NAMESPACE */
  namespace: string;
  /** OCI_USERNAME / OCI_PASSWORD: used only at the token endpoint (Bearer) or on a Basic challenge */
  username?: string;
  password?: string;
  /** OCI_AUTH_SCOPE: asked of the token endpoint instead of the challenge's scope */
  authScope?: string;
}

/**
 * reggie's Client.Do: every request goes out without credentials; on a 401 that carries
 * WWW-Authenticate it runs retryRequestWithAuth (auth.go) — for a Bearer challenge, GET the realm
 * with `service` and the challenge's `scope` (one parameter, the quoted value as it stands; or the
 * configured auth scope) and Basic credentials, take `token` (or `access_token`) and send the same
 * request again with `Authorization: Bearer`; for a Basic challenge, send it again with Basic.
 * Tokens are not kept between requests, and nothing is sent pre-emptively.
 */
export class ConformanceClient {
  readonly url: string;
  readonly namespace: string;

  constructor(private readonly options: ClientOptions) {
    this.url = options.url.replace(/\/$/, '');
    this.namespace = options.namespace;
  }

  /** A client with the same server and credentials and other options (e.g. another user or auth scope). */
  with(options: Partial<ClientOptions>): ConformanceClient {
    return new ConformanceClient({ ...this.options, ...options });
  }

  async do(method: string, path: string, options: RequestOptions = {}): Promise<OciResponse> {
    const url = this.resolve(path, options);
    const first = await send(method, url, options.headers ?? {}, options.body);
    const challenge = first.headers['www-authenticate'];
    if (first.status !== 401 || typeof challenge !== 'string' || challenge === '') return first;
    if (/bearer/i.test(challenge)) {
      const params = parseAuthHeader(challenge);
      const tokenUrl = new URL(params.realm ?? '');
      tokenUrl.searchParams.set('service', params.service ?? '');
      const scope = this.options.authScope || params.scope;
      if (scope) tokenUrl.searchParams.set('scope', scope);
      const tokenRes = await send('GET', tokenUrl, { accept: 'application/json', authorization: this.basic() });
      const token = JSON.parse(tokenRes.body.toString('utf8')) as NonNullable<OciResponse['token']>;
      const bearer = token.token || token.access_token || '';
      const retried = await send(method, url, { ...options.headers, authorization: `Bearer ${bearer}` }, options.body);
      return { ...retried, challenge, token };
    }
    if (/basic/i.test(challenge)) {
      return { ...(await send(method, url, { ...options.headers, authorization: this.basic() }, options.body)), challenge };
    }
    throw new Error(`something went wrong with authorization: ${challenge}`);
  }

  private basic(): string {
    return `Basic ${Buffer.from(`${this.options.username ?? ''}:${this.options.password ?? ''}`).toString('base64')}`;
  }

  /** reggie.NewRequest: substitutes the path parameters; query parameters are merged into the URL (resty). */
  private resolve(path: string, options: RequestOptions): URL {
    const filled = path
      .replaceAll('<name>', options.name ?? this.namespace)
      .replaceAll('<reference>', options.reference ?? '<reference>')
      .replaceAll('<digest>', options.digest ?? '<digest>');
    if (/<name>|<reference>|<digest>|<session_id>/.test(filled)) throw new Error(`request is invalid: ${filled}`);
    const url = new URL(`${this.url}/${filled.replace(/^\//, '')}`);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    return url;
  }
}

/** reggie's parseAuthHeader: every key="value" pair, keys lower-cased (mapstructure matches them case-insensitively). */
export function parseAuthHeader(header: string): { realm?: string; service?: string; scope?: string; error?: string } {
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/([a-zA-z]+)="(.+?)"/g)) out[m[1]!.toLowerCase()] = m[2]!;
  return out;
}

/**
 * One HTTP request with Go's net/http framing: POST, PUT and PATCH always carry Content-Length (0
 * without a body); other methods only with a body. A Content-Length header given by the caller is
 * ignored, as Go's transport ignores it (the suite sets some that do not match the body).
 */
function send(method: string, url: URL, headers: Record<string, string>, body?: Buffer): Promise<OciResponse> {
  const h: Record<string, string> = { 'user-agent': 'distribution-spec-conformance-tests' };
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'content-length') h[k.toLowerCase()] = v;
  if (body !== undefined || ['POST', 'PUT', 'PATCH'].includes(method)) h['content-length'] = String(body?.length ?? 0);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** reggie's Response.GetRelativeLocation: the path and query of the Location header. */
export function relativeLocation(res: OciResponse): string {
  const loc = res.headers.location;
  if (!loc) return '';
  const u = new URL(loc, 'http://location.invalid');
  return u.pathname + u.search;
}

/** The `code` of each entry of an OCI error body ([] when it is not one). */
export function errorCodesOf(res: OciResponse): string[] {
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { errors?: { code?: string }[] };
    return (body.errors ?? []).map((e) => e.code ?? '');
  } catch {
    return [];
  }
}

/** The error codes the suite accepts in a 4xx body (setup.go, errorCodes). */
export const OCI_ERROR_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_UNVERIFIED',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'TAG_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
];

// --- test data (setup.go init) ------------------------------------------------------------------

export interface TestBlob {
  content: Buffer;
  contentLength: string;
  digest: string;
}

const LAYER_BASE64 =
  'H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0' +
  'WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD' +
  'jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

/** json.MarshalIndent(v, "", "\t"): the same bytes for these documents (no HTML characters to escape). */
function marshalIndent(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v, null, '\t'));
}

function testBlob(content: Buffer): TestBlob {
  return { content, contentLength: String(content.length), digest: sha256(content) };
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  data?: Buffer;
  newUnspecifiedField?: Buffer;
}

/**
 * image.go's descriptor in its field order: urls, annotations, data, platform and artifactType are
 * omitempty; newUnspecifiedField is not, so it is `null` unless set ([]byte marshals as base64).
 */
function descriptor(d: Descriptor): Record<string, unknown> {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.data ? { data: d.data.toString('base64') } : {}),
    newUnspecifiedField: d.newUnspecifiedField ? d.newUnspecifiedField.toString('base64') : null,
  };
}

/** image.go's manifest / index in field order (mediaType, artifactType, subject, annotations omitempty). */
function manifest(m: { mediaType?: string; artifactType?: string; config: Descriptor; layers: Descriptor[]; subject?: Descriptor; annotations?: Record<string, string> }): Buffer {
  return marshalIndent({
    schemaVersion: 2,
    ...(m.mediaType ? { mediaType: m.mediaType } : {}),
    ...(m.artifactType ? { artifactType: m.artifactType } : {}),
    config: descriptor(m.config),
    layers: m.layers.map(descriptor),
    ...(m.subject ? { subject: descriptor(m.subject) } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  });
}

function index(i: { artifactType: string; manifests: Descriptor[]; subject: Descriptor; annotations: Record<string, string> }): Buffer {
  return marshalIndent({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    artifactType: i.artifactType,
    manifests: i.manifests.map(descriptor),
    subject: descriptor(i.subject),
    annotations: i.annotations,
  });
}

/** setup.go's randomString: crypto-random letters, digits and '-'. */
function randomString(n: number): string {
  const letters = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-';
  let s = '';
  for (let i = 0; i < n; i++) s += letters[randomInt(letters.length)];
  return s;
}

/**
 * setup.go's randomBlob(size, seed) draws from math/rand seeded with Ginkgo's random seed (a new
 * one each run unless fixed); any fresh random bytes serve the same purpose here.
 */
function randomBlob(size: number): TestBlob {
  return testBlob(randomBytes(size));
}

export const TEST_ANNOTATION_KEY = 'org.opencontainers.conformance.test';
export const EMPTY_LAYER_TEST_TAG = 'emptylayer';
export const TEST_TAG_NAME = 'tagtest0';
export const NONEXISTENT_MANIFEST = '.INVALID_MANIFEST_NAME';

export interface ChunkedBlob {
  blob: TestBlob;
  chunk1: Buffer;
  chunk1Length: string;
  chunk1Range: string;
  chunk2: Buffer;
  chunk2Length: string;
  chunk2Range: string;
}

/** setup.go's setupChunkedBlob: the first chunk is one byte longer than half. */
export function setupChunkedBlob(size: number): ChunkedBlob {
  const blob = randomBlob(size);
  const chunk1 = blob.content.subarray(0, Math.floor(size / 2) + 1);
  const chunk2 = blob.content.subarray(Math.floor(size / 2) + 1);
  return {
    blob,
    chunk1,
    chunk1Length: String(chunk1.length),
    chunk1Range: `0-${chunk1.length - 1}`,
    chunk2,
    chunk2Length: String(chunk2.length),
    chunk2Range: `${chunk1.length}-${blob.content.length - 1}`,
  };
}

export type TestData = ReturnType<typeof buildTestData>;

/** Everything setup.go's init() builds, under the same names (less the `test` prefix). */
export function buildTestData() {
  // numWorkflows is the iota after four flags (1<<4 = 16): the suite builds 16 configs and manifests
  const numWorkflows = 16;
  const configs: TestBlob[] = [];
  for (let i = 0; i < numWorkflows; i++) {
    // a new author on each run gives each config, and so each manifest, a unique digest
    const config = { author: randomString(16), architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
    configs.push(testBlob(marshalIndent(config)));
  }
  const layerBlob = testBlob(Buffer.from(LAYER_BASE64, 'base64'));
  const layers: Descriptor[] = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: layerBlob.content.length, digest: layerBlob.digest }];
  const configDescriptor = (c: TestBlob): Descriptor => ({
    mediaType: OCI_CONFIG,
    digest: c.digest,
    size: c.content.length,
    data: c.content, // must be the config content
    newUnspecifiedField: Buffer.from('hello world'), // content doesn't matter
  });
  const manifests = configs.map((c) => testBlob(manifest({ mediaType: OCI_MANIFEST, config: configDescriptor(c), layers })));
  // used in the push test: no mediaType, no layers
  const emptyLayerManifest = testBlob(manifest({ config: configDescriptor(configs[1]!), layers: [] }));

  const blobA = randomBlob(42);
  const emptyJSONBlob = Buffer.from('{}');
  const emptyJSONDescriptor: Descriptor = { mediaType: 'application/vnd.oci.empty.v1+json', size: emptyJSONBlob.length, digest: sha256(emptyJSONBlob) };
  const refBlobA = testBlob(Buffer.from('NHL Peanut Butter on my NHL bagel'));
  const refArtifactTypeA = 'application/vnd.nhl.peanut.butter.bagel';
  const refBlobB = testBlob(Buffer.from('NBA Strawberry Jam on my NBA croissant'));
  const refArtifactTypeB = 'application/vnd.nba.strawberry.jam.croissant';
  const subjectOf = (m: TestBlob): Descriptor => ({ mediaType: OCI_MANIFEST, size: m.content.length, digest: m.digest });
  const subject = subjectOf(manifests[4]!);
  const annotationValues = new Map<string, string>();
  const annotated = (content: Buffer, value: string): TestBlob => {
    const b = testBlob(content);
    annotationValues.set(b.digest, value);
    return b;
  };
  const annotations = (value: string) => ({ [TEST_ANNOTATION_KEY]: value });
  // artifacts with a subject: config.mediaType = artifactType, one empty-JSON layer ...
  const configArtifact = (artifactType: string, blob: TestBlob, annotation: string): TestBlob =>
    annotated(
      manifest({ mediaType: OCI_MANIFEST, config: { mediaType: artifactType, size: blob.content.length, digest: blob.digest }, subject, layers: [emptyJSONDescriptor], annotations: annotations(annotation) }),
      annotation,
    );
  // ... or artifactType with the empty config and the blob as the layer
  const layerArtifact = (artifactType: string, blob: TestBlob, of: Descriptor, annotation?: string): TestBlob => {
    const content = manifest({
      mediaType: OCI_MANIFEST,
      artifactType,
      config: emptyJSONDescriptor,
      subject: of,
      layers: [{ mediaType: artifactType, size: blob.content.length, digest: blob.digest }],
      ...(annotation ? { annotations: annotations(annotation) } : {}),
    });
    return annotation ? annotated(content, annotation) : testBlob(content);
  };
  const refsManifestAConfigArtifact = configArtifact(refArtifactTypeA, refBlobA, 'test config a');
  const refsManifestBConfigArtifact = configArtifact(refArtifactTypeB, refBlobB, 'test config b');
  const refsManifestALayerArtifact = layerArtifact(refArtifactTypeA, refBlobA, subject, 'test layer a');
  const refsManifestBLayerArtifact = layerArtifact(refArtifactTypeB, refBlobB, subject, 'test layer b');
  // the same as B, with a subject that is never pushed (manifests[3]) and no annotations
  const refsManifestCLayerArtifact = layerArtifact(refArtifactTypeB, refBlobB, subjectOf(manifests[3]!));
  const refArtifactTypeIndex = 'application/vnd.food.stand';
  const refsIndexArtifact = annotated(
    index({
      artifactType: refArtifactTypeIndex,
      manifests: [subjectOf(refsManifestAConfigArtifact), subjectOf(refsManifestALayerArtifact)],
      subject,
      annotations: annotations('test index'),
    }),
    'test index',
  );

  return {
    configs,
    manifests,
    layerBlob,
    emptyLayerManifest,
    blobA,
    chunked: setupChunkedBlob(42),
    emptyJSONBlob,
    emptyJSONDescriptor,
    refBlobA,
    refBlobB,
    refArtifactTypeA,
    refArtifactTypeB,
    refsManifestAConfigArtifact,
    refsManifestBConfigArtifact,
    refsManifestALayerArtifact,
    refsManifestBLayerArtifact,
    refsManifestCLayerArtifact,
    refsIndexArtifact,
    annotationValues,
    dummyDigest: sha256('hello world'),
    invalidManifestContent: Buffer.from('blablabla'),
  };
}
