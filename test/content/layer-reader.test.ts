/**
 * One pass, several consumers: each layer blob is opened and decompressed once whatever the number
 * of consumers, every consumer sees every entry, and a file's bytes reach each consumer that asked.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { readLayers, LayerError, type EntrySink, type LayerConsumer, type LayerEntry } from '../../src/content/layers/layer-reader.js';
import { DEFAULT_WALK_LIMITS, FileViewConsumer } from '../../src/content/layers/layer-walker.js';
import { gzip, tarOf } from './support/layers.js';

class Recorder implements LayerConsumer {
  readonly seen: string[] = [];
  readonly hashes = new Map<string, string>();
  readonly ends: number[] = [];
  constructor(private readonly read: (e: LayerEntry) => boolean) {}
  entry(e: LayerEntry): EntrySink | undefined {
    this.seen.push(`${e.layer}:${e.kind}:${e.path}`);
    if (!this.read(e)) return undefined;
    const h = createHash('sha256');
    return { write: (c) => h.update(c), end: () => this.hashes.set(e.path, h.digest('hex')) };
  }
  endLayer(_s: unknown, layer: number): void {
    this.ends.push(layer);
  }
}

describe('layer reader', () => {
  test('two consumers share one open and one decompression per layer', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const l0 = gzip(await tarOf([{ name: 'etc/os-release', content: 'ID=debian\n' }, { name: 'opt/big.bin', content: big }]));
    const l1 = gzip(await tarOf([{ name: 'opt/.wh.big.bin', content: '' }, { name: 'etc/.wh..wh..opq', content: '' }, { name: 'usr/lib/x', type: 'symlink', linkname: '../y' }]));
    let opens = 0;
    const src = (b: Buffer, d: string) => ({ digest: d, open: async () => (opens++, Readable.from([b])) });
    const a = new Recorder((e) => e.kind === 'file');
    const b = new Recorder((e) => e.path === 'opt/big.bin');
    const view = new FileViewConsumer((p) => (p === 'etc/os-release' ? 'content' : undefined));
    const summaries = await readLayers([src(l0, 'sha256:a'), src(l1, 'sha256:b')], [a, b, view], DEFAULT_WALK_LIMITS);
    assert.equal(opens, 2);
    assert.deepEqual(summaries.map((s) => s.compression), ['gzip', 'gzip']);
    assert.deepEqual(a.seen, ['0:file:etc/os-release', '0:file:opt/big.bin', '1:whiteout:opt/big.bin', '1:opaque:etc', '1:symlink:usr/lib/x']);
    assert.deepEqual(a.seen, b.seen);
    const bigHash = createHash('sha256').update(big).digest('hex');
    assert.equal(a.hashes.get('opt/big.bin'), bigHash);
    assert.equal(b.hashes.get('opt/big.bin'), bigHash);
    assert.equal(a.hashes.get('etc/os-release'), createHash('sha256').update('ID=debian\n').digest('hex'));
    assert.equal(b.hashes.has('etc/os-release'), false);
    assert.deepEqual(a.ends, [0, 1]);
    // the opaque marker of layer 1 hides layer 0's etc/os-release in the final view
    assert.equal(view.view(summaries).files.size, 0);
  });

  test('a consumer that throws stops the pass with a LayerError naming the layer', async () => {
    const l0 = await tarOf([{ name: 'a', content: 'x' }]);
    const stopper: LayerConsumer = {
      entry: () => {
        throw new LayerError(0, 'sha256:a', 'stop here', true);
      },
    };
    await assert.rejects(readLayers([{ digest: 'sha256:a', open: async () => Readable.from([l0]) }], [stopper], DEFAULT_WALK_LIMITS), (e: unknown) => e instanceof LayerError && /stop here/.test(e.message));
  });
});
