/**
 * The `wharf` CLI run in-process with injected IO: exit codes, config commands, and fsck finding
 * real damage in a data directory (a blob whose bytes changed, a blob whose file vanished, bytes
 * no row references).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import { EXIT, type CliIO } from '../../src/cli/io.js';
import { loadConfig } from '../../src/config/index.js';
import { digestOf, encodedOf, type Digest } from '../../src/domain/digest.js';
import { openStores } from '../../src/main.js';
import { RegistryService } from '../../src/registry/registry-service.js';

interface Captured extends CliIO {
  stdout: string;
  stderr: string;
}

function io(env: NodeJS.ProcessEnv = {}): Captured {
  const c: Captured = {
    stdout: '',
    stderr: '',
    env,
    out: (s) => void (c.stdout += s),
    err: (s) => void (c.stderr += s),
    readStdin: async () => '',
  };
  return c;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const c = io(env);
  const code = await runCli(args, c);
  return { code, out: c.stdout, err: c.stderr };
}

describe('wharf CLI', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('unknown command and unknown flag are usage errors (exit 2)', async () => {
    assert.equal((await cli(['frobnicate'])).code, EXIT.usage);
    assert.equal((await cli(['serve', '--no-such-flag'])).code, EXIT.usage);
  });

  test('--help and --version exit 0', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, EXIT.ok);
    assert.match(help.out, /serve/);
    assert.match(help.out, /fsck/);
    assert.equal((await cli(['--version'])).code, EXIT.ok);
  });

  test('config check accepts a valid file and lists every problem of a bad one (exit 2)', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'listen: 127.0.0.1:5001\nlog:\n  level: warn\n');
    const ok = await cli(['config', 'check', good, '--output', 'json']);
    assert.equal(ok.code, EXIT.ok, ok.err);
    assert.equal(JSON.parse(ok.out).listen, '127.0.0.1:5001');

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'listen: nowhere\nlog:\n  levle: warn\nuploads:\n  maxAgeSeconds: -5\n');
    const res = await cli(['config', 'check', bad]);
    assert.equal(res.code, EXIT.usage);
    assert.match(res.err, /configuration invalid: 3 problems/);
    assert.match(res.err, /\/listen/);
    assert.match(res.err, /levle/);
    assert.match(res.err, /maxAgeSeconds/);
  });

  test('config schema prints a JSON Schema', async () => {
    const res = await cli(['config', 'schema']);
    assert.equal(res.code, EXIT.ok);
    const schema = JSON.parse(res.out);
    assert.equal(schema.additionalProperties, false);
    assert.ok(schema.properties.listen);
  });

  test('a bad WHARF_ environment variable stops fsck with a usage error', async () => {
    const res = await cli(['fsck', '--data', join(dir, 'x')], { WHARF_LISTN: '1' });
    assert.equal(res.code, EXIT.usage);
    assert.match(res.err, /WHARF_LISTN/);
  });

  describe('fsck', () => {
    let data: string;
    let digests: Digest[];
    before(async () => {
      data = join(dir, 'data');
      const config = loadConfig({ flags: { data } });
      const { metadata, blobs } = await openStores(config);
      const registry = new RegistryService({ metadata, blobs, uploads: blobs });
      digests = [];
      for (const text of ['one', 'two', 'three']) {
        const bytes = Buffer.from(`blob ${text}`.repeat(1000));
        const d = digestOf(bytes);
        await registry.pushBlob('ml/data', d, Readable.from([bytes]));
        digests.push(d);
      }
      await registry.close();
      await metadata.close();
    });

    test('a clean data directory passes (exit 0)', async () => {
      const res = await cli(['fsck', '--data', data, '--output', 'json']);
      assert.equal(res.code, EXIT.ok, res.out + res.err);
      const report = JSON.parse(res.out);
      assert.equal(report.problems.length, 0);
      assert.equal(report.stats.blobs, 3);
    });

    test('changed bytes, a missing file and stray bytes are found (exit 3)', async () => {
      const path = (d: Digest) => join(data, 'blobs', 'sha256', encodedOf(d).slice(0, 2), encodedOf(d));
      writeFileSync(path(digests[0]!), Buffer.from('blob one'.repeat(1000)).fill(0x41, 0, 1)); // same size, one byte off
      unlinkSync(path(digests[1]!));
      const stray = digestOf(Buffer.from('nobody'));
      const strayDir = join(data, 'blobs', 'sha256', encodedOf(stray).slice(0, 2));
      mkdirSync(strayDir, { recursive: true });
      writeFileSync(join(strayDir, encodedOf(stray)), 'nobody');

      const res = await cli(['fsck', '--data', data, '--output', 'json']);
      assert.equal(res.code, EXIT.problemsFound);
      const report = JSON.parse(res.out) as { problems: { kind: string; digest: string }[]; warnings: { kind: string; digest: string }[] };
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.digest]).sort(),
        [
          ['blob-corrupt', digests[0]],
          ['blob-missing', digests[1]],
        ].sort(),
      );
      assert.deepEqual(report.warnings.map((w) => [w.kind, w.digest]), [['blob-unreferenced', stray]]);

      const quick = await cli(['fsck', '--data', data, '--quick']);
      assert.equal(quick.code, EXIT.problemsFound, 'a missing blob is found without re-hashing');
      assert.match(quick.out, /PROBLEM blob-missing/);
      assert.doesNotMatch(quick.out, /blob-corrupt/, '--quick does not re-hash');
      assert.ok(readdirSync(join(data, 'blobs')).includes('sha256'));
    });
  });
});
