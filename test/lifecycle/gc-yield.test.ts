/**
 * GC shares the event loop with requests (issue 10: on SQLite, where every query is synchronous,
 * a whole phase of batches used to run as one task, and pushes waited seconds for it). GC takes a
 * turn of the event loop before every batch and every act, so work queued meanwhile runs while a
 * long phase goes on — counted here as turns of a concurrent setImmediate loop, not as time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../../src/domain/digest.js';
import { HOUR, layer, openGcFixture } from './gc-support.js';

test('GC lets queued work run between its batches, also in a phase that does no I/O', async () => {
  const fx = await openGcFixture('sqlite');
  try {
    // 60 blobs linked in yield/a, where nothing references them, and used by an image in
    // yield/b: the 60 links in yield/a are garbage (12 batches of 5), the blobs are not, so the
    // run deletes no bytes and does no file I/O at all
    const layers = Array.from({ length: 60 }, (_, i) => layer(`yield ${i}`));
    for (const l of layers) await fx.blob('yield/a', l);
    await fx.image('yield/b', 'v1', layers);
    fx.clock.t += 2 * HOUR;
    let turns = 0;
    let done = false;
    const ticker = (async () => {
      while (!done) {
        await new Promise((resolve) => setImmediate(resolve));
        turns++;
      }
    })();
    const report = await fx.gc({ batchSize: 5, sweepOrphanBytes: false, pauseFactor: 0 }).run({ trigger: 'test' });
    done = true;
    await ticker;
    assert.equal(report.linksRemoved, 60);
    assert.equal(report.blobsDeleted, 0);
    assert.ok(turns >= 12, `the event loop turned ${turns} times during 12 batches of links`);
    for (const l of layers.slice(0, 3)) {
      assert.equal(await fx.hasLink('yield/a', digestOf(l)), false);
      assert.equal(await fx.hasLink('yield/b', digestOf(l)), true);
      assert.equal(await fx.hasBytes(digestOf(l)), true);
    }
  } finally {
    await fx.close();
  }
});
