import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { renderErrorsDoc } from '../../src/errors/render-errors-doc.js';

test('docs/errors.md matches the error table (run npm run docs:errors)', () => {
  const committed = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(committed, renderErrorsDoc());
});

test('every OCI code keeps the status the distribution spec gives it', () => {
  const expected: Record<string, number> = {
    BLOB_UNKNOWN: 404, BLOB_UPLOAD_INVALID: 400, BLOB_UPLOAD_UNKNOWN: 404, DIGEST_INVALID: 400,
    MANIFEST_BLOB_UNKNOWN: 400, MANIFEST_INVALID: 400, MANIFEST_UNKNOWN: 404, NAME_INVALID: 400,
    NAME_UNKNOWN: 404, SIZE_INVALID: 400, UNAUTHORIZED: 401, DENIED: 403, UNSUPPORTED: 415, TOOMANYREQUESTS: 429,
  };
  for (const [code, status] of Object.entries(expected)) {
    assert.equal(ERROR_CODES[code as keyof typeof ERROR_CODES].status, status, code);
  }
});
