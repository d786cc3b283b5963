/**
 * `wharf fsck` is what the crash test relies on, so it must not be blind: over a real data dir
 * written by a real server it is clean, and it reports (non-zero exit) a blob whose bytes were
 * corrupted or removed behind the server's back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, hex, MT, type BuiltImage } from '../support/oci-layout.js';
import { RegistryClient } from '../support/registry-client.js';
import { e2eTarget, startRegistry, wharfCli, type RegistryProcess } from '../support/registry-process.js';

/** The one regular file under `dir` named after the digest's hex (wherever the store puts it). */
function findBlobFile(dir: string, digest: string): string {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.isFile() && e.name === hex(digest)) found.push(join(d, e.name));
    }
  };
  walk(dir);
  assert.equal(found.length, 1, `files for ${digest} under ${dir}: ${found.join(', ')}`);
  return found[0]!;
}

describe('wharf fsck over a real data dir', { skip: e2eTarget() === 'wharf' ? false : 'fsck is a Wharf command', timeout: 120_000 }, () => {
  let reg: RegistryProcess;
  let image: BuiltImage;

  before(async () => {
    reg = await startRegistry();
    const client = new RegistryClient({ url: reg.url, headers: reg.authHeaders() });
    image = buildImage();
    for (const [d, b] of image.blobs) if (d !== image.manifestDigest) await client.pushBlobPostPut('fsck/img', b, d);
    await client.putManifest('fsck/img', 'v1', image.manifest, MT.manifest);
    await reg.stop({ keepData: true });
  });
  after(() => {
    if (reg) rmSync(reg.dataDir, { recursive: true, force: true });
  });

  test('a store written by the server is clean (exit 0)', () => {
    const r = wharfCli(['fsck'], { dataDir: reg.dataDir });
    assert.equal(r.code, 0, `fsck exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /0 problems/);
  });

  test('a blob whose bytes were changed in place is reported (exit non-zero, names the digest)', () => {
    const layer = image.layers[0]!;
    const file = findBlobFile(reg.dataDir, layer.digest);
    const original = readFileSync(file);
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1] = (flipped[flipped.length >> 1]! + 1) & 0xff;
    writeFileSync(file, flipped);
    try {
      const r = wharfCli(['fsck'], { dataDir: reg.dataDir });
      assert.notEqual(r.code, 0, `fsck missed a corrupted blob\n${r.stdout}`);
      assert.ok(r.stdout.includes(layer.digest), `fsck output does not name ${layer.digest}:\n${r.stdout}`);
      const quick = wharfCli(['fsck', '--quick'], { dataDir: reg.dataDir });
      assert.equal(quick.code, 0, `--quick does not re-hash, and sizes are unchanged:\n${quick.stdout}`);
    } finally {
      writeFileSync(file, original);
    }
    assert.equal(wharfCli(['fsck'], { dataDir: reg.dataDir }).code, 0, 'clean again once the bytes are restored');
  });

  test('a blob whose file is gone is reported, even by --quick', () => {
    const file = findBlobFile(reg.dataDir, image.configDigest);
    const aside = `${file}.aside`;
    renameSync(file, aside);
    try {
      for (const args of [['fsck'], ['fsck', '--quick']]) {
        const r = wharfCli(args, { dataDir: reg.dataDir });
        assert.notEqual(r.code, 0, `${args.join(' ')} missed a missing blob\n${r.stdout}`);
        assert.ok(r.stdout.includes(image.configDigest), `${args.join(' ')} output does not name ${image.configDigest}:\n${r.stdout}`);
      }
    } finally {
      renameSync(aside, file);
    }
  });

  test('fsck of a data dir that does not exist fails and creates nothing', () => {
    const parent = mkdtempSync(join(tmpdir(), 'wharf-e2e-nodata-'));
    try {
      const missing = join(parent, 'typo');
      const r = wharfCli(['fsck'], { dataDir: missing });
      assert.notEqual(r.code, 0, `fsck --data ${missing} exited 0:\n${r.stdout}`);
      assert.equal(existsSync(missing), false, 'fsck created the data dir it was asked to check');
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
