/**
 * SqlIdentityStore on SQLite (:memory:) and PostgreSQL (where it runs): conflicts, cascades, the failed-login counter and the
 * housekeeping deletes; and the Authenticator doing the same scrypt work whether or not the
 * account exists (so timing does not tell).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Authenticator } from '../../src/auth/authenticator.js';
import { IdentityService } from '../../src/auth/identity-service.js';
import { LoginThrottle } from '../../src/auth/login-throttle.js';
import { PasswordHasher } from '../../src/auth/password-hasher.js';
import { TokenService } from '../../src/auth/token-service.js';
import { isWharfError } from '../../src/errors/wharf-error.js';
import { createPostgresKysely, openSqliteMetadataStore } from '../../src/storage/metadata/open-metadata-store.js';
import { SqlMetadataStore } from '../../src/storage/metadata/sql-metadata-store.js';
import { createScratchDatabase, postgresSkipReason, type ScratchDatabase } from '../support/postgres.js';
import { SqlIdentityStore } from '../../src/storage/metadata/sql-identity-store.js';

interface Opened {
  metadata: SqlMetadataStore;
  close(): Promise<void>;
}

/** Each test opens a fresh, migrated store: SQLite in memory, and PostgreSQL where it runs. */
const DIALECTS: [string, () => Promise<Opened>][] = [
  [
    'sqlite',
    async () => {
      const m = openSqliteMetadataStore({ path: ':memory:' });
      await m.migrate();
      return { metadata: m, close: () => m.close() };
    },
  ],
];
const pgSkip = await postgresSkipReason();
let scratch: ScratchDatabase | undefined;
let schemas = 0;
if (pgSkip === undefined) {
  DIALECTS.push([
    'postgres',
    async () => {
      scratch ??= await createScratchDatabase();
      const schema = `ids${++schemas}`;
      const m = new SqlMetadataStore(createPostgresKysely({ connectionString: scratch.url, poolSize: 4, schema }), 'postgres', undefined, schema);
      await m.migrate();
      return { metadata: m, close: () => m.close() };
    },
  ]);
}
after(async () => scratch?.drop());

for (const [dialect, open] of DIALECTS) {
let metadata: SqlMetadataStore;
let store: SqlIdentityStore;
let opened: Opened;
before(async () => {
  opened = await open();
  metadata = opened.metadata;
  store = new SqlIdentityStore(metadata.database);
});
after(async () => opened?.close());

describe(`SqlIdentityStore (${dialect})`, () => {
  test('names are unique across users and service accounts (CONFLICT)', async () => {
    await store.createPrincipal({ kind: 'user', name: 'dup', passwordHash: 'x' });
    await assert.rejects(store.createPrincipal({ kind: 'service_account', name: 'dup' }), (e) => isWharfError(e, 'CONFLICT'));
  });
  test('deleting a principal removes its keys, bindings and refresh tokens; a new password ends refresh tokens', async () => {
    const p = await store.createPrincipal({ kind: 'service_account', name: 'gone' });
    await store.createApiKey({ id: 'k1', principalId: p.id, secretHash: 'h', description: null, createdAt: 1, expiresAt: null });
    await store.createRoleBinding({ principalId: p.id, role: 'reader', scopeKind: 'registry', scopeValue: '' });
    await store.createRefreshToken({ id: 'r1', principalId: p.id, secretHash: 'h', createdAt: 1, expiresAt: Date.now() + 1000 });
    assert.equal(await store.deletePrincipal('gone'), true);
    assert.equal(await store.findApiKey('k1'), undefined);
    assert.equal(await store.findRefreshToken('r1'), undefined);
    assert.deepEqual(await store.listRoleBindings({ principalId: p.id }), []);
    assert.equal(await store.deletePrincipal('gone'), false);

    const u = await store.createPrincipal({ kind: 'user', name: 'pw', passwordHash: 'old' });
    await store.createRefreshToken({ id: 'r2', principalId: u.id, secretHash: 'h', createdAt: 1, expiresAt: Date.now() + 1000 });
    await store.updatePrincipal('pw', { passwordHash: 'new' });
    assert.equal(await store.findRefreshToken('r2'), undefined);
  });
  test('login failures count up atomically, block by the back-off, and are forgotten when stale', async () => {
    const backoff = (n: number) => (n > 2 ? 1000 : 0);
    await Promise.all([1, 2, 3].map(() => store.recordLoginFailure('account:x', 5000, backoff)));
    const [row] = await store.findLoginFailures(['account:x', 'address:none']);
    assert.equal(row!.failures, 3);
    assert.equal(row!.blockedUntil, 6000);
    assert.equal(await store.deleteStaleLoginFailures(5500), 0, 'still blocked');
    assert.equal(await store.deleteStaleLoginFailures(7000), 1);
    await store.clearLoginFailures(['account:x']);
  });
  test('expired refresh tokens are deleted', async () => {
    const p = await store.createPrincipal({ kind: 'user', name: 'rt', passwordHash: 'x' });
    await store.createRefreshToken({ id: 'old', principalId: p.id, secretHash: 'h', createdAt: 1, expiresAt: 10 });
    await store.createRefreshToken({ id: 'new', principalId: p.id, secretHash: 'h', createdAt: 1, expiresAt: Date.now() + 60_000 });
    assert.equal(await store.deleteExpiredRefreshTokens(Date.now()), 1);
    assert.ok(await store.findRefreshToken('new'));
  });
});

describe(`first-start admin (${dialect})`, () => {
  test('repairs a first start that died between creating admin and binding the role; idempotent', async () => {
    const o = await open();
    try {
      const s = new SqlIdentityStore(o.metadata.database);
      const hasher = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 });
      await s.createPrincipal({ kind: 'user', name: 'admin', passwordHash: await hasher.hash('kept-password') });
      const ids = new IdentityService(s, hasher);
      assert.deepEqual(await ids.bootstrapAdmin('ignored-password'), { created: false });
      const bindings = await s.listRoleBindings();
      assert.deepEqual(bindings.map((b) => [b.principalName, b.role, b.scopeKind]), [['admin', 'admin', 'registry']]);
      assert.equal(await hasher.verify('kept-password', (await s.findPrincipalByName('admin'))!.passwordHash!), true);
      const results = await Promise.all([ids.bootstrapAdmin(undefined), ids.bootstrapAdmin(undefined)]);
      assert.deepEqual(results, [{ created: false }, { created: false }]);
      assert.equal((await s.listRoleBindings()).length, 1);
    } finally {
      await o.close();
    }
  });
  test('two replicas starting together on a fresh DB: one admin, one binding, one generated password', async () => {
    const o = await open();
    try {
      const s = new SqlIdentityStore(o.metadata.database);
      const hasher = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 });
      const results = await Promise.all([new IdentityService(s, hasher).bootstrapAdmin(undefined), new IdentityService(s, hasher).bootstrapAdmin(undefined)]);
      assert.equal(results.filter((r) => r.generatedPassword !== undefined).length, 1, JSON.stringify(results));
      assert.equal((await s.listRoleBindings()).length, 1);
    } finally {
      await o.close();
    }
  });
});

describe(`non-enumeration (${dialect})`, () => {
  test('a wrong password and an unknown user cost one scrypt verification each and fail alike', async () => {
    let verifications = 0;
    class CountingHasher extends PasswordHasher {
      override async verify(password: string, stored: string): Promise<boolean> {
        verifications++;
        return super.verify(password, stored);
      }
    }
    const hasher = new CountingHasher({ N: 2 ** 10, r: 8, p: 1 });
    await store.createPrincipal({ kind: 'user', name: 'known', passwordHash: await hasher.hash('right-password') });
    const tokens = new TokenService({ store, issuer: 'wharf', service: 'wharf', lifetimeSeconds: 300, rotationSeconds: 0 });
    const auth = new Authenticator({ store, hasher, throttle: new LoginThrottle(store), tokens, refreshTokenLifetimeSeconds: 60, cacheTtlMs: 0 });
    const messages: string[] = [];
    for (const name of ['known', 'unknown-user', 'dup']) {
      verifications = 0;
      await assert.rejects(auth.login(name, 'wrong-password', '127.0.0.9'), (e) => {
        messages.push((e as Error).message);
        return isWharfError(e, 'UNAUTHORIZED');
      });
      assert.equal(verifications, 1, `${name}: one scrypt verification`);
    }
    assert.equal(new Set(messages).size, 1, messages.join(' | '));
  });
});
}
