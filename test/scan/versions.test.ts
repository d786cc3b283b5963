/**
 * Version comparators against each ecosystem's own examples: Debian Policy 5.6.12 and dpkg's
 * deb-version(7); apk-tools' ordering rules (apk-package(5)); PEP 440's "summary of permitted
 * suffixes and relative ordering"; the SemVer 2.0 spec, section 11.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareDebianVersions, parseDebianVersion } from '../../src/features/scan/versions/debian-version.js';
import { compareApkVersions, isApkVersion } from '../../src/features/scan/versions/apk-version.js';
import { comparePep440Versions, isPep440Version } from '../../src/features/scan/versions/pep440-version.js';
import { normalizePythonName } from '../../src/content/inventory/python.js';
import { compareSemver, isSemver } from '../../src/features/scan/versions/semver-version.js';
import { splitEcosystem } from '../../src/features/scan/versions/ecosystems.js';

type Cmp = (a: string, b: string) => number;

/** every earlier element is strictly smaller than every later one, both ways round */
function assertAscending(cmp: Cmp, list: string[]): void {
  for (let i = 0; i < list.length; i++) {
    for (let j = 0; j < list.length; j++) {
      const want = Math.sign(i - j);
      assert.equal(cmp(list[i]!, list[j]!), want, `${list[i]} vs ${list[j]}: expected ${want}`);
    }
  }
}

describe('Debian versions (deb-version(7))', () => {
  test('tilde sorts before everything, even the end (Policy: ~~ < ~~a < ~ < "" < a)', () => {
    assertAscending(compareDebianVersions, ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0a']);
  });
  test('release candidates and security updates', () => {
    assertAscending(compareDebianVersions, ['1.0~rc1-1', '1.0-1', '1.0-1+b1', '1.0-1+deb12u1', '1.0-1+deb12u2', '1.0-1+deb12u10', '1.0-2']);
    assertAscending(compareDebianVersions, ['2.36-9+deb12u2', '2.36-9+deb12u3', '2.36-9+deb12u10']);
  });
  test('epochs win over everything else', () => {
    assert.equal(compareDebianVersions('1:0.1', '2.0'), 1);
    assert.equal(compareDebianVersions('0:1.0', '1.0'), 0);
    assert.equal(compareDebianVersions('1:1.2.13.dfsg-1', '1:1.2.13.dfsg-1'), 0);
    assert.equal(compareDebianVersions('2:1.0', '10:0.1'), -1);
  });
  test('digit runs compare as numbers, letters before other characters', () => {
    assert.equal(compareDebianVersions('1.10', '1.9'), 1);
    assert.equal(compareDebianVersions('1.000', '1.0'), 0);
    assert.equal(compareDebianVersions('1.0a', '1.0+'), -1);
    assert.equal(compareDebianVersions('1.2.3', '1.2.3.0'), -1);
    assert.equal(compareDebianVersions('7.6p2-4', '7.6-0'), 1);
    assert.equal(compareDebianVersions('1.0.3-3', '1.0-1'), 1);
    assert.equal(compareDebianVersions('1.0', '1.0-0'), 0);
    assert.equal(compareDebianVersions('1.0', '1.0-1'), -1);
  });
  test('the last hyphen separates the revision; upstream may contain hyphens', () => {
    assert.deepEqual(parseDebianVersion('1:2.3-rc1-4ubuntu1'), { epoch: 1, upstream: '2.3-rc1', revision: '4ubuntu1' });
    assert.equal(compareDebianVersions('2.3-rc1-4', '2.3-rc1-10'), -1);
  });
  test('malformed versions are refused', () => {
    for (const bad of ['', ' ', 'a:1.0', '1.0-', '1 .0', '1.0_1', ':1.0']) assert.equal(parseDebianVersion(bad), undefined, bad);
    assert.throws(() => compareDebianVersions('1.0', 'x y'), RangeError);
  });
});

describe('Alpine apk versions', () => {
  test('suffixes: pre-releases before the release, post-releases after', () => {
    assertAscending(compareApkVersions, ['1.0_alpha', '1.0_beta', '1.0_pre', '1.0_rc1', '1.0_rc2', '1.0_rc10', '1.0', '1.0_cvs', '1.0_svn', '1.0_git20230101', '1.0_hg', '1.0_p1', '1.0_p2']);
  });
  test('revisions, letters and more components', () => {
    assertAscending(compareApkVersions, ['1.0', '1.0-r1', '1.0-r2', '1.0-r10', '1.0a', '1.0b', '1.0.1', '1.1', '2.0']);
    assertAscending(compareApkVersions, ['3.1.3-r5', '3.1.4-r0', '3.1.4-r1']);
    assertAscending(compareApkVersions, ['1.36.1-r2', '1.36.1-r20']);
  });
  test('a component with leading zeros compares as a fraction', () => {
    assertAscending(compareApkVersions, ['1.001', '1.01', '1.1']);
    assert.equal(compareApkVersions('1.0', '1.0'), 0);
  });
  test('what apk would not accept is refused', () => {
    for (const bad of ['', 'abc', '1.0-rc1', '1.0_foo', '1..0x!', '1.0 ']) assert.equal(isApkVersion(bad), false, bad);
    assert.throws(() => compareApkVersions('1.0', '1.0-rc1'), RangeError);
  });
});

describe('PEP 440 versions', () => {
  test("the PEP's own ordering example", () => {
    assertAscending(comparePep440Versions, [
      '1.dev0', '1.0.dev456', '1.0a1', '1.0a2.dev456', '1.0a12.dev456', '1.0a12', '1.0b1.dev456', '1.0b2',
      '1.0b2.post345.dev456', '1.0b2.post345', '1.0rc1.dev456', '1.0rc1', '1.0', '1.0+abc.5', '1.0+abc.7', '1.0+5',
      '1.0.post456.dev34', '1.0.post456', '1.0.15', '1.1.dev1',
    ]);
  });
  test('normalization, epochs and local versions (torch +cu121 builds)', () => {
    assert.equal(comparePep440Versions('1.0', '1.0.0'), 0);
    assert.equal(comparePep440Versions('1.0RC1', '1.0rc1'), 0);
    assert.equal(comparePep440Versions('1.0-post1', '1.0.post1'), 0);
    assert.equal(comparePep440Versions('1!1.0', '2.0'), 1);
    assert.equal(comparePep440Versions('2.1.0+cu121', '2.1.0'), 1);
    assert.equal(comparePep440Versions('2.1.0+cu121', '2.1.1'), -1);
    assert.equal(comparePep440Versions('1.13.1', '1.13.0'), 1);
  });
  test('invalid versions and name normalization (PEP 503)', () => {
    assert.equal(isPep440Version('not a version'), false);
    assert.throws(() => comparePep440Versions('1.0', 'garbage!'), RangeError);
    assert.equal(normalizePythonName('Jinja2'), 'jinja2');
    assert.equal(normalizePythonName('typing_extensions'), 'typing-extensions');
    assert.equal(normalizePythonName('zope.Interface__x'), 'zope-interface-x');
  });
});

describe('semantic versions (npm)', () => {
  test('SemVer 2.0 section 11 precedence example', () => {
    assertAscending(compareSemver, ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '2.0.0', '2.1.0', '2.1.1']);
  });
  test('build metadata is ignored; a leading v is accepted; junk is refused', () => {
    assert.equal(compareSemver('1.0.0+build.5', '1.0.0'), 0);
    assert.equal(compareSemver('v4.17.20', '4.17.21'), -1);
    assert.equal(isSemver('1.0'), false);
    assert.throws(() => compareSemver('1.0', '1.0.0'), RangeError);
  });
});

describe('OSV ecosystem names', () => {
  test('release suffixes', () => {
    assert.deepEqual(splitEcosystem('Debian:12'), { base: 'Debian', release: '12' });
    assert.deepEqual(splitEcosystem('Alpine:v3.19'), { base: 'Alpine', release: 'v3.19' });
    assert.deepEqual(splitEcosystem('Ubuntu:22.04:LTS'), { base: 'Ubuntu', release: '22.04' });
    assert.deepEqual(splitEcosystem('Ubuntu:Pro:18.04:LTS'), { base: 'Ubuntu', release: '18.04' });
    assert.deepEqual(splitEcosystem('PyPI'), { base: 'PyPI', release: '' });
  });
});
