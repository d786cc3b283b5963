/**
 * `wharf lint` as a user runs it: the built binary (dist/cli/main.js; `npm run build` first) on a
 * real file, on standard input through a real pipe (spawned with a pipe, and under bash with
 * `cat | wharf lint -`), checking exit codes, the text, JSON and SARIF output (SARIF validated
 * against the SARIF 2.1.0 JSON schema, offline), and usage errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import AjvDraft04 from 'ajv-draft-04';
import { run } from '../support/exec.js';
import { REPO_ROOT, WHARF_MAIN } from '../support/registry-process.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const TRAIN = join(FIXTURES, 'cuda-devel-train.Dockerfile');
const CLEAN = join(FIXTURES, 'cuda-multistage-clean.Dockerfile');
let dir: string;

const wharf = (args: string[], input?: string) =>
  run(process.execPath, [WHARF_MAIN, ...args], { cwd: REPO_ROOT, env: { WHARF_SERVER: 'http://127.0.0.1:9' }, ...(input === undefined ? {} : { input }) });

const sh = (script: string) => run('bash', ['-o', 'pipefail', '-c', script], { cwd: REPO_ROOT, env: { WHARF: `${process.execPath} ${WHARF_MAIN}` } });

/** The SARIF 2.1.0 schema's complaints about a log (none when it is valid). */
function sarifValidator(): (log: unknown) => string[] {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'));
  // one pattern of the published schema is not a valid unicode regexp; formats are not what is tested here
  // a CommonJS package: its class is module.exports and module.exports.default alike
  const Ajv = AjvDraft04.default;
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, validateFormats: false });
  const validate = ajv.compile(schema);
  return (log) => (validate(log) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
}

interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: string;
  locations: { physicalLocation: { artifactLocation: { uri: string }; region: unknown } }[];
}
interface SarifLog {
  version: string;
  runs: { tool: { driver: { name: string; rules: { id: string }[] } }; artifacts: { location: { uri: string } }[]; results: SarifResult[] }[];
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-lint-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('a file', () => {
  test('findings: one line each (path:line rule severity message) plus the fix, a summary, exit 4', async () => {
    const r = await wharf(['lint', TRAIN]);
    assert.equal(r.code, 4, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `${TRAIN}:3 cuda-devel-final-stage high the final image is built FROM nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04, a devel image (compilers and headers shipped to production)`);
    assert.match(lines[1]!, /^ {2}fix: split the build: FROM nvidia\/cuda:12\.1\.1-cudnn8-devel-ubuntu22\.04 AS build/);
    const heads = lines.filter((l) => l.startsWith(`${TRAIN}:`)).map((l) => l.slice(TRAIN.length + 1).split(' ').slice(0, 3).join(' '));
    assert.deepEqual(heads, [
      '3 cuda-devel-final-stage high',
      '3 final-user-missing low',
      '5 secret-in-build high',
      '9 apt-lists-not-removed medium',
      '9 apt-no-install-recommends low',
      '13 copy-context-before-install medium',
      '15 pip-no-cache-dir medium',
      '16 pip-no-cache-dir medium',
      '19 model-weights-in-image high',
      '21 add-url medium',
      '23 shell-form-cmd low',
    ]);
    assert.match(r.stdout, /\n11 findings: 0 critical, 3 high, 5 medium, 3 low\n$/);
    assert.match(r.stderr, /findings at or above low: failing \(exit 4\)/);
  });

  test('--fail-on sets the threshold: high fails on this file, critical and none do not', async () => {
    assert.equal((await wharf(['lint', TRAIN, '--fail-on', 'high'])).code, 4);
    const critical = await wharf(['lint', TRAIN, '--fail-on', 'critical']);
    assert.equal(critical.code, 0, critical.stderr);
    assert.match(critical.stdout, /11 findings/);
    assert.equal((await wharf(['lint', TRAIN, '--fail-on', 'NONE'])).code, 0);
  });

  test('a clean Dockerfile: "no findings", exit 0', async () => {
    const r = await wharf(['lint', CLEAN]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${CLEAN}: no findings\n`);
    assert.equal(r.stderr, '');
  });

  test('--output json', async () => {
    const r = await wharf(['lint', TRAIN, '--output', 'json']);
    assert.equal(r.code, 4);
    const doc = JSON.parse(r.stdout) as { path: string; summary: Record<string, number>; findings: { rule: string; line: number; endLine: number; severity: string; stage: string; message: string; fix: string }[] };
    assert.equal(doc.path, TRAIN);
    assert.deepEqual(doc.summary, { critical: 0, high: 3, medium: 5, low: 3 });
    assert.equal(doc.findings.length, 11);
    assert.deepEqual(doc.findings[6], {
      rule: 'pip-no-cache-dir',
      severity: 'medium',
      line: 15,
      endLine: 16,
      stage: '0',
      message: "pip3 install torch==2.3.1 --index-url without --no-cache-dir leaves pip's cache in the layer",
      fix: 'add --no-cache-dir, or set ENV PIP_NO_CACHE_DIR=1 in the stage, or use RUN --mount=type=cache,target=/root/.cache/pip',
    });
    assert.equal(r.stderr, '', 'machine output keeps stderr quiet');
  });

  test('--output sarif is valid SARIF 2.1.0 with a result per finding, its rule and region', async () => {
    const r = await wharf(['lint', TRAIN, '--output', 'sarif']);
    assert.equal(r.code, 4);
    const log = JSON.parse(r.stdout) as SarifLog;
    const validate = sarifValidator();
    assert.deepEqual(validate(log), []);
    const run0 = log.runs[0]!;
    assert.equal(run0.tool.driver.name, 'wharf lint');
    assert.equal(run0.tool.driver.rules.length, 12);
    assert.equal(run0.results.length, 11);
    const secret = run0.results.find((x) => x.ruleId === 'secret-in-build')!;
    assert.equal(secret.level, 'error');
    assert.equal(run0.tool.driver.rules[secret.ruleIndex]!.id, 'secret-in-build');
    assert.deepEqual(secret.locations[0]!.physicalLocation.region, { startLine: 5, endLine: 5 });
    assert.equal(secret.locations[0]!.physicalLocation.artifactLocation.uri, TRAIN.split('/').map(encodeURIComponent).join('/'));
    // the validator is not vacuous: a broken log fails it
    assert.notDeepEqual(validate({ ...log, version: '2.0.0' }), []);
    assert.notDeepEqual(validate({ ...log, runs: [{ ...run0, results: [{ ...run0.results[0], level: 'fatal' }] }] }), []);
  });
});

describe('standard input through a real pipe', () => {
  test('- reads the Dockerfile from a pipe (spawned with a pipe on stdin)', async () => {
    const r = await wharf(['lint', '-', '--output', 'json'], readFileSync(TRAIN, 'utf8'));
    assert.equal(r.code, 4, r.stderr);
    const doc = JSON.parse(r.stdout) as { path: string; findings: unknown[] };
    assert.equal(doc.path, 'stdin');
    assert.equal(doc.findings.length, 11);
  });

  test('under bash: cat Dockerfile | wharf lint - (SARIF) and a clean file through < redirection', async () => {
    const r = await sh(`cat ${TRAIN} | $WHARF lint - --output sarif --fail-on critical`);
    assert.equal(r.code, 0, r.stderr);
    const log = JSON.parse(r.stdout) as SarifLog;
    assert.deepEqual(sarifValidator()(log), []);
    assert.equal(log.runs[0]!.results.length, 11);
    assert.equal(log.runs[0]!.artifacts[0]!.location.uri, 'stdin');
    const clean = await sh(`$WHARF lint - < ${CLEAN}`);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stdout, 'stdin: no findings\n');
  });

  test('empty standard input and binary garbage on it are exit 2 with the reason', async () => {
    const empty = await sh('$WHARF lint - < /dev/null');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /error: .*empty/);
    const garbage = await sh('head -c 65536 /dev/urandom | $WHARF lint -');
    assert.equal(garbage.code, 2, garbage.stderr);
    assert.match(garbage.stderr, /error: not a text file/);
    const big = await sh('head -c 10000000 /dev/zero | tr "\\0" "a" | $WHARF lint -');
    assert.equal(big.code, 2, big.stderr);
    assert.match(big.stderr, /larger than 524288 bytes/);
  });
});

describe('usage and bad files: exit 2', () => {
  test('unknown output, unknown severity, no argument, missing file, a directory', async () => {
    for (const [args, msg] of [
      [['lint', TRAIN, '--output', 'xml'], /--output takes text, json or sarif/],
      [['lint', TRAIN, '--fail-on', 'severe'], /--fail-on takes critical, high, medium, low or none/],
      [['lint'], /missing required argument/],
      [['lint', join(dir, 'nope')], /cannot read .*nope: ENOENT/],
      [['lint', dir], /is not a file/],
    ] as const) {
      const r = await wharf([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
  });

  test('a 10 MB file, an unterminated heredoc, a file without FROM', async () => {
    const big = join(dir, 'big.Dockerfile');
    writeFileSync(big, `FROM python:3.11\n${'RUN echo 0123456789\n'.repeat(500_000)}`);
    const heredoc = join(dir, 'heredoc.Dockerfile');
    writeFileSync(heredoc, 'FROM python:3.11\nRUN <<EOF\npip install torch\n');
    const nofrom = join(dir, 'nofrom.Dockerfile');
    writeFileSync(nofrom, '# comments only\n');
    for (const [file, msg] of [
      [big, /over the 524288-byte limit/],
      [heredoc, /line 2: heredoc <<EOF is never closed/],
      [nofrom, /no FROM instruction/],
    ] as const) {
      const r = await wharf(['lint', file]);
      assert.equal(r.code, 2, `${file}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stdout, '');
    }
  });

  test('--image when the server cannot be reached: exit 1 and why', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const auth = join(home, 'auth.json');
    writeFileSync(auth, JSON.stringify({ auths: { '127.0.0.1:9': { auth: Buffer.from('u:p').toString('base64') } } }));
    const r = await run(process.execPath, [WHARF_MAIN, 'lint', TRAIN, '--image', 'ml/train:1'], { cwd: REPO_ROOT, env: { WHARF_SERVER: 'http://127.0.0.1:9', HOME: home, REGISTRY_AUTH_FILE: auth } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot cross-check with ml\/train:1/);
  });
});
