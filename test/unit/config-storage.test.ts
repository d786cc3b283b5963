/**
 * The storage backend blocks of the config: optional sibling sections (storage.metadata.postgres,
 * storage.blob.s3) checked against their driver, with secrets only by reference.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, type ConfigProblem, type LoadConfigOptions } from '../../src/config/index.js';
import { isWharfError } from '../../src/errors/wharf-error.js';

const root = mkdtempSync(join(tmpdir(), 'wharf-config-storage-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const path = join(root, `c${++n}.yaml`);
  writeFileSync(path, text);
  return path;
}

const load = (options: LoadConfigOptions) => loadConfig({ cwd: root, env: {}, ...options });

function problems(options: LoadConfigOptions): ConfigProblem[] {
  try {
    load(options);
  } catch (err) {
    assert.ok(isWharfError(err, 'CONFIG_INVALID'), String(err));
    return err.detail as ConfigProblem[];
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('storage.metadata.postgres', () => {
  it('is absent by default; sqlite stays the driver', () => {
    const c = load({});
    assert.equal(c.storage.metadata.driver, 'sqlite');
    assert.equal(c.storage.metadata.postgres, undefined);
  });

  it('takes a url, connection fields and a password reference; paths resolve against the file', () => {
    const c = load({
      file: file(
        'storage:\n  metadata:\n    driver: postgres\n    postgres:\n      url: postgres://wharf@db.internal:5432/wharf?sslmode=require\n' +
          '      passwordFile: secrets/pg-password\n      poolSize: 20\n      schema: wharf\n',
      ),
    });
    assert.deepEqual(c.storage.metadata.postgres, {
      url: 'postgres://wharf@db.internal:5432/wharf?sslmode=require',
      passwordFile: join(root, 'secrets/pg-password'),
      poolSize: 20,
      schema: 'wharf',
    });
    const fromEnv = load({
      env: {
        WHARF_STORAGE__METADATA__DRIVER: 'postgres',
        WHARF_STORAGE__METADATA__POSTGRES__HOST: 'db',
        WHARF_STORAGE__METADATA__POSTGRES__PORT: '6432',
        WHARF_STORAGE__METADATA__POSTGRES__DATABASE: 'wharf',
        WHARF_STORAGE__METADATA__POSTGRES__USER: 'wharf',
        WHARF_STORAGE__METADATA__POSTGRES__PASSWORD_ENV: 'PGPASSWORD',
      },
    });
    assert.deepEqual(fromEnv.storage.metadata.postgres, { host: 'db', port: 6432, database: 'wharf', user: 'wharf', passwordEnv: 'PGPASSWORD' });
  });

  it('is required by driver postgres and refused with another driver', () => {
    const [missing] = problems({ flags: { 'storage.metadata.driver': 'postgres' } });
    assert.equal(missing!.path, '/storage/metadata/postgres');
    assert.match(missing!.message, /required when storage\.metadata\.driver is "postgres"/);
    const [stray] = problems({ file: file('storage:\n  metadata:\n    postgres:\n      host: db\n') });
    assert.equal(stray!.path, '/storage/metadata/postgres');
    assert.match(stray!.message, /storage\.metadata\.driver is "sqlite"/);
    const [empty] = problems({ file: file('storage:\n  metadata:\n    driver: postgres\n    postgres:\n      user: wharf\n') });
    assert.match(empty!.message, /needs url or host/);
  });

  it('never takes a password inline, and never echoes one', () => {
    const secret = 'hunter2-very-secret';
    for (const url of [`postgres://wharf:${secret}@db/wharf`, `postgres://wharf@db/wharf?password=${secret}`]) {
      const found = problems({ file: file(`storage:\n  metadata:\n    driver: postgres\n    postgres:\n      url: "${url}"\n`) });
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.equal(found[0]!.path, '/storage/metadata/postgres/url');
      assert.ok(!JSON.stringify(found).includes(secret), 'the password is not echoed');
    }
    const [inline] = problems({ file: file('storage:\n  metadata:\n    driver: postgres\n    postgres:\n      host: db\n      password: x\n') });
    assert.match(inline!.message, /unknown key "password"/);
    const [both] = problems({
      file: file('storage:\n  metadata:\n    driver: postgres\n    postgres:\n      host: db\n      passwordFile: f\n      passwordEnv: PGPASSWORD\n'),
    });
    assert.match(both!.message, /not both/);
    const [wharfVar] = problems({ file: file('storage:\n  metadata:\n    driver: postgres\n    postgres:\n      host: db\n      passwordEnv: WHARF_PG\n') });
    assert.equal(wharfVar!.path, '/storage/metadata/postgres/passwordEnv');
    assert.match(wharfVar!.message, /not a WHARF_\* name/);
  });

  it('bounds the pool and the schema name', () => {
    const found = problems({
      file: file('storage:\n  metadata:\n    driver: postgres\n    postgres:\n      host: db\n      poolSize: 0\n      schema: "x; drop table y"\n'),
    });
    assert.deepEqual(found.map((p) => p.path).sort(), ['/storage/metadata/postgres/poolSize', '/storage/metadata/postgres/schema']);
  });
});

describe('storage.blob.s3', () => {
  const s3File = (lines: string) => file(`storage:\n  blob:\n    driver: s3\n    s3:\n${lines}`);

  it('takes the store, the key by reference and the redirect settings', () => {
    const c = load({
      file: s3File(
        '      endpoint: http://minio.internal:9000\n      region: us-east-1\n      bucket: wharf-blobs\n      prefix: registry/\n' +
          '      forcePathStyle: true\n      accessKeyId: wharf\n      secretAccessKeyFile: secrets/s3-key\n      partSizeBytes: 16777216\n' +
          '      presignedRedirect:\n        enabled: true\n        expiresSeconds: 120\n',
      ),
    });
    assert.deepEqual(c.storage.blob.s3, {
      endpoint: 'http://minio.internal:9000',
      region: 'us-east-1',
      bucket: 'wharf-blobs',
      prefix: 'registry/',
      forcePathStyle: true,
      accessKeyId: 'wharf',
      secretAccessKeyFile: join(root, 'secrets/s3-key'),
      partSizeBytes: 16 * 1024 * 1024,
      presignedRedirect: { enabled: true, expiresSeconds: 120 },
    });
    const aws = load({ env: { WHARF_STORAGE__BLOB__DRIVER: 's3', WHARF_STORAGE__BLOB__S3__REGION: 'eu-west-1', WHARF_STORAGE__BLOB__S3__BUCKET: 'b-1' } });
    assert.deepEqual(aws.storage.blob.s3, { region: 'eu-west-1', bucket: 'b-1' }, 'no keys: the SDK default chain');
  });

  it('is required by driver s3, refused with fs, and needs region and bucket', () => {
    assert.match(problems({ flags: { 'storage.blob.driver': 's3' } })[0]!.message, /required when storage\.blob\.driver is "s3"/);
    assert.match(problems({ file: file('storage:\n  blob:\n    s3:\n      region: r\n      bucket: bbb\n') })[0]!.message, /storage\.blob\.driver is "fs"/);
    const missing = problems({ file: s3File('      endpoint: http://x:9000\n') });
    assert.deepEqual(missing.map((p) => p.path).sort(), ['/storage/blob/s3/bucket', '/storage/blob/s3/region']);
  });

  it('never takes the secret key inline; the key id and its secret come together', () => {
    const [inline] = problems({ file: s3File('      region: r\n      bucket: bbb\n      accessKeyId: a\n      secretAccessKey: s3cr3t\n') });
    assert.match(inline!.message, /unknown key "secretAccessKey"/);
    assert.ok(!inline!.message.includes('s3cr3t'));
    assert.match(problems({ file: s3File('      region: r\n      bucket: bbb\n      accessKeyId: a\n') })[0]!.message, /needs secretAccessKeyFile or secretAccessKeyEnv/);
    assert.match(problems({ file: s3File('      region: r\n      bucket: bbb\n      secretAccessKeyEnv: AWS_SECRET_ACCESS_KEY\n') })[0]!.path, /accessKeyId/);
    assert.match(
      problems({ file: s3File('      region: r\n      bucket: bbb\n      accessKeyId: a\n      secretAccessKeyEnv: K\n      secretAccessKeyFile: f\n') })[0]!.message,
      /not both/,
    );
  });

  it('checks bucket, endpoint, prefix, part size and URL lifetime', () => {
    const found = problems({
      file: s3File(
        '      region: r\n      bucket: Bad_Bucket\n      endpoint: minio:9000\n      prefix: /abs\n      partSizeBytes: 4194304\n' +
          '      presignedRedirect:\n        enabled: true\n        expiresSeconds: 604801\n',
      ),
    });
    assert.deepEqual(found.map((p) => p.path).sort(), [
      '/storage/blob/s3/bucket',
      '/storage/blob/s3/endpoint',
      '/storage/blob/s3/partSizeBytes',
      '/storage/blob/s3/prefix',
      '/storage/blob/s3/presignedRedirect/expiresSeconds',
    ]);
  });
});
