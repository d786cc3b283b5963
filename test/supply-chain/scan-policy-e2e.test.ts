/**
 * Deploy policy conditions on the registry's own scan results, end to end through the built
 * server (main.ts wires the scanner's reports into the policy's facts): an image with a
 * vulnerable npm package (OSV record imported as NDJSON, scanned by the registry) is denied at
 * pull (skopeo) and at admission by maxSeverity and by a CEL rule; the fixed image passes; an
 * image never scanned fails the scan rules.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { wharfBuilt } from '../support/registry-process.js';
import { gzip, tarOf } from '../content/support/layers.js';
import { SupplyChainServer } from './support.js';

const LODASH_ADVISORY = {
  id: 'WHARF-TEST-2026-0015',
  modified: '2026-01-01T00:00:00Z',
  summary: 'test-only advisory against lodash',
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }] }],
};

describe('deploy policy over scan results (e2e)', { skip: !wharfBuilt() && 'build first (npm run build)' }, () => {
  let srv: SupplyChainServer;
  let dir: string;
  const lodash = async (version: string) => gzip(await tarOf([{ name: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version }) }]));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wharf-scanpolicy-'));
    // insights analyse every push by default, and their pass over the layers feeds the scan's
    // inventory too: off here, so `unscanned` stays unscanned
    srv = await SupplyChainServer.start('scan-policy-admin-pw', dir, { WHARF_INSIGHTS__ON_PUSH: 'false', WHARF_INSIGHTS__ENABLED: 'false' });
    const imp = await srv.api('POST', '/api/v1/vulndb/imports?source=test', `${JSON.stringify(LODASH_ADVISORY)}\n`, { 'content-type': 'application/x-ndjson' });
    assert.equal(imp.status, 201, imp.text);
    await srv.pushImage('ml/vuln', 'old', await lodash('4.17.15'));
    await srv.pushImage('ml/vuln', 'fixed', await lodash('4.17.21'));
    await srv.pushImage('ml/vuln', 'unscanned', await lodash('4.17.20'));
    for (const tag of ['old', 'fixed']) {
      const r = await srv.api('POST', '/api/v1/scans/ml/vuln', { reference: tag });
      assert.equal(r.status, 200, r.text);
    }
    const policy = [
      'defaultAdmissionRule: {evaluationMode: ALWAYS_ALLOW}',
      'wharf:',
      '  maxSeverity: HIGH',
      '  onlyFixable: true',
      '  scannedWithinDays: 7',
      '  enforceAtPull: true',
      '  cel: [{name: no-fixable-critical, expression: "image.scanned && image.fixable.critical == 0"}]',
      '',
    ].join('\n');
    const set = await srv.api('PUT', '/api/v1/deploy-policy?scope=ml/vuln', { policy });
    assert.equal(set.status, 200, set.text);
  });
  after(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('wharf deploy-policy check reports the findings above the limit', async () => {
    const old = srv.wharf(['deploy-policy', 'check', 'ml/vuln:old', '--output', 'json']);
    assert.equal(old.code, 4, old.err);
    const d = JSON.parse(old.out) as { rules: { rule: string; passed: boolean; message: string }[] };
    const byRule = Object.fromEntries(d.rules.map((r) => [r.rule, r]));
    assert.equal(byRule.maxSeverity!.passed, false);
    assert.match(byRule.maxSeverity!.message, /1 CRITICAL/);
    assert.equal(byRule['cel:no-fixable-critical']!.passed, false);
    assert.equal(byRule.scannedWithinDays!.passed, true);
    assert.equal(srv.wharf(['deploy-policy', 'check', 'ml/vuln:fixed']).code, 0);
    assert.equal((await srv.api('GET', '/api/v1/scans/ml/vuln?reference=unscanned')).status, 404);
    const never = JSON.parse(srv.wharf(['deploy-policy', 'check', 'ml/vuln:unscanned', '--output', 'json']).out) as { rules: { rule: string; passed: boolean }[] };
    assert.deepEqual(never.rules.filter((r) => !r.passed).map((r) => r.rule).sort(), ['cel:no-fixable-critical', 'maxSeverity', 'scannedWithinDays']);
  });

  it('denies the vulnerable image at pull (skopeo) and at admission; serves the fixed one', async () => {
    assert.equal(srv.skopeoInspect('ml/vuln', 'fixed').code, 0);
    const denied = srv.skopeoInspect('ml/vuln', 'old');
    assert.notEqual(denied.code, 0);
    assert.match(denied.err, /denied|403/i);
    const review = (image: string) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'scan-1', kind: { group: 'batch', version: 'v1', kind: 'Job' }, operation: 'CREATE', namespace: 'ml', object: { spec: { template: { spec: { containers: [{ name: 'x', image }], restartPolicy: 'Never' } } } } },
    });
    const no = await srv.api('POST', '/admission/v1/validate', review(`${srv.host}/ml/vuln:old`));
    assert.equal(no.json.response.allowed, false);
    assert.match(no.json.response.status.message, /maxSeverity/);
    const ok = await srv.api('POST', '/admission/v1/validate', review(`${srv.host}/ml/vuln:fixed`));
    assert.equal(ok.json.response.allowed, true, ok.text);
  });
});
