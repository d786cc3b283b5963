import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  configJsonSchema,
  envVarName,
  loadConfig,
  MAX_CONFIG_FILE_BYTES,
  MAX_REPORTED_PROBLEMS,
  parseListenAddress,
  type ConfigProblem,
  type LoadConfigOptions,
} from '../../src/config/index.js';
import { isWharfError } from '../../src/errors/wharf-error.js';

const root = mkdtempSync(join(tmpdir(), 'wharf-config-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let fileCount = 0;
/** Writes a config file in its own directory under `root` and returns its path. */
function writeConfig(text: string | Buffer, name = 'wharf.yaml'): string {
  const dir = join(root, `case-${++fileCount}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Loads with a fixed cwd and no environment unless given. */
function load(options: LoadConfigOptions = {}) {
  return loadConfig({ cwd: root, env: {}, ...options });
}

/** The problems of a load that must fail with CONFIG_INVALID. */
function problemsOf(options: LoadConfigOptions): ConfigProblem[] {
  try {
    load(options);
  } catch (err) {
    assert.ok(isWharfError(err, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(err)}`);
    const problems = err.detail as ConfigProblem[];
    assert.ok(Array.isArray(problems) && problems.length > 0);
    const n = problems.length;
    assert.equal(err.message, `configuration invalid: ${n} ${n === 1 ? 'problem' : 'problems'}`);
    return problems;
  }
  assert.fail('expected loadConfig to throw CONFIG_INVALID');
}

function problemAt(problems: ConfigProblem[], path: string): ConfigProblem {
  const p = problems.find((x) => x.path === path);
  assert.ok(p, `no problem at ${path}; got ${JSON.stringify(problems)}`);
  return p;
}

describe('loadConfig: defaults', () => {
  it('returns every default, paths absolute against cwd, derived storage paths under data', () => {
    assert.deepEqual(load(), {
      listen: '127.0.0.1:5000',
      data: join(root, 'data'),
      log: { level: 'info' },
      http: { trustProxy: false, bodyLimitManifest: 4 * 1024 * 1024, requestTimeoutSeconds: 0 },
      auth: {
        enabled: true,
        token: { issuer: 'wharf', service: 'wharf', lifetimeSeconds: 300, keyRotationSeconds: 2_592_000, refreshLifetimeSeconds: 2_592_000 },
        loginBackoff: { freeFailures: 5, baseDelaySeconds: 1, maxDelaySeconds: 900 },
      },
      storage: {
        blob: { driver: 'fs', path: join(root, 'data', 'blobs') },
        metadata: { driver: 'sqlite', path: join(root, 'data', 'wharf.db') },
      },
      uploads: { maxAgeSeconds: 86_400, reclaimIntervalSeconds: 600 },
      pypi: { maxUploadBytes: 20 * 1024 * 1024 * 1024 },
      insights: {
        enabled: true,
        onPush: true,
        bandwidthBitsPerSecond: 1_000_000_000,
        hugeLayerBytes: 256 * 1024 * 1024,
        maxEntriesPerLayer: 1_000_000,
        weightsThresholdBytes: 100 * 1024 * 1024,
      },
      gc: { enabled: true, intervalSeconds: 86_400, graceSeconds: 86_400, untaggedManifests: false, sweepOrphanBytes: true },
      lifecycle: {
        createRepositoriesOnPush: true,
        cleanupIntervalSeconds: 86_400,
        trafficFlushSeconds: 30,
        pricing: { storagePerGiBMonth: 0.1, egressPerGiB: 0.12, currency: 'USD' },
      },
      pagination: { defaultPageSize: 100, maxPageSize: 10_000 },
    });
  });

  it('reads no environment unless given one', () => {
    const before = process.env.WHARF_LISTEN;
    process.env.WHARF_LISTEN = 'not-valid';
    try {
      assert.equal(loadConfig({ cwd: root }).listen, '127.0.0.1:5000');
    } finally {
      if (before === undefined) delete process.env.WHARF_LISTEN;
      else process.env.WHARF_LISTEN = before;
    }
  });

  it('accepts an empty file and a file of comments', () => {
    assert.equal(load({ file: writeConfig('') }).listen, '127.0.0.1:5000');
    assert.equal(load({ file: writeConfig('# nothing configured yet\n') }).listen, '127.0.0.1:5000');
  });
});

describe('loadConfig: precedence defaults < file < env < flags', () => {
  const yaml = [
    'listen: 0.0.0.0:6000',
    'log:',
    '  level: warn',
    'uploads:',
    '  maxAgeSeconds: 120',
    'pagination: { maxPageSize: 500 }',
    '',
  ].join('\n');

  it('file overrides defaults, key by key', () => {
    const c = load({ file: writeConfig(yaml) });
    assert.equal(c.listen, '0.0.0.0:6000');
    assert.equal(c.log.level, 'warn');
    assert.equal(c.uploads.maxAgeSeconds, 120);
    assert.equal(c.uploads.reclaimIntervalSeconds, 600, 'sibling keep their defaults');
    assert.equal(c.pagination.maxPageSize, 500);
    assert.equal(c.pagination.defaultPageSize, 100);
  });

  it('env overrides the file', () => {
    const c = load({ file: writeConfig(yaml), env: { WHARF_LISTEN: '127.0.0.1:7000', WHARF_LOG_LEVEL: 'debug' } });
    assert.equal(c.listen, '127.0.0.1:7000');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.uploads.maxAgeSeconds, 120);
  });

  it('flags override env, dotted or nested', () => {
    const c = load({
      file: writeConfig(yaml),
      env: { WHARF_LISTEN: '127.0.0.1:7000', WHARF_LOG_LEVEL: 'debug', WHARF_UPLOADS__MAX_AGE_SECONDS: '300' },
      flags: { listen: '127.0.0.1:0', 'log.level': 'error', uploads: { maxAgeSeconds: 900 } },
    });
    assert.equal(c.listen, '127.0.0.1:0');
    assert.equal(c.log.level, 'error');
    assert.equal(c.uploads.maxAgeSeconds, 900);
  });

  it('skips flags whose value is undefined (options not given)', () => {
    const c = load({ env: { WHARF_LISTEN: '127.0.0.1:7000' }, flags: { listen: undefined, data: undefined } });
    assert.equal(c.listen, '127.0.0.1:7000');
    assert.equal(c.data, join(root, 'data'));
  });

  it('coerces string flag values to the key type', () => {
    const c = load({ flags: { 'uploads.maxAgeSeconds': '3600', 'http.trustProxy': 'true' } });
    assert.equal(c.uploads.maxAgeSeconds, 3600);
    assert.equal(c.http.trustProxy, true);
  });

  it('does not freeze or keep the caller’s flag objects', () => {
    const flags = { uploads: { maxAgeSeconds: 900 } };
    const c = load({ flags });
    assert.equal(Object.isFrozen(flags.uploads), false);
    flags.uploads.maxAgeSeconds = 1;
    assert.equal(c.uploads.maxAgeSeconds, 900);
  });
});

describe('loadConfig: env var names', () => {
  it('maps WHARF_SECTION__SUB__KEY with camelCase keys and coerces values', () => {
    const c = load({
      env: {
        WHARF_UPLOADS__MAX_AGE_SECONDS: '3600',
        WHARF_UPLOADS__RECLAIM_INTERVAL_SECONDS: '30',
        WHARF_HTTP__TRUST_PROXY: 'true',
        WHARF_HTTP__BODY_LIMIT_MANIFEST: '8388608',
        WHARF_HTTP__PUBLIC_URL: 'https://registry.example.com',
        WHARF_HTTP__TLS__CERT: 'tls/cert.pem',
        WHARF_HTTP__TLS__KEY: '/etc/wharf/key.pem',
        WHARF_STORAGE__METADATA__PATH: 'meta/wharf.db',
        WHARF_LOG__LEVEL: 'trace',
        WHARF_DATA: 'state',
      },
    });
    assert.equal(c.uploads.maxAgeSeconds, 3600);
    assert.equal(c.uploads.reclaimIntervalSeconds, 30);
    assert.equal(c.http.trustProxy, true);
    assert.equal(c.http.bodyLimitManifest, 8 * 1024 * 1024);
    assert.equal(c.http.publicUrl, 'https://registry.example.com');
    assert.deepEqual(c.http.tls, { cert: join(root, 'tls/cert.pem'), key: '/etc/wharf/key.pem' });
    assert.equal(c.storage.metadata.path, join(root, 'meta/wharf.db'));
    assert.equal(c.storage.blob.path, join(root, 'state', 'blobs'));
    assert.equal(c.log.level, 'trace');
    assert.equal(c.data, join(root, 'state'));
  });

  it('names every key by the general rule', () => {
    assert.equal(envVarName(['uploads', 'maxAgeSeconds']), 'WHARF_UPLOADS__MAX_AGE_SECONDS');
    assert.equal(envVarName(['http', 'tls', 'cert']), 'WHARF_HTTP__TLS__CERT');
    assert.equal(load({ env: { [envVarName(['listen'])]: '[::1]:5001' } }).listen, '[::1]:5001');
  });

  it('treats an empty value as unset', () => {
    assert.equal(load({ env: { WHARF_LISTEN: '', WHARF_HTTP__TRUST_PROXY: '' } }).listen, '127.0.0.1:5000');
  });

  it('ignores the allow-listed WHARF_TEST and WHARF_E2E_*, and lower-case names', () => {
    const env = { WHARF_TEST: '1', WHARF_E2E_TARGET: 'distribution', wharf_listen: 'nonsense', PATH: '/bin' };
    assert.equal(load({ env }).listen, '127.0.0.1:5000');
  });

  it('reports unknown WHARF_ variables, with a suggestion', () => {
    const problems = problemsOf({
      env: { WHARF_UPLOADS__MAX_AGE_SECOND: '60', WHARF_NOPE: 'x', WHARF_LISTEN__PORT: '1', WHARF_UPLOADS___MAX: '1' },
    });
    assert.equal(problems.length, 4);
    const typo = problems.find((p) => p.source === 'env WHARF_UPLOADS__MAX_AGE_SECOND');
    assert.ok(typo);
    assert.match(typo.message, /unknown environment variable WHARF_UPLOADS__MAX_AGE_SECOND/);
    assert.match(typo.message, /did you mean WHARF_UPLOADS__MAX_AGE_SECONDS/);
    assert.ok(problems.some((p) => p.source === 'env WHARF_NOPE' && /unknown environment variable/.test(p.message)));
    assert.ok(problems.some((p) => p.source === 'env WHARF_LISTEN__PORT'));
    assert.ok(problems.some((p) => p.source === 'env WHARF_UPLOADS___MAX'));
  });

  it('reports an unknown name even when its value is empty', () => {
    const [p] = problemsOf({ env: { WHARF_LISTN: '' } });
    assert.match(p!.message, /unknown environment variable WHARF_LISTN \(did you mean WHARF_LISTEN\?\)/);
  });

  it('reports a variable that names a section rather than a key', () => {
    const [p] = problemsOf({ env: { WHARF_UPLOADS: '60' } });
    assert.match(p!.message, /names the section uploads.*WHARF_UPLOADS__MAX_AGE_SECONDS/);
  });

  it('reports an alias and its general name both set', () => {
    const [p] = problemsOf({ env: { WHARF_LOG_LEVEL: 'debug', WHARF_LOG__LEVEL: 'info' } });
    assert.match(p!.message, /WHARF_LOG_LEVEL and WHARF_LOG__LEVEL both set log\.level/);
  });
});

describe('loadConfig: bad values', () => {
  it('reports wrong types with the expected type, the value and its source', () => {
    const file = writeConfig('uploads:\n  maxAgeSeconds: soon\nhttp:\n  trustProxy: "yes"\n');
    const problems = problemsOf({ file, env: { WHARF_HTTP__BODY_LIMIT_MANIFEST: 'big' }, flags: { 'log.level': 'loud' } });
    const age = problemAt(problems, '/uploads/maxAgeSeconds');
    assert.equal(age.message, 'expected an integer >= 60, got "soon"');
    assert.equal(age.source, `file ${file}:2:3`);
    const proxy = problemAt(problems, '/http/trustProxy');
    assert.equal(proxy.message, 'expected true or false, got "yes"');
    assert.equal(proxy.source, `file ${file}:4:3`);
    const limit = problemAt(problems, '/http/bodyLimitManifest');
    assert.match(limit.message, /expected an integer from 1024 to 16777216, got "big"/);
    assert.equal(limit.source, 'env WHARF_HTTP__BODY_LIMIT_MANIFEST');
    const level = problemAt(problems, '/log/level');
    assert.match(level.message, /expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"/);
    assert.equal(level.source, 'flag log.level');
  });

  it('refuses env booleans other than true/false and non-decimal integers', () => {
    const problems = problemsOf({ env: { WHARF_HTTP__TRUST_PROXY: 'yes', WHARF_UPLOADS__MAX_AGE_SECONDS: '1e3' } });
    assert.equal(problemAt(problems, '/http/trustProxy').source, 'env WHARF_HTTP__TRUST_PROXY');
    assert.equal(problemAt(problems, '/uploads/maxAgeSeconds').message, 'expected an integer >= 60, got "1e3"');
  });

  it('enforces ranges', () => {
    const problems = problemsOf({
      flags: {
        'uploads.maxAgeSeconds': 59,
        'uploads.reclaimIntervalSeconds': 0,
        'http.bodyLimitManifest': 16 * 1024 * 1024 + 1,
        'http.requestTimeoutSeconds': -1,
        'pagination.defaultPageSize': 0,
      },
    });
    assert.deepEqual(problems.map((p) => p.path).sort(), [
      '/http/bodyLimitManifest',
      '/http/requestTimeoutSeconds',
      '/pagination/defaultPageSize',
      '/uploads/maxAgeSeconds',
      '/uploads/reclaimIntervalSeconds',
    ]);
    assert.ok(problems.every((p) => p.source.startsWith('flag ')));
  });

  it('accepts 16 MiB manifests and rejects fractional integers', () => {
    assert.equal(load({ flags: { 'http.bodyLimitManifest': 16 * 1024 * 1024 } }).http.bodyLimitManifest, 16 * 1024 * 1024);
    const [p] = problemsOf({ flags: { 'uploads.maxAgeSeconds': 60.5 } });
    assert.equal(p!.path, '/uploads/maxAgeSeconds');
  });

  it('requires defaultPageSize <= maxPageSize', () => {
    const file = writeConfig('pagination:\n  defaultPageSize: 200\n  maxPageSize: 100\n');
    const [p] = problemsOf({ file });
    assert.equal(p!.path, '/pagination/defaultPageSize');
    assert.match(p!.message, /must not exceed pagination\.maxPageSize \(100\)/);
    assert.equal(p!.source, `file ${file}:2:3`);
  });

  it('requires both cert and key when http.tls is present', () => {
    const file = writeConfig('http:\n  tls:\n    cert: cert.pem\n');
    const [p] = problemsOf({ file });
    assert.equal(p!.path, '/http/tls/key');
    assert.match(p!.message, /required key missing/);
    assert.equal(p!.source, `file ${file}:2:3`);
    const fromEnv = problemsOf({ env: { WHARF_HTTP__TLS__KEY: 'key.pem' } });
    assert.equal(problemAt(fromEnv, '/http/tls/cert').source, 'env WHARF_HTTP__TLS__KEY');
  });

  it('validates publicUrl as an absolute http(s) URL', () => {
    assert.equal(load({ flags: { 'http.publicUrl': 'http://localhost:5000' } }).http.publicUrl, 'http://localhost:5000');
    assert.equal(load({ flags: { 'http.publicUrl': 'https://r.example.com/wharf' } }).http.publicUrl, 'https://r.example.com/wharf');
    for (const bad of ['registry.example.com', 'ftp://r.example.com', 'https://', 'https://u:p@r.example.com', 'https://r.example.com/?q=1', '/relative']) {
      const [p] = problemsOf({ flags: { 'http.publicUrl': bad } });
      assert.equal(p!.path, '/http/publicUrl', bad);
      assert.match(p!.message, /absolute http:\/\/ or https:\/\/ URL/);
    }
  });

  it('reports a null section (an empty YAML key) as a type error', () => {
    const [p] = problemsOf({ file: writeConfig('http:\n') });
    assert.equal(p!.path, '/http');
    assert.match(p!.message, /expected a mapping .*got null/);
  });

  it('rejects unsupported drivers', () => {
    const [p] = problemsOf({ file: writeConfig('storage:\n  blob:\n    driver: gcs\n') });
    assert.equal(p!.path, '/storage/blob/driver');
    assert.match(p!.message, /expected one of "fs", "s3", got "gcs"/);
  });
});

describe('loadConfig: unknown keys', () => {
  it('reports a typo in the file with its path, line and a suggestion', () => {
    const file = writeConfig('uploads:\n  maxAgeSecond: 60\n');
    const [p] = problemsOf({ file });
    assert.deepEqual(p, {
      path: '/uploads/maxAgeSecond',
      message: 'unknown key "maxAgeSecond" (did you mean "maxAgeSeconds"?)',
      source: `file ${file}:2:3`,
    });
  });

  it('suggests the camelCase key for a snake_case one', () => {
    const [p] = problemsOf({ file: writeConfig('http:\n  trust_proxy: true\n') });
    assert.match(p!.message, /did you mean "trustProxy"/);
  });

  it('reports unknown top-level keys and unknown flag keys', () => {
    const problems = problemsOf({ file: writeConfig('lisen: 0.0.0.0:1\n'), flags: { 'http.nope': 1, bogus: { x: 1 } } });
    assert.match(problemAt(problems, '/lisen').message, /did you mean "listen"/);
    assert.equal(problemAt(problems, '/http/nope').source, 'flag http.nope');
    assert.equal(problemAt(problems, '/bogus').source, 'flag bogus');
  });

  it('treats __proto__ as a plain unknown key and pollutes nothing', () => {
    const problems = problemsOf({ file: writeConfig('__proto__:\n  polluted: true\nuploads:\n  __proto__: {}\n') });
    assert.deepEqual(problems.map((p) => p.path).sort(), ['/__proto__', '/uploads/__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('loadConfig: all problems at once', () => {
  it('collects problems from the file, env, flags and validation in one error', () => {
    const file = writeConfig('listen: nonsense\nuploads:\n  maxAgeSeconds: 1\n  typo: 2\n');
    const problems = problemsOf({
      file,
      env: { WHARF_BOGUS: '1', WHARF_HTTP__TRUST_PROXY: 'maybe' },
      flags: { 'pagination.maxPageSize': 0, nope: true },
    });
    assert.deepEqual(problems.map((p) => p.path || p.source).sort(), [
      '/http/trustProxy',
      '/listen',
      '/nope',
      '/pagination/maxPageSize',
      '/uploads/maxAgeSeconds',
      '/uploads/typo',
      'env WHARF_BOGUS',
    ]);
  });

  it('caps the listed problems but counts them all', () => {
    const keys = Array.from({ length: MAX_REPORTED_PROBLEMS + 20 }, (_, i) => `k${i}: 1`).join('\n');
    try {
      load({ file: writeConfig(`${keys}\n`) });
      assert.fail('expected CONFIG_INVALID');
    } catch (err) {
      assert.ok(isWharfError(err, 'CONFIG_INVALID'));
      assert.equal(err.message, `configuration invalid: ${MAX_REPORTED_PROBLEMS + 20} problems`);
      const detail = err.detail as ConfigProblem[];
      assert.equal(detail.length, MAX_REPORTED_PROBLEMS + 1);
      assert.match(detail.at(-1)!.message, /20 more problems not listed/);
    }
  });
});

describe('loadConfig: hostile and broken files', () => {
  it('reports YAML syntax errors with line and column', () => {
    const file = writeConfig('listen: 127.0.0.1:5000\nuploads:\n  maxAgeSeconds: [1, 2\nlog: {}\n');
    const problems = problemsOf({ file });
    assert.ok(problems.every((p) => p.path === ''));
    assert.ok(problems.some((p) => /^YAML: /.test(p.message)));
    assert.ok(problems.every((p) => new RegExp(`^file ${file}:\\d+:\\d+$`).test(p.source)), JSON.stringify(problems));
  });

  it('reports duplicate keys', () => {
    const file = writeConfig('listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n');
    const [p] = problemsOf({ file });
    assert.match(p!.message, /YAML: Map keys must be unique/);
    assert.equal(p!.source, `file ${file}:2:1`);
  });

  it('reports several documents in one file', () => {
    const [p] = problemsOf({ file: writeConfig('listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n') });
    assert.match(p!.message, /multiple documents/);
  });

  it('refuses a billion-laughs alias bomb quickly', () => {
    const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    const names = 'abcdefghij';
    for (let i = 1; i < names.length; i++) {
      lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(', ')}]`);
    }
    const started = Date.now();
    const [p] = problemsOf({ file: writeConfig(`${lines.join('\n')}\n`) });
    assert.match(p!.message, /aliases expand too much/);
    assert.ok(Date.now() - started < 5_000, 'must fail fast, not expand');
  });

  it('still allows a few aliases', () => {
    const c = load({ file: writeConfig('uploads:\n  maxAgeSeconds: &age 600\n  reclaimIntervalSeconds: *age\n') });
    assert.equal(c.uploads.reclaimIntervalSeconds, 600);
  });

  it('refuses a file over 1 MiB without parsing it', () => {
    const big = `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`;
    const [p] = problemsOf({ file: writeConfig(big) });
    assert.match(p!.message, /larger than 1048576 bytes/);
  });

  it('reads a file of exactly 1 MiB', () => {
    const body = 'listen: 127.0.0.1:1\n# ';
    const text = `${body}${'x'.repeat(MAX_CONFIG_FILE_BYTES - body.length - 1)}\n`;
    assert.equal(Buffer.byteLength(text), MAX_CONFIG_FILE_BYTES);
    assert.equal(load({ file: writeConfig(text) }).listen, '127.0.0.1:1');
  });

  it('refuses a top level that is not a mapping', () => {
    for (const [text, what] of [
      ['- listen: 127.0.0.1:1\n', /got a list/],
      ['just a string\n', /got the string "just a string"/],
      ['42\n', /got number 42/],
    ] as const) {
      const [p] = problemsOf({ file: writeConfig(text) });
      assert.match(p!.message, /top level must be a mapping/);
      assert.match(p!.message, what);
    }
  });

  it('reports a missing file, a directory and invalid UTF-8', () => {
    const missing = join(root, 'does-not-exist.yaml');
    const [p] = problemsOf({ file: missing });
    assert.match(p!.message, /cannot read config file: ENOENT/);
    assert.equal(p!.source, `file ${missing}`);
    const [dir] = problemsOf({ file: root });
    assert.match(dir!.message, /cannot read config file: EISDIR/);
    const [utf] = problemsOf({ file: writeConfig(Buffer.from([0x6c, 0x3a, 0x20, 0xff, 0xfe, 0x0a])) });
    assert.match(utf!.message, /not valid UTF-8/);
  });

  it('reports absurd nesting as a problem rather than crashing', () => {
    const [p] = problemsOf({ file: writeConfig(`x: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`) });
    assert.equal(p!.path, '');
    assert.match(p!.message, /^(YAML: |cannot parse config file: )/);
  });
});

describe('loadConfig: listen', () => {
  it('accepts hosts, IPv4, bracketed IPv6 and ports 0-65535', () => {
    for (const ok of ['127.0.0.1:5000', '0.0.0.0:0', 'localhost:65535', '[::1]:5000', '[::]:80', '[fe80::1%eth0]:1', 'registry.local:443']) {
      assert.equal(load({ flags: { listen: ok } }).listen, ok);
    }
  });

  it('rejects a bad or missing port, an empty host and bare IPv6', () => {
    for (const bad of ['127.0.0.1:65536', '127.0.0.1:99999', '127.0.0.1', '127.0.0.1:', ':5000', '::1:5000', '127.0.0.1:05000', '127.0.0.1:-1', 'host:port', ' 127.0.0.1:5000']) {
      const [p] = problemsOf({ flags: { listen: bad } });
      assert.equal(p!.path, '/listen', bad);
      assert.match(p!.message, /expected HOST:PORT/, bad);
      assert.equal(p!.source, 'flag listen');
    }
  });

  it('parseListenAddress splits host and port and strips IPv6 brackets', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
    assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.throws(() => parseListenAddress(':5000'), TypeError);
  });
});

describe('loadConfig: paths', () => {
  it('resolves relative paths in the file against the file’s directory', () => {
    const file = writeConfig('data: state\nhttp:\n  tls: { cert: tls/c.pem, key: /abs/k.pem }\nstorage:\n  metadata:\n    path: ../db/wharf.db\n');
    const dir = join(file, '..');
    const c = load({ file });
    assert.equal(c.data, join(dir, 'state'));
    assert.equal(c.storage.blob.path, join(dir, 'state', 'blobs'));
    assert.equal(c.storage.metadata.path, join(dir, '..', 'db', 'wharf.db'));
    assert.deepEqual(c.http.tls, { cert: join(dir, 'tls/c.pem'), key: '/abs/k.pem' });
  });

  it('resolves env and flag paths against cwd, and derived paths follow data', () => {
    const file = writeConfig('data: from-file\n');
    assert.equal(load({ file, env: { WHARF_DATA: 'from-env' } }).data, join(root, 'from-env'));
    const c = load({ file, flags: { data: './from-flag' }, cwd: '/srv' });
    assert.equal(c.data, '/srv/from-flag');
    assert.equal(c.storage.blob.path, '/srv/from-flag/blobs');
    assert.equal(c.storage.metadata.path, '/srv/from-flag/wharf.db');
  });

  it('keeps an explicit storage path when data changes', () => {
    const c = load({ flags: { data: '/d', 'storage.blob.path': '/b' } });
    assert.equal(c.storage.blob.path, '/b');
    assert.equal(c.storage.metadata.path, '/d/wharf.db');
  });

  it('rejects empty paths', () => {
    const problems = problemsOf({ flags: { data: '', 'storage.blob.path': '' } });
    assert.match(problemAt(problems, '/data').message, /expected a non-empty string/);
    assert.ok(problems.find((p) => p.path === '/storage/blob/path'));
  });

  it('reports a bad data once, not again through the paths derived from it', () => {
    const problems = problemsOf({ flags: { data: 5 } });
    assert.deepEqual(problems, [{ path: '/data', message: 'expected a non-empty string, got 5', source: 'flag data' }]);
  });
});

describe('loadConfig: result', () => {
  it('is deep-frozen: mutation throws in strict mode', () => {
    const c = load();
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { listen: string }).listen = 'x';
    }, TypeError);
    assert.throws(() => {
      (c.uploads as { maxAgeSeconds: number }).maxAgeSeconds = 1;
    }, TypeError);
    assert.throws(() => {
      (c.storage.blob as { path: string }).path = '/tmp';
    }, TypeError);
  });

  it('is independent between loads', () => {
    const a = load({ flags: { listen: '127.0.0.1:1' } });
    const b = load();
    assert.equal(a.listen, '127.0.0.1:1');
    assert.equal(b.listen, '127.0.0.1:5000');
  });
});

describe('configJsonSchema', () => {
  const schema = configJsonSchema();

  it('is plain JSON with no symbol keys or functions', () => {
    const text = JSON.stringify(schema);
    assert.deepEqual(JSON.parse(text), schema);
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      assert.deepEqual(Object.getOwnPropertySymbols(node), []);
      for (const v of Object.values(node)) {
        assert.notEqual(typeof v, 'function');
        visit(v);
      }
    };
    visit(schema);
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  });

  it('closes every object with additionalProperties: false', () => {
    let objects = 0;
    const visit = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.type === 'object') {
        objects++;
        assert.equal(n.additionalProperties, false, `${path} is open`);
      }
      for (const [k, v] of Object.entries(n)) visit(v, `${path}/${k}`);
    };
    visit(schema, '');
    assert.equal(objects, 21); // incl. storage.metadata.postgres, storage.blob.s3(.presignedRedirect), auth, auth.token, auth.loginBackoff, scan, gc, lifecycle(.pricing), pypi, insights
  });

  it('requires only what a file must spell out', () => {
    const props = schema.properties as Record<string, Record<string, any>>;
    assert.equal(schema.required, undefined);
    assert.equal(props.http!.required, undefined);
    assert.deepEqual(props.http!.properties.tls.required, ['cert', 'key']);
    assert.equal(props.storage!.properties.blob.required, undefined);
    assert.equal(props.listen!.default, '127.0.0.1:5000');
    assert.equal(typeof props.listen!.pattern, 'string');
    assert.equal(props.uploads!.properties.maxAgeSeconds.minimum, 60);
  });

  it('names every key an env var can set', () => {
    // Every leaf in the schema is reachable through its general env var name.
    const leaves: string[][] = [];
    const visit = (node: Record<string, any>, path: string[]): void => {
      if (node.type === 'object') for (const [k, v] of Object.entries(node.properties)) visit(v as Record<string, any>, [...path, k]);
      else leaves.push(path);
    };
    visit(schema, []);
    assert.ok(leaves.length >= 15);
    for (const leaf of leaves) {
      const env = { [envVarName(leaf)]: 'x' };
      try {
        load({ env });
      } catch (err) {
        assert.ok(isWharfError(err, 'CONFIG_INVALID'));
        for (const p of err.detail as ConfigProblem[]) assert.doesNotMatch(p.message, /unknown environment variable/, leaf.join('.'));
      }
    }
  });
});
