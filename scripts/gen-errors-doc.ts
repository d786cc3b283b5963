// Writes docs/errors.md from the one error table (src/errors/codes.ts). `npm run docs:errors`.
// test/unit/errors-doc.test.ts fails when the committed file drifts from the table.
import { writeFileSync } from 'node:fs';
import { renderErrorsDoc } from '../src/errors/render-errors-doc.js';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
