#!/usr/bin/env node
// Runs every test/**/*.test.ts (or those under the paths given) with Node's own test runner.
// Node 20's runner takes no globs, so the files are found here. Tests import TypeScript via tsx;
// end-to-end tests spawn the built server from dist/ (npm test builds it first).
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(path, out) {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path);
    return out;
  }
  for (const entry of readdirSync(path).sort()) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    collect(join(path, entry), out);
  }
  return out;
}

const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = (roots.length ? roots : ['test']).flatMap((r) => collect(r, [])).map((f) => relative('.', f));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, WHARF_TEST: '1' } });
process.exit(r.status ?? 1);
