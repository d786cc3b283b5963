import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PasswordHasher } from '../../src/auth/password-hasher.js';
import { API_KEY_PREFIX, issueSecret, parseSecret, secretMatches } from '../../src/auth/secret-tokens.js';
import { parseScopes, scopesFor, tokenAllows } from '../../src/auth/docker-scope.js';
import { actionsOn, parseScope, formatScope, scopeCovers } from '../../src/auth/roles.js';
import { LoginThrottle } from '../../src/auth/login-throttle.js';
import { parseAuthorization } from '../../src/auth/authenticator.js';
import type { IdentityStore } from '../../src/storage/metadata/identity-store.js';

describe('password hashing (scrypt)', () => {
  const hasher = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 });
  test('hash is self-describing and salted; verify accepts only the password', async () => {
    const a = await hasher.hash('correct horse');
    const b = await hasher.hash('correct horse');
    assert.match(a, /^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b, 'two hashes of one password differ (salt)');
    assert.ok(!a.includes('correct horse'));
    assert.equal(await hasher.verify('correct horse', a), true);
    assert.equal(await hasher.verify('correct horsE', a), false);
    assert.equal(await hasher.verify('', a), false);
  });
  test('malformed or hostile stored hashes are false, never a throw or a huge allocation', async () => {
    for (const bad of ['', 'scrypt', 'bcrypt$1$2$3$4$5', 'scrypt$x$8$1$aa$bb', 'scrypt$1073741824$8$1$aa$bb', 'scrypt$1024$8$1$aa$short']) {
      assert.equal(await hasher.verify('pw', bad), false, bad);
    }
  });
  test('the default cost is memory-hard (N=2^15, r=8: 32 MiB)', async () => {
    const h = await new PasswordHasher().hash('x'.repeat(10));
    assert.match(h, /^scrypt\$32768\$8\$1\$/);
  });
  test('verifyNothing takes time and says false', async () => {
    assert.equal(await hasher.verifyNothing('anything'), false);
  });
});

describe('API keys and refresh tokens', () => {
  test('shape, prefix, parse, hashed form only', () => {
    const s = issueSecret(API_KEY_PREFIX);
    assert.match(s.plaintext, /^wharf_sa_[0-9A-Za-z]{16}_[A-Za-z0-9_-]{43}$/);
    const parsed = parseSecret(API_KEY_PREFIX, s.plaintext);
    assert.ok(parsed);
    assert.equal(parsed.id, s.id);
    assert.ok(!s.hash.includes(parsed.secret));
    assert.equal(secretMatches(parsed.secret, s.hash), true);
    const last = parsed.secret.slice(-1);
    // change the last character (to something it is not already)
    assert.equal(secretMatches(`${parsed.secret.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`, s.hash), false);
    for (const bad of ['', 'wharf_sa_', `${s.plaintext}x`, s.plaintext.replace('_', '-'), `wharf_rt_${s.plaintext.slice(9)}`]) {
      assert.equal(parseSecret(API_KEY_PREFIX, bad), undefined, bad);
    }
  });
});

describe('Docker scopes', () => {
  test('parse, merge, drop malformed', () => {
    assert.deepEqual(parseScopes(['repository:a/b:pull', 'repository:a/b:push', 'registry:catalog:*', 'junk', 'repository::pull', 'repository:x:fly', 'other:x:pull']), [
      { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.deepEqual(parseScopes(['repository:a:pull repository:b:push']).map((s) => s.name), ['a', 'b']);
  });
  test('challenge scopes from declared access; token checks', () => {
    assert.deepEqual(scopesFor([{ kind: 'repository', name: 'n', actions: ['pull', 'push'] }, { kind: 'registry', action: 'catalog' }]), [
      { type: 'repository', name: 'n', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const access = [{ type: 'repository' as const, name: 'a', actions: ['pull'] }];
    assert.equal(tokenAllows(access, 'repository', 'a', ['pull']), true);
    assert.equal(tokenAllows(access, 'repository', 'a', ['pull', 'push']), false);
    assert.equal(tokenAllows(access, 'repository', 'b', ['pull']), false);
  });
});

describe('roles and scopes', () => {
  test('parseScope', () => {
    assert.deepEqual(parseScope('*'), { kind: 'registry' });
    assert.deepEqual(parseScope('team-a/*'), { kind: 'namespace', prefix: 'team-a' });
    assert.deepEqual(parseScope('team-a/app'), { kind: 'repository', name: 'team-a/app' });
    for (const bad of ['Team/*', 'a/*/b', '*/x', '../x', 'a b', '']) assert.throws(() => parseScope(bad), /invalid|missing|scope/, bad);
    assert.equal(formatScope(parseScope('team-a/*')), 'team-a/*');
  });
  test('a namespace covers what is under it, not its prefix look-alikes', () => {
    const ns = parseScope('team-a/*');
    assert.equal(scopeCovers(ns, 'team-a/app'), true);
    assert.equal(scopeCovers(ns, 'team-a/x/y'), true);
    assert.equal(scopeCovers(ns, 'team-a'), false);
    assert.equal(scopeCovers(ns, 'team-ab/app'), false);
  });
  test('actions accumulate over bindings', () => {
    const got = actionsOn(
      [
        { role: 'reader', scope: { kind: 'registry' } },
        { role: 'writer', scope: { kind: 'namespace', prefix: 'ml' } },
      ],
      'ml/train',
    );
    assert.deepEqual([...got].sort(), ['pull', 'push']);
  });
});

describe('login back-off', () => {
  test('free failures, then doubling up to the maximum', () => {
    const t = new LoginThrottle({} as IdentityStore, { freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 10_000 });
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => t.backoffMs(n)), [0, 0, 0, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
});

describe('Authorization header', () => {
  test('Basic, Bearer, absent, malformed', () => {
    assert.equal(parseAuthorization(undefined), undefined);
    assert.deepEqual(parseAuthorization(`Basic ${Buffer.from('u:p:w').toString('base64')}`), { kind: 'basic', username: 'u', password: 'p:w' });
    assert.deepEqual(parseAuthorization('bearer abc'), { kind: 'bearer', token: 'abc' });
    for (const bad of ['Basic', `Basic ${Buffer.from('nocolon').toString('base64')}`, `Basic ${Buffer.from(':p').toString('base64')}`, 'Digest x', 'Bearer ']) {
      assert.throws(() => parseAuthorization(bad), /UNAUTHORIZED|malformed|unsupported/i, bad);
    }
  });
});
