/**
 * Archive layers of model artifacts unpacked by `wharf model pull` (src/cli/commands/model-unpack.ts):
 * plain and gzip tar as kit and modctl write them, every file and mode restored, the layer digest
 * checked; a path that leaves the directory stops it with nothing written outside; a wrong digest
 * is an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { unpackLayer } from '../../src/cli/commands/model-unpack.js';
import { safeTarget } from '../../src/cli/commands/model.js';
import { makeTar } from '../support/oci-layout.js';
import { safetensorsFile, sha256 } from './support.js';

const weights = safetensorsFile([{ name: 'w', dtype: 'F32', shape: [100, 100] }]).file;

for (const compression of ['none', 'gzip'] as const) {
  test(`a ${compression} tar layer: files, directories and modes restored, digest checked`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-unpack-'));
    try {
      const tar = makeTar([{ name: 'model/' }, { name: 'model/model.safetensors', content: weights }, { name: 'model/run.sh', content: Buffer.from('#!/bin/sh\n'), mode: 0o755 }]);
      const blob = compression === 'gzip' ? gzipSync(tar) : tar;
      const r = await unpackLayer(Readable.from([blob]), sha256(blob), dir, safeTarget);
      assert.deepEqual(r, { files: 2, bytes: weights.length + 10, skipped: 0 });
      assert.ok(readFileSync(join(dir, 'model/model.safetensors')).equals(weights));
      assert.equal(statSync(join(dir, 'model/run.sh')).mode & 0o777, 0o755);
      await assert.rejects(unpackLayer(Readable.from([blob]), sha256('other'), join(dir, 'again'), safeTarget), /DIGEST_INVALID|digest/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a tar entry that leaves the directory stops the unpack; nothing lands outside', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'wharf-unpack-evil-'));
  const dir = join(parent, 'out');
  try {
    const tar = makeTar([{ name: 'ok.txt', content: Buffer.from('fine') }, { name: '../escaped.txt', content: Buffer.from('pwned') }]);
    await assert.rejects(unpackLayer(Readable.from([tar]), sha256(tar), dir, safeTarget), /unsafe file path "\.\.\/escaped\.txt"/);
    assert.equal(existsSync(join(parent, 'escaped.txt')), false);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
