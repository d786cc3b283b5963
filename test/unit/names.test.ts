import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MAX_NAME_LENGTH, parseReference, parseRepoName, parseTag, referenceToString } from '../../src/domain/names.js';
import { WharfError } from '../../src/errors/wharf-error.js';

function isCode(code: string) {
  return (err: unknown): boolean => err instanceof WharfError && err.code === code;
}

const HEX64 = createHash('sha256').update('names').digest('hex');

describe('parseRepoName', () => {
  test('accepts the distribution-spec grammar', () => {
    for (const name of [
      'a',
      '0',
      'library/ubuntu',
      'team/ml/pytorch-cuda12',
      'a/b/c/d/e/f/g',
      'my.org/image',
      'foo_bar',
      'foo__bar',
      'foo-bar',
      'foo---bar',
      'a.b.c',
      'a0/1b/c-2/d_3/e__4/f.5',
      '9lives',
    ]) {
      assert.equal(parseRepoName(name), name);
    }
  });

  test('refuses path traversal, separators in the wrong place and bad characters', () => {
    for (const name of [
      '../x',
      'a/../b',
      './a',
      'a/.',
      '..',
      '.',
      '/a',
      'a/',
      '/',
      'a//b',
      '-a',
      'a-',
      '_a',
      'a_',
      '.a',
      'a.',
      'a___b',
      'a..b',
      'a._b',
      'a-.b',
      'Library/ubuntu',
      'libRary',
      'ABC',
      'a b',
      ' a',
      'a ',
      'a\tb',
      'a\nb',
      'a\n',
      '%2e%2e',
      '%2e%2e/x',
      'a%2fb',
      'a\0b',
      'a\0',
      'a:b',
      'a@b',
      'a\\b',
      'ünïcode',
      'a/\u0430', // Cyrillic a
    ]) {
      assert.throws(() => parseRepoName(name), isCode('NAME_INVALID'), JSON.stringify(name));
    }
  });

  test('refuses empty and non-string input', () => {
    for (const v of ['', undefined, null, 7, {}, ['a']]) {
      assert.throws(() => parseRepoName(v), isCode('NAME_INVALID'));
    }
  });

  test(`allows exactly ${MAX_NAME_LENGTH} characters and no more`, () => {
    assert.equal(MAX_NAME_LENGTH, 255);
    const exact = `${'a'.repeat(100)}/${'b'.repeat(100)}/${'c'.repeat(53)}`;
    assert.equal(exact.length, 255);
    assert.equal(parseRepoName(exact), exact);
    assert.throws(() => parseRepoName(`${exact}c`), isCode('NAME_INVALID'));
    assert.throws(() => parseRepoName('a'.repeat(256)), isCode('NAME_INVALID'));
    assert.throws(() => parseRepoName('a'.repeat(100_000)), isCode('NAME_INVALID'));
  });

  test('a long pathological name is refused quickly (no regex backtracking blow-up)', () => {
    const evil = `${'a-'.repeat(127)}!`;
    const started = performance.now();
    assert.throws(() => parseRepoName(evil), isCode('NAME_INVALID'));
    assert.throws(() => parseRepoName(`${'a'.repeat(254)}!`), isCode('NAME_INVALID'));
    assert.ok(performance.now() - started < 1000);
  });

  test('the error message does not echo a huge input', () => {
    try {
      parseRepoName(`A${'a'.repeat(200)}`);
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof WharfError);
      assert.ok(e.message.length < 300, e.message);
    }
  });
});

describe('parseTag', () => {
  test('accepts the tag grammar', () => {
    for (const tag of ['latest', 'v1.2.3', '_x', '_', '0', 'A', 'Release_2024-01-01', 'cuda12.1-cudnn8-py3.11', 'a.', 'a-', 'a__']) {
      assert.equal(parseTag(tag), tag);
    }
  });

  test('allows 128 characters, not 129', () => {
    assert.equal(parseTag('t'.repeat(128)), 't'.repeat(128));
    assert.equal(parseTag(`_${'.'.repeat(127)}`), `_${'.'.repeat(127)}`);
    assert.throws(() => parseTag('t'.repeat(129)), isCode('TAG_INVALID'));
    assert.throws(() => parseTag('t'.repeat(10_000)), isCode('TAG_INVALID'));
  });

  test('refuses leading . or -, and characters outside [A-Za-z0-9_.-]', () => {
    for (const tag of ['.x', '-x', '.', '-', '', 'a b', 'a/b', 'a:b', 'a@b', 'a+b', 'v1\n', '\nv1', 'a\0', 'é', '../x', '%2e']) {
      assert.throws(() => parseTag(tag), isCode('TAG_INVALID'), JSON.stringify(tag));
    }
  });

  test('refuses non-strings', () => {
    for (const v of [undefined, null, 1, {}, ['latest']]) assert.throws(() => parseTag(v), isCode('TAG_INVALID'));
  });
});

describe('parseReference', () => {
  test('a tag is a tag', () => {
    const ref = parseReference('latest');
    assert.deepEqual(ref, { kind: 'tag', tag: 'latest' });
    assert.equal(referenceToString(ref), 'latest');
  });

  test('a digest is a digest', () => {
    const ref = parseReference(`sha256:${HEX64}`);
    assert.deepEqual(ref, { kind: 'digest', digest: `sha256:${HEX64}` });
    assert.equal(referenceToString(ref), `sha256:${HEX64}`);
  });

  test('something with a colon that is not a digest is DIGEST_INVALID, never a tag', () => {
    assert.throws(() => parseReference('latest:1'), isCode('DIGEST_INVALID'));
    assert.throws(() => parseReference(`md5:${'a'.repeat(32)}`), isCode('DIGEST_INVALID'));
    assert.throws(() => parseReference(`sha256:${HEX64.toUpperCase()}`), isCode('DIGEST_INVALID'));
  });

  test('a bad tag is TAG_INVALID', () => {
    assert.throws(() => parseReference('-latest'), isCode('TAG_INVALID'));
    assert.throws(() => parseReference(''), isCode('TAG_INVALID'));
    assert.throws(() => parseReference('t'.repeat(129)), isCode('TAG_INVALID'));
  });

  test('a digest-looking tag without the colon stays a tag', () => {
    assert.deepEqual(parseReference(`sha256${HEX64.slice(0, 60)}`), { kind: 'tag', tag: `sha256${HEX64.slice(0, 60)}` });
  });
});
