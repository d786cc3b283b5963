/**
 * Random access to layers: the zTOC built in one pass (gzip checkpoints the zran way, uncompressed
 * tar), every file read back through it equal to a full extraction, reads across checkpoint
 * edges, how little of the blob a read fetches, and bad input (truncated or corrupt gzip, not a
 * tar, too many entries, a decompression bomb, zstd, a damaged zTOC) ending with LAYER_INVALID.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { buildLayerIndex } from '../../src/features/streaming/layer-indexer.js';
import { LayerIndex } from '../../src/features/streaming/layer-reader.js';
import { decodeGzipZinfo, WINDOW_SIZE } from '../../src/features/streaming/zinfo.js';
import { decodeZtoc, encodeZtoc } from '../../src/features/streaming/ztoc.js';
import { collect, extract, gzipCli, memoryRange, mixedContent, tarOf, type Entry } from './support.js';

const SPAN = 64 * 1024;

async function sampleTar(): Promise<Buffer> {
  const entries: Entry[] = [{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' }];
  for (let i = 0; i < 30; i += 1) entries.push({ name: `data/f${i}.bin`, content: mixedContent(i * 41_000 + (i % 3), i) });
  entries.push({ name: 'data/empty', content: '' });
  entries.push({ name: `deep/${'x'.repeat(120)}/${'y'.repeat(90)}.txt`, content: 'long name (pax path)' });
  entries.push({ name: 'etc/link', type: 'symlink', linkname: 'os-release' });
  entries.push({ name: 'etc/hard', type: 'link', linkname: 'etc/os-release' });
  return tarOf(entries);
}

function chunked(b: Buffer, size = 100_003): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) parts.push(b.subarray(i, i + size));
  return Readable.from(parts);
}

const tarPromise = sampleTar();
const variants = async (): Promise<[string, Buffer][]> => {
  const tar = await tarPromise;
  return [
    ['gzip (node zlib)', gzipSync(tar)],
    ['gzip -1 (CLI)', gzipCli(tar, 1)],
    ['gzip -9 (CLI)', gzipCli(tar, 9)],
    ['gzip with stored blocks (level 0)', gzipSync(tar, { level: 0 })],
    ['uncompressed tar', tar],
  ];
};

describe('layer index (zTOC)', () => {
  test('every file read through the index equals the full extraction (gzip from several compressors, uncompressed; checkpoints on bytes and inside them)', async () => {
    const tar = await tarPromise;
    const reference = await extract(tar);
    const aligned = new Map<string, number>();
    for (const [label0, blob] of await variants()) for (const byteAligned of [true, false]) {
      const label = `${label0}${byteAligned ? '' : ', zran checkpoints'}`;
      const ztoc = await buildLayerIndex(chunked(blob), { spanSize: SPAN, byteAligned });
      if (ztoc.algorithm === 'gzip' && !label0.includes('level 0')) {
        const bits = decodeGzipZinfo(ztoc.checkpoints, blob.length).checkpoints.map((c) => c.bits);
        const share = bits.filter((b) => b === 0).length / bits.length;
        if (byteAligned) aligned.set(label0, share);
        else {
          assert.ok(bits.some((b) => b > 0), `${label}: some points inside a byte (the pako path)`);
          assert.ok(aligned.get(label0)! > share, `${label0}: more byte-aligned points when asked (${aligned.get(label0)} > ${share})`);
        }
      }
      const index = new LayerIndex(encodeZtoc(ztoc));
      assert.equal(ztoc.entries.length, reference.size, label);
      for (const e of ztoc.entries) {
        const want = reference.get(e.name);
        assert.ok(want, `${label}: ${e.name} is in the reference extraction`);
        if (e.type !== 'reg') continue;
        const got = await collect(index.read(memoryRange(blob).open, e.offset, e.size));
        assert.ok(got.equals(want.content), `${label}: ${e.name} (${e.size} bytes) equals the extraction`);
      }
      if (ztoc.algorithm === 'gzip') assert.ok(ztoc.maxSpanId > 10, `${label}: many checkpoints (${ztoc.maxSpanId + 1})`);
    }
  });

  test('reads that start, end or straddle a checkpoint return the archive bytes exactly', async () => {
    const tar = await tarPromise;
    for (const [label0, blob] of await variants()) for (const byteAligned of [true, false]) {
      const label = `${label0}${byteAligned ? '' : ', zran checkpoints'}`;
      const ztoc = await buildLayerIndex(chunked(blob), { spanSize: SPAN, byteAligned });
      const index = new LayerIndex(encodeZtoc(ztoc));
      const edges = ztoc.algorithm === 'gzip' ? decodeGzipZinfo(ztoc.checkpoints, blob.length).checkpoints.map((c) => c.out) : [0, SPAN, 2 * SPAN, 5 * SPAN];
      for (const edge of edges.slice(0, 40)) {
        for (const [start, length] of [
          [edge, 1],
          [edge - 1, 2],
          [edge - 1, 1],
          [edge, SPAN + 1],
          [edge - 100, 3 * SPAN],
        ] as const) {
          if (start < 0 || start + length > tar.length) continue;
          const got = await collect(index.read(memoryRange(blob).open, start, length));
          assert.ok(got.equals(tar.subarray(start, start + length)), `${label}: [${start}, +${length}) at checkpoint ${edge}`);
        }
      }
      const last = tar.length - 7;
      assert.ok((await collect(index.read(memoryRange(blob).open, last, 7))).equals(tar.subarray(last)), `${label}: the archive's last bytes`);
    }
  });

  test('a read fetches only the spans around it: about two spans more than the data', async () => {
    const tar = await tarOf([{ name: 'big.bin', content: mixedContent(8 * 1024 * 1024, 1) }]);
    const blob = gzipCli(tar, 6);
    const ztoc = await buildLayerIndex(chunked(blob), { spanSize: 256 * 1024 });
    const index = new LayerIndex(encodeZtoc(ztoc));
    const range = memoryRange(blob);
    const got = await collect(index.read(range.open, 4 * 1024 * 1024, 64 * 1024));
    assert.ok(got.equals(tar.subarray(4 * 1024 * 1024, 4 * 1024 * 1024 + 64 * 1024)));
    assert.ok(range.read() < 3 * 256 * 1024, `read ${range.read()} bytes of ${blob.length}`);
  });

  describe('bad input ends the build with LAYER_INVALID', () => {
    const rejects = async (blob: Buffer | Readable, pattern: RegExp, options = {}) =>
      assert.rejects(buildLayerIndex(Buffer.isBuffer(blob) ? chunked(blob) : blob, { spanSize: SPAN, ...options }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'LAYER_INVALID', e.message);
        assert.match(e.message, pattern);
        return true;
      });

    test('a truncated gzip stream', async () => {
      const blob = gzipSync(await tarPromise);
      await rejects(blob.subarray(0, blob.length - 100), /truncated/);
      await rejects(blob.subarray(0, 5), /truncated|gzip/);
    });
    test('a corrupt gzip stream', async () => {
      const blob = Buffer.from(gzipSync(await tarPromise));
      for (let i = 200; i < 400; i += 1) blob[i] = blob[i]! ^ 0x5a;
      await rejects(blob, /gzip|tar/);
      await rejects(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]), /gzip|truncated/);
    });
    test('not a tar inside the gzip, a truncated tar, data after the gzip stream', async () => {
      await rejects(gzipSync(mixedContent(100_000)), /checksum/);
      const tar = await tarPromise;
      await rejects(gzipSync(tar.subarray(0, 512 * 30 + 100)), /truncated/);
      await rejects(tar.subarray(0, 512 * 30 + 100), /truncated/);
      await rejects(Buffer.concat([gzipSync(tar), gzipSync(Buffer.from('more'))]), /after its gzip stream/);
      await rejects(Buffer.alloc(0), /empty/);
    });
    test('absurd entry counts stop at the limit', async () => {
      const entries: Entry[] = [];
      for (let i = 0; i < 50; i += 1) entries.push({ name: `f${i}`, content: '' });
      await rejects(gzipSync(await tarOf(entries)), /more than 20 entries/, { limits: { maxEntries: 20 } });
    });
    test('a decompression bomb stops at the ratio and size limits', async () => {
      const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
      await rejects(zeros, /times its size/, { limits: { maxCompressionRatio: 100 } });
      await rejects(zeros, /more than 1048576 bytes/, { limits: { maxUncompressedBytes: 1024 * 1024 } });
    });
    test('oversized pax headers and unsupported entry types', async () => {
      await rejects(await tarOf([{ name: 'a', content: 'x', pax: { comment: 'c'.repeat(5000) } }]), /extended header/, { limits: { maxExtendedHeaderBytes: 1024 } });
      const tar = Buffer.from(await tarOf([{ name: 'a', content: 'x' }]));
      tar[156] = 'S'.charCodeAt(0); // GNU sparse
      let sum = 0;
      tar.fill(0x20, 148, 156);
      for (let i = 0; i < 512; i += 1) sum += tar[i]!;
      tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      await rejects(tar, /unsupported entry type/);
    });
    test('zstd layers are refused with a clear error (not indexed yet)', async () => {
      await rejects(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), /zstd/);
    });
  });

  test('a damaged zTOC is LAYER_INVALID when read, never a crash', async () => {
    const blob = gzipSync(await tarPromise);
    const bytes = encodeZtoc(await buildLayerIndex(chunked(blob), { spanSize: SPAN }));
    for (const damaged of [bytes.subarray(0, 4), bytes.subarray(0, bytes.length >> 1), Buffer.from(mixedContent(5000)), Buffer.alloc(64, 0xff)]) {
      assert.throws(() => new LayerIndex(damaged), (e: Error & { code?: string }) => e.code === 'LAYER_INVALID');
    }
  });

  test('GNU tar archives (long names, base-256 sizes written by tar --format=gnu) index like pax ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-gnu-'));
    try {
      const long = `${'n'.repeat(150)}/${'m'.repeat(120)}`;
      mkdirSync(join(dir, 'src', long), { recursive: true });
      writeFileSync(join(dir, 'src', long, 'file.txt'), 'gnu long name\n');
      const r = spawnSync('tar', ['--format=gnu', '-C', join(dir, 'src'), '-cf', '-', '.'], { maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, r.stderr.toString());
      const tar = r.stdout;
      const ztoc = await buildLayerIndex(chunked(gzipSync(tar)), { spanSize: SPAN });
      const entry = ztoc.entries.find((e) => e.name === `./${long}/file.txt`);
      assert.ok(entry, ztoc.entries.map((e) => e.name).join('\n'));
      const index = new LayerIndex(encodeZtoc(ztoc));
      assert.equal((await collect(index.read(memoryRange(gzipSync(tar)).open, entry.offset, entry.size))).toString(), 'gnu long name\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the decoded zTOC round-trips every field', async () => {
    const blob = gzipCli(await tarPromise, 6);
    const ztoc = await buildLayerIndex(chunked(blob), { spanSize: SPAN });
    const back = decodeZtoc(encodeZtoc(ztoc));
    assert.deepEqual({ ...back, checkpoints: Buffer.from(back.checkpoints) }, { ...ztoc, checkpoints: Buffer.from(ztoc.checkpoints) });
    assert.equal(decodeGzipZinfo(back.checkpoints, blob.length).checkpoints[0]!.window.length, WINDOW_SIZE);
  });
});

test('a failed build closes the layer stream it was reading (no descriptor left open)', async () => {
  for (const bytes of [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]), Buffer.concat([gzipSync(Buffer.from('x'.repeat(5000))), Buffer.alloc(10)])]) {
    let destroyed = false;
    const source = new Readable({
      read() {
        this.push(bytes);
        this.push(bytes); // more than the build will want
      },
      destroy(err, cb) {
        destroyed = true;
        cb(err);
      },
    });
    await assert.rejects(buildLayerIndex(source, { spanSize: SPAN }));
    assert.ok(destroyed, 'the source was destroyed');
  }
});

test('a large zTOC is opened by range: head, file table, the headers a search visits and one window per read', async () => {
  const { openLayerIndex } = await import('../../src/features/streaming/ztoc-loader.js');
  const entries: Entry[] = [];
  for (let i = 0; i < 24; i += 1) entries.push({ name: `w/part-${i}.bin`, content: mixedContent(400_000 + i, 200 + i) });
  const tar = await tarOf(entries);
  const blob = gzipCli(tar, 6);
  const ztoc = await buildLayerIndex(chunked(blob), { spanSize: SPAN });
  const bytes = Buffer.from(encodeZtoc(ztoc));
  assert.ok(bytes.length > 2 * 1024 * 1024, `a zTOC of ${bytes.length} bytes`);
  let fetched = 0;
  const read = async (start: number, end: number) => {
    assert.ok(start >= 0 && end < bytes.length && end >= start, `range ${start}-${end}`);
    fetched += end - start + 1;
    return bytes.subarray(start, end + 1);
  };
  const index = await openLayerIndex(read, bytes.length);
  const opened = fetched;
  assert.ok(opened < bytes.length / 4, `opening read ${opened} of ${bytes.length} bytes`);
  const e = index.ztoc.entries.find((x) => x.name === 'w/part-13.bin')!;
  const got = await collect(index.read(memoryRange(blob).open, e.offset, e.size));
  assert.ok(got.equals(mixedContent(400_013, 213)));
  assert.ok(fetched - opened < 5 * 32 * 1024, `one read fetched ${fetched - opened} bytes of windows and headers`);
  for (const x of index.ztoc.entries) {
    if (x.type !== 'reg') continue;
    const part = Number(x.name.slice(7, -4));
    assert.ok((await collect(index.read(memoryRange(blob).open, x.offset, x.size))).equals(mixedContent(400_000 + part, 200 + part)), x.name);
  }
  // damaged in the head: read whole, and refused as before
  const damaged = Buffer.from(bytes);
  damaged.fill(0xff, 0, 64);
  await assert.rejects(openLayerIndex(async (s: number, t: number) => damaged.subarray(s, t + 1), damaged.length), (err: Error & { code?: string }) => err.code === 'LAYER_INVALID');
});
