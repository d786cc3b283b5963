/**
 * Per-repository settings: the JSON object in repositories.settings (migration 0001). Kept apart
 * from SqlMetadataStore so the push/pull path stays small. Keys (validated by the lifecycle
 * feature before they get here, features/lifecycle/repository-settings.ts): `public` (anonymous
 * pull, issue 3), `description`, `labels`, `immutableTags` + `immutableTagExclusions`,
 * `quotaBytes`, `scanOnPush` (issue 5). Unknown keys are preserved on update.
 *
 * Also the repository rows themselves for the management API: explicit create and delete.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export type RepositorySettings = Record<string, unknown> & {
  public?: boolean;
  description?: string;
  labels?: Record<string, string>;
  immutableTags?: boolean;
  /** tags matching one of these globs (`*`, `?`) stay mutable in an immutable-tag repository */
  immutableTagExclusions?: string[];
  quotaBytes?: number;
  scanOnPush?: boolean;
  /** build file indexes (zTOCs) of pushed images (issue 12) */
  indexOnPush?: boolean;
};

/** A patch: a key set to null is removed (back to its default). */
export type RepositorySettingsPatch = { [K in keyof RepositorySettings]?: RepositorySettings[K] | null };

/** What a repository holds, chosen at creation (issue 17): OCI images and artifacts, or Python packages. */
export type RepositoryFormat = 'oci' | 'pypi';
export const REPOSITORY_FORMATS: readonly RepositoryFormat[] = ['oci', 'pypi'];

export interface RepositoryRow {
  name: string;
  createdAt: number;
  format: RepositoryFormat;
  settings: RepositorySettings;
}

export interface RepositorySettingsStore {
  /** Settings of each named repository that exists (absent names are absent from the map). */
  findSettings(names: readonly string[]): Promise<Map<string, RepositorySettings>>;
  /** Names among `names` whose settings say public: true. */
  publicAmong(names: readonly string[]): Promise<Set<string>>;
  /** Merges `patch` into the settings; undefined when the repository does not exist. */
  updateSettings(name: string, patch: RepositorySettingsPatch): Promise<RepositorySettings | undefined>;
}

/** attempts of a compare-and-set settings update that keeps losing to concurrent updates */
const CAS_ATTEMPTS = 20;

export class SqlRepositorySettingsStore implements RepositorySettingsStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async findSettings(names: readonly string[]): Promise<Map<string, RepositorySettings>> {
    const out = new Map<string, RepositorySettings>();
    const unique = [...new Set(names)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom('repositories')
        .select(['name', 'settings'])
        .where('name', 'in', unique.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.name, parseSettings(r.settings));
    }
    return out;
  }

  async findRepository(name: string): Promise<RepositoryRow | undefined> {
    const row = await this.db.selectFrom('repositories').select(['name', 'settings', 'created_at', 'format']).where('name', '=', name).executeTakeFirst();
    return row && { name: row.name, createdAt: Number(row.created_at), format: row.format as RepositoryFormat, settings: parseSettings(row.settings) };
  }

  /** The repository's format; undefined when it does not exist. */
  async findFormat(name: string): Promise<RepositoryFormat | undefined> {
    const row = await this.db.selectFrom('repositories').select('format').where('name', '=', name).executeTakeFirst();
    return row?.format as RepositoryFormat | undefined;
  }

  async publicAmong(names: readonly string[]): Promise<Set<string>> {
    const settings = await this.findSettings(names);
    return new Set([...settings].filter(([, s]) => s.public === true).map(([n]) => n));
  }

  /** Whether pushes to the repository should be scanned (the scan feature asks); false when it does not exist. */
  async scanOnPush(name: string): Promise<boolean> {
    return (await this.findSettings([name])).get(name)?.scanOnPush === true;
  }

  /**
   * A compare-and-set on the settings text: two concurrent updates of different keys both land
   * (the loser reads again and re-applies its patch), on SQLite and PostgreSQL alike.
   */
  async updateSettings(name: string, patch: RepositorySettingsPatch): Promise<RepositorySettings | undefined> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const row = await this.db.selectFrom('repositories').select('settings').where('name', '=', name).executeTakeFirst();
      if (!row) return undefined;
      const next = applyPatch(parseSettings(row.settings), patch);
      const r = await this.db
        .updateTable('repositories')
        .set({ settings: JSON.stringify(next) })
        .where('name', '=', name)
        .where('settings', '=', row.settings)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return next;
    }
    throw Object.assign(new Error(`settings of ${name} keep changing`), { code: '40001' });
  }

  /** Creates the repository with its settings and format; false when it already exists (nothing changed). */
  async createRepository(name: string, settings: RepositorySettings, format: RepositoryFormat = 'oci'): Promise<boolean> {
    const inserted = await this.db
      .insertInto('repositories')
      .values({ name, kind: 'hosted', format, settings: JSON.stringify(applyPatch({}, settings)), created_at: this.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  /**
   * Deletes the repository row; its manifests, tags, tag history, blob links and the lifecycle
   * rows go with it (ON DELETE CASCADE). The blobs themselves stay until GC finds them
   * unreferenced. false when it did not exist.
   */
  async deleteRepository(name: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('repositories').select('id').where('name', '=', name).executeTakeFirst();
      if (!row) return false;
      // manifest_references cascade from manifests; spelled out so neither dialect depends on
      // the order in which it runs nested cascades
      await trx
        .deleteFrom('manifest_references')
        .where('manifest_id', 'in', trx.selectFrom('manifests').select('id').where('repository_id', '=', row.id))
        .execute();
      await trx.deleteFrom('repositories').where('id', '=', row.id).execute();
      return true;
    });
  }
}

function applyPatch(base: RepositorySettings, patch: RepositorySettingsPatch): RepositorySettings {
  const next: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete next[k];
    else if (v !== undefined) next[k] = v;
  }
  return next as RepositorySettings;
}

function parseSettings(text: string): RepositorySettings {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as RepositorySettings) : {};
  } catch {
    return {};
  }
}
