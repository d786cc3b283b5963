import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  algorithmOf,
  digestFromHash,
  digestOf,
  encodedOf,
  isDigest,
  newHasher,
  parseDigest,
} from '../../src/domain/digest.js';
import { WharfError } from '../../src/errors/wharf-error.js';

const HEX64 = createHash('sha256').update('wharf').digest('hex');
const HEX128 = createHash('sha512').update('wharf').digest('hex');

function isCode(code: string) {
  return (err: unknown): boolean => err instanceof WharfError && err.code === code;
}

function rejects(input: unknown): void {
  assert.throws(() => parseDigest(input), isCode('DIGEST_INVALID'), `should refuse ${String(input).slice(0, 80)}`);
}

describe('parseDigest accepts', () => {
  test('sha256 with 64 lower-case hex', () => {
    const d = parseDigest(`sha256:${HEX64}`);
    assert.equal(d, `sha256:${HEX64}`);
    assert.equal(algorithmOf(d), 'sha256');
    assert.equal(encodedOf(d), HEX64);
    assert.equal(isDigest(d), true);
  });

  test('sha512 with 128 lower-case hex', () => {
    const d = parseDigest(`sha512:${HEX128}`);
    assert.equal(algorithmOf(d), 'sha512');
    assert.equal(encodedOf(d), HEX128);
  });

  test('the digest of the empty string', () => {
    assert.equal(parseDigest(digestOf(new Uint8Array())), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('parseDigest refuses with DIGEST_INVALID', () => {
  test('upper-case hex (digests are canonical lower-case)', () => {
    rejects(`sha256:${HEX64.toUpperCase()}`);
    rejects(`SHA256:${HEX64}`);
    rejects(`sha256:${HEX64.slice(0, 63)}A`);
  });

  test('wrong lengths', () => {
    rejects(`sha256:${HEX64.slice(0, 63)}`);
    rejects(`sha256:${HEX64}0`);
    rejects(`sha512:${HEX64}`);
    rejects(`sha256:${HEX128}`);
    rejects('sha256:');
    rejects('sha256:0');
  });

  test('non-hex characters of the right length', () => {
    rejects(`sha256:${'g'.repeat(64)}`);
    rejects(`sha256:${'-'.repeat(64)}`);
    rejects(`sha256:${'='.repeat(64)}`);
  });

  test('unknown or unregistered algorithms', () => {
    rejects(`md5:${createHash('md5').update('x').digest('hex')}`);
    rejects(`sha384:${createHash('sha384').update('x').digest('hex')}`);
    rejects(`sha256+b64u:${Buffer.from(HEX64, 'hex').toString('base64url')}`);
    rejects(`sha1:${'a'.repeat(40)}`);
    rejects(`blake3:${HEX64}`);
  });

  test('missing or misplaced colon', () => {
    rejects(`sha256${HEX64}`);
    rejects(HEX64);
    rejects(`:${HEX64}`);
    rejects(`sha256::${HEX64}`);
    rejects(`sha256:${HEX64}:`);
  });

  test('empty and non-string input', () => {
    for (const v of ['', undefined, null, 42, {}, [`sha256:${HEX64}`], true, Symbol('d')]) rejects(v);
    // an object whose toString would be valid is still not a string
    rejects({ toString: () => `sha256:${HEX64}` });
  });

  test('a 10 KB string', () => {
    rejects(`sha256:${'a'.repeat(10 * 1024)}`);
    rejects('s'.repeat(10 * 1024));
    // the message stays short whatever the input size
    try {
      parseDigest(`sha256:${'a'.repeat(10 * 1024)}`);
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof WharfError);
      assert.ok(e.message.length < 300, e.message);
    }
  });

  test('unicode look-alikes', () => {
    rejects(`sha256:${HEX64.slice(0, 63)}\u0430`); // Cyrillic a
    rejects(`sha256:${HEX64.slice(0, 62)}\u00e9`);
    rejects(`sha\u0032\u0035\u0036\uff1a${HEX64}`); // full-width colon
    rejects(`sha256:${HEX64.slice(0, 63)}\u0661`); // Arabic-Indic digit one
  });

  test('whitespace and newline injection', () => {
    rejects(` sha256:${HEX64}`);
    rejects(`sha256:${HEX64} `);
    rejects(`sha256:${HEX64}\n`);
    rejects(`sha256:${HEX64}\r\nX-Injected: 1`);
    rejects(`sha256 :${HEX64}`);
    rejects(`sha256:${HEX64.slice(0, 32)}\t${HEX64.slice(32)}`);
    rejects(`sha256:${HEX64}\0`);
  });

  test('isDigest mirrors parseDigest without throwing', () => {
    assert.equal(isDigest(`md5:${'a'.repeat(32)}`), false);
    assert.equal(isDigest(''), false);
  });
});

describe('hashing helpers', () => {
  test('digestOf and an incremental hasher agree', () => {
    const bytes = Buffer.from('hello, wharf');
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const h = newHasher(algorithm);
      h.update(bytes.subarray(0, 5));
      h.update(bytes.subarray(5));
      const d = digestFromHash(algorithm, h);
      assert.equal(d, digestOf(bytes, algorithm));
      assert.equal(parseDigest(d), d);
    }
  });
});
