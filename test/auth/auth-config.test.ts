import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { WharfError } from '../../src/errors/wharf-error.js';

test('WHARF_ADMIN_PASSWORD sets auth.adminPassword; a short one is refused without echoing it', () => {
  assert.equal(loadConfig({ env: { WHARF_ADMIN_PASSWORD: 'long-enough-pw' } }).auth.adminPassword, 'long-enough-pw');
  try {
    loadConfig({ env: { WHARF_ADMIN_PASSWORD: 'short' } });
    assert.fail('accepted');
  } catch (err) {
    assert.ok(err instanceof WharfError && err.code === 'CONFIG_INVALID');
    assert.ok(!JSON.stringify(err.detail).includes('short"'), JSON.stringify(err.detail));
  }
});

test('auth.enabled and token lifetime from the environment; WHARF_SERVER is not configuration', () => {
  const c = loadConfig({ env: { WHARF_AUTH__ENABLED: 'false', WHARF_AUTH__TOKEN__LIFETIME_SECONDS: '600', WHARF_SERVER: 'http://x' } });
  assert.equal(c.auth.enabled, false);
  assert.equal(c.auth.token.lifetimeSeconds, 600);
  assert.throws(() => loadConfig({ env: { WHARF_AUTH__TOKEN__LIFETIME_SECONDS: '5' } }), /configuration invalid/);
});
