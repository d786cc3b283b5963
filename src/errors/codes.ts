/**
 * The one error table. Every error Wharf reports has a code here; the HTTP status lives here and
 * nowhere else. OCI Distribution codes are verbatim from the spec (distribution-spec/spec.md,
 * "Error Codes"); the rest are Wharf's own. docs/errors.md is generated from this table
 * (`npm run docs:errors`) and a test fails when the two drift.
 */
export interface ErrorCodeSpec {
  readonly status: number;
  readonly message: string;
  readonly description: string;
  /** true when the code is defined by the OCI distribution spec */
  readonly oci?: boolean;
}

export const ERROR_CODES = {
  BLOB_UNKNOWN: {
    status: 404,
    oci: true,
    message: 'blob unknown to registry',
    description: 'The blob is not known to the registry, or not linked to the repository named.',
  },
  BLOB_UPLOAD_INVALID: {
    status: 400,
    oci: true,
    message: 'blob upload invalid',
    description: 'The upload failed: a chunk was out of order, or the request was malformed.',
  },
  BLOB_UPLOAD_UNKNOWN: {
    status: 404,
    oci: true,
    message: 'blob upload unknown to registry',
    description: 'The upload session does not exist, was cancelled, completed or expired.',
  },
  DIGEST_INVALID: {
    status: 400,
    oci: true,
    message: 'provided digest did not match uploaded content',
    description: 'The digest is malformed, uses an unsupported algorithm, or does not match the content.',
  },
  MANIFEST_BLOB_UNKNOWN: {
    // 400 as in Distribution (errcode ErrorCodeManifestBlobUnknown) and the Docker registry API;
    // the OCI spec names the code for this rejection but not its status
    status: 400,
    oci: true,
    message: 'manifest references a manifest or blob unknown to registry',
    description: 'A manifest references a blob or child manifest that is not in the repository.',
  },
  MANIFEST_INVALID: {
    status: 400,
    oci: true,
    message: 'manifest invalid',
    description: 'The manifest is malformed, too large, of an unsupported media type, or fails validation.',
  },
  MANIFEST_UNKNOWN: {
    status: 404,
    oci: true,
    message: 'manifest unknown to registry',
    description: 'The manifest named by tag or digest is not in the repository.',
  },
  NAME_INVALID: {
    status: 400,
    oci: true,
    message: 'invalid repository name',
    description: 'The repository name does not match the distribution-spec grammar or is too long.',
  },
  NAME_UNKNOWN: {
    status: 404,
    oci: true,
    message: 'repository name not known to registry',
    description: 'The repository does not exist.',
  },
  SIZE_INVALID: {
    status: 400,
    oci: true,
    message: 'provided length did not match content length',
    description: 'The declared size does not match the content received.',
  },
  TAG_INVALID: {
    status: 400,
    oci: true,
    message: 'manifest tag did not match URI',
    description: 'The tag does not match the distribution-spec tag grammar.',
  },
  UNAUTHORIZED: {
    status: 401,
    oci: true,
    message: 'authentication required',
    description: 'The request needs credentials.',
  },
  DENIED: {
    status: 403,
    oci: true,
    message: 'requested access to the resource is denied',
    description: 'The credentials do not grant the access the request needs.',
  },
  UNSUPPORTED: {
    status: 415,
    oci: true,
    message: 'the operation is unsupported',
    description: 'The operation or media type is not supported.',
  },
  TOOMANYREQUESTS: {
    status: 429,
    oci: true,
    message: 'too many requests',
    description: 'The client is sending requests faster than allowed.',
  },
  // --- Wharf's own ---
  RANGE_INVALID: {
    status: 416,
    message: 'requested range not satisfiable',
    description: 'A Range or Content-Range header is malformed, out of order, or outside the content.',
  },
  REQUEST_INVALID: {
    status: 400,
    message: 'malformed request',
    description: 'The request line or headers are malformed (e.g. bad percent-encoding in the path).',
  },
  PAGINATION_INVALID: {
    status: 400,
    message: 'invalid pagination parameters',
    description: 'The n or last query parameter is malformed or out of bounds.',
  },
  BODY_TOO_LARGE: {
    status: 413,
    message: 'request body too large',
    description: 'The request body exceeds the configured limit for this endpoint.',
  },
  NOT_FOUND: {
    status: 404,
    message: 'not found',
    description: 'No route matches the request.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    message: 'method not allowed',
    description: 'The route exists but not for this HTTP method.',
  },
  BODY_INVALID: {
    status: 400,
    message: 'request body invalid',
    description: 'A JSON body (or query) of the management API is malformed, has unknown fields, or values out of range; every problem is listed in detail.',
  },
  TAG_IMMUTABLE: {
    status: 409,
    message: 'tag is immutable',
    description:
      'The repository makes this tag immutable (immutable tags, minus their exclusion patterns): it cannot be moved to another manifest or deleted. Re-pushing the manifest it points to succeeds. The detail names the tag, the rule and the digest it points to.',
  },
  QUOTA_EXCEEDED: {
    status: 403,
    message: 'storage quota exceeded',
    description:
      'The push would take a repository or namespace over its storage quota (counted once per distinct blob); nothing was stored. The detail names the quota, its limit, the usage and the size of the push.',
  },
  POLICY_INVALID: {
    status: 400,
    message: 'cleanup policy invalid',
    description: 'A cleanup policy document (Artifact Registry or ECR format) is malformed or breaks a rule of its format; the detail lists every problem with a JSON pointer to the offending field.',
  },
  ATTESTOR_INVALID: {
    status: 400,
    message: 'attestor invalid',
    description: 'An attestor (a trusted signing identity: PEM public keys, x509 roots and trusted identities) is malformed, or a key is of a type Wharf does not verify (ECDSA P-256/P-384, RSA of 2048 bits or more, Ed25519 are supported); the detail lists every problem with a JSON pointer.',
  },
  DEPLOY_POLICY_INVALID: {
    status: 400,
    message: 'deploy policy invalid',
    description: 'A deploy policy document (YAML modelled on Binary Authorization, with Wharf conditions) is malformed or breaks a rule of the format; the detail lists every problem with a JSON pointer to the offending field.',
  },
  REPOSITORY_FORMAT_MISMATCH: {
    status: 409,
    message: 'repository holds another format',
    description:
      'The repository was created for another format (oci or pypi, `wharf repo create --format`): an image push to a Python package repository, or a package upload to an image repository. Nothing was stored.',
  },
  PYPI_FILE_EXISTS: {
    status: 400,
    message: 'File already exists',
    description:
      'A distribution file of this name is already in the repository. Files are immutable, as on PyPI: publish a new version (or a new build tag) instead. `twine upload --skip-existing` skips it.',
  },
  PYPI_UPLOAD_INVALID: {
    status: 400,
    message: 'invalid distribution upload',
    description:
      'A package upload (the form twine sends) is malformed: a broken multipart body, a missing or unknown field, a file name that is not a wheel or sdist name or does not match the name and version, a wheel that is not a zip or lacks its METADATA. Nothing was stored.',
  },
  RESOURCE_UNKNOWN: {
    status: 404,
    message: 'resource unknown',
    description: 'The user, service account, API key, role binding or repository named does not exist.',
  },
  CONFLICT: {
    status: 409,
    message: 'resource already exists',
    description: 'A user, service account or role binding with the same identity already exists.',
  },
  CONFIG_INVALID: {
    status: 400,
    message: 'configuration invalid',
    description: 'The configuration does not match the schema; every problem is listed.',
  },
  SCAN_FAILED: {
    status: 422,
    message: 'the image could not be scanned',
    description: 'A layer is malformed or breaks a scanner limit (entries, bytes, decompression ratio), or the manifest is not a container image.',
  },
  MODEL_UNKNOWN: {
    status: 404,
    message: 'not a model artifact',
    description: 'The manifest is not a model artifact Wharf understands (CNCF ModelPack, KitOps ModelKit, Docker Model Runner model), so it has no model metadata. A model whose weight headers are malformed is not this error: its metadata is stored with the errors listed.',
  },
  INSIGHTS_FAILED: {
    status: 422,
    message: 'the image could not be analysed',
    description: 'The manifest is not a container image (an artifact, or an index without image children), so it has no layers to analyse. A malformed layer or a decompression bomb is not this error: the analysis is stored with state failed and its error.',
  },
  LAYER_INVALID: {
    status: 422,
    message: 'the layer cannot be indexed',
    description:
      'Building a random-access index (zTOC) of a layer failed: malformed or truncated gzip or tar, an unsupported compression or entry type, or a limit broken (entries, uncompressed bytes, decompression ratio). No index was stored.',
  },
  FILE_UNKNOWN: {
    status: 404,
    message: 'no such file or directory in the image',
    description: 'The path does not exist in the merged filesystem of the image (whiteouts applied), or a symbolic link on the way points to nothing.',
  },
  PATH_INVALID: {
    status: 400,
    message: 'path refused',
    description: 'The path has a `..` component, a symbolic link on the way leads outside the image root, or links loop (more than 40 followed).',
  },
  INDEX_NOT_READY: {
    status: 409,
    message: 'the image has no file index yet',
    description: 'File access needs the index of every layer; build it with `wharf index IMAGE` (or `POST /api/v1/file-indexes/<repo>`), or turn on `indexOnPush` for the repository.',
  },
  UNAVAILABLE: {
    status: 503,
    message: 'service unavailable',
    description: 'The registry is starting, shutting down, or a dependency is unreachable.',
  },
  INTERNAL: {
    status: 500,
    message: 'internal error',
    description: 'An unexpected error; the request id in the logs tells the operator more.',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}
