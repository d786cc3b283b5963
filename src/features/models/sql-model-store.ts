/**
 * The models feature's rows (models-tables.ts): one per model manifest per repository. `save`
 * replaces the row (extraction is idempotent); `search` filters on the indexed columns and pages
 * by (repository, digest).
 */
import type { Kysely } from 'kysely';
import type { ModelsTables } from './models-tables.js';

export type ModelRow = ModelsTables['models'];
export type ModelFileRow = ModelsTables['model_files'];

export interface ModelSearch {
  architecture?: string;
  format?: string;
  license?: string;
  /** substring of the repository or model name */
  query?: string;
  minParameters?: number;
  maxParameters?: number;
  /** page after this "repository@digest" */
  after?: string;
  limit: number;
}

export class SqlModelStore {
  private readonly db: Kysely<ModelsTables>;

  constructor(db: Kysely<any>) {
    this.db = db as Kysely<ModelsTables>;
  }

  /** Replaces the row and its weight files in one transaction. */
  async save(row: ModelRow, files: Omit<ModelFileRow, 'repository' | 'digest'>[] = []): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await new SqlModelStore(tx).saveRow(row);
      await tx.deleteFrom('model_files').where('repository', '=', row.repository).where('digest', '=', row.digest).execute();
      if (files.length > 0) await tx.insertInto('model_files').values(files.map((f) => ({ ...f, repository: row.repository, digest: row.digest }))).execute();
    });
  }

  /** Model weight files whose content digest is one of `fileDigests`. */
  async findFiles(fileDigests: readonly string[]): Promise<ModelFileRow[]> {
    if (fileDigests.length === 0) return [];
    return this.db.selectFrom('model_files').selectAll().where('file_digest', 'in', [...fileDigests]).orderBy('repository').orderBy('digest').orderBy('path').execute();
  }

  private async saveRow(row: ModelRow): Promise<void> {
    const { repository: _r, digest: _d, tag, ...rest } = row;
    // a re-extraction without a tag keeps the tag recorded at push
    await this.db
      .insertInto('models')
      .values(row)
      .onConflict((oc) => oc.columns(['repository', 'digest']).doUpdateSet(tag === null ? rest : { ...rest, tag }))
      .execute();
  }

  async find(repository: string, digest: string): Promise<ModelRow | undefined> {
    return this.db.selectFrom('models').selectAll().where('repository', '=', repository).where('digest', '=', digest).executeTakeFirst();
  }

  async delete(repository: string, digest: string): Promise<void> {
    await this.db.deleteFrom('model_files').where('repository', '=', repository).where('digest', '=', digest).execute();
    await this.db.deleteFrom('models').where('repository', '=', repository).where('digest', '=', digest).execute();
  }

  /** Rows matching the filters, ordered by repository then digest (the caller filters what it may see). */
  async search(s: ModelSearch): Promise<ModelRow[]> {
    let q = this.db.selectFrom('models').selectAll();
    if (s.architecture !== undefined) q = q.where((eb) => eb(eb.fn('lower', ['architecture']), '=', s.architecture!.toLowerCase()));
    if (s.format !== undefined) q = q.where((eb) => eb.or([eb('format', '=', s.format!), eb('weight_format', '=', s.format!)]));
    if (s.license !== undefined) q = q.where((eb) => eb(eb.fn('lower', ['license']), '=', s.license!.toLowerCase()));
    if (s.minParameters !== undefined) q = q.where('parameters', '>=', s.minParameters);
    if (s.maxParameters !== undefined) q = q.where('parameters', '<=', s.maxParameters);
    if (s.query !== undefined) {
      // % and _ in the query act as LIKE wildcards: harmless in a search box
      const like = `%${s.query.toLowerCase()}%`;
      q = q.where((eb) => eb.or([eb(eb.fn('lower', ['repository']), 'like', like), eb(eb.fn('lower', ['name']), 'like', like)]));
    }
    if (s.after !== undefined) {
      const at = s.after.lastIndexOf('@');
      const repo = at === -1 ? s.after : s.after.slice(0, at);
      const digest = at === -1 ? '' : s.after.slice(at + 1);
      q = q.where((eb) => eb.or([eb('repository', '>', repo), eb.and([eb('repository', '=', repo), eb('digest', '>', digest)])]));
    }
    return q.orderBy('repository').orderBy('digest').limit(s.limit).execute();
  }
}
