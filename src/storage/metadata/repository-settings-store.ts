/**
 * Per-repository settings: the JSON object in repositories.settings (migration 0001). Kept apart
 * from SqlMetadataStore so the push/pull path stays small; today it holds `public` (anonymous
 * pull, issue 3), later issues add keys. Unknown keys are preserved on update.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export type RepositorySettings = Record<string, unknown> & { public?: boolean };

export interface RepositorySettingsStore {
  /** Settings of each named repository that exists (absent names are absent from the map). */
  findSettings(names: readonly string[]): Promise<Map<string, RepositorySettings>>;
  /** Names among `names` whose settings say public: true. */
  publicAmong(names: readonly string[]): Promise<Set<string>>;
  /** Merges `patch` into the settings; undefined when the repository does not exist. */
  updateSettings(name: string, patch: RepositorySettings): Promise<RepositorySettings | undefined>;
}

export class SqlRepositorySettingsStore implements RepositorySettingsStore {
  constructor(private readonly db: Kysely<Database>) {}

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

  async publicAmong(names: readonly string[]): Promise<Set<string>> {
    const settings = await this.findSettings(names);
    return new Set([...settings].filter(([, s]) => s.public === true).map(([n]) => n));
  }

  async updateSettings(name: string, patch: RepositorySettings): Promise<RepositorySettings | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('repositories').select('settings').where('name', '=', name).executeTakeFirst();
      if (!row) return undefined;
      const next = { ...parseSettings(row.settings), ...patch };
      await trx.updateTable('repositories').set({ settings: JSON.stringify(next) }).where('name', '=', name).execute();
      return next;
    });
  }
}

function parseSettings(text: string): RepositorySettings {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as RepositorySettings) : {};
  } catch {
    return {};
  }
}
