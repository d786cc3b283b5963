/**
 * `wharf fsck` on the scale-out backends (S3 + PostgreSQL), as on the embedded ones: clean over
 * what a server wrote, and not blind to a blob whose bytes vanished from the bucket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { buildImage, hex, MT, type BuiltImage } from '../support/oci-layout.js';
import { RegistryClient } from '../support/registry-client.js';
import { e2eTarget, startRegistry, wharfBuilt, wharfCli } from '../support/registry-process.js';
import { scaleOutSkipReason, startScaleOut, type ScaleOut } from '../support/scale-out.js';

const skip = e2eTarget() !== 'wharf' ? 'scale-out is Wharf' : !wharfBuilt() ? 'run npm run build first' : await scaleOutSkipReason();

describe('wharf fsck over S3 and PostgreSQL', { skip, timeout: 120_000 }, () => {
  let so: ScaleOut;
  let image: BuiltImage;
  const fsck = () => wharfCli(['fsck', '--config', so.configFile, '--output', 'json'], { env: so.env });

  before(async () => {
    so = await startScaleOut();
    const reg = await startRegistry({ configFile: so.configFile, env: so.env });
    try {
      const client = new RegistryClient({ url: reg.url });
      image = buildImage();
      for (const [d, b] of image.blobs) if (d !== image.manifestDigest) await client.pushBlobPostPut('fsck/img', b, d);
      await client.putManifest('fsck/img', 'v1', image.manifest, MT.manifest);
    } finally {
      await reg.stop();
    }
  });
  after(async () => so?.stop());

  test('a store written by the server is clean (exit 0), every blob re-hashed from S3', () => {
    const r = fsck();
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { problems: unknown[]; stats: { blobs: number; manifests: number; bytesVerified: number } };
    assert.deepEqual(report.problems, []);
    assert.equal(report.stats.blobs, image.blobs.size - 1);
    assert.equal(report.stats.manifests, 1);
    assert.ok(report.stats.bytesVerified > 0);
  });

  test('bytes missing from the bucket are a problem (exit 3); a stray object is a warning', async () => {
    const layer = image.layers[0]!;
    const s3 = so.s3.client();
    await s3.send(new PutObjectCommand({ Bucket: so.s3.bucket, Key: `wharf/blobs/sha256/${'0'.repeat(64)}`, Body: 'stray' }));
    await s3.send(new DeleteObjectCommand({ Bucket: so.s3.bucket, Key: `wharf/blobs/sha256/${hex(layer.digest)}` }));
    const r = fsck();
    assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { problems: { kind: string; digest?: string }[]; warnings: { kind: string }[] };
    assert.deepEqual(report.problems.map((p) => [p.kind, p.digest]), [['blob-missing', layer.digest]]);
    assert.deepEqual(report.warnings.map((w) => w.kind), ['blob-unreferenced']);
  });
});
