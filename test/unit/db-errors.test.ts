import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dbErrorKind } from '../../src/storage/metadata/db-errors.js';

test('driver errors of both dialects are classified alike', () => {
  const err = (code: unknown) => Object.assign(new Error('x'), { code });
  assert.equal(dbErrorKind(err('23505')), 'unique');
  assert.equal(dbErrorKind(err('SQLITE_CONSTRAINT_UNIQUE')), 'unique');
  assert.equal(dbErrorKind(err('SQLITE_CONSTRAINT_PRIMARYKEY')), 'unique');
  for (const code of ['40001', '40P01', '55P03', 'SQLITE_BUSY', 'SQLITE_LOCKED']) assert.equal(dbErrorKind(err(code)), 'retry', code);
  for (const other of [err('23503'), err('SQLITE_CONSTRAINT_FOREIGNKEY'), err(42), new Error('plain'), undefined, null, 'string']) {
    assert.equal(dbErrorKind(other), undefined);
  }
});
