/**
 * Input that is not a clean Dockerfile: a clear REQUEST_INVALID (exit 2 in the CLI) for what
 * BuildKit would refuse or what is not a Dockerfile at all, and ordinary results for what
 * BuildKit accepts (CRLF, BOM, escape directive, lower-case keywords, odd quoting). No crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WharfError } from '../../src/errors/wharf-error.js';
import { MAX_DOCKERFILE_BYTES } from '../../src/features/dockerfile-lint/dockerfile-model.js';
import { lintDockerfile } from '../../src/features/dockerfile-lint/lint-dockerfile.js';
import { lines } from './support.js';

function refused(input: Buffer | string, message: RegExp): void {
  assert.throws(
    () => lintDockerfile(input),
    (err: unknown) => err instanceof WharfError && err.code === 'REQUEST_INVALID' && message.test(err.message),
  );
}

const SAMPLE = 'FROM python:3.11\nRUN pip install \\\n    torch\nCMD python app.py\n';
const SAMPLE_FINDINGS = ['1 final-user-missing', '2 pip-no-cache-dir', '4 shell-form-cmd'];

test('binary garbage is not a text file (NUL bytes, or bytes that are not UTF-8)', () => {
  const garbage = randomBytes(4096);
  garbage[100] = 0;
  refused(garbage, /not a text file: a NUL byte at offset/);
  refused(Buffer.from([0x46, 0x52, 0x4f, 0x4d, 0x20, 0xc3, 0x28, 0xff, 0xfe]), /not valid UTF-8/);
});

test('a 10 MB Dockerfile is refused with the limit; one just under the limit is linted', () => {
  const line = 'RUN echo 0123456789012345678901234567890123456789\n';
  refused('FROM python:3.11\n' + line.repeat(Math.ceil(10e6 / line.length)), /over the 524288-byte limit/);
  const under = 'FROM python:3.11\nRUN pip install torch\n' + line.repeat(Math.floor((MAX_DOCKERFILE_BYTES - 100) / line.length));
  assert.ok(Buffer.byteLength(under) <= MAX_DOCKERFILE_BYTES);
  const r = lintDockerfile(under);
  assert.deepEqual(r.findings.map((f) => `${f.line} ${f.rule}`), ['1 final-user-missing', '2 pip-no-cache-dir']);
});

test('empty, blank, comment-only and FROM-less files', () => {
  refused('', /empty/);
  refused(Buffer.alloc(0), /empty/);
  refused('\n\n   \n', /empty/);
  refused('# syntax=docker/dockerfile:1\n# just a comment\n', /no FROM instruction/);
  refused('RUN echo hi\nFROM python:3.11\n', /line 1: RUN before the first FROM/);
});

test('an unterminated heredoc is refused with its line', () => {
  refused('FROM python:3.11\nRUN <<EOF\npip install torch\n', /line 2: heredoc <<EOF is never closed/);
  // closed heredocs, including <<- with tabs and a quoted name, are fine
  assert.deepEqual(lines('FROM python:3.11\nRUN <<-"EOT"\n\tpip install torch\n\tEOT\nUSER 1\n'), ['3 pip-no-cache-dir']);
});

test('CRLF line ends and a UTF-8 BOM give the same findings on the same lines', () => {
  assert.deepEqual(lines(SAMPLE), SAMPLE_FINDINGS);
  assert.deepEqual(lines(SAMPLE.replace(/\n/g, '\r\n')), SAMPLE_FINDINGS);
  assert.deepEqual(lintDockerfile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SAMPLE.replace(/\n/g, '\r\n'))])).findings.map((f) => `${f.line} ${f.rule}`), SAMPLE_FINDINGS);
});

test('the escape directive: backtick continuations', () => {
  assert.deepEqual(lines('# escape=`\nFROM python:3.11\nRUN pip install `\n    torch && `\n    apt-get update\nUSER 1\n'), ['3 pip-no-cache-dir', '5 apt-lists-not-removed']);
});

test('comment lines inside a continued RUN are dropped as BuildKit drops them', () => {
  assert.deepEqual(lines('FROM python:3.11\nRUN apt-get update && \\\n# rm -rf /var/lib/apt/lists/*\n    apt-get install -y --no-install-recommends curl\nUSER 1\n'), ['2 apt-lists-not-removed']);
});

test('lower-case keywords count', () => {
  assert.deepEqual(lines('from python\nrun pip install torch\nuser root\n'), ['1 base-image-unpinned', '2 pip-no-cache-dir', '3 final-user-root']);
});

test('malformed shell (unbalanced quotes, stray operators) and deep sh -c nesting do not crash', () => {
  assert.doesNotThrow(() => lintDockerfile('FROM python:3.11\nRUN pip install "torch\nRUN && || ; | \nRUN $(( ${\n'));
  let cmd = 'pip install torch';
  for (let i = 0; i < 10; i++) cmd = `sh -c ${JSON.stringify(cmd)}`;
  assert.doesNotThrow(() => lintDockerfile(`FROM python:3.11\nRUN ${cmd}\n`));
  // a few levels are looked into
  assert.deepEqual(lines('FROM python:3.11\nRUN bash -c "sh -c \'pip install torch\'"\nUSER 1\n'), ['2 pip-no-cache-dir']);
});

test('long runs of blanks, quotes and ${ inside a line near the size limit are read (the linter stays linear in them)', () => {
  // a `/\s+$/` trim once made the first of these quadratic: minutes for 500 KB
  const n = 400_000;
  assert.deepEqual(lines(`FROM python:3.11\nRUN pip install ${' \t'.repeat(n / 2)}x\nUSER 1\n`), ['2 pip-no-cache-dir']);
  assert.doesNotThrow(() => lintDockerfile(`FROM python:3.11\nRUN ${'"'.repeat(n / 3)}\nENV U=http://${'a'.repeat(n / 3)}:\nRUN ${'${'.repeat(n / 6)}\n`));
});

test('thousands of stages built FROM each other: the chain is followed, an ENV at its root applies to all', () => {
  // per-stage lookups once walked the whole chain for every command (minutes at the size limit)
  let chain = 'FROM python:3.11 AS s0\n';
  for (let i = 0; i < 3000; i++) chain += `FROM s${i} AS s${i + 1}\nRUN pip install x${i}\n`;
  const findings = lintDockerfile(`${chain}USER 1\n`).findings;
  assert.equal(findings.filter((f) => f.rule === 'pip-no-cache-dir').length, 3000);
  assert.deepEqual(lintDockerfile(chain.replace('AS s0\n', 'AS s0\nENV PIP_NO_CACHE_DIR=1\n')).findings.map((f) => f.rule), ['final-user-missing']);
});

test('JSON-looking arguments that are not JSON, and empty instructions', () => {
  assert.doesNotThrow(() => lintDockerfile('FROM python:3.11\nCMD [\nENTRYPOINT\nRUN\nENV\nARG\nUSER\nCOPY\nADD\n'));
});
