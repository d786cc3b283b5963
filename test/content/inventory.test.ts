/**
 * Inventory extraction from real package database formats (test/scan/support/fixtures.ts), and
 * from a whole image through the layer walker: which layer introduced each package, whiteouts,
 * symlinked os-release, CUDA / cuDNN / NCCL / PyTorch / TensorFlow / JAX versions.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseDpkgStatus } from '../../src/content/inventory/dpkg.js';
import { parseApkInstalled } from '../../src/content/inventory/apk.js';
import { parseOsRelease } from '../../src/content/inventory/os-release.js';
import { parseCondaMeta, parsePythonMetadata } from '../../src/content/inventory/python.js';
import { parseNodePackageJson } from '../../src/content/inventory/node.js';
import {
  cudaFromLocalVersion,
  parseCudaVersionJson,
  parseCudaVersionTxt,
  parseCudnnHeader,
  parseNcclHeader,
  parseTensorflowBuildInfo,
  parseTorchVersionPy,
  versionFromSoname,
} from '../../src/content/inventory/ml.js';
import { buildInventory, wantPath } from '../../src/content/inventory/collector.js';
import { walkLayers } from '../../src/content/layers/layer-walker.js';
import { gzip, tarOf } from './support/layers.js';
import * as F from './support/fixtures.js';

describe('package databases', () => {
  test('dpkg status: installed packages only, with source names and versions', () => {
    const pkgs = parseDpkgStatus(F.DPKG_STATUS);
    assert.deepEqual(
      pkgs.map((p) => [p.name, p.version, p.sourceName, p.sourceVersion]),
      [
        ['base-files', '12.4+deb12u5', 'base-files', '12.4+deb12u5'],
        ['libc6', '2.36-9+deb12u1', 'glibc', '2.36-9+deb12u1'],
        ['libgcc-s1', '12.3.0-14', 'gcc-12', '12.2.0-14'],
        ['zlib1g', '1:1.2.13.dfsg-1', 'zlib', '1:1.2.13.dfsg-1'],
      ],
    );
    assert.equal(pkgs[1]!.architecture, 'amd64');
  });
  test('dpkg status.d (distroless): no Status field', () => {
    assert.deepEqual(parseDpkgStatus(F.STATUS_D_TZDATA, false).map((p) => p.name), ['tzdata']);
  });
  test('apk installed: origin is the source package', () => {
    const pkgs = parseApkInstalled(F.APK_INSTALLED);
    assert.deepEqual(pkgs.map((p) => [p.name, p.version, p.origin, p.license]), [
      ['musl', '1.2.4-r2', 'musl', 'MIT'],
      ['libcrypto3', '3.1.3-r0', 'openssl', 'Apache-2.0'],
      ['libssl3', '3.1.3-r0', 'openssl', 'Apache-2.0'],
    ]);
  });
  test('os-release: quoting, comments, ID_LIKE', () => {
    assert.deepEqual(parseOsRelease(F.DEBIAN_OS_RELEASE), {
      id: 'debian',
      versionId: '12',
      versionCodename: 'bookworm',
      name: 'Debian GNU/Linux',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    });
    const ubuntu = parseOsRelease('# comment\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\nNAME=\'Ubuntu\'\n');
    assert.deepEqual(ubuntu, { id: 'ubuntu', versionId: '22.04', name: 'Ubuntu', idLike: ['debian'] });
    assert.equal(parseOsRelease(''), undefined);
  });
  test('Python core metadata: headers only, the body is not read as headers', () => {
    assert.deepEqual(parsePythonMetadata(F.pythonMetadata('Jinja2', '2.10.1')), { name: 'Jinja2', version: '2.10.1', license: 'BSD-3-Clause' });
    assert.deepEqual(parsePythonMetadata(F.pythonMetadata('x', '1.0', 'License-Expression: MIT OR Apache-2.0')), { name: 'x', version: '1.0', license: 'MIT OR Apache-2.0' });
    assert.equal(parsePythonMetadata('Metadata-Version: 2.1\nSummary: no name\n'), undefined);
    assert.equal(parsePythonMetadata('\u0000\u0001 binary junk'), undefined);
  });
  test('conda-meta and node package.json', () => {
    assert.deepEqual(parseCondaMeta(F.CONDA_NUMPY), { name: 'numpy', version: '1.26.2', build: 'py311h08b1b3b_0', channel: 'pkgs/main', subdir: 'linux-64', license: 'BSD-3-Clause' });
    assert.equal(parseCondaMeta('{not json'), undefined);
    assert.deepEqual(parseNodePackageJson('{"name":"@babel/core","version":"7.23.2","license":{"type":"MIT"}}'), { name: '@babel/core', version: '7.23.2', license: 'MIT' });
    assert.equal(parseNodePackageJson('{"main":"../fp.js"}'), undefined);
    assert.equal(parseNodePackageJson('{"name":"../../etc","version":"1"}'), undefined);
  });
});

describe('ML stack versions', () => {
  test('CUDA, cuDNN, NCCL', () => {
    assert.equal(parseCudaVersionJson(F.CUDA_VERSION_JSON), '12.1.1');
    assert.equal(parseCudaVersionTxt('CUDA Version 10.2.89\n'), '10.2.89');
    assert.equal(parseCudnnHeader(F.CUDNN_VERSION_H), '8.9.0');
    assert.equal(parseNcclHeader(F.NCCL_H), '2.18.3');
    assert.equal(versionFromSoname('libnccl.so.2.18.3', 'libnccl'), '2.18.3');
    assert.equal(versionFromSoname('libnccl.so.2', 'libnccl'), undefined);
    assert.equal(parseCudnnHeader('#define CUDNN_MAJOR x'), undefined);
  });
  test('PyTorch, TensorFlow, JAX builds', () => {
    assert.deepEqual(parseTorchVersionPy(F.TORCH_VERSION_PY), { version: '2.1.0+cu121', cuda: '12.1' });
    assert.deepEqual(parseTorchVersionPy("__version__ = '2.2.0+rocm5.7'\ncuda: Optional[str] = None\nhip: Optional[str] = '5.7.31921'\n"), { version: '2.2.0+rocm5.7', hip: '5.7.31921' });
    assert.deepEqual(parseTensorflowBuildInfo(F.TF_BUILD_INFO_PY), { cuda: '12.2', cudnn: '8' });
    assert.equal(cudaFromLocalVersion('2.1.0+cu121'), '12.1');
    assert.equal(cudaFromLocalVersion('1.13.0+cu117'), '11.7');
    assert.equal(cudaFromLocalVersion('0.4.20+cuda12.cudnn89'), '12');
    assert.equal(cudaFromLocalVersion('2.1.0'), undefined);
  });
});

describe('whole images', () => {
  test('which files are read', () => {
    for (const p of [
      'etc/os-release',
      'var/lib/dpkg/status',
      'var/lib/dpkg/status.d/tzdata',
      `${F.SITE}/requests-2.28.1.dist-info/METADATA`,
      'usr/lib/python3/dist-packages/six-1.16.0.egg-info',
      'usr/lib/python3/dist-packages/foo.egg-info/PKG-INFO',
      'opt/conda/conda-meta/numpy-1.26.2-py311h08b1b3b_0.json',
      'app/node_modules/@babel/core/package.json',
      'usr/local/cuda-12.1/version.json',
      'usr/include/cudnn_version.h',
      `${F.SITE}/torch/version.py`,
    ]) {
      assert.ok(wantPath(p), p);
    }
    for (const p of ['var/lib/dpkg/status.d/tzdata.md5sums', 'app/package.json', 'app/node_modules/lodash/fp/package.json', 'usr/share/doc/METADATA', 'usr/lib/python3/dist-packages/torch/version.py.bak', 'model.safetensors']) {
      assert.equal(wantPath(p), undefined, p);
    }
    assert.equal(wantPath('usr/lib/x86_64-linux-gnu/libnccl.so.2.18.3'), 'name');
  });

  test('an ML image: packages with their layers, whiteouts applied, CUDA stack found', async () => {
    const layers = await F.mlImageLayers();
    const view = await walkLayers(layers.map((b, i) => ({ digest: `sha256:${i}`, open: async () => Readable.from([b]) })), wantPath);
    const inv = buildInventory(view);
    assert.equal(inv.os?.id, 'debian');
    const find = (type: string, name: string) => inv.packages.find((p) => p.type === type && p.name === name);
    assert.equal(find('deb', 'libc6')?.layer, 0, 'unchanged packages keep the layer that installed them');
    assert.equal(find('deb', 'libssl3')?.layer, 1, 'a package added by a later apt-get install');
    assert.deepEqual([find('deb', 'libc6')?.sourceName, find('deb', 'libc6')?.ecosystem, find('deb', 'libc6')?.release], ['glibc', 'Debian', '12']);
    assert.equal(find('deb', 'libc6')?.purl, 'pkg:deb/debian/libc6@2.36-9+deb12u1?arch=amd64&distro=debian-12&upstream=glibc');
    assert.equal(find('deb', 'tzdata'), undefined, 'config-files only is not installed');
    assert.equal(find('pypi', 'requests')?.layer, 2);
    assert.equal(find('pypi', 'Jinja2')?.purl, 'pkg:pypi/jinja2@2.10.1');
    assert.equal(find('pypi', 'six'), undefined, 'removed by a whiteout in a later layer');
    assert.equal(find('npm', 'lodash')?.layer, 3);
    assert.equal(find('npm', '@babel/core')?.purl, 'pkg:npm/%40babel/core@7.23.2');
    assert.equal(find('npm', 'my-app'), undefined, 'the app itself is not under node_modules');
    assert.equal(find('conda', 'numpy')?.purl, 'pkg:conda/numpy@1.26.2?build=py311h08b1b3b_0&channel=pkgs%2Fmain&subdir=linux-64');
    assert.deepEqual(inv.ml.cuda.map((c) => [c.version, c.via]), [['12.1.1', 'file']]);
    assert.deepEqual(inv.ml.cudnn.map((c) => c.version), ['8.9.0']);
    assert.deepEqual(inv.ml.nccl.map((c) => [c.version, c.via]).sort(), [['2.18.3', 'file'], ['2.18.3', 'library']]);
    assert.deepEqual(inv.ml.frameworks.map((f) => [f.name, f.version, f.cuda]), [['torch', '1.13.0+cu117', '11.7']]);
    assert.ok(find('generic', 'cuda-toolkit'));
  });

  test('Alpine: apk packages match on origin; release from VERSION_ID', async () => {
    const layer = gzip(await tarOf([{ name: 'etc/os-release', content: F.ALPINE_OS_RELEASE }, { name: 'lib/apk/db/installed', content: F.APK_INSTALLED }]));
    const view = await walkLayers([{ digest: 'sha256:a', open: async () => Readable.from([layer]) }], wantPath);
    const inv = buildInventory(view);
    const ssl = inv.packages.find((p) => p.name === 'libssl3')!;
    assert.deepEqual([ssl.sourceName, ssl.ecosystem, ssl.release], ['openssl', 'Alpine', 'v3.18']);
    assert.equal(ssl.purl, 'pkg:apk/alpine/libssl3@3.1.3-r0?arch=x86_64&distro=alpine-3.18.4&upstream=openssl');
  });

  test('TensorFlow and JAX from their files and pip metadata', async () => {
    const site = 'usr/local/lib/python3.10/dist-packages';
    const layer = gzip(
      await tarOf([
        { name: `${site}/tensorflow/python/platform/build_info.py`, content: F.TF_BUILD_INFO_PY },
        { name: `${site}/tensorflow-2.15.0.dist-info/METADATA`, content: F.pythonMetadata('tensorflow', '2.15.0') },
        { name: `${site}/jax-0.4.20.dist-info/METADATA`, content: F.pythonMetadata('jax', '0.4.20') },
        { name: `${site}/jaxlib-0.4.20+cuda12.cudnn89.dist-info/METADATA`, content: F.pythonMetadata('jaxlib', '0.4.20+cuda12.cudnn89') },
        { name: `${site}/nvidia_cudnn_cu12-8.9.2.26.dist-info/METADATA`, content: F.pythonMetadata('nvidia-cudnn-cu12', '8.9.2.26') },
      ]),
    );
    const inv = buildInventory(await walkLayers([{ digest: 'sha256:a', open: async () => Readable.from([layer]) }], wantPath));
    const fw = Object.fromEntries(inv.ml.frameworks.map((f) => [f.name, f]));
    assert.deepEqual([fw.tensorflow?.version, fw.tensorflow?.cuda, fw.tensorflow?.cudnn], ['2.15.0', '12.2', '8']);
    assert.deepEqual([fw.jax?.version, fw.jax?.cuda], ['0.4.20', '12']);
    assert.deepEqual(inv.ml.cudnn.map((c) => [c.version, c.via]), [['8.9.2.26', 'pip']]);
  });
});
