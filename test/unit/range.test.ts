import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContentRange, parseRangeHeader } from '../../src/http/range.js';
import { WharfError } from '../../src/errors/wharf-error.js';

function isCode(code: string) {
  return (err: unknown): boolean => err instanceof WharfError && err.code === code;
}

describe('parseRangeHeader', () => {
  test('no header means the whole blob', () => {
    assert.equal(parseRangeHeader(undefined, 100), undefined);
  });

  test('first byte, open-ended, suffix', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-0', 100), { start: 0, end: 0 });
    assert.deepEqual(parseRangeHeader('bytes=5-', 100), { start: 5, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=99-99', 100), { start: 99, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=10-19', 100), { start: 10, end: 19 });
    assert.deepEqual(parseRangeHeader('  bytes=1-2  ', 100), { start: 1, end: 2 });
  });

  test('an end past the blob is clamped to its last byte', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-1000', 100), { start: 0, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=50-99999999999999999999', 100), { start: 50, end: 99 });
  });

  test('a suffix longer than the blob is the whole blob (RFC 9110 14.1.1)', () => {
    assert.deepEqual(parseRangeHeader('bytes=-1000', 100), { start: 0, end: 99 });
    assert.deepEqual(parseRangeHeader('bytes=-99999999999999999999', 100), { start: 0, end: 99 });
  });

  test('a start at or beyond the size is RANGE_INVALID with the size in detail', () => {
    assert.throws(() => parseRangeHeader('bytes=100-', 100), isCode('RANGE_INVALID'));
    assert.throws(() => parseRangeHeader('bytes=100-200', 100), isCode('RANGE_INVALID'));
    assert.throws(() => parseRangeHeader('bytes=99999999999999999999-', 100), isCode('RANGE_INVALID'));
    try {
      parseRangeHeader('bytes=500-', 100);
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof WharfError && e.code === 'RANGE_INVALID');
      assert.deepEqual(e.detail, { size: 100 });
      assert.equal(e.status, 416);
    }
  });

  test('end before start is RANGE_INVALID', () => {
    assert.throws(() => parseRangeHeader('bytes=10-5', 100), isCode('RANGE_INVALID'));
    assert.throws(() => parseRangeHeader('bytes=10-5', 3), isCode('RANGE_INVALID'));
  });

  test('an empty suffix is RANGE_INVALID', () => {
    assert.throws(() => parseRangeHeader('bytes=-0', 100), isCode('RANGE_INVALID'));
    assert.throws(() => parseRangeHeader('bytes=-', 100), isCode('RANGE_INVALID'));
  });

  test('malformed byte ranges are RANGE_INVALID', () => {
    for (const h of ['', 'bytes', 'bytes=', 'bytes=a-b', 'bytes=1-2-3', 'bytes=1.5-2', 'bytes=-1-2', 'bytes=0x10-', 'bytes = 0-1', 'bytes=0 -1', 'bytes=1e3-', 'bytes=\u0661-2', 'bytes=0-1\nX: y']) {
      assert.throws(() => parseRangeHeader(h, 100), isCode('RANGE_INVALID'), JSON.stringify(h));
    }
  });

  test('an unknown range unit is ignored, not refused (RFC 9110 14.2)', () => {
    assert.equal(parseRangeHeader('items=0-5', 100), undefined);
    assert.equal(parseRangeHeader('lines=-5', 100), undefined);
    // units compare case-insensitively; a header with no unit at all is malformed
    assert.deepEqual(parseRangeHeader('Bytes=0-5', 100), { start: 0, end: 5 });
    assert.throws(() => parseRangeHeader('0-5', 100), isCode('RANGE_INVALID'));
  });

  test('several ranges are served as the whole blob', () => {
    assert.equal(parseRangeHeader('bytes=0-1,5-6', 100), undefined);
    assert.equal(parseRangeHeader('bytes=0-1, -5', 100), undefined);
  });

  test('a zero-size blob satisfies no range', () => {
    for (const h of ['bytes=0-', 'bytes=0-0', 'bytes=-1', 'bytes=0-100']) {
      assert.throws(() => parseRangeHeader(h, 0), isCode('RANGE_INVALID'), h);
    }
  });

  test('a one-byte blob', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-', 1), { start: 0, end: 0 });
    assert.deepEqual(parseRangeHeader('bytes=-1', 1), { start: 0, end: 0 });
    assert.throws(() => parseRangeHeader('bytes=1-', 1), isCode('RANGE_INVALID'));
  });

  test('a 10 KB header is refused quickly with a short message', () => {
    try {
      parseRangeHeader(`bytes=${'1'.repeat(10_000)}x`, 100);
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof WharfError && e.code === 'RANGE_INVALID');
      assert.ok(e.message.length < 200);
    }
  });
});

describe('parseContentRange', () => {
  test('absent header', () => {
    assert.equal(parseContentRange(undefined), undefined);
  });

  test('the distribution-spec form start-end', () => {
    assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('100-100'), { start: 100, end: 100 });
    assert.deepEqual(parseContentRange(' 5-9 '), { start: 5, end: 9 });
  });

  test('the RFC form and the bytes= variant', () => {
    assert.deepEqual(parseContentRange('bytes 0-99/100'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('bytes 0-99/*'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('bytes=0-99'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('0-99/100'), { start: 0, end: 99 });
  });

  test('end before start is RANGE_INVALID', () => {
    assert.throws(() => parseContentRange('10-5'), isCode('RANGE_INVALID'));
    assert.throws(() => parseContentRange('bytes 1-0/2'), isCode('RANGE_INVALID'));
  });

  test('malformed values are RANGE_INVALID', () => {
    for (const h of ['', '-', '0-', '-99', 'a-b', '0-99-', 'bytes 0-99/', 'bytes 0-99/abc', 'bytes0-99', 'items 0-99', '0 - 99', '1.5-2', '0-99\r\nX: y', '0x0-0x9', '+1-2', '0-1,2-3']) {
      assert.throws(() => parseContentRange(h), isCode('RANGE_INVALID'), JSON.stringify(h));
    }
  });

  test('huge numbers are refused rather than losing precision', () => {
    assert.deepEqual(parseContentRange('0-999999999999999'), { start: 0, end: 999999999999999 });
    assert.throws(() => parseContentRange('0-9999999999999999'), isCode('RANGE_INVALID'));
    assert.throws(() => parseContentRange('0-99999999999999999999999'), isCode('RANGE_INVALID'));
    assert.throws(() => parseContentRange(`0-${'9'.repeat(10_000)}`), isCode('RANGE_INVALID'));
    try {
      parseContentRange(`0-${'9'.repeat(10_000)}`);
    } catch (e) {
      assert.ok(e instanceof Error && e.message.length < 200);
    }
  });
});
