/**
 * ImageStore over the metadata DB. deleteManifestIf locks the manifest (PostgreSQL: FOR UPDATE)
 * and then, in new statements that see every commit made while it waited, checks that no
 * manifest of the repository lists it, that its tags are what the caller's decision saw and
 * (when asked) that it is not a referrer of a subject still present. A manifest PUT that reuses
 * the manifest or lists it as a child locks it FOR SHARE (sql-metadata-store.ts), so it either
 * committed before (and the checks see it) or waits and finds the manifest gone. SQLite runs
 * each transaction alone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely, Transaction } from 'kysely';
import { dbErrorKind } from './db-errors.js';
import type { ConditionalDelete, ConditionalDeleteResult, ImageNode, ImageStore } from './image-store.js';
import type { SqlDialectName } from './migrations.js';
import type { Database } from './schema.js';

const TX_ATTEMPTS = 8;

export class SqlImageStore implements ImageStore {
  private readonly pg: boolean;

  constructor(
    private readonly db: Kysely<Database>,
    dialect: SqlDialectName,
    private readonly now: () => number = Date.now,
  ) {
    this.pg = dialect === 'postgres';
  }

  private async tx<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute(fn);
      } catch (e) {
        if (dbErrorKind(e) !== 'retry' || attempt >= TX_ATTEMPTS) throw e;
        await sleep(Math.random() * 10 * 2 ** attempt);
      }
    }
  }

  async listRepositoryNames(): Promise<string[]> {
    return (await this.db.selectFrom('repositories').select('name').orderBy('name').execute()).map((r) => r.name);
  }

  async imageGraph(repository: string): Promise<ImageNode[]> {
    const repo = await this.db.selectFrom('repositories').select('id').where('name', '=', repository).executeTakeFirst();
    if (!repo) return [];
    const manifests = await this.db
      .selectFrom('manifests')
      .select(['id', 'digest', 'media_type', 'artifact_type', 'subject_digest', 'size', 'created_at', 'last_pulled_at', 'last_pushed_at'])
      .where('repository_id', '=', repo.id)
      .execute();
    const nodes = new Map<number, ImageNode>();
    const byDigest = new Map<string, ImageNode>();
    for (const m of manifests) {
      const node: ImageNode = {
        digest: m.digest,
        mediaType: m.media_type,
        artifactType: m.artifact_type,
        subjectDigest: m.subject_digest,
        size: Number(m.size),
        createdAt: Number(m.created_at),
        lastPushedAt: Math.max(Number(m.created_at), Number(m.last_pushed_at ?? 0)),
        lastPulledAt: m.last_pulled_at === null ? null : Number(m.last_pulled_at),
        tags: [],
        children: [],
        blobs: [],
      };
      nodes.set(Number(m.id), node);
      byDigest.set(m.digest, node);
    }
    for (const t of await this.db.selectFrom('tags').select(['name', 'digest']).where('repository_id', '=', repo.id).orderBy('name').execute()) {
      byDigest.get(t.digest)?.tags.push(t.name);
    }
    const refs = await this.db
      .selectFrom('manifest_references as mr')
      .innerJoin('manifests as m', 'm.id', 'mr.manifest_id')
      .leftJoin('blobs as b', 'b.digest', 'mr.child_digest')
      .select(['mr.manifest_id', 'mr.child_digest', 'mr.kind', 'b.size'])
      .where('m.repository_id', '=', repo.id)
      .execute();
    for (const r of refs) {
      const node = nodes.get(Number(r.manifest_id));
      if (!node) continue;
      if (r.kind === 'manifest') node.children.push(r.child_digest);
      else node.blobs.push({ digest: r.child_digest, size: Number(r.size ?? 0) });
    }
    return [...nodes.values()];
  }

  async deleteManifestIf(repository: string, digest: string, condition: ConditionalDelete): Promise<ConditionalDeleteResult> {
    return this.tx(async (trx) => {
      const repo = await trx.selectFrom('repositories').select('id').where('name', '=', repository).executeTakeFirst();
      if (!repo) return 'gone';
      let q = trx.selectFrom('manifests').select(['id', 'subject_digest', 'created_at', 'last_pushed_at']).where('repository_id', '=', repo.id).where('digest', '=', digest);
      if (this.pg) q = q.forUpdate();
      const m = await q.executeTakeFirst();
      if (!m) return 'gone';
      if (condition.pushedBefore !== undefined && Math.max(Number(m.created_at), Number(m.last_pushed_at ?? 0)) >= condition.pushedBefore) return 'changed';
      const parent = await trx
        .selectFrom('manifest_references as mr')
        .innerJoin('manifests as p', 'p.id', 'mr.manifest_id')
        .select('p.id')
        .where('p.repository_id', '=', repo.id)
        .where('mr.child_digest', '=', digest)
        .where('mr.kind', '=', 'manifest')
        .where('p.id', '<>', m.id)
        .limit(1)
        .executeTakeFirst();
      if (parent) return 'referenced';
      if (condition.keepReferrerOfPresentSubject && m.subject_digest !== null) {
        const subject = await trx.selectFrom('manifests').select('id').where('repository_id', '=', repo.id).where('digest', '=', m.subject_digest).executeTakeFirst();
        if (subject) return 'referenced';
      }
      const tags = (await trx.selectFrom('tags').select('name').where('repository_id', '=', repo.id).where('digest', '=', digest).execute()).map((t) => t.name);
      if (condition.expectTags !== undefined && !sameSet(tags, condition.expectTags)) return 'changed';
      if (tags.length > 0) {
        await trx.deleteFrom('tags').where('repository_id', '=', repo.id).where('digest', '=', digest).execute();
        const at = this.now();
        await trx
          .insertInto('tag_events')
          .values(tags.map((tag) => ({ repository_id: repo.id, tag, old_digest: digest, new_digest: null, at })))
          .execute();
      }
      await trx.deleteFrom('manifest_references').where('manifest_id', '=', m.id).execute();
      await trx.deleteFrom('manifests').where('id', '=', m.id).execute();
      return 'deleted';
    });
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sb = new Set(b);
  return a.length === sb.size && a.every((x) => sb.has(x));
}

