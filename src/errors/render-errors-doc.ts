import { ERROR_CODES } from './codes.js';

/** docs/errors.md, rendered from the error table so the two cannot drift. */
export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, spec]) => `| \`${code}\` | ${spec.status} | ${'oci' in spec && spec.oci ? 'OCI' : 'Wharf'} | ${spec.message} | ${spec.description} |`,
  );
  return [
    '# Error codes',
    '',
    'Generated from `src/errors/codes.ts` by `npm run docs:errors`; do not edit by hand (a test fails when they drift).',
    '',
    'Every error response, on every route, has the OCI body shape:',
    '',
    '```json',
    '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob sha256:... is not in repository ml/train","detail":null}]}',
    '```',
    '',
    '| code | HTTP status | defined by | message | when |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
