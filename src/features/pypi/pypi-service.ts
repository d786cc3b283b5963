/**
 * Python package repositories (issue 17): uploads in the form twine sends, the simple index's
 * data, downloads, yanks and deletes. Knows no HTTP: the routes (http/pypi/, http/api/) parse the
 * requests and call this. A file's bytes go through RegistryService's upload path into the blob
 * store and are linked to the repository like a layer (usage, quotas and GC unchanged); the
 * pypi_files row (SqlPypiStore) is what makes them a file of the index.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parseDigest, type Digest } from '../../domain/digest.js';
import { WharfError, isWharfError } from '../../errors/wharf-error.js';
import type { RegistryService } from '../../registry/registry-service.js';
import type { BlobFile } from '../../storage/blob/blob-store.js';
import {
  compareVersions,
  filenameMatches,
  filenameProblem,
  isProjectName,
  isVersion,
  normalizeProjectName,
  parseDistributionFilename,
  type DistributionFilename,
} from './distribution-names.js';
import type { PypiFileRecord, SqlPypiStore } from './sql-pypi-store.js';
import { DEFAULT_TAIL_BYTES, TailKeeper, WheelMetadataError, parseCoreMetadata, readWheelMetadata } from './wheel-metadata.js';

/** A vulnerability finding for a package (the scan feature's Finding, as much of it as is shown here). */
export interface PackageFinding {
  id: string;
  aliases: string[];
  summary: string;
  severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';
  score?: number;
  package: { name: string; version: string; path: string };
  installed: string;
  fixed?: string;
}

/** Matches packages against the imported vulnerability data (ScanService.matchPackages, handed over by main.ts). */
export type PackageMatcher = (
  packages: { type: 'pypi'; ecosystem: 'PyPI'; name: string; version: string; purl: string; path: string }[],
) => Promise<PackageFinding[]>;

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;

export interface PypiServiceOptions {
  registry: RegistryService;
  store: SqlPypiStore;
  /** the repository's format (repositories.format), undefined when it does not exist */
  repositoryFormat(repository: string): Promise<string | undefined>;
  /** largest distribution file accepted, bytes */
  maxUploadBytes: number;
  /** vulnerability matching; absent when scanning is disabled */
  vulnerabilities?: PackageMatcher;
  /** told about each file stored; must not throw */
  onUploaded?: (event: { repository: string; file: PypiFileRecord }) => void;
  now?: () => number;
}

/** An upload whose bytes are arriving: the blob upload, and what is learnt while they stream. */
export interface StagedUpload {
  repository: string;
  filename: string;
  parsed: DistributionFilename;
  uploadId: string;
  /** set by receive(): counts the bytes and keeps a wheel's tail */
  tail?: TailKeeper;
  hash?: ReturnType<typeof createHash>;
  size: number;
  received: boolean;
}

const VERSION_PROBLEM = 'is not a PEP 440 version';

export class PypiService {
  private readonly o: PypiServiceOptions;
  private readonly now: () => number;

  constructor(options: PypiServiceOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
  }

  get maxUploadBytes(): number {
    return this.o.maxUploadBytes;
  }

  /** NAME_UNKNOWN unless the repository exists; REPOSITORY_FORMAT_MISMATCH unless it is a pypi repository. */
  async checkRepository(repository: string): Promise<void> {
    const format = await this.o.repositoryFormat(repository);
    if (format === undefined) {
      throw new WharfError('NAME_UNKNOWN', `repository ${repository} does not exist: create it with wharf repo create ${repository} --format pypi`);
    }
    if (format !== 'pypi') {
      throw new WharfError('REPOSITORY_FORMAT_MISMATCH', `repository ${repository} holds ${format === 'oci' ? 'OCI images and artifacts' : format} (format ${format}), not Python packages`, {
        repository,
        format,
        expected: 'pypi',
      });
    }
  }

  // --- upload ---

  /**
   * Before the bytes: the file name must be a distribution name not yet in the repository (a
   * wrong name costs the client no upload). `clientDigest` is the form's sha256_digest when it
   * came before the file (twine sends it first): the blob store checks it while the bytes stream;
   * otherwise the bytes are hashed here.
   */
  async begin(repository: string, filename: string, clientDigest: string | undefined): Promise<StagedUpload> {
    await this.checkRepository(repository);
    const problem = filenameProblem(filename);
    if (problem !== undefined) throw new WharfError('PYPI_UPLOAD_INVALID', `Invalid file name: ${problem}`);
    const parsed = parseDistributionFilename(filename);
    if (!parsed) throw new WharfError('PYPI_UPLOAD_INVALID', `Invalid distribution file name ${JSON.stringify(filename)}: expected a wheel (.whl) or an sdist (.tar.gz)`);
    if (await this.o.store.findFile(repository, filename)) throw fileExists(filename);
    const upload = await this.o.registry.startUpload(repository, 'pypi');
    return {
      repository,
      filename,
      parsed,
      uploadId: upload.id,
      hash: clientDigest !== undefined && /^[0-9a-f]{64}$/.test(clientDigest) ? undefined : createHash('sha256'),
      size: 0,
      received: false,
    };
  }

  /** Streams the file's bytes into the upload; BODY_TOO_LARGE past maxUploadBytes. */
  async receive(staged: StagedUpload, body: Readable): Promise<void> {
    const max = this.o.maxUploadBytes;
    const tooLarge = (): WharfError => new WharfError('BODY_TOO_LARGE', `the file is larger than the upload limit of ${max} bytes (pypi.maxUploadBytes)`);
    // one stage counts, hashes (when the client gave no digest first) and keeps a wheel's tail
    const meter = new TailKeeper(staged.parsed.kind === 'bdist_wheel' ? DEFAULT_TAIL_BYTES : 0, { maxBytes: max, tooLarge }, staged.hash);
    staged.tail = meter;
    const piped: Readable = body.pipe(meter);
    // an error of the source ends the append (the store sees the stream fail)
    body.on('error', (err) => piped.destroy(err));
    try {
      await this.o.registry.appendUpload(staged.repository, staged.uploadId, piped);
    } catch (e) {
      if (meter.total > max) throw tooLarge(); // the meter's limit, not the store's view of it
      throw e;
    }
    staged.size = meter.total;
    staged.received = true;
  }

  /** After the whole form: checks the fields and the file against each other, then publishes. */
  async complete(staged: StagedUpload, fields: ReadonlyMap<string, string>, uploader: string): Promise<PypiFileRecord> {
    const action = fields.get(':action');
    if (action !== 'file_upload') {
      throw new WharfError('PYPI_UPLOAD_INVALID', action === undefined ? 'Missing :action field (expected file_upload)' : `Unsupported :action ${JSON.stringify(action.slice(0, 40))} (only file_upload)`);
    }
    if (!staged.received) throw new WharfError('PYPI_UPLOAD_INVALID', 'Upload payload does not have a file (the content field)');
    if (staged.size === 0) throw new WharfError('PYPI_UPLOAD_INVALID', 'The file is empty');
    const filetype = fields.get('filetype');
    if (filetype !== undefined && filetype !== staged.parsed.kind) {
      throw new WharfError('PYPI_UPLOAD_INVALID', `Invalid filetype ${JSON.stringify(filetype.slice(0, 40))} for ${staged.filename} (expected ${staged.parsed.kind})`);
    }

    let name = fields.get('name');
    let version = fields.get('version');
    let requiresPython = fields.get('requires_python') || undefined;
    let summary = fields.get('summary') || undefined;
    let metadata: Buffer | null = null;
    if (staged.parsed.kind === 'bdist_wheel') {
      let read: { dir: string; metadata: Buffer };
      try {
        const { bytes, start } = staged.tail!.tail();
        read = await readWheelMetadata(bytes, start, staged.size);
      } catch (e) {
        if (e instanceof WheelMetadataError) throw new WharfError('PYPI_UPLOAD_INVALID', `Invalid wheel ${staged.filename}: ${e.message}`);
        throw e;
      }
      metadata = read.metadata;
      const core = parseCoreMetadata(metadata);
      if (!core.name || !core.version) throw new WharfError('PYPI_UPLOAD_INVALID', `Invalid wheel ${staged.filename}: METADATA has no Name or Version`);
      for (const [field, given, found] of [
        ['name', name, core.name],
        ['version', version, core.version],
      ] as const) {
        const same = field === 'name' ? (a: string, b: string) => normalizeProjectName(a) === normalizeProjectName(b) : (a: string, b: string) => a === b || compareVersions(a, b) === 0;
        if (given !== undefined && !same(given, found)) {
          throw new WharfError('PYPI_UPLOAD_INVALID', `The ${field} field (${JSON.stringify(given.slice(0, 100))}) does not match the wheel's METADATA (${JSON.stringify(found.slice(0, 100))})`);
        }
      }
      name = core.name;
      version = core.version;
      requiresPython = core.requiresPython || undefined;
      summary = core.summary || summary;
    }
    if (!name) throw new WharfError('PYPI_UPLOAD_INVALID', 'Missing name field');
    if (!version) throw new WharfError('PYPI_UPLOAD_INVALID', 'Missing version field');
    if (!isProjectName(name)) throw new WharfError('PYPI_UPLOAD_INVALID', `Invalid project name ${JSON.stringify(name.slice(0, 100))}: letters, digits, . _ - (PEP 508)`);
    if (!isVersion(version)) throw new WharfError('PYPI_UPLOAD_INVALID', `Invalid version ${JSON.stringify(version.slice(0, 100))}: ${VERSION_PROBLEM}`);
    if (!filenameMatches(staged.filename, staged.parsed, name, version)) {
      throw new WharfError('PYPI_UPLOAD_INVALID', `The file name ${staged.filename} does not match the project ${name} version ${version}`);
    }
    if (requiresPython !== undefined && (requiresPython.length > 500 || /[\r\n]/.test(requiresPython))) {
      throw new WharfError('PYPI_UPLOAD_INVALID', 'Invalid Requires-Python (longer than 500 characters or several lines)');
    }

    const given = fields.get('sha256_digest');
    if (given !== undefined && !/^[0-9a-f]{64}$/.test(given)) throw new WharfError('DIGEST_INVALID', 'The sha256_digest field is not 64 lower-case hex digits');
    const computed = staged.hash?.digest('hex');
    if (computed !== undefined && given !== undefined && computed !== given) {
      throw new WharfError('DIGEST_INVALID', `The file's sha256 is ${computed}, not the sha256_digest given (${given})`);
    }
    const digest = parseDigest(`sha256:${computed ?? given}`);
    try {
      await this.o.registry.completeUpload(staged.repository, staged.uploadId, digest);
    } catch (e) {
      if (isWharfError(e, 'DIGEST_INVALID')) throw new WharfError('DIGEST_INVALID', `The file's sha256 does not match the sha256_digest given (${given})`);
      throw e;
    }
    staged.uploadId = ''; // committed: nothing left to abort
    const record = {
      project: normalizeProjectName(name),
      displayName: name,
      version,
      filename: staged.filename,
      packagetype: staged.parsed.kind,
      digest,
      size: staged.size,
      requiresPython: requiresPython ?? null,
      summary: summary ? summary.slice(0, 512) : null,
      metadata,
      metadataSha256: metadata ? createHash('sha256').update(metadata).digest('hex') : null,
      uploadedBy: uploader,
      uploadedAt: this.now(),
    };
    // a concurrent upload of the same name may win here; its bytes stay linked until GC
    if (!(await this.o.store.insertFile(staged.repository, record))) throw fileExists(staged.filename);
    const { metadata: _m, ...file } = record;
    const stored: PypiFileRecord = { ...file, yankedReason: null };
    try {
      this.o.onUploaded?.({ repository: staged.repository, file: stored });
    } catch {
      // a listener's failure is its own
    }
    return stored;
  }

  /** Drops an upload that failed (idempotent; a committed one has nothing to drop). */
  async abort(staged: StagedUpload): Promise<void> {
    if (staged.uploadId === '') return;
    await this.o.registry.cancelUpload(staged.repository, staged.uploadId).catch(() => undefined);
    staged.uploadId = '';
  }

  // --- index and downloads ---

  async projects(repository: string): Promise<{ project: string; displayName: string; files: number; latestUploadAt: number }[]> {
    await this.checkRepository(repository);
    return this.o.store.projects(repository);
  }

  /** The files of a project (normalized name); NAME_UNKNOWN-like 404 when it has none. */
  async projectFiles(repository: string, project: string): Promise<{ displayName: string; files: PypiFileRecord[]; versions: string[] }> {
    await this.checkRepository(repository);
    const files = await this.o.store.projectFiles(repository, project);
    if (files.length === 0) throw new WharfError('RESOURCE_UNKNOWN', `project ${project} is not in repository ${repository}`);
    // in order of first upload: PEP 700 asks for no order, and a PEP 440 sort of 1,000 versions
    // (each comparison parses both) cost more than the rest of the page
    const versions = [...new Set(files.map((f) => f.version))];
    return { displayName: files[files.length - 1]!.displayName, files, versions };
  }

  /**
   * The project's generation, bumped in the transaction of every upload, yank and delete of its
   * files (on any replica): a page rendered at generation g is current while this is g. 0 = not
   * known (render afresh). No format check: only a pypi repository has files.
   */
  async projectGeneration(repository: string, project: string): Promise<number> {
    return this.o.store.projectGeneration(repository, project);
  }

  async file(repository: string, filename: string): Promise<PypiFileRecord> {
    await this.checkRepository(repository);
    const f = await this.o.store.findFile(repository, filename);
    if (!f) throw new WharfError('RESOURCE_UNKNOWN', `file ${filename.slice(0, 200)} is not in repository ${repository}`);
    return f;
  }

  /** The core metadata of a wheel (PEP 658), exactly as it is in the wheel. */
  async fileMetadata(repository: string, filename: string): Promise<Buffer> {
    await this.checkRepository(repository);
    const m = await this.o.store.fileMetadata(repository, filename);
    if (!m) throw new WharfError('RESOURCE_UNKNOWN', `file ${filename.slice(0, 200)} has no metadata file in repository ${repository}`);
    return m;
  }

  /** The file's bytes: a local file when the blob store has one, else a stream (or a presigned URL). */
  async openFile(repository: string, file: PypiFileRecord): Promise<{ file?: BlobFile; url?: string }> {
    const digest = file.digest as Digest;
    const url = await this.o.registry.blobDownloadUrl(repository, digest);
    if (url !== undefined) return { url };
    return { file: await this.o.registry.openBlobFile(repository, digest) };
  }

  async openStream(repository: string, file: PypiFileRecord, range?: { start: number; end: number }): Promise<Readable> {
    return this.o.registry.openBlob(repository, file.digest as Digest, range);
  }

  noteServed(repository: string, file: PypiFileRecord, bytes: number): void {
    this.o.registry.noteBlobServed(repository, file.digest as Digest, bytes);
  }

  // --- management ---

  async list(repository: string, project?: string): Promise<PypiFileRecord[]> {
    await this.checkRepository(repository);
    if (project !== undefined) return this.o.store.projectFiles(repository, normalizeProjectName(project));
    const out: PypiFileRecord[] = [];
    for (const p of await this.o.store.projects(repository)) out.push(...(await this.o.store.projectFiles(repository, p.project)));
    return out;
  }

  /** Yanks (reason: string, '' for none) or un-yanks (null) every file of a version; the count changed. */
  async setYanked(repository: string, project: string, version: string, reason: string | null): Promise<{ files: number }> {
    await this.checkRepository(repository);
    const n = await this.o.store.setYanked(repository, normalizeProjectName(project), version, reason);
    if (n === 0) throw new WharfError('RESOURCE_UNKNOWN', `${project} ${version} is not in repository ${repository}`);
    return { files: n };
  }

  /**
   * The releases of a repository (or of a project, or one version) matched against the imported
   * OSV PyPI data now, as an image's Python packages are. UNAVAILABLE when scanning is disabled.
   */
  async findings(repository: string, project?: string, version?: string): Promise<{ releases: number; summary: Record<(typeof SEVERITIES)[number], number>; findings: PackageFinding[] }> {
    const match = this.o.vulnerabilities;
    if (!match) throw new WharfError('UNAVAILABLE', 'vulnerability scanning is disabled on this instance (scan.enabled)');
    const files = (await this.list(repository, project)).filter((f) => version === undefined || f.version === version);
    const releases = new Map<string, PypiFileRecord>();
    for (const f of files) if (!releases.has(`${f.project}@${f.version}`)) releases.set(`${f.project}@${f.version}`, f);
    const packages = [...releases.values()].map((f) => ({
      type: 'pypi' as const,
      ecosystem: 'PyPI' as const,
      name: f.displayName,
      version: f.version,
      purl: `pkg:pypi/${f.project}@${encodeURIComponent(f.version)}`,
      path: `${f.project} ${f.version}`,
    }));
    const findings = packages.length === 0 ? [] : await match(packages);
    findings.sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || a.package.name.localeCompare(b.package.name) || a.id.localeCompare(b.id));
    const summary = Object.fromEntries(SEVERITIES.map((l) => [l, findings.filter((f) => f.severity === l).length])) as Record<(typeof SEVERITIES)[number], number>;
    return { releases: packages.length, summary, findings };
  }

  /** Deletes the files of a project, or of one version; GC reclaims their bytes when nothing else links them. */
  async delete(repository: string, project: string, version?: string): Promise<{ files: number }> {
    await this.checkRepository(repository);
    const n = await this.o.store.deleteFiles(repository, normalizeProjectName(project), version);
    if (n === 0) throw new WharfError('RESOURCE_UNKNOWN', `${project}${version === undefined ? '' : ` ${version}`} is not in repository ${repository}`);
    return { files: n };
  }
}

function fileExists(filename: string): WharfError {
  return new WharfError('PYPI_FILE_EXISTS', `File already exists (${filename}): files are immutable; upload a new version`, { filename });
}
