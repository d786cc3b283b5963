/**
 * CVSS scoring against published NVD / FIRST scores, OSV record parsing (good and malformed), and
 * matching real advisories (test/fixtures/osv, see SOURCES.md) against known vulnerable and fixed
 * versions.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cvssBaseScore, levelOfScore } from '../../src/features/scan/vulns/cvss.js';
import { parseOsvRecord, OsvRecordError, type AffectedPackage } from '../../src/features/scan/vulns/osv.js';
import { matchAffected } from '../../src/features/scan/vulns/osv-match.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'osv');
const record = (name: string) => parseOsvRecord(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));

describe('CVSS', () => {
  test('v3.x base scores as NVD publishes them', () => {
    const cases: [string, number][] = [
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N', 6.1], // CVE-2023-32681
      ['CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H', 7.2], // CVE-2021-23337
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1],
      ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8],
      ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H', 5.9],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N', 7.5],
      ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10],
      ['CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:L', 1.6],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0],
      ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C', 9.8],
    ];
    for (const [vector, score] of cases) assert.equal(cvssBaseScore(vector)?.score, score, vector);
  });
  test('v4.0 base scores (FIRST calculator examples)', () => {
    assert.equal(cvssBaseScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')?.score, 9.3);
    assert.equal(cvssBaseScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N')?.score, 0);
    const s = cvssBaseScore('CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N');
    assert.ok(s && s.score > 0 && s.score < 4, JSON.stringify(s));
  });
  test('malformed vectors are refused, not guessed', () => {
    for (const bad of [
      'garbage',
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H', // A missing
      'CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', // twice
      'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', // bad value
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1',
      'CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P',
      'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N', // SA missing
      `CVSS:3.1/${'AV:N/'.repeat(200)}`,
    ]) {
      assert.equal(cvssBaseScore(bad), undefined, bad);
    }
  });
  test('levels', () => {
    assert.deepEqual([9, 8.9, 7, 6.9, 4, 3.9, 0.1, 0].map(levelOfScore), ['CRITICAL', 'HIGH', 'HIGH', 'MEDIUM', 'MEDIUM', 'LOW', 'LOW', 'LOW']);
  });
});

describe('OSV records', () => {
  test('a GHSA record: severity from its CVSS vector, aliases, GIT ranges dropped', () => {
    const a = record('GHSA-j8r2-6x86-q33q');
    assert.equal(a.id, 'GHSA-j8r2-6x86-q33q');
    assert.deepEqual(a.aliases, ['CVE-2023-32681']);
    assert.deepEqual(a.severity, { level: 'MEDIUM', score: 6.1, vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N', source: 'cvss-3.1' });
    assert.equal(a.affected[0]!.ecosystem, 'PyPI');
    const p = record('PYSEC-2023-74');
    assert.equal(p.affected[0]!.ranges.length, 1, 'the GIT range is not kept');
    assert.equal(p.severity.level, 'UNKNOWN');
    assert.equal(p.summary.startsWith('Requests is a HTTP library'), true);
  });
  test('Debian and Alpine records: releases, upstream ids, source packages', () => {
    const d = record('DSA-5514-1');
    assert.deepEqual(d.affected.map((x) => `${x.ecosystem}:${x.release}:${x.name}`), ['Debian:11:glibc', 'Debian:12:glibc']);
    assert.deepEqual(d.aliases, ['CVE-2023-4527', 'CVE-2023-4911']);
    const al = record('ALPINE-CVE-2023-5363');
    assert.equal(al.affected[0]!.release, 'v3.18');
    assert.equal(al.severity.level, 'HIGH');
  });
  test('severity falls back to the record: database_specific, Ubuntu, Debian urgency', () => {
    const base = { id: 'X-1', modified: '2024-01-01T00:00:00Z' };
    assert.equal(parseOsvRecord({ ...base, database_specific: { severity: 'MODERATE' } }).severity.level, 'MEDIUM');
    assert.equal(parseOsvRecord({ ...base, severity: [{ type: 'Ubuntu', score: 'high' }] }).severity.level, 'HIGH');
    assert.equal(parseOsvRecord({ ...base, severity: [{ type: 'CVSS_V3', score: 'not a vector' }], database_specific: { severity: 'LOW' } }).severity.level, 'LOW');
    const both = parseOsvRecord({
      ...base,
      severity: [
        { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N' },
        { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
      ],
    });
    assert.equal(both.severity.source, 'cvss-4.0');
    assert.equal(both.severity.level, 'CRITICAL');
    const perPackage = parseOsvRecord({
      ...base,
      affected: [{ package: { ecosystem: 'Debian:12', name: 'curl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }], ecosystem_specific: { urgency: 'low' } }],
    });
    assert.equal(perPackage.affected[0]!.severity?.level, 'LOW');
  });
  test('malformed records are refused with a reason', () => {
    const bad: unknown[] = [
      null,
      [],
      'text',
      { modified: '2024-01-01T00:00:00Z' },
      { id: '../../etc', modified: '2024-01-01T00:00:00Z' },
      { id: 'X-1' },
      { id: 'X-1', modified: 'yesterday' },
      { id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: {} },
      { id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { name: 'a' } }] },
      { id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { name: 'a', ecosystem: 'PyPI' }, ranges: [{ type: 'ECOSYSTEM', events: [{ fixed: '1.0' }] }] }] },
      { id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { name: 'a', ecosystem: 'PyPI' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0', fixed: '1' }] }] }] },
      { id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { name: 'a', ecosystem: 'PyPI' }, ranges: [{ type: 'WEIRD', events: [] }] }] },
      { id: 'X-1', modified: '2024-01-01T00:00:00Z', aliases: 'CVE-1' },
      { id: 'X-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { name: 'a', ecosystem: 'PyPI' }, versions: [1, 2] }] },
    ];
    for (const b of bad) assert.throws(() => parseOsvRecord(b), OsvRecordError, JSON.stringify(b));
  });
});

describe('matching', () => {
  const affected = (name: string, i = 0): AffectedPackage => record(name).affected[i]!;
  test('PyPI ranges and explicit versions (requests, torch, jinja2)', () => {
    const req = affected('GHSA-j8r2-6x86-q33q');
    assert.deepEqual(matchAffected('2.28.1', req), { affected: true, fixed: '2.31.0' });
    assert.deepEqual(matchAffected('2.3.0', req), { affected: true, fixed: '2.31.0' });
    assert.equal(matchAffected('2.2.1', req).affected, false, 'before introduced');
    assert.equal(matchAffected('2.31.0', req).affected, false, 'the fixed version');
    assert.equal(matchAffected('2.32.3', req).affected, false);
    const torch = affected('PYSEC-2022-43015');
    assert.deepEqual(matchAffected('1.13.0+cu117', torch), { affected: true, fixed: '1.13.1' }, 'local CUDA builds match their release');
    assert.equal(matchAffected('2.1.0+cu121', torch).affected, false);
    const jinja = affected('PYSEC-2021-66');
    assert.equal(matchAffected('2.10.1', jinja).affected, true);
    assert.equal(matchAffected('3.1.2', jinja).affected, false);
    const onlyListed: AffectedPackage = { ...jinja, ranges: [] };
    assert.deepEqual(matchAffected('2.10.1', onlyListed), { affected: true });
    assert.deepEqual(matchAffected('2.10.1.0', onlyListed), { affected: true }, 'listed versions compare by PEP 440, not by string');
  });
  test('npm (lodash)', () => {
    assert.deepEqual(matchAffected('4.17.20', affected('GHSA-35jh-r3h4-6jhm')), { affected: true, fixed: '4.17.21' });
    assert.equal(matchAffected('4.17.21', affected('GHSA-35jh-r3h4-6jhm')).affected, false);
  });
  test('Debian source versions with security suffixes (glibc, DSA-5514-1)', () => {
    const bookworm = affected('DSA-5514-1', 1);
    assert.deepEqual(matchAffected('2.36-9+deb12u1', bookworm), { affected: true, fixed: '2.36-9+deb12u3' });
    assert.equal(matchAffected('2.36-9+deb12u3', bookworm).affected, false);
    assert.equal(matchAffected('2.36-9+deb12u10', bookworm).affected, false, 'u10 > u3: numbers, not strings');
  });
  test('Alpine (openssl, CVE-2023-5363)', () => {
    const a = affected('ALPINE-CVE-2023-5363');
    assert.deepEqual(matchAffected('3.1.3-r0', a), { affected: true, fixed: '3.1.4-r0' });
    assert.equal(matchAffected('3.1.4-r0', a).affected, false);
    assert.equal(matchAffected('3.1.4-r5', a).affected, false);
  });
  test('several windows, last_affected, limit, SEMVER', () => {
    const pkg = (events: object[], type = 'ECOSYSTEM'): AffectedPackage =>
      parseOsvRecord({ id: 'T-1', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type, events }] }] }).affected[0]!;
    const windows = pkg([{ introduced: '0' }, { fixed: '1.0.5' }, { introduced: '2.0.0' }, { fixed: '2.0.3' }]);
    assert.deepEqual(matchAffected('1.0.4', windows), { affected: true, fixed: '1.0.5' });
    assert.equal(matchAffected('1.5.0', windows).affected, false);
    assert.deepEqual(matchAffected('2.0.1', windows), { affected: true, fixed: '2.0.3' });
    assert.equal(matchAffected('2.0.3', windows).affected, false);
    assert.deepEqual(matchAffected('2.0.0-rc.1', windows), { affected: false });
    const last = pkg([{ introduced: '1.0.0' }, { last_affected: '1.2.0' }]);
    assert.deepEqual(matchAffected('1.2.0', last), { affected: true });
    assert.equal(matchAffected('1.2.1', last).affected, false);
    const limited = pkg([{ introduced: '0' }, { limit: '3.0.0' }]);
    assert.equal(matchAffected('2.9.9', limited).affected, true);
    assert.equal(matchAffected('3.0.0', limited).affected, false);
    const semverRange = pkg([{ introduced: '0' }, { fixed: 'v1.2.3' }], 'SEMVER');
    assert.deepEqual(matchAffected('1.2.2', semverRange), { affected: true, fixed: 'v1.2.3' });
    const unreadable = pkg([{ introduced: '0' }, { fixed: 'not-a-version' }]);
    assert.equal(matchAffected('1.0.0', unreadable).affected, false, 'a range the ordering cannot read is skipped');
    assert.equal(matchAffected('junk', windows).affected, false);
  });
});
