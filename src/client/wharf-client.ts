/**
 * A typed client of Wharf's HTTP APIs: the management API (/api/v1) and the bits of /v2 and the
 * token endpoint a tool needs (ping, token, catalog). Used by the CLI and tests; knows HTTP and
 * the JSON shapes, nothing of the server's code. Errors come back as WharfError with the server's
 * code, message and detail.
 */
import { ERROR_CODES, type ErrorCode } from '../errors/codes.js';
import { WharfError } from '../errors/wharf-error.js';

export interface WharfClientOptions {
  /** e.g. http://127.0.0.1:5000 or https://registry.example.com */
  server: string;
  username?: string;
  /** a password or a service account API key */
  password?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export type PrincipalKind = 'user' | 'service_account';
export interface Principal {
  name: string;
  kind: PrincipalKind;
  description: string | null;
  disabled: boolean;
  createdAt: string;
  createdBy: string | null;
}
export interface WhoAmI {
  name: string;
  kind: string;
  via: string;
  admin: boolean;
  roles: { role: string; scope: string }[];
}
export interface ApiKey {
  id: string;
  serviceAccount: string;
  description: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  key?: string;
}
export interface RoleBinding {
  id: number;
  principal: string;
  principalKind: PrincipalKind;
  role: string;
  scope: string;
  createdAt: string;
  createdBy: string | null;
}
export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  actorKind: string;
  action: string;
  repository?: string;
  digest?: string;
  target?: string;
  result: 'ok' | 'denied' | 'failed';
  status?: number;
  address?: string;
  requestId?: string;
  detail?: Record<string, unknown>;
}
export interface AuditFilter {
  actor?: string;
  repository?: string;
  action?: string;
  result?: string;
  since?: string;
  until?: string;
  before?: number;
  limit?: number;
}
export interface Page<T> {
  items: T[];
  more: boolean;
  next?: number;
}
export interface RepositoryInfo {
  name: string;
  public: boolean;
  description?: string;
  labels?: Record<string, string>;
  immutableTags?: boolean;
  immutableTagExclusions?: string[];
  quotaBytes?: number | null;
  scanOnPush?: boolean;
  indexOnPush?: boolean;
}
/** The settings of POST /api/v1/repositories and PATCH (null resets a setting). */
export interface RepositorySettingsInput {
  description?: string | null;
  labels?: Record<string, string> | null;
  public?: boolean;
  immutableTags?: boolean;
  immutableTagExclusions?: string[] | null;
  quotaBytes?: number | null;
  scanOnPush?: boolean;
  indexOnPush?: boolean;
}
export interface RepositoryDetail extends Required<Omit<RepositoryInfo, 'quotaBytes'>> {
  quotaBytes: number | null;
  createdAt: string;
  /** oci or pypi, fixed at creation */
  format: 'oci' | 'pypi';
  usage: { storedBytes: number; quotaBytes: number | null; images: number; tags: number; namespaces: { namespace: string; quotaBytes: number; usedBytes: number }[] };
  cleanupPolicy: { format: string; dryRun: boolean; updatedAt: string; updatedBy: string | null } | null;
}
export interface TagEventInfo {
  id: number;
  tag: string;
  from: string | null;
  to: string | null;
  at: string;
}
/** A file of a Python package repository (GET /api/v1/pypi/files/<repo>). */
export interface PypiFileInfo {
  project: string;
  name: string;
  version: string;
  filename: string;
  packagetype: 'bdist_wheel' | 'sdist';
  digest: string;
  size: number;
  requiresPython: string | null;
  summary: string | null;
  yanked: boolean;
  yankedReason: string | null;
  uploadedBy: string;
  uploadedAt: string;
}
export interface ImageInfo {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  tags: string[];
  sizeBytes: number;
  pushedAt: string;
  lastPulledAt: string | null;
  children: number;
  subject: string | null;
}
export interface NamespaceInfo {
  namespace: string;
  quotaBytes: number | null;
  createOnPush: boolean | null;
  usedBytes: number;
  updatedAt: number;
  updatedBy: string | null;
}
export interface CleanupDecision {
  digest: string;
  tags: string[];
  pushedAt: string;
  lastPulledAt: string | null;
  rule: string;
  keptBecause?: string;
}
export interface CleanupReport {
  repository: string;
  dryRun: boolean;
  evaluatedAt: string;
  images: number;
  delete: CleanupDecision[];
  kept: CleanupDecision[];
  skipped: { digest: string; reason: string }[];
  deleted: number;
}
export interface CleanupPolicyInfo {
  format: 'artifact-registry' | 'ecr';
  policy: unknown;
  keepPulledWithinDays?: number;
  keepProtectedTags?: boolean;
  dryRun?: boolean;
  updatedAt: string;
  updatedBy: string | null;
}
export interface Cost {
  storage: number;
  egress: number;
  total: number;
}
export interface UsageCostEntry {
  logicalBytes: number;
  storedBytes: number;
  images: number;
  pulls: number;
  egressBytes: number;
  monthlyCost: Cost;
}
export interface RepositoryUsage extends UsageCostEntry {
  repository: string;
  uniqueBytes: number;
  sharedBytes: number;
  attributedBytes: number;
  manifestBytes: number;
  tags: number;
  quotaBytes: number | null;
  quotas: { scope: 'repository' | 'namespace'; name: string; quotaBytes: number; usedBytes: number }[];
}
export interface NamespaceUsage extends UsageCostEntry {
  namespace: string;
  repositories: number;
  quotaBytes: number | null;
}
export interface UsageReport {
  period: { from: string; to: string; days: number };
  pricing: { storagePerGiBMonth: number; egressPerGiB: number; currency: string };
  repositories: RepositoryUsage[];
  /** admins only */
  namespaces?: NamespaceUsage[];
  /** admins only */
  totals?: {
    repositories: number;
    images: number;
    blobs: number;
    physicalBytes: number;
    storedBytes: number;
    logicalBytes: number;
    dedupRatio: number;
    pulls: number;
    egressBytes: number;
    monthlyCost: Cost;
  };
}
export interface GcReport {
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  manifestsDeleted: number;
  linksRemoved: number;
  blobsDeleted: number;
  bytesReclaimed: number;
  orphanBlobsDeleted: number;
  orphanBytesReclaimed: number;
  tombstonesRecovered: number;
  manifests: { repository: string; digest: string }[];
}

export type SeverityLevel = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';
export interface ScanFinding {
  id: string;
  aliases: string[];
  summary: string;
  severity: SeverityLevel;
  score?: number;
  package: { type: string; name: string; version: string; purl: string; path: string; sourceName?: string };
  installed: string;
  fixed?: string;
  layer: number;
  layerDigest?: string;
  firstSeen: string;
  firstSeenImport: number | null;
}
export interface ScanReport {
  repository: string;
  digest: string;
  index?: { digest: string; platform: string };
  scannedAt: string;
  matchedAt: string | null;
  os: { id: string; versionId?: string; prettyName?: string } | null;
  packageCount: number;
  layers: { digest: string; packages: number }[];
  ml: {
    cuda: { version: string; via: string }[];
    cudnn: { version: string; via: string }[];
    nccl: { version: string; via: string }[];
    frameworks: { name: string; version: string; cuda?: string }[];
  };
  summary: Record<SeverityLevel, number>;
  findings: ScanFinding[];
  warnings: string[];
  vulnerabilityData: { importedAt: string | null; newestRecord: string | null; advisories: number };
}
export interface VulnDbImport {
  id: number;
  source: string;
  records: number;
  added: number;
  updated: number;
  unchanged: number;
  rejected: number;
  errors: string[];
  newestModified: string | null;
  rematch: { job?: number; inventories?: number; newFindings?: number };
}
export interface VulnDbStatus {
  advisories: number;
  withdrawn: number;
  imports: { id: number; source: string; importedAt: string | null; newestRecord: string | null; records: number; added: number; updated: number; rejected: number }[];
}

/** GET/POST /api/v1/insights/<repo> (features/insights; docs/insights.md) */
export type InsightsCategory = 'os-packages' | 'cuda' | 'ml-frameworks' | 'python-packages' | 'model-weights' | 'caches' | 'build-tools' | 'docs' | 'application' | 'other';
export type InsightsSeverity = 'critical' | 'high' | 'medium' | 'low';
export interface InsightsFinding {
  id: string;
  severity: InsightsSeverity;
  title: string;
  evidence: { paths: string[]; layers: number[]; bytes: number; details?: Record<string, unknown> };
  fix: string;
  saving: { bytes: number; compressedBytes: number; seconds: number };
}
export interface InsightsAnalysis {
  partial: boolean;
  warnings: string[];
  totals: { compressedBytes: number; uncompressedBytes: number; files: number; finalBytes: number; categories: Record<InsightsCategory, number> };
  layers: { index: number; digest: string; compression: string; compressedBytes: number; uncompressedBytes: number; files: number; createdBy: string | null; categories: Record<InsightsCategory, number>; partial: boolean }[];
  pythonPackages: { name: string; bytes: number }[];
  caches: Record<string, number>;
  waste: { overwrittenBytes: number; deletedBytes: number; duplicateBytes: number; totalBytes: number; top: { path: string; layer: number; bytes: number; reason: string; by: number }[] };
  efficiency: { score: number; wastedBytes: number; userWastedPercent: number };
  coldStart: { pullBytes: number; decompressBytes: number; bandwidthBitsPerSecond: number; decompressBytesPerSecond: number; pullSeconds: number; decompressSeconds: number; seconds: number };
  findings: InsightsFinding[];
  os: { id: string; versionId?: string; prettyName?: string } | null;
  ml: ScanReport['ml'];
  packages: { type: string; name: string; version: string; layer: number }[];
}
export interface ImageInsights {
  platform: string | null;
  digest: string;
  state: 'done' | 'failed' | 'pending';
  analysedAt: string | null;
  durationMs: number | null;
  error: { message: string; layer?: number; layerDigest?: string; limit?: boolean } | null;
  analysis: InsightsAnalysis | null;
}
export interface InsightsDiff {
  a: { repository: string; digest: string };
  b: { repository: string; digest: string };
  diff: {
    layers: { shared: { digest: string; compressedBytes: number }[]; onlyInA: { digest: string; compressedBytes: number }[]; onlyInB: { digest: string; compressedBytes: number; createdBy: string | null }[] };
    pullBytes: number;
    pullSeconds: number;
    packages: { added: { type: string; name: string; version: string }[]; removed: { type: string; name: string; version: string }[]; upgraded: { type: string; name: string; from: string; to: string }[] };
    files: {
      byCategory: Record<InsightsCategory, { added: number; removed: number; changed: number; bytesAdded: number; bytesRemoved: number }>;
      changed: { path: string; category: InsightsCategory; change: 'added' | 'removed' | 'changed'; bytes: number }[];
    };
  };
}
export interface InsightsReport {
  repository: string;
  digest: string;
  index: { platforms: string[] } | null;
  images: ImageInsights[];
}

/** A layer's index as the file-index API reports it (features/streaming). */
export interface FileIndexLayer {
  digest: string;
  mediaType: string;
  size: number;
  state: 'indexed' | 'failed' | 'missing';
  ztoc?: { digest: string; size: number; algorithm?: string; entries?: number; spans?: number };
  error?: string;
  built?: boolean;
}
export interface FileIndexImage {
  repository: string;
  digest: string;
  platform?: string;
  artifact?: string;
  layers: FileIndexLayer[];
}
export interface FileEntryInfo {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  modTime?: string;
  linkname?: string;
}
export interface FileListing {
  kind: 'dir';
  path: string;
  image: string;
  entries: FileEntryInfo[];
}
/** An open file of an image: its bytes as a web stream, with what the headers said. */
export interface OpenedFile {
  body: ReadableStream<Uint8Array>;
  size: number;
  etag?: string;
}

export interface SignatureEntryInfo {
  format: 'cosign' | 'cosign-attestation' | 'sigstore-bundle' | 'notation';
  kind: 'signature' | 'attestation';
  manifest: string;
  layer: string;
  claims: { digest?: string; dockerReference?: string; predicateType?: string };
  signer: { keyFingerprint?: string; keyId?: string; certificateSubject?: string; issuer?: string };
  wellFormed: boolean;
  verifiedBy: string[];
  problems: string[];
}
export interface SignatureListing {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  manifests?: string[];
  signatures: SignatureEntryInfo[];
  verifiedBy: string[];
}
export interface AttestorInfo {
  name: string;
  description?: string;
  publicKeys?: string[];
  x509Roots?: string[];
  trustedIdentities?: string[];
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}
export interface DeployPolicyInfo {
  scope: string;
  source: string;
  policy: Record<string, unknown>;
  updatedAt: string;
  updatedBy: string;
}
export interface DeployDecision {
  image: string;
  digest?: string;
  scope: string;
  passed: boolean;
  allowed: boolean;
  dryRun: boolean;
  rules: { rule: string; passed: boolean; message: string }[];
}

/** GET /api/v1/models (features/models; docs/models.md) */
export interface ModelSummary {
  repository: string;
  digest: string;
  tag: string | null;
  format: string;
  name: string | null;
  architecture: string | null;
  weightFormat: string | null;
  quantization: string | null;
  license: string | null;
  parameters: number;
  totalBytes: number;
  error: string | null;
  extractedAt: string;
}
export interface ModelFile {
  path: string;
  size: number;
  role: string;
  layer: number;
  offset: number | null;
  kind: string;
  weights?: {
    format: 'safetensors' | 'gguf';
    tensors: number;
    parameters: number;
    parametersByDtype: Record<string, number>;
    bytesByDtype: Record<string, number>;
    headerBytes: number;
    metadata: Record<string, unknown> | null;
    tensorList: { name: string; dtype: string; shape: number[] }[];
    gguf?: { version: number; architecture: string | null; name: string | null; fileType: number | null; fileTypeName: string | null; contextLength: number | null };
  };
  error?: string;
}
/** GET /api/v1/models/<repo>?reference= */
export interface ModelInfo extends Omit<ModelSummary, 'error'> {
  extractorVersion: number;
  parametersByDtype: Record<string, number>;
  contextLength: number | null;
  weightBytes: number;
  memoryToLoadBytes: number;
  hasConfig: boolean;
  hasGenerationConfig: boolean;
  hasTokenizer: boolean;
  hasReadme: boolean;
  hasLicenseFile: boolean;
  shards: { files: string[]; tensors: number; totalSize: number | null; missing: string[] } | null;
  hfConfig: Record<string, unknown> | null;
  card: { title: string | null; frontMatter: Record<string, unknown> | null; bytes: number } | null;
  artifactConfig: Record<string, unknown> | null;
  files: ModelFile[];
  errors: string[];
  reads: { ranges: number; bytes: number };
}
export interface ModelSearchQuery {
  q?: string;
  architecture?: string;
  format?: string;
  license?: string;
  minParameters?: number;
  maxParameters?: number;
  limit?: number;
  after?: string;
}

export class WharfClient {
  readonly server: string;
  private readonly options: WharfClientOptions;

  constructor(options: WharfClientOptions) {
    this.options = options;
    this.server = options.server.replace(/\/+$/, '');
  }

  private authorization(): string | undefined {
    const { username, password } = this.options;
    if (username === undefined || password === undefined) return undefined;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  /** One JSON request; a non-2xx answer becomes a WharfError (code from the body when it has one). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const auth = this.authorization();
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(`${this.server}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new WharfError('UNAVAILABLE', `cannot reach ${this.server}: ${(err as Error).message}`, undefined, { cause: err });
    }
    const text = await res.text();
    if (!res.ok) throw errorFrom(res.status, text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  // --- identity ---
  whoami = () => this.request<WhoAmI>('GET', '/api/v1/whoami');
  listUsers = (q: { limit?: number; after?: string } = {}) => this.request<Page<Principal>>('GET', `/api/v1/users${qs(q)}`);
  createUser = (u: { name: string; password: string; description?: string }) => this.request<Principal>('POST', '/api/v1/users', u);
  getUser = (name: string) => this.request<Principal>('GET', `/api/v1/users/${enc(name)}`);
  updateUser = (name: string, patch: { disabled?: boolean; description?: string }) => this.request<Principal>('PATCH', `/api/v1/users/${enc(name)}`, patch);
  setPassword = (name: string, password: string) => this.request<void>('PUT', `/api/v1/users/${enc(name)}/password`, { password });
  deleteUser = (name: string) => this.request<void>('DELETE', `/api/v1/users/${enc(name)}`);
  listServiceAccounts = (q: { limit?: number; after?: string } = {}) => this.request<Page<Principal>>('GET', `/api/v1/service-accounts${qs(q)}`);
  createServiceAccount = (sa: { name: string; description?: string }) => this.request<Principal>('POST', '/api/v1/service-accounts', sa);
  updateServiceAccount = (name: string, patch: { disabled?: boolean; description?: string }) =>
    this.request<Principal>('PATCH', `/api/v1/service-accounts/${enc(name)}`, patch);
  deleteServiceAccount = (name: string) => this.request<void>('DELETE', `/api/v1/service-accounts/${enc(name)}`);
  listKeys = (sa: string) => this.request<{ items: ApiKey[] }>('GET', `/api/v1/service-accounts/${enc(sa)}/keys`);
  createKey = (sa: string, o: { description?: string; expiresInDays?: number } = {}) => this.request<ApiKey>('POST', `/api/v1/service-accounts/${enc(sa)}/keys`, o);
  revokeKey = (sa: string, id: string) => this.request<void>('DELETE', `/api/v1/service-accounts/${enc(sa)}/keys/${enc(id)}`);
  listBindings = (principal?: string) => this.request<{ items: RoleBinding[] }>('GET', `/api/v1/role-bindings${qs({ principal })}`);
  grant = (b: { principal: string; role: string; scope: string }) => this.request<RoleBinding>('POST', '/api/v1/role-bindings', b);
  revokeBinding = (id: number) => this.request<void>('DELETE', `/api/v1/role-bindings/${id}`);
  audit = (f: AuditFilter = {}) => this.request<Page<AuditEvent>>('GET', `/api/v1/audit${qs(f)}`);
  listRepositories = (q: { limit?: number; after?: string } = {}) => this.request<Page<RepositoryInfo>>('GET', `/api/v1/repositories${qs(q)}`);
  getRepository = (name: string) => this.request<RepositoryDetail>('GET', `/api/v1/repositories/${name}`);
  setRepositoryPublic = (name: string, isPublic: boolean) => this.request<RepositoryDetail>('PATCH', `/api/v1/repositories/${name}`, { public: isPublic });
  createRepository = (name: string, settings: RepositorySettingsInput = {}, format?: 'oci' | 'pypi') =>
    this.request<RepositoryDetail>('POST', '/api/v1/repositories', { name, ...(format === undefined ? {} : { format }), ...settings });
  updateRepository = (name: string, patch: RepositorySettingsInput) => this.request<RepositoryDetail>('PATCH', `/api/v1/repositories/${name}`, patch);
  deleteRepository = (name: string) => this.request<void>('DELETE', `/api/v1/repositories/${name}`);
  tagHistory = (name: string, q: { tag?: string; before?: number; limit?: number } = {}) =>
    this.request<{ items: TagEventInfo[]; next?: number }>('GET', `/api/v1/tag-history/${name}${qs(q)}`);
  listPypiFiles = (repository: string, project?: string) => this.request<{ items: PypiFileInfo[] }>('GET', `/api/v1/pypi/files/${repository}${qs({ project })}`);
  pypiFindings = (repository: string, project?: string, version?: string) =>
    this.request<{ releases: number; summary: Record<'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN', number>; findings: { id: string; aliases: string[]; summary: string; severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN'; score?: number; package: { name: string; version: string }; installed: string; fixed?: string }[] }>(
      'GET',
      `/api/v1/pypi/findings/${repository}${qs({ project, version })}`,
    );
  /** reason undefined with yanked false: un-yank */
  yankPypiRelease = (repository: string, project: string, version: string, yanked: boolean, reason?: string) =>
    this.request<{ files: number }>('POST', `/api/v1/pypi/yank/${repository}`, { project, version, yanked, ...(reason === undefined ? {} : { reason }) });
  deletePypiFiles = (repository: string, project: string, version?: string) =>
    this.request<{ files: number }>('DELETE', `/api/v1/pypi/files/${repository}${qs({ project, version })}`);
  listImages = (name: string, q: { limit?: number; after?: string; tagged?: boolean } = {}) =>
    this.request<{ items: ImageInfo[]; more: boolean }>('GET', `/api/v1/images/${name}${qs(q)}`);
  listNamespaces = () => this.request<{ items: NamespaceInfo[] }>('GET', '/api/v1/namespaces');
  getNamespace = (ns: string) => this.request<NamespaceInfo>('GET', `/api/v1/namespaces/${ns}`);
  setNamespace = (ns: string, s: { quotaBytes?: number | null; createOnPush?: boolean | null }) => this.request<NamespaceInfo>('PUT', `/api/v1/namespaces/${ns}`, s);
  deleteNamespace = (ns: string) => this.request<void>('DELETE', `/api/v1/namespaces/${ns}`);
  getCleanupPolicy = (name: string) => this.request<CleanupPolicyInfo>('GET', `/api/v1/cleanup-policies/${name}`);
  setCleanupPolicy = (name: string, document: unknown) => this.request<CleanupPolicyInfo>('PUT', `/api/v1/cleanup-policies/${name}`, document);
  deleteCleanupPolicy = (name: string) => this.request<void>('DELETE', `/api/v1/cleanup-policies/${name}`);
  /** What the stored policy (or `document`, not stored) would delete now. */
  cleanupDryRun = (name: string, document?: unknown) =>
    this.request<CleanupReport>('POST', `/api/v1/cleanup-dry-runs/${name}`, document === undefined ? {} : { policy: document });
  runCleanup = (name: string) => this.request<CleanupReport>('POST', `/api/v1/cleanup-runs/${name}`);
  /** the period: `days` (the last N UTC days), or `from` [and `to`] (YYYY-MM-DD, UTC, both included) */
  usage = (q: { days?: number; from?: string; to?: string; repository?: string } = {}) => this.request<UsageReport>('GET', `/api/v1/usage${qs(q)}`);
  runGc = (o: { dryRun?: boolean } = {}) => this.request<GcReport>('POST', '/api/v1/gc', o);
  gcRuns = (limit?: number) =>
    this.request<{ items: { id: number; trigger: string; dryRun: boolean; startedAt: string; finishedAt: string | null; report: GcReport | null; error: string | null }[] }>(
      'GET',
      `/api/v1/gc/runs${qs({ limit })}`,
    );
  rotateSigningKey = () => this.request<{ kid: string }>('POST', '/api/v1/signing-keys/rotate');

  // --- supply chain (features/signing, features/deploy-policy) ---
  signatures = (repo: string, reference: string) => this.request<SignatureListing>('GET', `/api/v1/signatures/${repo}${qs({ reference })}`);
  verifyImage = (repo: string, body: { reference: string; attestor?: string; publicKey?: string }) =>
    this.request<SignatureListing & { verified: boolean }>('POST', `/api/v1/verifications/${repo}`, body);
  listAttestors = () => this.request<{ items: AttestorInfo[] }>('GET', '/api/v1/attestors');
  putAttestor = (name: string, doc: { description?: string; publicKeys?: string[]; x509Roots?: string[]; trustedIdentities?: string[] }) =>
    this.request<AttestorInfo>('PUT', `/api/v1/attestors/${enc(name)}`, doc);
  deleteAttestor = (name: string) => this.request<void>('DELETE', `/api/v1/attestors/${enc(name)}`);
  getDeployPolicy = (scope: string) => this.request<DeployPolicyInfo>('GET', `/api/v1/deploy-policy${qs({ scope })}`);
  listDeployPolicies = () => this.request<{ items: DeployPolicyInfo[] }>('GET', '/api/v1/deploy-policies');
  setDeployPolicy = (scope: string, policy: string) => this.request<DeployPolicyInfo>('PUT', `/api/v1/deploy-policy${qs({ scope })}`, { policy });
  deleteDeployPolicy = (scope: string) => this.request<void>('DELETE', `/api/v1/deploy-policy${qs({ scope })}`);
  checkDeployPolicy = (repo: string, reference: string, policy?: string) =>
    this.request<DeployDecision>('POST', `/api/v1/deploy-policy-checks/${repo}`, { reference, ...(policy === undefined ? {} : { policy }) });

  /** GET /v2/<repo>/manifests/<ref>: the exact bytes, or undefined when there is none. */
  async getManifestBytes(repo: string, ref: string): Promise<{ bytes: Buffer; digest: string; mediaType: string } | undefined> {
    const accept = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');
    const res = await this.raw('GET', `/v2/${repo}/manifests/${ref}`, undefined, { accept });
    if (res.status === 404) return undefined;
    const bytes = Buffer.from(await res.arrayBuffer());
    if (!res.ok) throw errorFrom(res.status, bytes.toString('utf8'));
    return { bytes, digest: res.headers.get('docker-content-digest') ?? '', mediaType: res.headers.get('content-type') ?? '' };
  }

  /** Pushes a small blob in one request (POST ?digest=). */
  async pushBlobBytes(repo: string, digest: string, bytes: Uint8Array): Promise<void> {
    const res = await this.raw('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, bytes, { 'content-type': 'application/octet-stream' });
    const text = await res.text();
    if (res.status !== 201) throw errorFrom(res.status, text);
  }

  async putManifestBytes(repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<void> {
    const res = await this.raw('PUT', `/v2/${repo}/manifests/${ref}`, bytes, { 'content-type': mediaType });
    const text = await res.text();
    if (res.status !== 201) throw errorFrom(res.status, text);
  }

  private async raw(method: string, path: string, body: Uint8Array | undefined, headers: Record<string, string>): Promise<Response> {
    const auth = this.authorization();
    try {
      return await (this.options.fetch ?? fetch)(`${this.server}${path}`, {
        method,
        headers: { ...headers, ...(auth ? { authorization: auth } : {}) },
        body: body as BodyInit | undefined,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new WharfError('UNAVAILABLE', `cannot reach ${this.server}: ${(err as Error).message}`, undefined, { cause: err });
    }
  }

  // --- image insights (features/insights) ---
  runInsights = (repo: string, reference: string, o: { force?: boolean; platform?: string } = {}) =>
    this.request<InsightsReport>('POST', `/api/v1/insights/${repo}`, { reference, ...o });
  insightsDiff = (from: { repository: string; reference: string }, to: { repository: string; reference: string }, platform?: string) =>
    this.request<InsightsDiff>('POST', '/api/v1/insights-diff', { from, to, ...(platform ? { platform } : {}) });
  insights = (repo: string, reference: string, platform?: string) => this.request<InsightsReport>('GET', `/api/v1/insights/${repo}${qs({ reference, platform })}`);
  // --- model artifacts (features/models) ---
  model = (repo: string, reference: string) => this.request<ModelInfo>('GET', `/api/v1/models/${repo}${qs({ reference })}`);
  extractModel = (repo: string, reference: string) => this.request<ModelInfo>('POST', `/api/v1/models/${repo}`, { reference });
  models = (q: ModelSearchQuery = {}) => this.request<{ items: ModelSummary[]; more: boolean }>('GET', `/api/v1/models${qs(q)}`);
  /** models holding a weight file with this content digest (sha256 of the file's bytes) */
  modelFiles = (digest: string) =>
    this.request<{ items: { fileDigest: string; path: string; size: number; repository: string; digest: string; tag: string | null }[] }>('GET', `/api/v1/model-files${qs({ digest })}`);
  // --- scanning (features/scan) ---
  scan = (repo: string, reference: string, o: { force?: boolean; platform?: string } = {}) =>
    this.request<ScanReport>('POST', `/api/v1/scans/${repo}`, { reference, ...o });
  scanReport = (repo: string, reference: string, platform?: string) => this.request<ScanReport>('GET', `/api/v1/scans/${repo}${qs({ reference, platform })}`);
  sbom = (repo: string, reference: string, format: 'spdx' | 'cyclonedx', platform?: string) =>
    this.request<Record<string, unknown>>('GET', `/api/v1/sbom/${repo}${qs({ reference, format, platform })}`);
  attachSbom = (repo: string, reference: string, format: 'spdx' | 'cyclonedx', platform?: string) =>
    this.request<{ digest: string; subject: string; artifactType: string }>('POST', `/api/v1/sbom/${repo}`, { reference, format, ...(platform ? { platform } : {}) });
  vulndbStatus = () => this.request<VulnDbStatus>('GET', '/api/v1/vulndb');
  // --- file access and lazy-pulling indexes (features/streaming) ---
  indexFiles = (repo: string, reference: string, o: { platform?: string; force?: boolean; background?: boolean } = {}) =>
    this.request<{ images?: FileIndexImage[]; job?: number; digest?: string }>('POST', `/api/v1/file-indexes/${repo}`, { reference, ...o });
  fileIndexStatus = (repo: string, reference: string, platform?: string) =>
    this.request<{ images: FileIndexImage[] }>('GET', `/api/v1/file-indexes/${repo}${qs({ reference, platform })}`);

  /**
   * What is at `path` in an image (`image` is repo:tag or repo@digest): a directory listing, or an
   * open file (its body unread: the caller streams or cancels it). No timeout once headers arrive.
   */
  async openPath(image: string, path: string, o: { platform?: string; range?: { start: number; end: number } } = {}): Promise<FileListing | OpenedFile> {
    const headers: Record<string, string> = { accept: 'application/json, application/octet-stream' };
    const auth = this.authorization();
    if (auth) headers.authorization = auth;
    if (o.range) headers.range = `bytes=${o.range.start}-${o.range.end}`;
    const segments = path.split('/').filter((s) => s !== '').map(encodeURIComponent).join('/');
    const headerTimeout = new AbortController();
    const timer = setTimeout(() => headerTimeout.abort(), this.options.timeoutMs ?? 30_000);
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(`${this.server}/api/v1/files/${image}/${segments}${qs({ platform: o.platform })}`, { headers, signal: headerTimeout.signal });
    } catch (err) {
      throw new WharfError('UNAVAILABLE', `cannot reach ${this.server}: ${(err as Error).message}`, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) throw errorFrom(res.status, await res.text());
    if ((res.headers.get('content-type') ?? '').startsWith('application/json')) return JSON.parse(await res.text()) as FileListing;
    const size = Number(res.headers.get('content-length') ?? '0');
    return { body: res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() }), size, etag: res.headers.get('etag') ?? undefined };
  }

  /** Sends OSV data (a zip archive, or one record per line) as a stream; large archives take long, so no timeout. */
  async importVulnDb(source: string, body: ReadableStream<Uint8Array> | Uint8Array, contentType: 'application/zip' | 'application/x-ndjson'): Promise<VulnDbImport> {
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': contentType };
    const auth = this.authorization();
    if (auth) headers.authorization = auth;
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(`${this.server}/api/v1/vulndb/imports${qs({ source })}`, {
        method: 'POST',
        headers,
        body,
        ...(body instanceof Uint8Array ? {} : { duplex: 'half' }),
      } as RequestInit);
    } catch (err) {
      throw new WharfError('UNAVAILABLE', `cannot reach ${this.server}: ${(err as Error).message}`, undefined, { cause: err });
    }
    const text = await res.text();
    if (!res.ok) throw errorFrom(res.status, text);
    return JSON.parse(text) as VulnDbImport;
  }

  // --- registry protocol ---
  /** A bearer token for `scopes` from the token endpoint (Basic credentials when the client has them). */
  async token(scopes: string[], service = 'wharf'): Promise<string> {
    const q = new URLSearchParams({ service });
    for (const s of scopes) q.append('scope', s);
    return (await this.request<{ token: string }>('GET', `/auth/token?${q.toString()}`)).token;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function qs(q: object): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

function errorFrom(status: number, text: string): WharfError {
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    const e = body.errors?.[0];
    if (e?.code && e.code in ERROR_CODES) return new WharfError(e.code as ErrorCode, e.message, e.detail);
  } catch {
    // not our error body
  }
  const code: ErrorCode = status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'DENIED' : status === 404 ? 'NOT_FOUND' : status >= 500 ? 'UNAVAILABLE' : 'REQUEST_INVALID';
  return new WharfError(code, `HTTP ${status}: ${text.slice(0, 200)}`);
}
