import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newState, parseState, restore, rewindPoint, type UploadState } from '../../src/storage/blob/s3-upload-state.js';

const seg = (key: string, size: number) => ({ key, size });
/** parts of 10 bytes: 1,2,3; tail 4 bytes; two checkpoints: after part 1 (+3 tail) and after part 2 (+0) */
const state: UploadState = {
  v: 1,
  version: 'v3',
  size: 34,
  multipart: { uploadId: 'u', key: 'd' },
  parts: [1, 2, 3].map((n) => ({ n, size: 10, etag: `e${n}` })),
  tail: [seg('t3', 4)],
  history: [
    { size: 20, partCount: 2, tail: [] },
    { size: 13, partCount: 1, tail: [seg('t1', 3)] },
  ],
};

test('rewindPoint: the newest state whose parts end before the offset and whose size reaches it', () => {
  assert.equal(rewindPoint(state, 34)?.index, 0);
  assert.equal(rewindPoint(state, 30)?.index, 0, 'inside the current tail');
  assert.equal(rewindPoint(state, 29), undefined, 'inside part 3, past every kept state');
  assert.deepEqual(rewindPoint(state, 20), { index: 1, checkpoint: state.history[0], partsEnd: 20 });
  assert.deepEqual(rewindPoint(state, 12), { index: 2, checkpoint: state.history[1], partsEnd: 10 });
  assert.equal(rewindPoint(state, 5), undefined, 'inside part 1');
  assert.equal(rewindPoint(newState('x'), 0)?.index, 0);
  assert.equal(rewindPoint(newState('x'), 1), undefined);
});

test('restore: back to a checkpoint, its parts a prefix, later history dropped', () => {
  const back = restore(state, 2, 'v9');
  assert.deepEqual(back, { ...state, version: 'v9', size: 13, parts: state.parts.slice(0, 1), tail: [seg('t1', 3)], history: [] });
  assert.equal(restore(state, 0, 'ignored'), state);
});

test('parseState refuses what is not a consistent state', () => {
  assert.deepEqual(parseState(JSON.stringify(state)), state);
  for (const bad of ['null', '[]', '{}', JSON.stringify({ ...state, v: 2 }), JSON.stringify({ ...state, size: 35 }),
    JSON.stringify({ ...state, parts: [{ n: 1, size: -1, etag: 'x' }] }), JSON.stringify({ ...state, tail: [{ key: 1, size: 1 }] }),
    JSON.stringify({ ...state, history: [{ size: 1 }] })]) {
    assert.throws(() => parseState(bad), Error, bad);
  }
});
