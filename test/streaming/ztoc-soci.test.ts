/**
 * The zTOC Wharf writes, decoded by code that flatc generates from soci-snapshotter's own schema
 * (test/streaming/fixtures/ztoc.fbs, zinfo.fbs; not Wharf's decoder), checked against the rules
 * soci-snapshotter's ztoc package applies when it builds and reads one. Each test names its rule.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as flatbuffers from 'flatbuffers';
import { buildLayerIndex } from '../../src/features/streaming/layer-indexer.js';
import { encodeZtoc } from '../../src/features/streaming/ztoc.js';
import { gzipCli, mixedContent, tarOf, type Entry } from './support.js';

const SPAN = 64 * 1024;
const POINT = 8 + 8 + 1 + 32768;
const gen = join(process.cwd(), 'node_modules', '.cache', `wharf-ztoc-fbs-${process.pid}`);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let Ztoc: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let TarZinfo: any;
let tar: Buffer;

before(async () => {
  mkdirSync(gen, { recursive: true });
  const fixtures = join(process.cwd(), 'test', 'streaming', 'fixtures');
  execFileSync('flatc', ['--ts', '-o', gen, join(fixtures, 'ztoc.fbs'), join(fixtures, 'zinfo.fbs')]);
  Ztoc = (await import(join(gen, 'ztoc', 'ztoc.ts'))).Ztoc;
  TarZinfo = (await import(join(gen, 'zinfo', 'tar-zinfo.ts'))).TarZinfo;
  const entries: Entry[] = [{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', type: 'symlink', linkname: 'busybox' }];
  for (let i = 0; i < 12; i += 1) entries.push({ name: `bin/f${i}`, content: mixedContent(30_000 * i + 1, i), mode: 0o755, uid: 1000 + i, gid: 50 });
  tar = await tarOf(entries);
  process.on('exit', () => rmSync(gen, { recursive: true, force: true }));
});

async function built(blob: Buffer) {
  const ours = await buildLayerIndex(Readable.from([blob]), { spanSize: SPAN });
  const bytes = encodeZtoc(ours);
  return { ours, z: Ztoc.getRootAsZtoc(new flatbuffers.ByteBuffer(bytes)) };
}

describe('zTOC against soci-snapshotter schema and rules', () => {
  test('root fields: version "0.9" (ztoc.Version09), archive sizes = blob size and tar size, build tool set', async () => {
    const blob = gzipCli(tar);
    const { z } = await built(blob);
    assert.equal(z.version(), '0.9');
    assert.equal(z.buildToolIdentifier(), 'wharf');
    assert.equal(z.compressedArchiveSize(), BigInt(blob.length));
    // rule (toc_builder.metadataFromTarReader): the uncompressed size is where Go's tar reader stops, after the end-of-archive blocks
    const size = Number(z.uncompressedArchiveSize());
    assert.ok(size <= tar.length && size % 512 === 0);
    assert.ok(tar.subarray(size - 1024, size).every((x) => x === 0) && !tar.subarray(size - 1536, size - 1024).every((x) => x === 0));
  });

  test('TOC: one FileMetadata per tar header in order, type names of toc_builder.getType, offsets where the data is', async () => {
    const { z } = await built(gzipSync(tar));
    const toc = z.toc();
    const names: string[] = [];
    let nextHeader = 0;
    for (let i = 0; i < toc.metadataLength(); i += 1) {
      const m = toc.metadata(i);
      names.push(m.name());
      assert.ok(['reg', 'hardlink', 'symlink', 'dir', 'char', 'block', 'fifo'].includes(m.type()), m.type());
      // rule (ztoc_marshaler.flatbufferToTOC): offsets ascend, each at or after the previous entry's data aligned to 512
      const offset = Number(m.uncompressedOffset());
      assert.ok(offset >= nextHeader + 512, `${m.name()} at ${offset}`);
      nextHeader = Math.ceil((offset + Number(m.uncompressedSize())) / 512) * 512;
      if (m.type() === 'reg') {
        // rule: uncompressed_offset is where the file's bytes start in the tar
        const size = Number(m.uncompressedSize());
        const i2 = Number(m.name().slice(5));
        assert.ok(tar.subarray(offset, offset + size).equals(mixedContent(30_000 * i2 + 1, i2)), m.name());
        assert.equal(Number(m.mode()), 0o755);
        assert.equal(m.uid(), 1000 + i2);
        assert.equal(m.gid(), 50);
        assert.match(m.modTime(), /^2023-11-14T22:13:20Z$/);
      }
      if (m.type() === 'symlink') assert.equal(m.linkname(), 'busybox');
    }
    assert.deepEqual(names.slice(0, 3), ['bin/', 'bin/sh', 'bin/f0']);
  });

  test('gzip compression info: algorithm Gzip, zinfo v2 layout, max_span_id = checkpoints - 1 = span digests - 1', async () => {
    const blob = gzipCli(tar, 6);
    const { z } = await built(blob);
    const info = z.compressionInfo();
    assert.equal(info.compressionAlgorithm(), 1);
    const cp: Uint8Array = info.checkpointsArray();
    const b = Buffer.from(cp);
    const count = b.readInt32LE(0);
    // rule (gzip_zinfo.h): 4-byte count, 8-byte span size, then packed 8+8+1+32768-byte points, all of them (v2)
    assert.equal(b.length, 12 + count * POINT);
    assert.equal(Number(b.readBigInt64LE(4)), SPAN);
    assert.equal(info.maxSpanId(), count - 1);
    assert.equal(info.spanDigestsLength(), count);
    let prevOut = -1;
    for (let i = 0; i < count; i += 1) {
      const at = 12 + i * POINT;
      const inOff = Number(b.readBigInt64LE(at));
      const out = Number(b.readBigInt64LE(at + 8));
      const bits = b[at + 16]!;
      // rule (generate_zinfo_from_fp): the first point is at uncompressed 0, the next ones more than span bytes apart
      if (i === 0) assert.equal(out, 0);
      else assert.ok(out - prevOut > SPAN, `point ${i}: ${out - prevOut}`);
      assert.ok(bits <= 7);
      // rule: the window is the 32 KiB of uncompressed data before the point (zeros before the start)
      const window = b.subarray(at + 17, at + 17 + 32768);
      const want = Buffer.alloc(32768);
      tar.subarray(Math.max(0, out - 32768), out).copy(want, 32768 - Math.min(out, 32768));
      assert.ok(window.equals(want), `window of point ${i}`);
      // rule (getPerSpanDigests): span i is blob[start(i), end(i)) with start = in - (bits ? 1 : 0), end = next in or the blob's end
      const nextIn = i + 1 < count ? Number(b.readBigInt64LE(12 + (i + 1) * POINT)) : blob.length;
      const digest = `sha256:${createHash('sha256').update(blob.subarray(inOff - (bits ? 1 : 0), nextIn)).digest('hex')}`;
      assert.equal(info.spanDigests(i), digest, `span ${i}`);
      prevOut = out;
    }
  });

  test('uncompressed layers: algorithm Uncompressed, TarZinfo (version 2, span size, size), spans every span_size bytes', async () => {
    const { z } = await built(tar);
    const info = z.compressionInfo();
    assert.equal(info.compressionAlgorithm(), 2);
    const tz = TarZinfo.getRootAsTarZinfo(new flatbuffers.ByteBuffer(info.checkpointsArray()));
    assert.equal(tz.version(), 2);
    assert.equal(tz.spanSize(), BigInt(SPAN));
    assert.equal(tz.size(), BigInt(tar.length));
    // rule (TarZinfo.MaxSpanID): size / span, minus one when it divides evenly
    const max = Math.floor(tar.length / SPAN) - (tar.length % SPAN === 0 ? 1 : 0);
    assert.equal(info.maxSpanId(), max);
    for (let i = 0; i <= max; i += 1) {
      const d = `sha256:${createHash('sha256').update(tar.subarray(i * SPAN, Math.min((i + 1) * SPAN, tar.length))).digest('hex')}`;
      assert.equal(info.spanDigests(i), d);
    }
  });
});
