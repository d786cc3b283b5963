/**
 * The PyPI feature's table (pypi_files, migration 0030_pypi) over the metadata DB's connection.
 * A row names a blob its repository links; the bytes live in the blob store like any layer.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import { dbErrorKind } from '../../storage/metadata/db-errors.js';
import type { PypiFilesTable } from '../../storage/metadata/pypi-schema.js';
import type { Database } from '../../storage/metadata/schema.js';

export interface PypiFileRecord {
  project: string;
  displayName: string;
  version: string;
  filename: string;
  packagetype: 'bdist_wheel' | 'sdist';
  digest: string;
  size: number;
  requiresPython: string | null;
  summary: string | null;
  metadataSha256: string | null;
  yankedReason: string | null;
  uploadedBy: string;
  uploadedAt: number;
}

export interface NewPypiFile extends Omit<PypiFileRecord, 'yankedReason' | 'metadataSha256'> {
  metadata: Uint8Array | null;
  metadataSha256: string | null;
}

const COLUMNS = [
  'f.project',
  'f.display_name',
  'f.version',
  'f.filename',
  'f.packagetype',
  'f.digest',
  'f.size',
  'f.requires_python',
  'f.summary',
  'f.metadata_sha256',
  'f.yanked_reason',
  'f.uploaded_by',
  'f.uploaded_at',
] as const;

/** what COLUMNS select */
type Row = Omit<Selectable<PypiFilesTable>, 'id' | 'repository_id' | 'metadata'>;

function record(r: Row): PypiFileRecord {
  return {
    project: r.project,
    displayName: r.display_name,
    version: r.version,
    filename: r.filename,
    packagetype: r.packagetype === 'sdist' ? 'sdist' : 'bdist_wheel',
    digest: r.digest,
    size: Number(r.size),
    requiresPython: r.requires_python,
    summary: r.summary,
    metadataSha256: r.metadata_sha256,
    yankedReason: r.yanked_reason,
    uploadedBy: r.uploaded_by,
    uploadedAt: Number(r.uploaded_at),
  };
}

export class SqlPypiStore {
  constructor(private readonly db: Kysely<Database>) {}

  private files(repository: string) {
    return this.db
      .selectFrom('pypi_files as f')
      .innerJoin('repositories as r', 'r.id', 'f.repository_id')
      .where('r.name', '=', repository);
  }

  /** false when a file of that name is already in the repository (nothing changed). */
  async insertFile(repository: string, file: NewPypiFile): Promise<boolean> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        const repo = await trx.selectFrom('repositories').select('id').where('name', '=', repository).executeTakeFirst();
        if (!repo) return false;
        await trx
          .insertInto('pypi_files')
          .values({
            repository_id: repo.id,
            project: file.project,
            display_name: file.displayName,
            version: file.version,
            filename: file.filename,
            packagetype: file.packagetype,
            digest: file.digest,
            size: file.size,
            requires_python: file.requiresPython,
            summary: file.summary,
            metadata: file.metadata,
            metadata_sha256: file.metadataSha256,
            yanked_reason: null,
            uploaded_by: file.uploadedBy,
            uploaded_at: file.uploadedAt,
          })
          .execute();
        await bump(trx, repo.id, file.project);
        return true;
      });
    } catch (e) {
      if (dbErrorKind(e) === 'unique') return false;
      throw e;
    }
  }

  /** The project's generation (pypi_projects), bumped by every change of its files; 0 when it has none recorded. */
  async projectGeneration(repository: string, project: string): Promise<number> {
    const row = await this.db
      .selectFrom('pypi_projects as p')
      .innerJoin('repositories as r', 'r.id', 'p.repository_id')
      .select('p.generation')
      .where('r.name', '=', repository)
      .where('p.project', '=', project)
      .executeTakeFirst();
    return row ? Number(row.generation) : 0;
  }

  async findFile(repository: string, filename: string): Promise<PypiFileRecord | undefined> {
    const row = await this.files(repository).select(COLUMNS).where('f.filename', '=', filename).executeTakeFirst();
    return row && record(row);
  }

  async fileMetadata(repository: string, filename: string): Promise<Buffer | undefined> {
    const row = await this.files(repository).select('f.metadata').where('f.filename', '=', filename).executeTakeFirst();
    return row?.metadata ? Buffer.from(row.metadata) : undefined;
  }

  /** Files of a project (normalized name), by upload time. */
  async projectFiles(repository: string, project: string): Promise<PypiFileRecord[]> {
    const rows = await this.files(repository).select(COLUMNS).where('f.project', '=', project).orderBy('f.uploaded_at').orderBy('f.filename').execute();
    return rows.map(record);
  }

  /** Every project of the repository: normalized and display name (of the latest upload). */
  async projects(repository: string): Promise<{ project: string; displayName: string; files: number; latestUploadAt: number }[]> {
    const rows = await this.files(repository)
      .select(['f.project', (eb) => eb.fn.max('f.display_name').as('display_name'), (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.max('f.uploaded_at').as('latest')])
      .groupBy('f.project')
      .orderBy('f.project')
      .execute();
    return rows.map((r) => ({ project: r.project, displayName: String(r.display_name), files: Number(r.n), latestUploadAt: Number(r.latest) }));
  }

  /** Sets (reason: string) or clears (null) the yank of every file of a version; the count changed. */
  async setYanked(repository: string, project: string, version: string, reason: string | null): Promise<number> {
    return this.changeFiles(repository, project, async (trx, repoId) => {
      const r = await trx.updateTable('pypi_files').set({ yanked_reason: reason }).where('repository_id', '=', repoId).where('project', '=', project).where('version', '=', version).executeTakeFirst();
      return Number(r.numUpdatedRows);
    });
  }

  /** Deletes the files of a project (or of one version); their blob links stay until GC finds them unreferenced. */
  async deleteFiles(repository: string, project: string, version?: string): Promise<number> {
    return this.changeFiles(repository, project, async (trx, repoId) => {
      let q = trx.deleteFrom('pypi_files').where('repository_id', '=', repoId).where('project', '=', project);
      if (version !== undefined) q = q.where('version', '=', version);
      return Number((await q.executeTakeFirst()).numDeletedRows);
    });
  }

  /** Runs `change` and bumps the project's generation in one transaction when it changed rows. */
  private async changeFiles(repository: string, project: string, change: (trx: Transaction<Database>, repoId: number) => Promise<number>): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const repo = await trx.selectFrom('repositories').select('id').where('name', '=', repository).executeTakeFirst();
      if (!repo) return 0;
      const n = await change(trx, repo.id);
      if (n > 0) await bump(trx, repo.id, project);
      return n;
    });
  }
}

/** generation + 1 (or 1) for the project, in the caller's transaction */
async function bump(trx: Transaction<Database>, repositoryId: number, project: string): Promise<void> {
  await trx
    .insertInto('pypi_projects')
    .values({ repository_id: repositoryId, project, generation: 1 })
    .onConflict((oc) => oc.columns(['repository_id', 'project']).doUpdateSet((eb) => ({ generation: eb('pypi_projects.generation', '+', 1) })))
    .execute();
}
