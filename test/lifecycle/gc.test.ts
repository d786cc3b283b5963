/**
 * Online GC (registry/gc.ts over sql-gc-store.ts) on SQLite and PostgreSQL: grace periods, links
 * per repository, untagged manifests (index children and referrers), dry runs that predict the
 * run, orphan bytes, holds, tombstones left by a GC that died, a push racing a tombstone, two GCs
 * at once and the run records. One clock drives the stores and the collector: nothing sleeps for
 * a grace period.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../src/domain/digest.js';
import { isWharfError } from '../../src/errors/wharf-error.js';
import { parseReference } from '../../src/domain/names.js';
import type { GcReport } from '../../src/registry/gc.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';
import { HOUR, OCI_MANIFEST, layer, openGcFixture, type GcFixture } from './gc-support.js';

const counts = (r: GcReport) => ({
  manifestsDeleted: r.manifestsDeleted,
  linksRemoved: r.linksRemoved,
  blobsDeleted: r.blobsDeleted,
  bytesReclaimed: r.bytesReclaimed,
  orphanBlobsDeleted: r.orphanBlobsDeleted,
  orphanBytesReclaimed: r.orphanBytesReclaimed,
});

async function listBytes(fx: GcFixture): Promise<string[]> {
  const out: string[] = [];
  for await (const d of fx.blobs.list()) out.push(d);
  return out.sort();
}

const settled = async (p: Promise<unknown>, ms: number): Promise<boolean> => {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, ms));
  return done;
};

function gcSuite(dialect: 'sqlite' | 'postgres'): void {
  describe(`online GC on ${dialect}`, { timeout: 120_000 }, () => {
    let skip: string | undefined;
    let scratch: ScratchDatabase | undefined;
    let n = 0;
    before(async () => {
      if (dialect === 'postgres') {
        skip = await postgresSkipReason();
        if (!skip) scratch = await createScratchDatabase();
      }
    });
    after(async () => scratch?.drop());

    /** a fresh fixture per test (PostgreSQL: a fresh schema in the run's scratch database) */
    async function withFixture(t: { skip(reason: string): void }, fn: (fx: GcFixture) => Promise<void>): Promise<void> {
      if (skip) return t.skip(skip);
      const fx = await openGcFixture(dialect, scratch?.url, `gc${++n}`);
      try {
        await fn(fx);
      } finally {
        await fx.close();
      }
    }

    test('grace period: a young unreferenced blob is kept, an old one loses its link, row and bytes', (t) =>
      withFixture(t, async (fx) => {
        const oldBytes = layer('old');
        const old = await fx.blob('r', oldBytes);
        fx.clock.t += 2 * HOUR;
        const young = await fx.blob('r', layer('young'));
        fx.clock.t += HOUR / 2;
        const report = await fx.gc().run({ trigger: 'test' });
        assert.deepEqual(
          { links: report.linksRemoved, blobs: report.blobsDeleted, bytes: report.bytesReclaimed },
          { links: 1, blobs: 1, bytes: oldBytes.length },
        );
        assert.equal(await fx.hasLink('r', old), false);
        assert.equal(await fx.hasRow(old), false);
        assert.equal(await fx.hasBytes(old), false);
        for (const check of [fx.hasLink('r', young), fx.hasRow(young), fx.hasBytes(young)]) assert.equal(await check, true);
        // young enough with a longer grace: nothing at all
        const again = await fx.gc({ graceMs: 10 * HOUR }).run();
        assert.deepEqual([again.linksRemoved, again.blobsDeleted], [0, 0]);
        // re-pushing renews the link: the grace period counts from the latest push
        fx.clock.t += 2 * HOUR;
        const youngBytes = await fx.blobs.open(young as Digest);
        const chunks: Buffer[] = [];
        for await (const c of youngBytes) chunks.push(c as Buffer);
        await fx.blob('r', Buffer.concat(chunks));
        const renewed = await fx.gc().run();
        assert.deepEqual([renewed.linksRemoved, renewed.blobsDeleted], [0, 0]);
        assert.equal(await fx.hasLink('r', young), true);
      }));

    test('a blob two repositories use is kept while either references it; links go per repository', (t) =>
      withFixture(t, async (fx) => {
        const shared = layer('shared');
        const a = await fx.image('a', 'v1', [shared]);
        const b = await fx.image('b', 'v1', [shared]);
        const sharedDigest = a.layers[0]!;
        assert.equal(b.layers[0], sharedDigest);
        fx.clock.t += 2 * HOUR;
        await fx.registry.deleteManifest('a', parseReference(a.digest));
        const r1 = await fx.gc().run();
        assert.equal(await fx.hasLink('a', sharedDigest), false, "a's link goes with a's last manifest");
        assert.equal(await fx.hasLink('a', a.config), false);
        assert.equal(await fx.hasRow(a.config), false, "a's config was only a's");
        assert.equal(await fx.hasBytes(a.config), false);
        assert.equal(await fx.hasLink('b', sharedDigest), true);
        assert.equal(await fx.hasRow(sharedDigest), true);
        assert.equal(await fx.hasBytes(sharedDigest), true);
        assert.deepEqual([r1.linksRemoved, r1.blobsDeleted], [2, 1]);
        // and b still pulls completely
        const m = await fx.registry.getManifest('b', parseReference('v1'));
        assert.equal(m.digest, b.digest);
        for (const d of [b.config, ...b.layers]) assert.ok(await fx.registry.statBlob('b', d as Digest));

        await fx.registry.deleteManifest('b', parseReference(b.digest));
        const r2 = await fx.gc().run();
        assert.deepEqual([r2.linksRemoved, r2.blobsDeleted], [2, 2]);
        assert.equal(await fx.hasRow(sharedDigest), false);
        assert.equal(await fx.hasBytes(sharedDigest), false);
      }));

    test('untagged manifests are kept by default', (t) =>
      withFixture(t, async (fx) => {
        const untagged = await fx.image('r', undefined, [layer()]);
        const first = await fx.image('r', 'latest', [layer()]);
        await fx.image('r', 'latest', [layer()]); // moves the tag: first is untagged now
        fx.clock.t += 2 * HOUR;
        const report = await fx.gc().run();
        assert.equal(report.manifestsDeleted, 0);
        assert.equal(report.blobsDeleted, 0);
        for (const m of [untagged, first]) {
          assert.equal(await fx.hasManifest('r', m.digest), true);
          for (const d of [m.config, ...m.layers]) assert.equal(await fx.hasRow(d), true);
        }
      }));

    test('untagged on: old untagged manifests go, children of a tagged index and referrers of a kept subject stay, referrers go with their subject', (t) =>
      withFixture(t, async (fx) => {
        const repo = 'ml/r';
        const ref = (s: { digest: string; size: number }) => ({ subject: { mediaType: OCI_MANIFEST, digest: s.digest, size: s.size }, artifactType: 'application/example' });
        const untagged = await fx.image(repo, undefined, [layer('u')]);
        const c1 = await fx.image(repo, undefined, [layer('c1')]);
        const c2 = await fx.image(repo, undefined, [layer('c2')]);
        const index = await fx.index(repo, 'multi', [c1, c2]);
        const subject = await fx.image(repo, 'app', [layer('s')]);
        const keptReferrer = await fx.image(repo, undefined, [layer('sig')], ref(subject));
        const goneSubject = await fx.image(repo, undefined, [layer('s2')]);
        const goneReferrer = await fx.image(repo, undefined, [layer('sig2')], ref(goneSubject));
        const c3 = await fx.image(repo, undefined, [layer('c3')]);
        const goneIndex = await fx.index(repo, undefined, [c3]);
        fx.clock.t += 2 * HOUR;
        const young = await fx.image(repo, undefined, [layer('young')]);
        fx.clock.t += 1;

        const report = await fx.gc({ untaggedManifests: true }).run();
        const gone = [untagged, goneSubject, goneReferrer, goneIndex, c3];
        const kept = [c1, c2, index, subject, keptReferrer, young];
        assert.equal(report.manifestsDeleted, gone.length);
        assert.deepEqual(report.manifests.map((m) => m.digest).sort(), gone.map((m) => m.digest).sort());
        for (const m of gone) assert.equal(await fx.hasManifest(repo, m.digest), false, `${m.digest} should be collected`);
        for (const m of kept) assert.equal(await fx.hasManifest(repo, m.digest), true, `${m.digest} should be kept`);
        // the collected images' blobs went in the same run; the kept ones' stayed
        for (const m of [untagged, goneSubject, goneReferrer, c3]) {
          for (const d of [m.config, ...m.layers]) {
            assert.equal(await fx.hasRow(d), false);
            assert.equal(await fx.hasBytes(d), false);
          }
        }
        for (const m of [c1, c2, subject, keptReferrer, young]) for (const d of [m.config, ...m.layers]) assert.equal(await fx.hasBytes(d), true);
        assert.equal(report.blobsDeleted, 8);
        // a second run finds nothing left
        const again = await fx.gc({ untaggedManifests: true }).run();
        assert.deepEqual(counts(again), { manifestsDeleted: 0, linksRemoved: 0, blobsDeleted: 0, bytesReclaimed: 0, orphanBlobsDeleted: 0, orphanBytesReclaimed: 0 });
      }));

    test('an old untagged manifest pushed again is young again: GC leaves it for the index that will list it', (t) =>
      withFixture(t, async (fx) => {
        const child = await fx.image('r', undefined, [layer('child')]);
        fx.clock.t += 2 * HOUR;
        // a client pushes the platform manifest again (by digest) just before the index
        await fx.putManifest('r', child.digest, child.content, OCI_MANIFEST);
        fx.clock.t += 1;
        const report = await fx.gc({ untaggedManifests: true }).run();
        assert.equal(report.manifestsDeleted, 0);
        assert.equal(await fx.hasManifest('r', child.digest), true);
        await fx.index('r', 'multi', [child]);
        // the conditional delete re-checks the push time under lock: pushed at or after the cutoff is 'changed'
        const other = await fx.image('r', undefined, [layer('other')]);
        assert.equal(await fx.images.deleteManifestIf('r', other.digest, { expectTags: [], pushedBefore: fx.clock.t }), 'changed');
        assert.equal(await fx.hasManifest('r', other.digest), true);
        assert.equal(await fx.images.deleteManifestIf('r', other.digest, { expectTags: [], pushedBefore: fx.clock.t + 1 }), 'deleted');
      }));

    test('a dry run changes nothing, and the run after it reports the same counts', (t) =>
      withFixture(t, async (fx) => {
        const shared = layer('shared');
        await fx.image('a', 'keep', [shared, layer()]);
        const doomed = await fx.image('a', undefined, [shared, layer(), layer()]);
        const c = await fx.image('a', undefined, [layer()]);
        await fx.index('a', undefined, [c]);
        const bOnly = await fx.image('b', 'v1', [layer()]);
        await fx.registry.deleteManifest('b', parseReference(bOnly.digest));
        await fx.blob('b', layer('loose'));
        await fx.blob('c', shared); // a link in c to a blob a still uses
        await fx.orphan(layer('orphan'));
        fx.clock.t += 2 * HOUR;
        await fx.blob('c', layer('young'));

        const snapshot = async () => ({
          blobs: (await fx.db.selectFrom('blobs').select('digest').orderBy('digest').execute()).map((r) => r.digest),
          links: (await fx.db.selectFrom('repository_blobs').select(['repository_id', 'digest']).orderBy('repository_id').orderBy('digest').execute()).map((r) => `${r.repository_id} ${r.digest}`),
          manifests: (await fx.db.selectFrom('manifests').select('digest').orderBy('digest').execute()).map((r) => r.digest),
          bytes: await listBytes(fx),
        });
        const before = await snapshot();
        const gc = fx.gc({ untaggedManifests: true });
        const dry = await gc.run({ dryRun: true, trigger: 'test' });
        assert.equal(dry.dryRun, true);
        assert.deepEqual(await snapshot(), before, 'a dry run changed something');
        const real = await gc.run({ trigger: 'test' });
        assert.deepEqual(counts(dry), counts(real));
        assert.deepEqual(dry.manifests.map((m) => m.digest).sort(), real.manifests.map((m) => m.digest).sort());
        assert.ok(real.manifestsDeleted === 3 && real.blobsDeleted > 0 && real.orphanBlobsDeleted === 1, JSON.stringify(real));
        assert.equal(await fx.hasManifest('a', doomed.digest), false);
        assert.equal(await fx.hasRow(digestOf(shared)), true);
        assert.equal(await fx.hasLink('c', digestOf(shared)), false);
      }));

    test('orphan bytes (no row) are deleted, but not while a push holds their digest', (t) =>
      withFixture(t, async (fx) => {
        const bytes = layer('orphan');
        const digest = await fx.orphan(bytes);
        const held = await fx.orphan(layer('held'));
        const hold = await fx.gcStore.holdBlob(held as Digest);
        const r1 = await fx.gc().run();
        assert.deepEqual([r1.orphanBlobsDeleted, r1.orphanBytesReclaimed], [1, bytes.length]);
        assert.equal(await fx.hasBytes(digest), false);
        assert.equal(await fx.hasBytes(held), true, 'held bytes were deleted');
        await fx.gcStore.releaseBlobHold(hold);
        await fx.gcStore.releaseBlobHold(hold); // idempotent
        const r2 = await fx.gc().run();
        assert.equal(r2.orphanBlobsDeleted, 1);
        assert.equal(await fx.hasBytes(held), false);
        // off: orphans stay
        const kept = await fx.orphan(layer('kept'));
        assert.equal((await fx.gc({ sweepOrphanBytes: false }).run()).orphanBlobsDeleted, 0);
        assert.equal(await fx.hasBytes(kept), true);
      }));

    test('a hold keeps an unreferenced blob from being condemned; an expired hold does not', (t) =>
      withFixture(t, async (fx) => {
        const digest = await fx.blob('r', layer());
        await fx.registry.deleteBlob('r', digest as Digest); // unlinked: only the row is left
        fx.clock.t += 2 * HOUR;
        const hold = await fx.gcStore.holdBlob(digest as Digest);
        const r1 = await fx.gc().run();
        assert.equal(r1.blobsDeleted, 0);
        assert.equal(await fx.hasRow(digest), true);
        assert.equal(await fx.hasBytes(digest), true);
        // a push that died never releases its hold: after its TTL (1 h) GC goes ahead
        fx.clock.t += 2 * HOUR;
        const r2 = await fx.gc().run();
        assert.equal(r2.blobsDeleted, 1);
        assert.equal(await fx.hasRow(digest), false);
        assert.equal(await fx.hasBytes(digest), false);
        await fx.gcStore.releaseBlobHold(hold);
      }));

    test('a GC that died between deleting the row and the bytes: its stale tombstone is finished by recover', (t) =>
      withFixture(t, async (fx) => {
        const digest = await fx.blob('r', layer());
        await fx.registry.deleteBlob('r', digest as Digest);
        fx.clock.t += 2 * HOUR;
        const condemned = await fx.gcStore.condemnBlobs([digest], fx.now() - HOUR, 'gc-that-died');
        assert.deepEqual(condemned.map((b) => b.digest), [digest]);
        assert.equal(await fx.hasRow(digest), false);
        assert.equal(await fx.hasBytes(digest), true);
        if (fx.dialect === 'postgres') {
          // the tombstone is in the DB: another replica (or this one restarted) finishes it
          const other = fx.newGcStore();
          const gc = fx.gc({ store: other });
          assert.equal(await gc.recover(), 0, 'a fresh tombstone belongs to a GC still running');
          fx.clock.t += 2 * HOUR;
          assert.equal(await gc.recover(), 1);
          assert.equal((await other.staleTombstones(fx.now(), 10)).length, 0);
        } else {
          // one process: the tombstone is in memory and survives as long as the process
          const gc = fx.gc();
          assert.equal(await gc.recover(), 0);
          fx.clock.t += 2 * HOUR;
          const report = await gc.run();
          assert.equal(report.tombstonesRecovered, 1);
        }
        assert.equal(await fx.hasBytes(digest), false);
        // and the digest can be pushed again
        const again = await fx.registry.pushBlob('r', digest as Digest, Readable.from([Buffer.alloc(0)])).catch((e: unknown) => e);
        assert.ok(isWharfError(again, 'DIGEST_INVALID'), String(again));
      }));

    if (dialect === 'sqlite') {
      test('SQLite: a restart forgets in-memory tombstones; the bytes left are orphans the next run deletes', (t) =>
        withFixture(t, async (fx) => {
          const digest = await fx.blob('r', layer());
          await fx.registry.deleteBlob('r', digest as Digest);
          fx.clock.t += 2 * HOUR;
          await fx.gcStore.condemnBlobs([digest], fx.now() - HOUR, 'gc-that-died');
          const restarted = fx.gc({ store: fx.newGcStore() });
          const report = await restarted.run();
          assert.equal(report.orphanBlobsDeleted, 1);
          assert.equal(await fx.hasBytes(digest), false);
        }));
    }

    test('a push of a digest GC is deleting waits for the tombstone, then succeeds with its bytes present', (t) =>
      withFixture(t, async (fx) => {
        const bytes = layer('racy');
        const digest = await fx.blob('r', bytes);
        await fx.registry.deleteBlob('r', digest as Digest);
        fx.clock.t += 2 * HOUR;
        await fx.gcStore.condemnBlobs([digest], fx.now() - HOUR, 'gc-busy');
        const push = fx.registry.pushBlob('r2', digest as Digest, Readable.from([bytes]));
        assert.equal(await settled(push, 300), false, 'the push did not wait for the tombstone');
        // GC finishes: bytes deleted, then the tombstone cleared
        await fx.blobs.delete(digest as Digest);
        await fx.gcStore.clearTombstones([digest]);
        await push;
        assert.equal(await fx.hasRow(digest), true);
        assert.equal(await fx.hasBytes(digest), true);
        assert.equal(await fx.hasLink('r2', digest), true);

        // one that waits too long gets UNAVAILABLE (retryable), and nothing changed
        const other = layer('slow');
        const d2 = await fx.blob('r', other);
        await fx.registry.deleteBlob('r', d2 as Digest);
        fx.clock.t += 2 * HOUR;
        await fx.gcStore.condemnBlobs([d2], fx.now() - HOUR, 'gc-slow');
        const slow = fx.registry.pushBlob('r2', d2 as Digest, Readable.from([other]));
        setTimeout(() => (fx.clock.t += 60_000), 100); // holdWaitMs (10 s) passes on the clock
        const err = await slow.catch((e: unknown) => e);
        assert.ok(isWharfError(err, 'UNAVAILABLE'), String(err));
        assert.equal(await fx.hasRow(d2), false);
        assert.equal(await fx.hasLink('r2', d2), false);
        await fx.gcStore.clearTombstones([d2]);
      }));

    test('a manifest whose blobs GC took in between fails with MANIFEST_BLOB_UNKNOWN; re-pushing the blobs fixes it', (t) =>
      withFixture(t, async (fx) => {
        const configBytes = Buffer.from('{"architecture":"amd64","os":"linux"}');
        const l = layer();
        const config = await fx.blob('r', configBytes);
        const ld = await fx.blob('r', l);
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configBytes.length },
            layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: ld, size: l.length }],
          }),
        );
        fx.clock.t += 2 * HOUR;
        await fx.gc().run();
        const err = await fx.putManifest('r', 'v1', manifest, OCI_MANIFEST).catch((e: unknown) => e);
        assert.ok(isWharfError(err, 'MANIFEST_BLOB_UNKNOWN'), String(err));
        assert.equal(await fx.hasManifest('r', digestOf(manifest)), false);
        await fx.blob('r', configBytes);
        await fx.blob('r', l);
        await fx.putManifest('r', 'v1', manifest, OCI_MANIFEST);
        fx.clock.t += 2 * HOUR;
        assert.equal((await fx.gc().run()).blobsDeleted, 0);
        for (const d of [config, ld]) assert.equal(await fx.hasBytes(d), true);
      }));

    test('every decision is re-checked when acted on: what changed since the look is left alone', (t) =>
      withFixture(t, async (fx) => {
        // a link GC saw unreferenced, then a manifest referencing it committed
        const img = Buffer.from('{"architecture":"amd64","os":"linux","n":"recheck"}');
        const l = layer('recheck');
        const config = await fx.blob('r', img);
        const ld = await fx.blob('r', l);
        fx.clock.t += 2 * HOUR;
        const cutoff = fx.now() - HOUR;
        const links = await fx.gcStore.findUnreferencedLinks(cutoff, undefined, 100);
        assert.deepEqual(links.map((x) => x.digest).sort(), [config, ld].sort());
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: img.length },
            layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: ld, size: l.length }],
          }),
        );
        await fx.putManifest('r', 'v1', manifest, OCI_MANIFEST);
        assert.deepEqual(await fx.gcStore.removeLinks(links, cutoff), []);
        assert.equal(await fx.hasLink('r', ld), true);

        // a blob GC saw unlinked, then pushed again (or mounted)
        const bytes = layer('again');
        const d = await fx.blob('s', bytes);
        await fx.registry.deleteBlob('s', d as Digest);
        fx.clock.t += 2 * HOUR;
        const c2 = fx.now() - HOUR;
        assert.deepEqual((await fx.gcStore.findUnreferencedBlobs(c2, undefined, 100)).map((b) => b.digest), [d]);
        await fx.blob('s2', bytes);
        assert.deepEqual(await fx.gcStore.condemnBlobs([d], c2, 'gc'), []);
        assert.equal(await fx.hasBytes(d), true);
        const mounted = await fx.blob('s3', layer('mount'));
        await fx.registry.deleteBlob('s3', mounted as Digest);
        fx.clock.t += 2 * HOUR;
        assert.ok(await fx.registry.mountBlob('s4', mounted as Digest));
        assert.deepEqual(await fx.gcStore.condemnBlobs([mounted], fx.now() - HOUR, 'gc'), []);

        // bytes GC saw without a row, then committed by a push
        const ob = layer('orphan-then-pushed');
        const od = await fx.orphan(ob);
        assert.deepEqual(await fx.gcStore.digestsWithoutRows([od]), [od]);
        await fx.blob('o', ob);
        assert.deepEqual(await fx.gcStore.condemnOrphans([od], 'gc'), []);
        assert.equal(await fx.hasBytes(od), true);

        // an untagged manifest GC decided on, then tagged, or listed by a new index
        const u = await fx.image('m', undefined, [layer()]);
        const c = await fx.image('m', undefined, [layer()]);
        await fx.putManifest('m', 'now-tagged', (await fx.registry.getManifest('m', parseReference(u.digest))).content, OCI_MANIFEST);
        assert.equal(await fx.images.deleteManifestIf('m', u.digest, { expectTags: [], keepReferrerOfPresentSubject: true }), 'changed');
        await fx.index('m', 'idx', [c]);
        assert.equal(await fx.images.deleteManifestIf('m', c.digest, { expectTags: [], keepReferrerOfPresentSubject: true }), 'referenced');
        assert.equal(await fx.hasManifest('m', u.digest), true);
        assert.equal(await fx.hasManifest('m', c.digest), true);
      }));

    test('two GCs at once: all garbage goes once, nothing live is touched, counts add up', (t) =>
      withFixture(t, async (fx) => {
        const live = [await fx.image('live', 'v1', [layer(), layer()]), await fx.image('live2', 'v1', [layer()])];
        const garbage: string[] = [];
        for (let i = 0; i < 12; i++) {
          const d = await fx.blob(`g${i % 3}`, layer(`g${i}`));
          garbage.push(d);
        }
        const untagged: string[] = [];
        for (let i = 0; i < 4; i++) untagged.push((await fx.image(`u${i % 2}`, undefined, [layer(`u${i}`)])).digest);
        const orphans: string[] = [];
        for (let i = 0; i < 5; i++) orphans.push(await fx.orphan(layer(`o${i}`)));
        fx.clock.t += 2 * HOUR;
        const gcs = [fx.gc({ untaggedManifests: true, batchSize: 3 }), fx.gc({ untaggedManifests: true, batchSize: 2, store: fx.dialect === 'postgres' ? fx.newGcStore() : fx.gcStore })];
        const reports = await Promise.all(gcs.map((gc) => gc.run({ trigger: 'test' })));
        const sum = (k: keyof ReturnType<typeof counts>) => reports.reduce((n, r) => n + counts(r)[k], 0);
        assert.equal(sum('manifestsDeleted'), 4);
        assert.equal(sum('blobsDeleted'), 12 + 4 * 2);
        assert.equal(sum('orphanBlobsDeleted'), 5);
        for (const d of [...garbage, ...orphans]) {
          assert.equal(await fx.hasRow(d), false);
          assert.equal(await fx.hasBytes(d), false);
        }
        for (const m of live) for (const d of [m.config, ...m.layers]) assert.equal(await fx.hasBytes(d), true);
        assert.equal((await fx.gcStore.staleTombstones(Number.MAX_SAFE_INTEGER, 10)).length, 0, 'tombstones left behind');
      }));

    test('runs are recorded: trigger, dry run, report; a failed run with its error', (t) =>
      withFixture(t, async (fx) => {
        await fx.blob('r', layer());
        fx.clock.t += 2 * HOUR;
        const gc = fx.gc();
        const dry = await gc.run({ dryRun: true, trigger: 'cli' });
        fx.clock.t += 1000;
        const real = await gc.run({ trigger: 'schedule' });
        const aborted = new AbortController();
        aborted.abort(new Error('stopping'));
        await assert.rejects(gc.run({ trigger: 'api', signal: aborted.signal }));
        const runs = await gc.runs(10);
        assert.equal(runs.length, 3);
        assert.deepEqual(
          runs.map((r) => [r.trigger, r.dryRun, r.error === null, r.finishedAt !== null]),
          [
            ['api', false, false, true],
            ['schedule', false, true, true],
            ['cli', true, true, true],
          ],
        );
        assert.match(runs[0]!.error!, /stopping/);
        assert.equal(runs[0]!.report, null);
        assert.equal((runs[1]!.report as GcReport).blobsDeleted, real.blobsDeleted);
        assert.equal((runs[2]!.report as GcReport).blobsDeleted, dry.blobsDeleted);
        assert.equal(runs[1]!.startedAt, fx.now());
        assert.equal((await gc.runs(1)).length, 1);
      }));
  });
}

gcSuite('sqlite');
gcSuite('postgres');
