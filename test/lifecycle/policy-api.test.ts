/**
 * Cleanup policies over HTTP (/api/v1/cleanup-policies, -dry-runs, -runs) on SQLite and
 * PostgreSQL: stored and validated (400 POLICY_INVALID with JSON pointers, nothing stored); a dry
 * run lists every image that would go with its rule and changes nothing; a run deletes exactly
 * that set, audited as cleanup.delete; an index keeps what it lists; referrers go with their
 * subject; a tag moved since the dry run (or during the run) saves its image; the lifecycle.cleanup
 * job and its schedule. On PostgreSQL the tests fail, not skip, when CI is set and it is down.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../../src/domain/digest.js';
import { CleanupService } from '../../src/features/lifecycle/cleanup-service.js';
import { CLEANUP_ALL_JOB, CLEANUP_JOB, registerLifecycleJobs } from '../../src/features/lifecycle/lifecycle-jobs.js';
import { JobRunner } from '../../src/jobs/job-runner.js';
import type { NewAuditEvent } from '../../src/storage/metadata/identity-store.js';
import { SqlImageStore } from '../../src/storage/metadata/sql-image-store.js';
import { SqlJobStore } from '../../src/storage/metadata/sql-job-store.js';
import { pino } from 'pino';
import { putManifest, OCI_INDEX, type Harness } from '../http/harness.js';
import { blobDesc, imageManifest, indexManifest, manifestDesc, manifestStatus, tagDigest, tagsOf } from '../http/support.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';
import { apiError, caller, json, lifecycleHarness, type Call } from './support.js';

const DAY = 86_400_000;
const pgSkip = await postgresSkipReason();

interface Pushed {
  digest: string;
  body: Buffer;
}

/** Pushes a one-layer image (by tag, or by digest when `tag` is undefined). */
async function push(h: Harness, repo: string, tag: string | undefined, extra: Record<string, unknown> = {}): Promise<Pushed> {
  const config = await blobDesc(h.app, repo, JSON.stringify({ architecture: 'amd64', os: 'linux', seed: Math.random() }), 'application/vnd.oci.image.config.v1+json');
  const layer = await blobDesc(h.app, repo, `layer ${Math.random()}`, 'application/vnd.oci.image.layer.v1.tar+gzip');
  const body = imageManifest(config, [layer], extra);
  const res = await putManifest(h.app, repo, tag ?? digestOf(body), body);
  assert.equal(res.statusCode, 201, res.body);
  return { digest: digestOf(body), body };
}

async function pushIndex(h: Harness, repo: string, tag: string, children: Pushed[]): Promise<Pushed> {
  const body = indexManifest(children.map((c) => manifestDesc(c.body, undefined, { platform: { architecture: 'amd64', os: 'linux' } })));
  const res = await putManifest(h.app, repo, tag, body, OCI_INDEX);
  assert.equal(res.statusCode, 201, res.body);
  return { digest: digestOf(body), body };
}

/** A signature-like referrer of `subject`, untagged. */
function referrer(h: Harness, repo: string, subject: Pushed, kind = 'application/vnd.dev.cosign.artifact.sig.v1+json'): Promise<Pushed> {
  return push(h, repo, undefined, { artifactType: kind, subject: manifestDesc(subject.body) });
}

/** Sets push (and pull) times in the DB: the registry stamps pushes with the wall clock. */
async function age(h: Harness, repo: string, digests: Pushed[], pushedDaysAgo: number, pulledDaysAgo?: number): Promise<void> {
  const db = h.metadata.database;
  const r = await db.selectFrom('repositories').select('id').where('name', '=', repo).executeTakeFirstOrThrow();
  for (const p of digests) {
    await db
      .updateTable('manifests')
      .set({
        created_at: Date.now() - pushedDaysAgo * DAY,
        ...(pulledDaysAgo !== undefined ? { last_pulled_at: Date.now() - pulledDaysAgo * DAY } : {}),
      })
      .where('repository_id', '=', r.id)
      .where('digest', '=', p.digest)
      .execute();
  }
}

async function auditOf(h: Harness, api: Call, repo: string, action: string): Promise<{ actor: string; digest?: string; detail?: any }[]> {
  await h.auth!.audit.flush();
  return json(await api('GET', `/api/v1/audit?action=${action}&repository=${encodeURIComponent(repo)}`)).items;
}

const deleteOlderThan30d = (extra: Record<string, unknown> = {}) => ({
  format: 'artifact-registry',
  policy: [{ name: 'delete-old', action: { type: 'Delete' }, condition: { tagState: 'any', olderThan: '30d' } }],
  ...extra,
});

const digestsOf = (list: { digest: string }[]) => list.map((d) => d.digest).sort();

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`cleanup policies over HTTP (${backend})`, { skip: backend === 'postgres' ? pgSkip : undefined }, () => {
    let h: Harness;
    let api: Call;
    let scratch: ScratchDatabase | undefined;
    before(async () => {
      if (backend === 'postgres') scratch = await createScratchDatabase();
      h = await lifecycleHarness({ auth: { enabled: false }, ...(scratch ? { postgresUrl: scratch.url } : {}) });
      api = caller(h.app);
    });
    after(async () => {
      await h?.close();
      await scratch?.drop();
    });

    test('put, get and delete a policy in either format; the repository must exist', async () => {
      await push(h, 'p/crud', 'v1');
      const garDoc = deleteOlderThan30d({ keepPulledWithinDays: 14 });
      const put = json(await api('PUT', '/api/v1/cleanup-policies/p/crud', garDoc));
      assert.equal(put.format, 'artifact-registry');
      assert.deepEqual(put.policy, garDoc.policy);
      assert.equal(put.keepPulledWithinDays, 14);
      assert.equal(put.keepProtectedTags, true);
      assert.equal(put.dryRun, false);
      assert.ok(Date.parse(put.updatedAt) > 0);
      assert.deepEqual(json(await api('GET', '/api/v1/cleanup-policies/p/crud')), put);

      const ecrPolicy = { rules: [{ rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } }] };
      const ecr = json(await api('PUT', '/api/v1/cleanup-policies/p/crud', { format: 'ecr', policy: JSON.stringify(ecrPolicy), dryRun: true }));
      assert.deepEqual(ecr.policy, ecrPolicy);
      assert.equal(json(await api('GET', '/api/v1/repositories/p/crud')).cleanupPolicy.format, 'ecr');

      assert.equal((await api('DELETE', '/api/v1/cleanup-policies/p/crud')).statusCode, 204);
      apiError(await api('GET', '/api/v1/cleanup-policies/p/crud'), 404, 'RESOURCE_UNKNOWN');
      apiError(await api('DELETE', '/api/v1/cleanup-policies/p/crud'), 404, 'RESOURCE_UNKNOWN');
      apiError(await api('PUT', '/api/v1/cleanup-policies/p/nowhere', garDoc), 404, 'RESOURCE_UNKNOWN');
      apiError(await api('POST', '/api/v1/cleanup-runs/p/crud'), 404, 'RESOURCE_UNKNOWN');
    });

    test('an invalid policy is refused with pointers at each problem, and nothing is stored', async () => {
      await push(h, 'p/invalid', 'v1');
      const bad = {
        format: 'ecr',
        policy: {
          rules: [
            { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 3 }, action: { type: 'expire' } },
            { rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['a*b*c*d*e*f'], countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
          ],
        },
      };
      const e = apiError(await api('PUT', '/api/v1/cleanup-policies/p/invalid', bad), 400, 'POLICY_INVALID');
      assert.deepEqual(
        (e.detail as { pointer: string }[]).map((p) => p.pointer).sort(),
        ['/policy/rules/0/selection/countUnit', '/policy/rules/1/rulePriority', '/policy/rules/1/selection/tagPatternList/0'].sort(),
      );
      assert.match(e.message, /countUnit/);
      apiError(await api('GET', '/api/v1/cleanup-policies/p/invalid'), 404, 'RESOURCE_UNKNOWN');

      // a stored policy survives an invalid replacement
      json(await api('PUT', '/api/v1/cleanup-policies/p/invalid', deleteOlderThan30d()));
      apiError(await api('PUT', '/api/v1/cleanup-policies/p/invalid', { format: 'artifact-registry', policy: [{ name: 'x', action: { type: 'Delete' }, condition: { olderThan: '30 days' } }] }), 400, 'POLICY_INVALID');
      assert.deepEqual(json(await api('GET', '/api/v1/cleanup-policies/p/invalid')).policy, deleteOlderThan30d().policy);
      // not JSON, not an object, too large: refused, nothing changed
      for (const body of ['{"format": ', '[1,2]', JSON.stringify({ format: 'ecr', policy: { rules: [], pad: 'x'.repeat(70 * 1024) } })]) {
        const res = await api('PUT', '/api/v1/cleanup-policies/p/invalid', body);
        assert.ok(res.statusCode === 400 || res.statusCode === 413, `${res.statusCode} ${res.body.slice(0, 200)}`);
      }
      assert.deepEqual(json(await api('GET', '/api/v1/cleanup-policies/p/invalid')).policy, deleteOlderThan30d().policy);
      // a dry run of an unstored policy is validated the same way
      const d = apiError(await api('POST', '/api/v1/cleanup-dry-runs/p/invalid', { policy: { format: 'ecr', policy: { rules: 'all' } } }), 400, 'POLICY_INVALID');
      assert.deepEqual((d.detail as { pointer: string }[]).map((p) => p.pointer), ['/policy/rules']);
    });

    test('a dry run lists what would go with its rule and changes nothing; the run deletes exactly that, audited', async () => {
      const repo = 'p/run';
      const rel = await push(h, repo, 'v1.0');
      const oldDev = await push(h, repo, 'dev-1');
      const oldUntagged = await push(h, repo, undefined);
      const hot = await push(h, repo, 'dev-2');
      const fresh = await push(h, repo, 'dev-3');
      await age(h, repo, [rel, oldDev, oldUntagged], 60);
      await age(h, repo, [hot], 60, 1);
      json(
        await api('PUT', `/api/v1/cleanup-policies/${repo}`, {
          format: 'artifact-registry',
          policy: [
            { name: 'delete-old', action: { type: 'Delete' }, condition: { olderThan: '30d' } },
            { name: 'keep-releases', action: { type: 'Keep' }, condition: { tagState: 'tagged', tagPrefixes: ['v'] } },
          ],
          keepPulledWithinDays: 7,
        }),
      );
      const tagsBefore = await tagsOf(h.app, repo);

      const dry = json(await api('POST', `/api/v1/cleanup-dry-runs/${repo}`, {}));
      assert.equal(dry.dryRun, true);
      assert.equal(dry.images, 5);
      assert.deepEqual(digestsOf(dry.delete), [oldDev.digest, oldUntagged.digest].sort());
      for (const d of dry.delete) assert.equal(d.rule, 'delete-old');
      const devEntry = dry.delete.find((d: { digest: string }) => d.digest === oldDev.digest);
      assert.deepEqual(devEntry.tags, ['dev-1']);
      assert.ok(Date.parse(devEntry.pushedAt) < Date.now() - 59 * DAY);
      assert.equal(devEntry.lastPulledAt, null);
      assert.deepEqual(
        Object.fromEntries(dry.kept.map((k: { digest: string; keptBecause: string }) => [k.digest, k.keptBecause])),
        { [rel.digest]: 'Keep policy keep-releases', [hot.digest]: 'pulled within 7 days (keepPulledWithinDays)' },
      );
      assert.equal(dry.deleted, 0);
      for (const p of [rel, oldDev, oldUntagged, hot, fresh]) assert.equal(await manifestStatus(h.app, repo, p.digest), 200);
      assert.deepEqual(await tagsOf(h.app, repo), tagsBefore);
      assert.deepEqual(await auditOf(h, api, repo, 'cleanup.delete'), []);

      // a policy not yet stored, in the other format
      const ecrDry = json(
        await api('POST', `/api/v1/cleanup-dry-runs/${repo}`, {
          policy: { format: 'ecr', policy: { rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 4 }, action: { type: 'expire' } }] } },
        }),
      );
      assert.equal(ecrDry.delete.length, 1);
      assert.equal(ecrDry.delete[0].rule, 'rule 1');

      const run = json(await api('POST', `/api/v1/cleanup-runs/${repo}`));
      assert.equal(run.dryRun, false);
      assert.equal(run.deleted, 2);
      assert.deepEqual(digestsOf(run.delete), digestsOf(dry.delete));
      assert.deepEqual(run.skipped, []);
      for (const p of [oldDev, oldUntagged]) assert.equal(await manifestStatus(h.app, repo, p.digest), 404);
      for (const p of [rel, hot, fresh]) assert.equal(await manifestStatus(h.app, repo, p.digest), 200);
      assert.deepEqual((await tagsOf(h.app, repo))?.sort(), ['dev-2', 'dev-3', 'v1.0']);

      const audited = await auditOf(h, api, repo, 'cleanup.delete');
      assert.deepEqual(digestsOf(audited as { digest: string }[]), digestsOf(dry.delete));
      for (const a of audited) assert.equal(a.detail.rule, 'delete-old');
      assert.equal((await auditOf(h, api, repo, 'cleanup-policy.run')).length, 1);
      // a history entry records the tag the cleanup removed
      const history = json(await api('GET', `/api/v1/tag-history/${repo}?tag=dev-1`));
      assert.equal(history.items[0].to, null);

      // running again finds nothing more
      assert.equal(json(await api('POST', `/api/v1/cleanup-runs/${repo}`)).deleted, 0);
    });

    test('a policy stored as dry run only reports, also when run', async () => {
      const repo = 'p/dryonly';
      const old = await push(h, repo, 'old');
      await age(h, repo, [old], 60);
      json(await api('PUT', `/api/v1/cleanup-policies/${repo}`, deleteOlderThan30d({ dryRun: true })));
      const run = json(await api('POST', `/api/v1/cleanup-runs/${repo}`));
      assert.equal(run.dryRun, true);
      assert.deepEqual(digestsOf(run.delete), [old.digest]);
      assert.equal(await manifestStatus(h.app, repo, old.digest), 200);
    });

    test('never deletes a manifest an index still lists; an index that goes takes its children', async () => {
      const repo = 'p/index';
      const a = await push(h, repo, undefined);
      const b = await push(h, repo, undefined);
      const c = await push(h, repo, undefined);
      const t = await push(h, repo, 'amd64-old');
      const oldIdx = await pushIndex(h, repo, 'dev-old', [a, b]);
      const newIdx = await pushIndex(h, repo, 'dev-new', [b, c, t]);
      await age(h, repo, [a, b, c, t, oldIdx], 60);

      // ECR: an untagged rule does not see index children (they go with their index)
      const ecrDry = json(
        await api('POST', `/api/v1/cleanup-dry-runs/${repo}`, {
          policy: { format: 'ecr', policy: { rules: [{ rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: { type: 'expire' } }] } },
        }),
      );
      assert.deepEqual(ecrDry.delete, []);

      json(await api('PUT', `/api/v1/cleanup-policies/${repo}`, deleteOlderThan30d()));
      const dry = json(await api('POST', `/api/v1/cleanup-dry-runs/${repo}`, {}));
      assert.deepEqual(
        dry.delete.map((d: { digest: string; rule: string }) => [d.digest, d.rule]),
        [
          [oldIdx.digest, 'delete-old'],
          [a.digest, `goes with index ${oldIdx.digest}`],
        ],
      );
      assert.deepEqual(
        dry.kept.map((k: { digest: string; keptBecause: string }) => [k.digest, k.keptBecause]),
        [[t.digest, `listed by kept index ${newIdx.digest}`]],
      );
      const run = json(await api('POST', `/api/v1/cleanup-runs/${repo}`));
      assert.equal(run.deleted, 2);
      for (const p of [oldIdx, a]) assert.equal(await manifestStatus(h.app, repo, p.digest), 404);
      for (const p of [b, c, t, newIdx]) assert.equal(await manifestStatus(h.app, repo, p.digest), 200);
      assert.equal(await tagDigest(h.app, repo, 'amd64-old'), t.digest);
    });

    test('referrers (signatures, SBOMs) go with their subject, and stay with a kept one', async () => {
      const repo = 'p/refs';
      const subject = await push(h, repo, 'dev-1');
      const sig = await referrer(h, repo, subject);
      const sbom = await referrer(h, repo, subject, 'application/spdx+json');
      const kept = await push(h, repo, 'dev-2');
      const keptSig = await referrer(h, repo, kept);
      await age(h, repo, [subject, sig, sbom, keptSig], 60);
      json(await api('PUT', `/api/v1/cleanup-policies/${repo}`, deleteOlderThan30d()));

      const dry = json(await api('POST', `/api/v1/cleanup-dry-runs/${repo}`, {}));
      assert.equal(dry.delete[0].digest, subject.digest);
      assert.deepEqual(digestsOf(dry.delete), [subject.digest, sig.digest, sbom.digest].sort());
      for (const d of dry.delete.slice(1)) assert.equal(d.rule, `goes with its subject ${subject.digest}`);

      const run = json(await api('POST', `/api/v1/cleanup-runs/${repo}`));
      assert.equal(run.deleted, 3);
      for (const p of [subject, sig, sbom]) assert.equal(await manifestStatus(h.app, repo, p.digest), 404);
      for (const p of [kept, keptSig]) assert.equal(await manifestStatus(h.app, repo, p.digest), 200);
      const refs = json(await api('GET', `/v2/${repo}/referrers/${subject.digest}`));
      assert.deepEqual(refs.manifests, []);
      assert.equal(json(await api('GET', `/v2/${repo}/referrers/${kept.digest}`)).manifests.length, 1);
      const audited = await auditOf(h, api, repo, 'cleanup.delete');
      assert.deepEqual(digestsOf(audited as { digest: string }[]), digestsOf(dry.delete));
    });

    test('a tag moved onto an image between the dry run and the run saves it', async () => {
      const repo = 'p/moved';
      const x = await push(h, repo, undefined);
      const y = await push(h, repo, 'v1');
      await age(h, repo, [x, y], 60);
      json(await api('PUT', `/api/v1/cleanup-policies/${repo}`, { format: 'artifact-registry', policy: [{ name: 'untagged', action: { type: 'Delete' }, condition: { tagState: 'untagged' } }] }));
      assert.deepEqual(digestsOf(json(await api('POST', `/api/v1/cleanup-dry-runs/${repo}`, {})).delete), [x.digest]);
      assert.equal((await putManifest(h.app, repo, 'v1', x.body)).statusCode, 201);
      const run = json(await api('POST', `/api/v1/cleanup-runs/${repo}`));
      assert.equal(await tagDigest(h.app, repo, 'v1'), x.digest);
      assert.equal(await manifestStatus(h.app, repo, x.digest), 200);
      // the run judged the repository as it is now: y lost its tag, so y went instead
      assert.deepEqual(digestsOf(run.delete), [y.digest]);
    });

    describe('changes while a run deletes', () => {
      /** A CleanupService whose first conditional delete first runs `hook` (a concurrent push). */
      function racingService(hook: () => Promise<void>, events: NewAuditEvent[]): CleanupService {
        const real = new SqlImageStore(h.metadata.database, backend);
        let pending: (() => Promise<void>) | undefined = hook;
        return new CleanupService({
          repositories: h.lifecycle.service,
          store: h.lifecycle.store,
          images: {
            imageGraph: (r) => real.imageGraph(r),
            deleteManifestIf: async (r, d, c) => {
              const f = pending;
              pending = undefined;
              await f?.();
              return real.deleteManifestIf(r, d, c);
            },
          },
          audit: { record: (e) => void events.push(e) },
        });
      }

      test('a tag moved after the evaluation: the image is skipped and reported', async () => {
        const repo = 'p/race-tag';
        const x = await push(h, repo, undefined);
        await age(h, repo, [x], 60);
        json(await api('PUT', `/api/v1/cleanup-policies/${repo}`, deleteOlderThan30d()));
        const events: NewAuditEvent[] = [];
        const report = await racingService(async () => {
          assert.equal((await putManifest(h.app, repo, 'pinned', x.body)).statusCode, 201);
        }, events).runPolicy(repo, 'tester');
        assert.deepEqual(report.skipped, [{ digest: x.digest, reason: 'its tags changed since the evaluation' }]);
        assert.equal(report.deleted, 0);
        assert.equal(await tagDigest(h.app, repo, 'pinned'), x.digest);
        assert.deepEqual(events, []);
      });

      test('a subject left alone keeps its referrers', async () => {
        const repo = 'p/race-subject';
        const s = await push(h, repo, 'dev-1');
        const r = await referrer(h, repo, s);
        await age(h, repo, [s, r], 60);
        json(await api('PUT', `/api/v1/cleanup-policies/${repo}`, deleteOlderThan30d()));
        const report = await racingService(async () => {
          assert.equal((await putManifest(h.app, repo, 'dev-2', s.body)).statusCode, 201);
        }, []).runPolicy(repo, 'tester');
        assert.deepEqual(report.skipped, [
          { digest: s.digest, reason: 'its tags changed since the evaluation' },
          { digest: r.digest, reason: 'its subject is still present' },
        ]);
        for (const p of [s, r]) assert.equal(await manifestStatus(h.app, repo, p.digest), 200);
      });

      test('a referrer pushed for a subject after the evaluation goes with it, audited', async () => {
        const repo = 'p/race-referrer';
        const s = await push(h, repo, 'dev-1');
        await age(h, repo, [s], 60);
        json(await api('PUT', `/api/v1/cleanup-policies/${repo}`, deleteOlderThan30d()));
        let late: Pushed | undefined;
        const events: NewAuditEvent[] = [];
        const report = await racingService(async () => {
          late = await referrer(h, repo, s);
        }, events).runPolicy(repo, 'tester');
        assert.equal(report.deleted, 2);
        assert.equal(await manifestStatus(h.app, repo, s.digest), 404);
        assert.equal(await manifestStatus(h.app, repo, late!.digest), 404);
        assert.deepEqual(
          events.map((e) => [e.action, e.digest, (e.detail as { rule: string }).rule, e.actor]),
          [
            ['cleanup.delete', s.digest, 'delete-old', 'tester'],
            ['cleanup.delete', late!.digest, `goes with its subject ${s.digest}`, 'tester'],
          ],
        );
      });
    });

    test('the lifecycle.cleanup job, on demand and on the schedule', async () => {
      const repo = 'p/job';
      const first = await push(h, repo, undefined);
      await age(h, repo, [first], 60);
      json(await api('PUT', `/api/v1/cleanup-policies/${repo}`, deleteOlderThan30d()));
      const store = new SqlJobStore(h.metadata.database, backend);
      const runner = new JobRunner({ store, logger: pino({ level: 'silent' }) });
      registerLifecycleJobs(runner, h.lifecycle.cleanup, { cleanupIntervalMs: 3_600_000 });

      await runner.enqueue(CLEANUP_JOB, { repository: repo, requestedBy: 'alice' });
      await runner.enqueue(CLEANUP_JOB, { repository: 'p/gone-since', requestedBy: 'alice' });
      assert.ok((await runner.drain()) >= 2);
      assert.equal(await manifestStatus(h.app, repo, first.digest), 404);
      const jobs = await store.list({ kind: CLEANUP_JOB, limit: 10 });
      assert.deepEqual(
        jobs.map((j) => j.state),
        ['succeeded', 'succeeded'],
      );
      assert.deepEqual(
        (await auditOf(h, api, repo, 'cleanup.delete')).map((e) => [e.actor, e.digest]),
        [['alice', first.digest]],
      );

      // the schedule fans out one job per repository with a policy
      const second = await push(h, repo, undefined);
      await age(h, repo, [second], 60);
      await store.ensureSchedule(CLEANUP_ALL_JOB, 3_600_000, Date.now() - 1);
      await runner.drain();
      assert.equal(await manifestStatus(h.app, repo, second.digest), 404);
      assert.equal((await auditOf(h, api, repo, 'cleanup.delete'))[0]!.actor, 'lifecycle-schedule');
      const fanned = (await store.list({ kind: CLEANUP_JOB, limit: 100 })).map((j) => (j.payload as { repository: string }).repository);
      assert.ok(fanned.includes(repo) && fanned.includes('p/run') && !fanned.includes('p/crud'), String(fanned));
    });
  });
}
