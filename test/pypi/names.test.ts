/** Pure parts of the PyPI feature: names (PEP 503/508/427/625), content negotiation (PEP 691), core metadata headers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filenameMatches, filenameProblem, isProjectName, normalizeProjectName, parseDistributionFilename } from '../../src/features/pypi/distribution-names.js';
import { parseCoreMetadata } from '../../src/features/pypi/wheel-metadata.js';
import { escapeHtml, negotiate, SIMPLE_HTML, SIMPLE_JSON } from '../../src/http/pypi/simple-pages.js';

test('PEP 503 normalization and PEP 508 names', () => {
  assert.equal(normalizeProjectName('Friendly-Bard'), 'friendly-bard');
  assert.equal(normalizeProjectName('FRIENDLY.._BARD'), 'friendly-bard');
  assert.equal(normalizeProjectName('torch_CUDA.ext'), 'torch-cuda-ext');
  for (const ok of ['a', 'ml-utils', 'ML_Utils', 'zope.interface']) assert.ok(isProjectName(ok), ok);
  for (const bad of ['', '-a', 'a-', 'a b', 'a/b', '../x', 'é']) assert.ok(!isProjectName(bad), bad);
});

test('distribution file names: wheels, sdists, and what is refused', () => {
  assert.deepEqual(parseDistributionFilename('ML_Utils-1.0.0-py3-none-any.whl'), { kind: 'bdist_wheel', name: 'ML_Utils', version: '1.0.0' });
  assert.deepEqual(parseDistributionFilename('torch-2.1.0+cu121-1-cp311-cp311-linux_x86_64.whl'), { kind: 'bdist_wheel', name: 'torch', version: '2.1.0+cu121' });
  assert.equal(parseDistributionFilename('torch-2.1.0-x-cp311-cp311-linux_x86_64.whl'), undefined); // a build tag starts with a digit
  assert.equal(parseDistributionFilename('a-1.0-py3-any.whl'), undefined);
  assert.deepEqual(parseDistributionFilename('ml_utils-1.0.tar.gz'), { kind: 'sdist', name: 'ml_utils', version: '1.0' });
  assert.deepEqual(parseDistributionFilename('my-lib-1.0.tar.gz'), { kind: 'sdist', name: 'my', version: undefined });
  assert.ok(filenameMatches('my-lib-1.0.tar.gz', parseDistributionFilename('my-lib-1.0.tar.gz')!, 'My_Lib', '1.0'));
  assert.ok(!filenameMatches('my-lib-1.0.tar.gz', parseDistributionFilename('my-lib-1.0.tar.gz')!, 'my', 'lib-1.0x'));
  assert.ok(filenameMatches('ML_Utils-1.0rc1-py3-none-any.whl', parseDistributionFilename('ML_Utils-1.0rc1-py3-none-any.whl')!, 'ml.utils', '1.0rc1'));
  assert.ok(!filenameMatches('ML_Utils-1.0-py3-none-any.whl', parseDistributionFilename('ML_Utils-1.0-py3-none-any.whl')!, 'ml-utils', '1.1'));
  for (const bad of ['../a-1.0.tar.gz', 'a/b-1.0.tar.gz', 'a\\b-1.0.tar.gz', 'a-1.0.tar.gz\0', '.a-1.0.tar.gz', 'a..b-1.0.tar.gz', '', 'a'.repeat(256)]) {
    assert.notEqual(filenameProblem(bad), undefined, bad);
    assert.equal(parseDistributionFilename(bad), undefined, bad);
  }
  assert.equal(parseDistributionFilename('a-1.0.exe'), undefined);
});

test('PEP 691 negotiation: q values, latest aliases, html by default', () => {
  assert.equal(negotiate(undefined), 'text/html');
  assert.equal(negotiate('application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'), SIMPLE_JSON);
  assert.equal(negotiate('application/vnd.pypi.simple.latest+json'), SIMPLE_JSON);
  assert.equal(negotiate('application/vnd.pypi.simple.v1+json;q=0.2, application/vnd.pypi.simple.v1+html'), SIMPLE_HTML);
  assert.equal(negotiate('application/vnd.pypi.simple.v1+json;q=0, text/html'), 'text/html');
  assert.equal(negotiate('image/png'), 'text/html');
  assert.equal(negotiate('*/*'), 'text/html');
  assert.equal(escapeHtml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
});

test('core metadata headers: folded lines, first value wins, the body is not read', () => {
  const m = parseCoreMetadata(Buffer.from('Metadata-Version: 2.1\nName: ML-Utils\nVersion: 1.0\nSummary: one\n  two\nRequires-Python: >=3.8\nName: other\n\nName: in-the-body\n'));
  assert.deepEqual(m, { metadataVersion: '2.1', name: 'ML-Utils', version: '1.0', requiresPython: '>=3.8', summary: 'one\ntwo' });
  assert.deepEqual(parseCoreMetadata(Buffer.from('')), { metadataVersion: undefined, name: undefined, version: undefined, requiresPython: undefined, summary: undefined });
});
