/**
 * Package databases and version files in their real formats, as Debian 12, Alpine 3.18, pip,
 * conda, npm and NVIDIA's CUDA images write them (fields, ordering, continuation lines, file lists
 * and all), and a small ML image built from them, layer by layer.
 */
import { gzip, tarOf, zstdRaw, type TarEntry } from './layers.js';

/** /var/lib/dpkg/status of a small Debian 12 image, trimmed to a few packages of each shape. */
export const DPKG_STATUS = `Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u5
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Conffiles:
 /etc/debian_version 27ab9dbd0bb2a5bc2d4e6c5d1b4c6bc8
 /etc/dpkg/origins/debian c47b6815f67ad1aeccb0d4529bd0b990
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,
 and the text of several common licenses in use on Debian systems.

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u1
Replaces: libc6-amd64
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Suggests: glibc-doc, debconf | debconf-2.0, libc-l10n, locales, libnss-nis, libnss-nisplus
Breaks: aide (<< 0.17.3-4+b3), busybox (<< 1.30.1-6), fakeroot (<< 1.25.3-1.1ubuntu2~), hurd (<< 1:0.9.git20220301-2)
Conffiles:
 /etc/ld.so.conf.d/x86_64-linux-gnu.conf d4e7a7b88a71b5ffd9e2644e71a0cfab
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system. This package includes shared versions of the standard C library
 and the standard math library, as well as many others.
Homepage: https://www.gnu.org/software/libc/libc.html

Package: libgcc-s1
Protected: yes
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 140
Maintainer: Debian GCC Maintainers <debian-gcc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: gcc-12 (12.2.0-14)
Version: 12.3.0-14
Provides: libgcc1 (= 1:12.3.0-14)
Depends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)
Description: GCC support library
 Shared version of the support library, a library of internal subroutines
 that GCC uses to overcome shortcomings of particular machines, or for
 special needs for some languages.
Homepage: https://gcc.gnu.org/

Package: zlib1g
Status: install ok installed
Priority: required
Section: libs
Installed-Size: 164
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Provides: libz1
Depends: libc6 (>= 2.14)
Breaks: libxml2 (<< 2.7.6.dfsg-2), texlive-binaries (<< 2009-12)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.  This package includes the shared library.
Homepage: http://zlib.net/

Package: tzdata
Status: deinstall ok config-files
Priority: required
Section: localization
Installed-Size: 3329
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: all
Multi-Arch: foreign
Version: 2024a-0+deb12u1
Conffiles:
 /etc/timezone 0b26f8ba44a6b4e4a6e6c1e6e0f3f1d2
Description: time zone and daylight-saving time data
`;

/** the same database after `apt-get install libssl3` in a later layer */
export const DPKG_STATUS_WITH_SSL = `${DPKG_STATUS}
Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6256
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
Homepage: https://www.openssl.org/
`;

/** a distroless image's /var/lib/dpkg/status.d/tzdata (no Status field) */
export const STATUS_D_TZDATA = `Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Installed-Size: 3329
Section: localization
Priority: required
Multi-Arch: foreign
Description: time zone and daylight-saving time data
`;

export const DEBIAN_OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

export const ALPINE_OS_RELEASE = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.18.4
PRETTY_NAME="Alpine Linux v3.18"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`;

/** /lib/apk/db/installed of Alpine 3.18, trimmed to three packages */
export const APK_INSTALLED = `C:Q1Zq7nd4EVVL3MeJRFUvH6ByCjfOQ=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1698670418
c:2b8bd7b63adbd59c4b4e08ba1b7b2b1e8fbd7c55
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1wY7QBNRmQgwzyzmDm8cLCtLpC4c=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1pDdgX5FeMBm95lShKTY3CS5KHGw=
P:libcrypto3
V:3.1.3-r0
A:x86_64
S:1738154
I:4390912
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1695214108
c:0ae9f5fdd8d2f0a1f3c8a3e20a64c2b0f0a1e6a3
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3
F:lib
R:libcrypto.so.3
a:0:0:755
Z:Q1a5cJmYqpOcMVdGvlBKKs6Z+6Ijg=

C:Q1ZzvVlBGp9hqL3TTnbQy5k3Dq6Fs=
P:libssl3
V:3.1.3-r0
A:x86_64
S:351452
I:610304
T:SSL shared libraries
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1695214108
c:0ae9f5fdd8d2f0a1f3c8a3e20a64c2b0f0a1e6a3
D:so:libc.musl-x86_64.so.1 so:libcrypto.so.3
p:so:libssl.so.3=3
F:lib
R:libssl.so.3
a:0:0:755
Z:Q1ipmeHdxTDtu6ZxiVoWcLwJ1hF1Y=

`;

export function pythonMetadata(name: string, version: string, extra = ''): string {
  return `Metadata-Version: 2.1
Name: ${name}
Version: ${version}
Summary: A package
Home-page: https://example.invalid/${name}
Author: Someone
Author-email: someone@example.invalid
License: BSD-3-Clause
Classifier: Programming Language :: Python :: 3
Requires-Python: >=3.8
Description-Content-Type: text/markdown
${extra}
# ${name}

A: long description with: colons, which is the body, not headers.
Version: 0.0.0-not-a-header
`;
}

export const TORCH_VERSION_PY = `from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']
__version__ = '2.1.0+cu121'
debug = False
cuda: Optional[str] = '12.1'
git_version = '7bcf7da3a268b435777fe87c7794c382f444e86d'
hip: Optional[str] = None
`;

export const TF_BUILD_INFO_PY = `# Copyright 2020 The TensorFlow Authors. All Rights Reserved.
"""Auto-generated module providing information about the build."""
import collections

build_info = collections.OrderedDict([('cpu_compiler', '/usr/lib/llvm-17/bin/clang'), ('cuda_compute_capabilities', ['sm_50', 'sm_60', 'sm_70', 'sm_80', 'compute_90']), ('cuda_version', '12.2'), ('cudnn_version', '8'), ('is_cuda_build', True), ('is_rocm_build', False), ('is_tensorrt_build', True)])
`;

export const CUDA_VERSION_JSON = `{
   "cuda" : {
      "name" : "CUDA SDK",
      "version" : "12.1.1"
   },
   "cuda_cccl" : {
      "name" : "CUDA C++ Core Compute Libraries",
      "version" : "12.1.109"
   },
   "cuda_cudart" : {
      "name" : "CUDA Runtime (cudart)",
      "version" : "12.1.105"
   }
}
`;

export const CUDNN_VERSION_H = `/*
 * Copyright 2014-2023 NVIDIA Corporation.  All rights reserved.
 */

/**
 * \\file: The master cuDNN version file.
 */

#ifndef CUDNN_VERSION_H_
#define CUDNN_VERSION_H_

#define CUDNN_MAJOR 8
#define CUDNN_MINOR 9
#define CUDNN_PATCHLEVEL 0

#define CUDNN_VERSION (CUDNN_MAJOR * 1000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)

#endif /* CUDNN_VERSION_H */
`;

export const NCCL_H = `/*************************************************************************
 * Copyright (c) 2015-2021, NVIDIA CORPORATION. All rights reserved.
 ************************************************************************/

#ifndef NCCL_H_
#define NCCL_H_

#include <cuda_runtime.h>
#include <cuda_fp16.h>

#define NCCL_MAJOR 2
#define NCCL_MINOR 18
#define NCCL_PATCH 3
#define NCCL_SUFFIX ""

#define NCCL_VERSION_CODE 21803
#define NCCL_VERSION(X,Y,Z) (((X) <= 2 && (Y) <= 8) ? (X) * 1000 + (Y) * 100 + (Z) : (X) * 10000 + (Y) * 100 + (Z))
`;

export const CONDA_NUMPY = JSON.stringify({
  build: 'py311h08b1b3b_0',
  build_number: 0,
  channel: 'https://repo.anaconda.com/pkgs/main/linux-64',
  constrains: [],
  depends: ['libgcc-ng >=11.2.0', 'python >=3.11,<3.12.0a0'],
  license: 'BSD-3-Clause',
  md5: '2b1f3b4d1ff0a1b7c6b1d6d3c1f0a9a9',
  name: 'numpy',
  size: 11208,
  subdir: 'linux-64',
  timestamp: 1700000000000,
  version: '1.26.2',
  fn: 'numpy-1.26.2-py311h08b1b3b_0.conda',
  files: ['lib/python3.11/site-packages/numpy/__init__.py'],
  requested_spec: 'numpy',
});

export const SITE = 'usr/local/lib/python3.11/site-packages';

/**
 * An ML image in four layers: Debian 12 base; CUDA libraries; Python packages (vulnerable
 * requests, jinja2 and an old torch, and six); a Node app with a vulnerable lodash, whose layer
 * also removes six.
 * The last layer is zstd; the others gzip.
 */
export async function mlImageLayers(): Promise<Buffer[]> {
  const base: TarEntry[] = [
    { name: 'usr/lib/os-release', content: DEBIAN_OS_RELEASE },
    { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
    { name: 'var/lib/dpkg/status', content: DPKG_STATUS },
    { name: 'usr/bin/true', content: Buffer.alloc(1000, 7) },
  ];
  const cuda: TarEntry[] = [
    { name: 'var/lib/dpkg/status', content: DPKG_STATUS_WITH_SSL },
    { name: 'usr/local/cuda-12.1/version.json', content: CUDA_VERSION_JSON },
    { name: 'usr/local/cuda', type: 'symlink', linkname: 'cuda-12.1' },
    { name: 'usr/include/x86_64-linux-gnu/cudnn_version_v8.h', content: CUDNN_VERSION_H },
    { name: 'usr/include/nccl.h', content: NCCL_H },
    { name: 'usr/lib/x86_64-linux-gnu/libnccl.so.2.18.3', content: Buffer.alloc(2000, 1) },
    { name: 'usr/lib/x86_64-linux-gnu/libnccl.so.2', type: 'symlink', linkname: 'libnccl.so.2.18.3' },
  ];
  const python: TarEntry[] = [
    { name: `${SITE}/requests-2.28.1.dist-info/METADATA`, content: pythonMetadata('requests', '2.28.1') },
    { name: `${SITE}/Jinja2-2.10.1.dist-info/METADATA`, content: pythonMetadata('Jinja2', '2.10.1') },
    { name: `${SITE}/torch-1.13.0+cu117.dist-info/METADATA`, content: pythonMetadata('torch', '1.13.0+cu117') },
    { name: `${SITE}/torch/version.py`, content: TORCH_VERSION_PY.replace("'2.1.0+cu121'", "'1.13.0+cu117'").replace("'12.1'", "'11.7'") },
    { name: `${SITE}/six-1.16.0.dist-info/METADATA`, content: pythonMetadata('six', '1.16.0') },
    { name: 'opt/conda/conda-meta/numpy-1.26.2-py311h08b1b3b_0.json', content: CONDA_NUMPY },
  ];
  const app: TarEntry[] = [
    { name: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.20', license: 'MIT', main: 'lodash.js' }) },
    { name: 'app/node_modules/@babel/core/package.json', content: JSON.stringify({ name: '@babel/core', version: '7.23.2', license: 'MIT' }) },
    { name: 'app/node_modules/lodash/fp/package.json', content: JSON.stringify({ main: '../fp.js' }) },
    { name: 'app/package.json', content: JSON.stringify({ name: 'my-app', version: '1.0.0' }) },
    { name: `${SITE}/.wh.six-1.16.0.dist-info`, content: '' },
  ];
  return [gzip(await tarOf(base)), gzip(await tarOf(cuda)), gzip(await tarOf(python)), zstdRaw(await tarOf(app))];
}
