/**
 * The contract every MetadataStore backend must honour (src/storage/metadata/metadata-store.ts).
 * Nothing here is specific to one SQL dialect: states the interface cannot produce (dangling tags,
 * many rows at once) are set up through the Kysely instance, whose schema both dialects share.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { MediaTypes } from '../../src/domain/media-types.js';
import { WharfError } from '../../src/errors/wharf-error.js';
import type { MetadataStore, NewManifest, Page, PageRequest } from '../../src/storage/metadata/metadata-store.js';
import type { Database } from '../../src/storage/metadata/schema.js';

export interface MetadataStoreFixture {
  /** migrated, empty, reading time from the `now` the factory was given */
  store: MetadataStore;
  db: Kysely<Database>;
  /** deletes a blob row behind the foreign keys' back (what fsck must find); omit if impossible */
  deleteBlobRowUnchecked?(digest: string): Promise<void>;
  cleanup(): Promise<void>;
}

const isCode = (code: string) => (err: unknown) => err instanceof WharfError && err.code === code;
const dg = (s: string): Digest => digestOf(Buffer.from(s));
const byteOrder = (xs: string[]): string[] => [...xs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

function manifest(repository: string, seed: string, fields: Partial<NewManifest> = {}): NewManifest {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, seed }));
  return { repository, digest: digestOf(content), mediaType: MediaTypes.ociManifest, content, references: [], ...fields };
}

async function allPages(list: (p: PageRequest) => Promise<Page<string>>, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = await list({ limit, after });
    pages.push(page.items);
    assert.ok(page.items.length <= limit);
    if (!page.more) return pages;
    assert.equal(page.items.length, limit, 'a page with more after it is full');
    after = page.items.at(-1);
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function describeMetadataStore(name: string, factory: (now: () => number) => Promise<MetadataStoreFixture>): void {
  describe(`MetadataStore conformance: ${name}`, () => {
    const T0 = 1_700_000_000_000;
    let clock = T0;
    let fx: MetadataStoreFixture;
    let store: MetadataStore;
    beforeEach(async () => {
      clock = T0;
      fx = await factory(() => clock);
      store = fx.store;
    });
    afterEach(async () => fx.cleanup());

    const tagEvents = async (repository: string, tag: string) =>
      (
        await fx.db
          .selectFrom('tag_events as e')
          .innerJoin('repositories as r', 'r.id', 'e.repository_id')
          .select(['e.old_digest', 'e.new_digest'])
          .where('r.name', '=', repository)
          .where('e.tag', '=', tag)
          .orderBy('e.id')
          .execute()
      ).map((e) => [e.old_digest, e.new_digest]);

    test('ensureRepository is idempotent', async () => {
      assert.equal(await store.repositoryExists('a/b'), false);
      await store.ensureRepository('a/b');
      await store.ensureRepository('a/b');
      await Promise.all([1, 2, 3, 4, 5].map(() => store.ensureRepository('c')));
      assert.equal(await store.repositoryExists('a/b'), true);
      assert.deepEqual(await store.listRepositories({ limit: 10 }), { items: ['a/b', 'c'], more: false });
      await store.ping();
    });

    test('listRepositories pages in byte order', async () => {
      const names = ['b', 'a', 'a-b', 'a/b', 'a.b', 'a_b', 'a0', 'aB', 'B', 'Z', 'a/b/c', 'a-', 'ab', 'zz', 'a--b'];
      for (const n of names) await store.ensureRepository(n);
      const expected = byteOrder(names);
      assert.deepEqual(expected.slice(0, 4), ['B', 'Z', 'a', 'a-']);
      for (const limit of [1, 4, 5, 15, 100]) {
        const pages = await allPages((p) => store.listRepositories(p), limit);
        assert.deepEqual(pages.flat(), expected, `limit ${limit}`);
        assert.equal(pages.length, Math.max(1, Math.ceil(names.length / limit)), `limit ${limit}: no trailing empty page`);
      }
      assert.deepEqual(await store.listRepositories({ limit: 3, after: 'a.' }), { items: ['a.b', 'a/b', 'a/b/c'], more: true });
      assert.deepEqual(await store.listRepositories({ limit: 3, after: 'zz' }), { items: [], more: false });
      assert.deepEqual(await store.listRepositories({ limit: 2, after: 'ab' }), { items: ['b', 'zz'], more: false });
    });

    test('commitBlob records the blob, links it and closes the upload', async () => {
      const d = dg('layer');
      await store.createUpload('u1', 'repo');
      clock = T0 + 5;
      await store.commitBlob('repo', d, 42, 'u1');
      assert.deepEqual(await store.findBlob(d), { digest: d, size: 42, createdAt: T0 + 5 });
      assert.deepEqual(await store.findRepositoryBlob('repo', d), { digest: d, size: 42, createdAt: T0 + 5 });
      assert.equal(await store.findUpload('u1'), undefined);
      clock = T0 + 10;
      await store.commitBlob('repo', d, 42);
      await store.commitBlob('other', d, 42);
      assert.equal((await store.findBlob(d))?.createdAt, T0 + 5, 're-committing keeps the first record');
      assert.ok(await store.findRepositoryBlob('other', d));
      assert.equal(await store.findBlob(dg('nope')), undefined);
    });

    test('a blob is readable only through repositories that link it', async () => {
      const d = dg('secret');
      await store.commitBlob('a', d, 1);
      await store.ensureRepository('b');
      assert.ok(await store.findRepositoryBlob('a', d));
      assert.equal(await store.findRepositoryBlob('b', d), undefined);
      assert.equal(await store.findRepositoryBlob('missing', d), undefined);
    });

    test('linkBlob mounts from a repository that links the blob, or any when none is named', async () => {
      const d = dg('shared');
      await store.commitBlob('a', d, 7);
      assert.equal(await store.linkBlob('b', d, 'c'), undefined, 'c does not link it');
      assert.equal(await store.linkBlob('b', d, 'nonexistent'), undefined);
      assert.equal(await store.findRepositoryBlob('b', d), undefined);
      assert.equal(await store.repositoryExists('b'), false, 'a refused mount creates nothing');
      assert.deepEqual(await store.linkBlob('b', d, 'a'), { digest: d, size: 7, createdAt: T0 });
      assert.ok(await store.findRepositoryBlob('b', d));
      assert.deepEqual(await store.linkBlob('c', d), { digest: d, size: 7, createdAt: T0 });
      assert.deepEqual(await store.linkBlob('c', d), { digest: d, size: 7, createdAt: T0 }, 'idempotent');
      assert.equal(await store.linkBlob('d', dg('unknown')), undefined);
      assert.equal(await store.repositoryExists('d'), false);
    });

    test('unlinkBlob', async () => {
      const d = dg('x');
      await store.commitBlob('a', d, 1);
      await store.commitBlob('b', d, 1);
      assert.equal(await store.unlinkBlob('a', d), true);
      assert.equal(await store.unlinkBlob('a', d), false);
      assert.equal(await store.unlinkBlob('zzz', d), false);
      assert.equal(await store.findRepositoryBlob('a', d), undefined);
      assert.ok(await store.findRepositoryBlob('b', d));
      assert.ok(await store.findBlob(d), 'the blob row stays for GC to decide');
    });

    test('putManifest refuses missing references, listing each, and changes nothing', async () => {
      await store.commitBlob('repo', dg('config'), 10);
      await store.commitBlob('elsewhere', dg('l2'), 20);
      const m = manifest('repo', 'm', {
        tag: 'v1',
        references: [
          { kind: 'config', digest: dg('config'), size: 10 },
          { kind: 'layer', digest: dg('l1'), size: 5 },
          { kind: 'layer', digest: dg('l2'), size: 20 },
        ],
      });
      await assert.rejects(store.putManifest(m), (e: unknown) => {
        assert.ok(isCode('MANIFEST_BLOB_UNKNOWN')(e));
        assert.deepEqual((e as WharfError).detail, [{ kind: 'layer', digest: dg('l1') }, { kind: 'layer', digest: dg('l2') }]);
        return true;
      });
      assert.equal(await store.findManifest('repo', m.digest), undefined);
      assert.equal(await store.findManifestByTag('repo', 'v1'), undefined);
      await assert.rejects(store.putManifest(manifest('fresh', 'f', { references: m.references })), isCode('MANIFEST_BLOB_UNKNOWN'));
      assert.equal(await store.repositoryExists('fresh'), false, 'the failed put rolled back');
    });

    test('putManifest refuses a reference whose size is wrong', async () => {
      await store.commitBlob('repo', dg('config'), 10);
      const m = manifest('repo', 'm', { tag: 't', references: [{ kind: 'config', digest: dg('config'), size: 11 }] });
      await assert.rejects(store.putManifest(m), isCode('MANIFEST_INVALID'));
      assert.equal(await store.findManifest('repo', m.digest), undefined);
      assert.deepEqual(await store.listTags('repo', { limit: 10 }), { items: [], more: false });
    });

    test('child manifests must be manifests of the same repository, with their size', async () => {
      const child = manifest('repo', 'child');
      await store.putManifest(child);
      await store.putManifest(manifest('other', 'other-child'));
      await store.commitBlob('repo', dg('a blob'), 3);
      const index = (refs: NewManifest['references']) => manifest('repo', `index ${JSON.stringify(refs)}`, { mediaType: MediaTypes.ociIndex, references: refs });
      const childRef = { kind: 'manifest' as const, digest: child.digest, size: child.content.length };
      await assert.rejects(store.putManifest(index([{ ...childRef, digest: manifest('x', 'other-child').digest }])), isCode('MANIFEST_BLOB_UNKNOWN'));
      await assert.rejects(store.putManifest(index([{ kind: 'manifest', digest: dg('a blob'), size: 3 }])), isCode('MANIFEST_BLOB_UNKNOWN'));
      await assert.rejects(
        store.putManifest(index([{ kind: 'layer', digest: dg('a blob'), size: 3 }, { kind: 'manifest', digest: dg('a blob'), size: 3 }])),
        (e: unknown) => isCode('MANIFEST_BLOB_UNKNOWN')(e) && JSON.stringify((e as WharfError).detail) === JSON.stringify([{ kind: 'manifest', digest: dg('a blob') }]),
      );
      await assert.rejects(
        store.putManifest(index([childRef, { ...childRef, kind: 'layer' }])),
        (e: unknown) => isCode('MANIFEST_BLOB_UNKNOWN')(e) && JSON.stringify((e as WharfError).detail) === JSON.stringify([{ kind: 'layer', digest: child.digest }]),
      );
      await assert.rejects(store.putManifest(index([{ ...childRef, size: childRef.size + 1 }])), isCode('MANIFEST_INVALID'));
      assert.deepEqual(await store.putManifest(index([childRef])), { created: true, previousTagDigest: undefined });
    });

    test('re-putting a manifest is idempotent; content, fields and references are kept exactly', async () => {
      await store.commitBlob('repo', dg('c'), 2);
      const m = manifest('repo', 'same', {
        artifactType: 'application/vnd.example+json',
        subjectDigest: dg('subject'),
        configDigest: dg('c'),
        annotations: JSON.parse('{"org.example":"v","__proto__":"x"}') as Record<string, string>,
        references: [{ kind: 'config', digest: dg('c'), size: 2 }, { kind: 'config', digest: dg('c'), size: 2 }],
        tag: 'one',
      });
      assert.equal((await store.putManifest(m)).created, true);
      clock = T0 + 1;
      assert.deepEqual(await store.putManifest(m), { created: false, previousTagDigest: undefined });
      assert.deepEqual(await store.putManifest({ ...m, tag: 'two' }), { created: false, previousTagDigest: undefined });
      const found = await store.findManifest('repo', m.digest);
      assert.ok(found);
      assert.ok(found.content.equals(m.content));
      assert.deepEqual({ ...found, content: undefined }, {
        repository: 'repo', digest: m.digest, mediaType: MediaTypes.ociManifest, artifactType: 'application/vnd.example+json',
        subjectDigest: dg('subject'), size: m.content.length, annotations: m.annotations, createdAt: T0, content: undefined,
      });
      assert.deepEqual(await tagEvents('repo', 'one'), [[null, m.digest]]);
      assert.equal((await store.findManifestByTag('repo', 'two'))?.digest, m.digest);
    });

    test('moving a tag reports and records the previous digest', async () => {
      const [m1, m2] = [manifest('repo', '1', { tag: 'latest' }), manifest('repo', '2', { tag: 'latest' })];
      assert.equal((await store.putManifest(m1)).previousTagDigest, undefined);
      assert.equal((await store.putManifest(m2)).previousTagDigest, m1.digest);
      assert.equal((await store.putManifest(m1)).previousTagDigest, m2.digest);
      assert.deepEqual(await tagEvents('repo', 'latest'), [[null, m1.digest], [m1.digest, m2.digest], [m2.digest, m1.digest]]);
      const found = await store.findManifestByTag('repo', 'latest');
      assert.equal(found?.digest, m1.digest);
      assert.ok(found?.content.equals(m1.content));
      assert.equal(await store.findManifestByTag('repo', 'nope'), undefined);
      assert.equal(await store.findManifestByTag('other', 'latest'), undefined);
      assert.equal(await store.findManifest('other', m1.digest), undefined);
    });

    test('deleteManifest removes it and every tag pointing to it', async () => {
      const [m1, m2] = [manifest('repo', '1', { tag: 'a' }), manifest('repo', '2', { tag: 'c' })];
      await store.putManifest(m1);
      await store.putManifest({ ...m1, tag: 'b' });
      await store.putManifest(m2);
      await store.putManifest({ ...manifest('other', '1'), tag: 'a' });
      assert.equal(await store.deleteManifest('repo', m1.digest), true);
      assert.equal(await store.deleteManifest('repo', m1.digest), false);
      assert.equal(await store.deleteManifest('nowhere', m1.digest), false);
      assert.equal(await store.findManifest('repo', m1.digest), undefined);
      assert.deepEqual((await store.listTags('repo', { limit: 10 })).items, ['c']);
      assert.deepEqual(await tagEvents('repo', 'b'), [[null, m1.digest], [m1.digest, null]]);
      assert.ok(await store.findManifestByTag('other', 'a'), 'other repositories are untouched');
      assert.deepEqual(await store.findDanglingTags(), []);
    });

    test('deleteTag', async () => {
      const m = manifest('repo', '1', { tag: 'a' });
      await store.putManifest(m);
      assert.equal(await store.deleteTag('repo', 'a'), true);
      assert.equal(await store.deleteTag('repo', 'a'), false);
      assert.equal(await store.deleteTag('nowhere', 'a'), false);
      assert.ok(await store.findManifest('repo', m.digest), 'the manifest stays');
      assert.equal(await store.findManifestByTag('repo', 'a'), undefined);
      assert.deepEqual(await tagEvents('repo', 'a'), [[null, m.digest], [m.digest, null]]);
    });

    test('listTags pages in byte order, per repository', async () => {
      const tags = ['latest', 'v1', 'V1', 'v1.0', 'v1-rc', 'v1_x', '_x', 'A', 'a', '0', 'v10', 'v1.0.1'];
      const m = manifest('repo', 'm');
      for (const tag of tags) await store.putManifest({ ...m, tag });
      await store.putManifest({ ...manifest('other', 'm'), tag: 'zz-other' });
      const expected = byteOrder(tags);
      for (const limit of [1, 5, 12, 50]) assert.deepEqual((await allPages((p) => store.listTags('repo', p), limit)).flat(), expected);
      assert.deepEqual(await store.listTags('repo', { limit: 2, after: 'v1' }), { items: ['v1-rc', 'v1.0'], more: true });
      assert.deepEqual(await store.listTags('nowhere', { limit: 2 }), { items: [], more: false });
    });

    test('listReferrers by subject, optionally filtered by artifactType', async () => {
      const subject = dg('subject');
      const sbom = manifest('repo', 'sbom', { subjectDigest: subject, artifactType: 'application/spdx+json' });
      const sig = manifest('repo', 'sig', { subjectDigest: subject, artifactType: 'application/vnd.dev.cosign' });
      const sbom2 = manifest('repo', 'sbom2', { subjectDigest: subject, artifactType: 'application/spdx+json', annotations: { k: 'v' } });
      await store.putManifest(sbom);
      await store.putManifest(sig);
      await store.putManifest(sbom2);
      await store.putManifest(manifest('repo', 'unrelated', { subjectDigest: dg('other'), artifactType: 'application/spdx+json' }));
      await store.putManifest(manifest('other', 'elsewhere', { subjectDigest: subject, artifactType: 'application/spdx+json' }));
      const all = await store.listReferrers('repo', subject);
      assert.deepEqual(all.map((r) => r.digest), [sbom.digest, sig.digest, sbom2.digest]);
      assert.deepEqual(all[2], {
        repository: 'repo', digest: sbom2.digest, mediaType: MediaTypes.ociManifest, artifactType: 'application/spdx+json',
        subjectDigest: subject, size: sbom2.content.length, annotations: { k: 'v' }, createdAt: T0,
      });
      assert.deepEqual((await store.listReferrers('repo', subject, 'application/spdx+json')).map((r) => r.digest), [sbom.digest, sbom2.digest]);
      assert.deepEqual(await store.listReferrers('repo', subject, 'application/none'), []);
      assert.deepEqual(await store.listReferrers('nowhere', subject), []);
    });

    test('uploads: create, find, compare-and-set advance, delete', async () => {
      assert.deepEqual(await store.createUpload('u1', 'repo'), { id: 'u1', repository: 'repo', size: 0, startedAt: T0, updatedAt: T0 });
      await assert.rejects(store.createUpload('u1', 'repo'));
      assert.deepEqual(await store.findUpload('u1'), { id: 'u1', repository: 'repo', size: 0, startedAt: T0, updatedAt: T0 });
      clock = T0 + 100;
      assert.equal(await store.advanceUpload('u1', 0, 10), true);
      assert.equal(await store.advanceUpload('u1', 0, 20), false, 'the second CAS from the same size loses');
      assert.deepEqual(await store.findUpload('u1'), { id: 'u1', repository: 'repo', size: 10, startedAt: T0, updatedAt: T0 + 100 });
      const racers = await Promise.all([30, 40, 50].map((to) => store.advanceUpload('u1', 10, to)));
      assert.equal(racers.filter(Boolean).length, 1);
      assert.equal(await store.advanceUpload('nope', 0, 1), false);
      await store.deleteUpload('u1');
      await store.deleteUpload('u1');
      assert.equal(await store.findUpload('u1'), undefined);
    });

    test('upload leases: one holder at a time, renewed and released only by it, taken over once expired', async () => {
      await store.createUpload('u1', 'repo');
      const racers = await Promise.all(['a', 'b', 'c', 'd'].map((owner) => store.leaseUpload('u1', owner, 1000)));
      assert.equal(racers.filter(Boolean).length, 1, 'exactly one of racing replicas gets it');
      const holder = ['a', 'b', 'c', 'd'][racers.indexOf(true)]!;
      const other = holder === 'a' ? 'b' : 'a';
      assert.equal(await store.leaseUpload('u1', other, 1000), false);
      assert.equal(await store.renewUploadLease('u1', other, 1000), false, 'only the holder renews');
      await store.releaseUploadLease('u1', other); // not the holder: no effect
      assert.equal(await store.leaseUpload('u1', other, 1000), false);
      clock = T0 + 900;
      assert.equal(await store.renewUploadLease('u1', holder, 1000), true);
      clock = T0 + 1500;
      assert.equal(await store.leaseUpload('u1', other, 1000), false, 'renewed until T0 + 1900');
      clock = T0 + 1900;
      assert.equal(await store.leaseUpload('u1', other, 1000), true, 'expired: taken over');
      assert.equal(await store.renewUploadLease('u1', holder, 1000), false, 'the old holder lost it');
      await store.releaseUploadLease('u1', other);
      await store.releaseUploadLease('u1', other);
      assert.equal(await store.leaseUpload('u1', holder, 1000), true, 'released: free again');
      assert.equal(await store.advanceUpload('u1', 0, 5), true, 'a lease does not stop the size moving');
      assert.equal(await store.leaseUpload('nope', holder, 1000), false);
      assert.equal(await store.renewUploadLease('nope', holder, 1000), false);
      await store.deleteUpload('u1');
      assert.equal(await store.renewUploadLease('u1', holder, 1000), false);
    });

    test('releaseUploadLeases frees the leases of one owner prefix, or all', async () => {
      for (const id of ['u1', 'u2', 'u3', 'u4']) await store.createUpload(id, 'repo');
      assert.equal(await store.leaseUpload('u1', 'host-a/1 x', 60_000), true);
      assert.equal(await store.leaseUpload('u2', 'host-a/1 y', 60_000), true);
      assert.equal(await store.leaseUpload('u3', 'host-a/10 z', 60_000), true);
      assert.equal(await store.leaseUpload('u4', 'h%_ w', 60_000), true);
      assert.equal(await store.releaseUploadLeases('host-a/1 '), 2);
      assert.equal(await store.leaseUpload('u1', 'other', 60_000), true);
      assert.equal(await store.leaseUpload('u2', 'other', 60_000), true);
      assert.equal(await store.leaseUpload('u3', 'other', 60_000), false, 'another prefix keeps its lease');
      assert.equal(await store.releaseUploadLeases('%'), 0, 'the prefix is literal, not a pattern');
      assert.equal(await store.releaseUploadLeases(''), 4);
      assert.equal(await store.leaseUpload('u3', 'other', 60_000), true);
    });

    test('listUploadsIdleSince lists uploads not touched since, oldest first', async () => {
      for (const [i, id] of ['u1', 'u2', 'u3'].entries()) {
        clock = T0 + i * 1000;
        await store.createUpload(id, 'repo');
      }
      clock = T0 + 3000;
      await store.advanceUpload('u1', 0, 5);
      assert.deepEqual((await store.listUploadsIdleSince(T0 + 2500, 10)).map((u) => u.id), ['u2', 'u3']);
      assert.deepEqual((await store.listUploadsIdleSince(T0 + 2500, 1)).map((u) => u.id), ['u2']);
      assert.deepEqual(await store.listUploadsIdleSince(T0 + 1000, 10), [], 'the bound is exclusive');
      assert.deepEqual((await store.listUploadsIdleSince(T0 + 5000, 10)).map((u) => [u.id, u.repository, u.size]), [['u2', 'repo', 0], ['u3', 'repo', 0], ['u1', 'repo', 5]]);
    });

    test('iterateBlobs and iterateManifests walk more than 1000 rows, each once', async () => {
      const digests = Array.from({ length: 2345 }, (_, i) => dg(`blob ${i}`));
      for (let i = 0; i < digests.length; i += 200) {
        await fx.db.insertInto('blobs').values(digests.slice(i, i + 200).map((digest, j) => ({ digest, size: i + j, created_at: T0 }))).execute();
      }
      const blobs = await collect(store.iterateBlobs());
      assert.equal(blobs.length, 2345);
      assert.deepEqual(blobs.map((b) => b.digest).sort(), [...digests].sort());
      assert.equal(blobs.find((b) => b.digest === digests[2000])?.size, 2000);

      await store.commitBlob('a', digests[0]!, 0);
      await store.putManifest(manifest('a', 'with refs', { references: [{ kind: 'layer', digest: digests[0]!, size: 0 }] }));
      await store.ensureRepository('b');
      const repoB = await fx.db.selectFrom('repositories').select('id').where('name', '=', 'b').executeTakeFirstOrThrow();
      const rows = Array.from({ length: 1234 }, (_, i) => manifest('b', `bulk ${i}`));
      for (let i = 0; i < rows.length; i += 100) {
        await fx.db
          .insertInto('manifests')
          .values(rows.slice(i, i + 100).map((m) => ({
            repository_id: Number(repoB.id), digest: m.digest, media_type: m.mediaType, artifact_type: null, subject_digest: null,
            config_digest: null, annotations: null, size: m.content.length, content: m.content, created_at: T0, last_pulled_at: null,
          })))
          .execute();
      }
      const manifests = await collect(store.iterateManifests());
      assert.equal(manifests.length, 1235);
      assert.equal(new Set(manifests.map((m) => `${m.repository} ${m.digest}`)).size, 1235);
      const withRefs = manifests.find((m) => m.repository === 'a');
      assert.deepEqual(withRefs?.references, [{ kind: 'layer', digest: digests[0] }]);
      const last = manifests.find((m) => m.digest === rows[1233]!.digest);
      assert.ok(last?.content.equals(rows[1233]!.content));
    });

    test('findDanglingTags and findLinksWithoutBlobs find what fsck must report', async () => {
      await store.commitBlob('a', dg('blob'), 1);
      await store.putManifest(manifest('a', 'm', { tag: 'ok' }));
      assert.deepEqual(await store.findDanglingTags(), []);
      assert.deepEqual(await store.findLinksWithoutBlobs(), []);
      const idA = await fx.db.selectFrom('repositories').select('id').where('name', '=', 'a').executeTakeFirstOrThrow();
      await store.ensureRepository('b');
      const idB = await fx.db.selectFrom('repositories').select('id').where('name', '=', 'b').executeTakeFirstOrThrow();
      await fx.db.insertInto('tags').values({ repository_id: Number(idA.id), name: 'gone', digest: dg('gone'), updated_at: T0 }).execute();
      // the manifest exists, but in repository a: a tag in b pointing to it dangles
      await fx.db.insertInto('tags').values({ repository_id: Number(idB.id), name: 'cross', digest: manifest('a', 'm').digest, updated_at: T0 }).execute();
      const dangling = await store.findDanglingTags();
      assert.deepEqual(
        dangling.sort((x, y) => x.tag.localeCompare(y.tag)),
        [{ repository: 'b', tag: 'cross', digest: manifest('a', 'm').digest }, { repository: 'a', tag: 'gone', digest: dg('gone') }],
      );
      if (fx.deleteBlobRowUnchecked) {
        await fx.deleteBlobRowUnchecked(dg('blob'));
        assert.deepEqual(await store.findLinksWithoutBlobs(), [{ repository: 'a', digest: dg('blob') }]);
      }
    });

    test('concurrent puts of one tag leave one value and a consistent history', async () => {
      const ms = Array.from({ length: 25 }, (_, i) => manifest('repo', `racer ${i}`, { tag: 'latest' }));
      await store.ensureRepository('repo');
      const results = await Promise.all(ms.map((m) => store.putManifest(m)));
      assert.ok(results.every((r) => r.created));
      const final = (await store.findManifestByTag('repo', 'latest'))?.digest;
      assert.ok(final && ms.some((m) => m.digest === final));
      const events = await tagEvents('repo', 'latest');
      assert.equal(events.length, 25, 'every put moved the tag once');
      assert.equal(events[0]?.[0], null);
      for (let i = 1; i < events.length; i++) assert.equal(events[i]?.[0], events[i - 1]?.[1], 'each move starts where the last ended');
      assert.equal(events.at(-1)?.[1], final);
      const reported = results.map((r, i) => [r.previousTagDigest ?? null, ms[i]!.digest]).sort();
      assert.deepEqual(reported, [...events].sort(), 'what each put reported is what was recorded');
    });

    test('concurrent puts of one manifest: one creates, none fails', async () => {
      const m = manifest('repo', 'same');
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.putManifest({ ...m, tag: `t${i}` })));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal((await store.listTags('repo', { limit: 20 })).items.length, 10);
    });

    test('concurrent commitBlob of one digest', async () => {
      const d = dg('popular');
      await Promise.all(['a', 'b', 'a', 'c', 'b', 'a'].map((repo) => store.commitBlob(repo, d, 99)));
      assert.deepEqual(await store.findBlob(d), { digest: d, size: 99, createdAt: T0 });
      for (const repo of ['a', 'b', 'c']) assert.ok(await store.findRepositoryBlob(repo, d), repo);
      assert.deepEqual((await store.listRepositories({ limit: 10 })).items, ['a', 'b', 'c']);
      assert.equal((await collect(store.iterateBlobs())).length, 1);
    });

    test('uploads created together land together; a duplicate id fails alone', async () => {
      const results = await Promise.allSettled(['u-a', 'u-b', 'u-dup', 'u-dup', 'u-c'].map((id) => store.createUpload(id, 'batch/repo')));
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
      );
      const failure = results[3] as PromiseRejectedResult;
      assert.ok(isCode('BLOB_UPLOAD_INVALID')(failure.reason), String(failure.reason));
      for (const id of ['u-a', 'u-b', 'u-dup', 'u-c']) assert.equal((await store.findUpload(id))?.repository, 'batch/repo', id);
    });

    test('many concurrent commitBlob calls each land, with their uploads closed', async () => {
      const commits = Array.from({ length: 60 }, (_, i) => ({ repo: `r${i % 4}`, digest: dg(`many-${i}`), size: i }));
      const uploads = await Promise.all(commits.map((c, i) => store.createUpload(`up-${i}`, c.repo)));
      assert.equal(uploads.length, 60);
      await Promise.all(commits.map((c, i) => store.commitBlob(c.repo, c.digest, c.size, `up-${i}`)));
      for (const [i, c] of commits.entries()) {
        assert.deepEqual(await store.findRepositoryBlob(c.repo, c.digest), { digest: c.digest, size: c.size, createdAt: T0 });
        assert.equal(await store.findUpload(`up-${i}`), undefined);
      }
    });
  });
}
