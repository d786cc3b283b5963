/**
 * `wharf vulndb import`, `wharf scan --fail-on` (exit 4 at or above the level) and `wharf sbom`
 * in-process against a listening app, through src/client/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { EXIT, type CliIO } from '../../src/cli/io.js';
import { failsAt, parseImageRef } from '../../src/cli/commands/scan.js';
import { startHarness, pushImage, type Harness } from '../http/harness.js';
import { listen } from '../http/support.js';
import { TEST_ADMIN_PASSWORD, basic } from '../support/auth-stack.js';
import { mlImageLayers } from '../content/support/fixtures.js';
import { zipOf } from './support/zip.js';

const OSV_DIR = join(import.meta.dirname, '..', 'fixtures', 'osv');
let h: Harness;
let dir: string;
let env: NodeJS.ProcessEnv;

async function wharf(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { env, out: (s) => void (out += s), err: (s) => void (err += s), readStdin: async () => '' };
  const code = await runCli(args, io);
  return { code, out, err };
}

before(async () => {
  h = await startHarness({ auth: {} });
  const server = `http://127.0.0.1:${await listen(h.app)}`;
  dir = mkdtempSync(join(tmpdir(), 'wharf-cli-scan-'));
  const auth = { auths: { [new URL(server).host]: { auth: Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64') } } };
  writeFileSync(join(dir, 'auth.json'), JSON.stringify(auth), { mode: 0o600 });
  env = { REGISTRY_AUTH_FILE: join(dir, 'auth.json'), HOME: dir, WHARF_SERVER: server };
  const app = { inject: (o: Record<string, unknown>) => h.app.inject({ ...o, headers: { ...((o.headers as object) ?? {}), authorization: basic('admin', TEST_ADMIN_PASSWORD) } } as never) };
  await pushImage(app as unknown as Harness['app'], 'ml/trainer', 'v1', {}, await mlImageLayers());
});
after(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('wharf scan, sbom, vulndb', () => {
  test('image references', () => {
    assert.deepEqual(parseImageRef('ml/trainer:v1'), { repository: 'ml/trainer', reference: 'v1' });
    assert.deepEqual(parseImageRef('ml/trainer@sha256:abc'), { repository: 'ml/trainer', reference: 'sha256:abc' });
    assert.deepEqual(parseImageRef('ml/trainer'), { repository: 'ml/trainer', reference: 'latest' });
    assert.equal(failsAt({ CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0, UNKNOWN: 0 }, 'HIGH'), true);
    assert.equal(failsAt({ CRITICAL: 0, HIGH: 0, MEDIUM: 3, LOW: 0, UNKNOWN: 9 }, 'HIGH'), false);
    assert.equal(failsAt({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 1 }, 'UNKNOWN'), true);
  });

  test('vulndb import of a directory, a zip archive; status', async () => {
    const r = await wharf(['vulndb', 'import', OSV_DIR, '--source', 'fixtures']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /imported fixtures: 7 records, 7 added/);
    const zip = join(dir, 'PyPI-all.zip');
    writeFileSync(zip, zipOf([{ name: 'PYSEC-2021-66.json', content: readFileSync(join(OSV_DIR, 'PYSEC-2021-66.json')) }]));
    const z = await wharf(['vulndb', 'import', zip, '--output', 'json']);
    assert.equal(z.code, EXIT.ok, z.err);
    assert.deepEqual([JSON.parse(z.out).source, JSON.parse(z.out).unchanged], ['PyPI-all.zip', 1]);
    const s = await wharf(['vulndb', 'status']);
    assert.match(s.out, /7 advisories/);
    assert.equal((await wharf(['vulndb', 'import', join(dir, 'missing.zip')])).code, EXIT.usage);
  });

  test('scan --fail-on: exit 4 at or above the level, 0 below it', async () => {
    const high = await wharf(['scan', 'ml/trainer:v1', '--fail-on', 'high']);
    assert.equal(high.code, EXIT.policyFailed, high.err);
    assert.match(high.out, /GHSA-35jh-r3h4-6jhm\s+lodash\s+4\.17\.20\s+4\.17\.21\s+3/);
    assert.match(high.out, /torch 1\.13\.0\+cu117 \(CUDA 11\.7\)/);
    assert.equal((await wharf(['scan', 'ml/trainer:v1', '--fail-on', 'critical'])).code, EXIT.ok);
    const json = await wharf(['scan', 'ml/trainer:v1', '--output', 'json']);
    assert.equal(json.code, EXIT.ok);
    assert.equal(JSON.parse(json.out).summary.HIGH, 1);
    assert.equal((await wharf(['scan', 'ml/trainer:v1', '--fail-on', 'severe'])).code, EXIT.usage);
  });

  test('sbom to stdout and to a file; attach', async () => {
    const r = await wharf(['sbom', 'ml/trainer:v1', '--format', 'cyclonedx']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(JSON.parse(r.out).specVersion, '1.6');
    const file = join(dir, 'sbom.spdx.json');
    assert.equal((await wharf(['sbom', 'ml/trainer:v1', '-f', file])).code, EXIT.ok);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).spdxVersion, 'SPDX-2.3');
    const a = await wharf(['sbom', 'ml/trainer:v1', '--attach']);
    assert.equal(a.code, EXIT.ok, a.err);
    assert.match(a.out, /attached spdx SBOM sha256:[0-9a-f]{64}/);
  });
});
