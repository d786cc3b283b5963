/** RegistryService.onManifestPushed: every committed manifest PUT is announced once, rejected ones never. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ManifestPushed } from '../../src/registry/registry-service.js';
import { pushImage, putManifest, startHarness } from '../http/harness.js';

test('committed manifest pushes are announced; rejected ones are not; a throwing listener does not fail the push', async () => {
  const h = await startHarness();
  try {
    const events: ManifestPushed[] = [];
    h.registry.onManifestPushed(() => {
      throw new Error('a broken listener');
    });
    h.registry.onManifestPushed((e) => events.push(e));
    const img = await pushImage(h.app, 'ml/events', 'v1');
    assert.equal(events.length, 1);
    assert.deepEqual(events[0], {
      repository: 'ml/events',
      digest: img.digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      tag: 'v1',
      subject: undefined,
      created: true,
    });
    const again = await putManifest(h.app, 'ml/events', img.digest, img.manifest);
    assert.equal(again.statusCode, 201);
    assert.equal(events.length, 2);
    assert.equal(events[1]?.created, false, 'a re-push says so');
    assert.equal(events[1]?.tag, undefined);
    const bad = await putManifest(h.app, 'ml/events', 'v2', '{"schemaVersion":2,"layers":"nope"}');
    assert.equal(bad.statusCode, 400);
    assert.equal(events.length, 2, 'a rejected push announces nothing');
  } finally {
    await h.close();
  }
});
