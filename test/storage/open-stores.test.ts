/**
 * openStores (the composition root) opening the backends a config names: PostgreSQL from
 * storage.metadata.postgres, with the password read from where the config points.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { digestOf } from '../../src/domain/digest.js';
import { isWharfError } from '../../src/errors/wharf-error.js';
import { openStores } from '../../src/main.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';

const skip = await postgresSkipReason();

describe('openStores: storage.metadata.driver postgres', { skip }, () => {
  let scratch: ScratchDatabase;
  const dir = mkdtempSync(join(tmpdir(), 'wharf-open-stores-'));
  before(async () => {
    scratch = await createScratchDatabase();
  });
  after(async () => {
    await scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (postgres: Record<string, unknown>) =>
    loadConfig({ cwd: dir, flags: { data: dir, storage: { metadata: { driver: 'postgres', postgres } } } });

  test('connects, migrates and works; explicit keys win over the URL', async () => {
    // the URL names a database that does not exist: `database` must override it
    const c = config({ url: `postgres://${scratch.user}@127.0.0.1:5432/no_such_db`, database: scratch.name, schema: 'wharf', poolSize: 3 });
    const { metadata } = await openStores(c, {});
    try {
      const d = digestOf(Buffer.from('x'));
      await metadata.commitBlob('repo', d, 1);
      assert.equal((await metadata.findBlob(d))?.size, 1);
    } finally {
      await metadata.close();
    }
    // a second process over the same database finds the schema migrated
    const again = await openStores(c, {});
    await again.metadata.ping();
    assert.ok(await again.metadata.findBlob(digestOf(Buffer.from('x'))));
    await again.metadata.close();
  });

  test('the password comes from passwordFile or passwordEnv; a missing one is CONFIG_INVALID naming the key', async () => {
    const file = join(dir, 'pg-password');
    writeFileSync(file, 'not-needed-with-trust\n');
    const base = { host: '127.0.0.1', user: scratch.user, database: scratch.name };
    const viaFile = await openStores(config({ ...base, passwordFile: file }), {});
    await viaFile.metadata.close();
    const unset = await openStores(config({ ...base, passwordEnv: 'PG_PASSWORD_UNSET' }), {}).catch((e) => e);
    assert.ok(isWharfError(unset, 'CONFIG_INVALID'));
    assert.match(unset.message, /storage\.metadata\.postgres: environment variable PG_PASSWORD_UNSET is not set/);
    const missing = await openStores(config({ ...base, passwordFile: join(dir, 'absent') }), {}).catch((e) => e);
    assert.ok(isWharfError(missing, 'CONFIG_INVALID'));
    assert.match(missing.message, /cannot read the secret file .*absent: ENOENT/);
    const set = await openStores(config({ ...base, passwordEnv: 'PG_PASSWORD_SET' }), { PG_PASSWORD_SET: 'p' });
    await set.metadata.close();
  });

  test('an unreachable server fails the start with the driver error, not a hang', async () => {
    const c = config({ host: '127.0.0.1', port: 1, user: 'x', database: 'x', connectTimeoutSeconds: 2 });
    await assert.rejects(openStores(c, {}));
  });
});
