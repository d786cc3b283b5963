import { WharfError } from '../../errors/wharf-error.js';
import type { ImageNode, ImageStore } from '../../storage/metadata/image-store.js';
import type { RepositoryFormat, RepositorySettings, RepositorySettingsPatch, SqlRepositorySettingsStore } from '../../storage/metadata/repository-settings-store.js';
import { settingsView, type RepositorySettingsView } from './repository-settings.js';
import { namespacesOf, type NamespaceSettings, type SqlLifecycleStore, type TagEvent } from './sql-lifecycle-store.js';

/**
 * Repositories (issue 5): explicit repositories with their settings, tag history, image
 * listings and namespace settings. The HTTP routes (http/api/repository-routes.ts) call this; it
 * never knows HTTP.
 */
export interface LifecycleServiceOptions {
  settings: SqlRepositorySettingsStore;
  store: SqlLifecycleStore;
  images: Pick<ImageStore, 'imageGraph'>;
}

export interface RepositoryView extends RepositorySettingsView {
  name: string;
  createdAt: string;
  /** oci (images, artifacts) or pypi (Python packages), fixed at creation */
  format: RepositoryFormat;
  usage: {
    storedBytes: number;
    quotaBytes: number | null;
    images: number;
    tags: number;
    /** quotas of the namespaces above the repository, with their usage */
    namespaces: { namespace: string; quotaBytes: number; usedBytes: number }[];
  };
  cleanupPolicy: { format: string; dryRun: boolean; updatedAt: string; updatedBy: string | null } | null;
}

export interface ImageView {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  tags: string[];
  /** manifest + config + layers; for an index, its children too */
  sizeBytes: number;
  pushedAt: string;
  lastPulledAt: string | null;
  /** child manifests (an index's platforms) */
  children: number;
  /** the manifest this one refers to (signature, SBOM, attestation) */
  subject: string | null;
}

export type RepositoryInput = RepositorySettingsPatch;

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export class LifecycleService {
  private readonly settings: SqlRepositorySettingsStore;
  private readonly store: SqlLifecycleStore;
  private readonly images: Pick<ImageStore, 'imageGraph'>;

  constructor(o: LifecycleServiceOptions) {
    this.settings = o.settings;
    this.store = o.store;
    this.images = o.images;
  }

  // --- repositories ---

  async createRepository(name: string, input: RepositoryInput, format: RepositoryFormat = 'oci'): Promise<RepositoryView> {
    const settings = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as RepositorySettings;
    if (!(await this.settings.createRepository(name, settings, format))) throw new WharfError('CONFLICT', `repository ${name} already exists`);
    return this.getRepository(name);
  }

  async getRepository(name: string): Promise<RepositoryView> {
    const row = await this.settings.findRepository(name);
    if (!row) throw unknownRepository(name);
    const [usage] = await this.store.usage([name]);
    const namespaces: RepositoryView['usage']['namespaces'] = [];
    for (const ns of await this.store.namespaces(namespacesOf(name))) {
      if (ns.quotaBytes !== null) namespaces.push({ namespace: ns.namespace, quotaBytes: ns.quotaBytes, usedBytes: await this.store.namespaceStoredBytes(ns.namespace) });
    }
    const policy = await this.store.getPolicy(name);
    const doc = policy ? (JSON.parse(policy.document) as { format: string; dryRun?: boolean }) : undefined;
    const view = settingsView(row.settings);
    return {
      name,
      createdAt: new Date(row.createdAt).toISOString(),
      format: row.format,
      ...view,
      usage: { storedBytes: usage?.storedBytes ?? 0, quotaBytes: view.quotaBytes, images: usage?.images ?? 0, tags: usage?.tags ?? 0, namespaces },
      cleanupPolicy:
        policy && doc ? { format: doc.format, dryRun: doc.dryRun === true, updatedAt: new Date(policy.updatedAt).toISOString(), updatedBy: policy.updatedBy } : null,
    };
  }

  /** Settings of the named repositories (a listing's page), in the order given; missing names are skipped. */
  async describeMany(names: readonly string[]): Promise<(RepositorySettingsView & { name: string })[]> {
    const all = await this.settings.findSettings(names);
    return names.filter((n) => all.has(n)).map((name) => ({ name, ...settingsView(all.get(name)) }));
  }

  async updateRepository(name: string, patch: RepositoryInput): Promise<RepositoryView> {
    if (!(await this.settings.updateSettings(name, patch))) throw unknownRepository(name);
    return this.getRepository(name);
  }

  async deleteRepository(name: string): Promise<void> {
    if (!(await this.settings.deleteRepository(name))) throw unknownRepository(name);
  }

  async tagHistory(name: string, q: { tag?: string; before?: number; limit: number }): Promise<{ items: (Omit<TagEvent, 'at'> & { at: string })[]; next?: number }> {
    await this.mustExist(name);
    const events = await this.store.tagHistory(name, { ...q, limit: q.limit + 1 });
    const more = events.length > q.limit;
    const items = events.slice(0, q.limit).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
    return more ? { items, next: items[items.length - 1]!.id } : { items };
  }

  /** Every manifest of the repository, newest first (or in digest order after `after`). */
  async listImages(name: string, q: { limit: number; after?: string; tagged?: boolean }): Promise<{ items: ImageView[]; more: boolean }> {
    await this.mustExist(name);
    const graph = await this.images.imageGraph(name);
    const sizes = imageSizes(graph);
    let nodes = [...graph].sort((a, b) => b.createdAt - a.createdAt || (a.digest < b.digest ? -1 : 1));
    if (q.tagged !== undefined) nodes = nodes.filter((n) => (n.tags.length > 0) === q.tagged);
    if (q.after !== undefined) {
      const i = nodes.findIndex((n) => n.digest === q.after);
      nodes = i < 0 ? [] : nodes.slice(i + 1);
    }
    const page = nodes.slice(0, q.limit);
    return {
      items: page.map((n) => ({
        digest: n.digest,
        mediaType: n.mediaType,
        artifactType: n.artifactType,
        tags: n.tags,
        sizeBytes: sizes.get(n.digest) ?? n.size,
        pushedAt: new Date(n.createdAt).toISOString(),
        lastPulledAt: iso(n.lastPulledAt),
        children: n.children.length,
        subject: n.subjectDigest,
      })),
      more: nodes.length > q.limit,
    };
  }

  /** The repository's settings; RESOURCE_UNKNOWN when it does not exist. */
  async mustExist(name: string): Promise<RepositorySettings> {
    const s = (await this.settings.findSettings([name])).get(name);
    if (!s) throw unknownRepository(name);
    return s;
  }

  // --- namespaces ---

  async getNamespace(namespace: string): Promise<NamespaceSettings & { usedBytes: number }> {
    const [ns] = await this.store.namespaces([namespace]);
    if (!ns) throw new WharfError('RESOURCE_UNKNOWN', `namespace ${namespace} has no settings`);
    return { ...ns, usedBytes: await this.store.namespaceStoredBytes(namespace) };
  }

  async putNamespace(namespace: string, patch: { quotaBytes?: number | null; createOnPush?: boolean | null }, by: string): Promise<NamespaceSettings & { usedBytes: number }> {
    await this.store.putNamespace(namespace, patch, by);
    return this.getNamespace(namespace);
  }

  async deleteNamespace(namespace: string): Promise<void> {
    if (!(await this.store.deleteNamespace(namespace))) throw new WharfError('RESOURCE_UNKNOWN', `namespace ${namespace} has no settings`);
  }

  async listNamespaces(): Promise<(NamespaceSettings & { usedBytes: number })[]> {
    const out = [];
    for (const ns of await this.store.listNamespaces()) out.push({ ...ns, usedBytes: await this.store.namespaceStoredBytes(ns.namespace) });
    return out;
  }
}

export function unknownRepository(name: string): WharfError {
  return new WharfError('RESOURCE_UNKNOWN', `repository ${name} does not exist`);
}

/** Size of each manifest as a pull sees it: itself, its blobs, and (an index) its children's sizes. */
function imageSizes(graph: readonly ImageNode[]): Map<string, number> {
  const byDigest = new Map(graph.map((n) => [n.digest, n]));
  const memo = new Map<string, number>();
  const size = (n: ImageNode, depth: number): number => {
    const known = memo.get(n.digest);
    if (known !== undefined) return known;
    let total = n.size + n.blobs.reduce((s, b) => s + b.size, 0);
    if (depth < 8) for (const c of n.children) total += byDigest.has(c) ? size(byDigest.get(c)!, depth + 1) : 0;
    memo.set(n.digest, total);
    return total;
  };
  for (const n of graph) size(n, 0);
  return memo;
}
