/**
 * Which files the inventory reads (`wantPath`, handed to the layer walker) and how the walker's
 * final file view becomes an Inventory (`buildInventory`). Pure: no I/O, so every extractor is
 * tested on file contents alone.
 */
import { posix } from 'node:path';
import { PackageURL } from 'packageurl-js';
import type { FileView, ViewEntry, Want } from '../layers/layer-walker.js';
import { parseApkInstalled } from './apk.js';
import { parseDpkgStatus, type DpkgPackage } from './dpkg.js';
import type { Inventory, InventoryPackage, MlComponent, MlFramework, MlInventory } from './inventory.js';
import {
  cudaFromLocalVersion,
  parseCudaVersionJson,
  parseCudaVersionTxt,
  parseCudnnHeader,
  parseJaxlibVersionPy,
  parseNcclHeader,
  parseTensorflowBuildInfo,
  parseTorchVersionPy,
  versionFromSoname,
} from './ml.js';
import { parseNodePackageJson } from './node.js';
import { parseOsRelease, type OsRelease } from './os-release.js';
import { normalizePythonName, parseCondaMeta, parsePythonMetadata } from './python.js';

const SITE = String.raw`(?:^|/)(?:site|dist)-packages/`;
const RE = {
  distInfo: new RegExp(`${SITE}[^/]+\\.dist-info/METADATA$`),
  eggInfoDir: new RegExp(`${SITE}[^/]+\\.egg-info/PKG-INFO$`),
  eggInfoFile: new RegExp(`${SITE}[^/]+\\.egg-info$`),
  egg: new RegExp(`${SITE}[^/]+\\.egg/EGG-INFO/PKG-INFO$`),
  conda: /(?:^|\/)conda-meta\/[^/]+\.json$/,
  node: /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/@.][^/]*\/package\.json$/,
  cudaVersion: /^usr\/local\/cuda[^/]*\/version\.(?:json|txt)$/,
  cudnnHeader: /(?:^|\/)include\/(?:[^/]+\/)?cudnn(?:_version)?(?:_v[0-9]+)?\.h$/,
  ncclHeader: /(?:^|\/)include\/(?:[^/]+\/)?nccl\.h$/,
  library: /(?:^|\/)lib[^/]*\/(?:[^/]+\/)?lib(?:nccl|cudnn|cudart)\.so\.[0-9]+\.[0-9]+\.[0-9]+(?:\.[0-9]+)?$/,
  torch: new RegExp(`${SITE}torch/version\\.py$`),
  tensorflow: new RegExp(`${SITE}tensorflow/python/platform/build_info\\.py$`),
  jaxlib: new RegExp(`${SITE}jaxlib/version\\.py$`),
};

/** What the inventory needs of `path` (relative, no leading slash). */
export function wantPath(path: string): Want {
  if (path === 'etc/os-release' || path === 'usr/lib/os-release') return 'content';
  if (path === 'var/lib/dpkg/status' || path === 'lib/apk/db/installed') return 'history';
  if (path.startsWith('var/lib/dpkg/status.d/')) return path.endsWith('.md5sums') ? undefined : 'content';
  if (path.endsWith('/METADATA')) return RE.distInfo.test(path) ? 'content' : undefined;
  if (path.endsWith('PKG-INFO')) return RE.eggInfoDir.test(path) || RE.egg.test(path) ? 'content' : undefined;
  if (path.endsWith('.egg-info')) return RE.eggInfoFile.test(path) ? 'content' : undefined;
  if (path.endsWith('/package.json')) return RE.node.test(path) ? 'content' : undefined;
  if (path.endsWith('.json') && RE.conda.test(path)) return 'content';
  if (path.endsWith('.h')) return RE.cudnnHeader.test(path) || RE.ncclHeader.test(path) ? 'content' : undefined;
  if (path.endsWith('.py')) return RE.torch.test(path) || RE.tensorflow.test(path) || RE.jaxlib.test(path) ? 'content' : undefined;
  if (RE.cudaVersion.test(path)) return 'content';
  if (path.includes('.so.') && RE.library.test(path)) return 'name';
  return undefined;
}

function purl(type: string, namespace: string | undefined, name: string, version: string, qualifiers?: Record<string, string>): string {
  try {
    const q = qualifiers && Object.keys(qualifiers).length > 0 ? qualifiers : undefined;
    return new PackageURL(type, namespace, name, version, q, undefined).toString();
  } catch {
    return `pkg:generic/${encodeURIComponent(name)}@${encodeURIComponent(version)}`;
  }
}

/** OSV ecosystem and release of the OS's packages, and the purl namespace/distro qualifier. */
function osContext(os: OsRelease | undefined): { ecosystem?: string; release?: string; namespace: string; distro?: string } {
  const id = os?.id ?? '';
  const versionId = os?.versionId;
  if (id === 'debian') return { ecosystem: 'Debian', release: versionId ?? '', namespace: 'debian', distro: versionId ? `debian-${versionId}` : undefined };
  if (id === 'ubuntu') return { ecosystem: 'Ubuntu', release: versionId ?? '', namespace: 'ubuntu', distro: versionId ? `ubuntu-${versionId}` : undefined };
  if (id === 'alpine') {
    const m = /^([0-9]+)\.([0-9]+)/.exec(versionId ?? '');
    return { ecosystem: 'Alpine', release: m ? `v${m[1]}.${m[2]}` : '', namespace: 'alpine', distro: versionId ? `alpine-${versionId}` : undefined };
  }
  const like = os?.idLike ?? [];
  if (like.includes('debian') || like.includes('ubuntu')) return { namespace: id || 'debian', distro: versionId ? `${id}-${versionId}` : undefined };
  return { namespace: id || 'linux', distro: versionId && id ? `${id}-${versionId}` : undefined };
}

function text(e: ViewEntry | undefined): string | undefined {
  return e?.content?.toString('utf8');
}

/** The content of `path`, following symlinks inside the view (os-release is usually one). */
function resolve(view: FileView, path: string): ViewEntry | undefined {
  let e = view.files.get(path);
  for (let hops = 0; e?.kind === 'symlink' && hops < 8; hops++) {
    const target = e.linkTarget ?? '';
    const next = target.startsWith('/') ? posix.normalize(target).slice(1) : posix.normalize(posix.join(posix.dirname(e.path), target));
    e = view.files.get(next);
  }
  return e?.kind === 'file' ? e : undefined;
}

/**
 * For a database file with history: each package's introducing layer is the first layer from
 * which that name at that version was present in every later version of the file.
 */
function introducedLayers<P>(entry: ViewEntry, parse: (text: string) => P[], key: (p: P) => string): { packages: P[]; layers: Map<string, number> } {
  const versions = entry.history ?? (entry.content ? [{ layer: entry.layer, content: entry.content }] : []);
  let layers = new Map<string, number>();
  let packages: P[] = [];
  for (const v of versions) {
    packages = parse(v.content.toString('utf8'));
    const next = new Map<string, number>();
    for (const p of packages) {
      const k = key(p);
      next.set(k, layers.get(k) ?? v.layer);
    }
    layers = next;
  }
  return { packages, layers };
}

function frameworkVersionFromPip(packages: InventoryPackage[], names: string[]): InventoryPackage | undefined {
  return packages.find((p) => p.type === 'pypi' && names.includes(normalizePythonName(p.name)));
}

export function buildInventory(view: FileView): Inventory {
  const warnings = [...view.warnings];
  const osEntry = resolve(view, 'etc/os-release') ?? resolve(view, 'usr/lib/os-release');
  const os = osEntry ? parseOsRelease(text(osEntry)!) : undefined;
  const ctx = osContext(os);
  const packages: InventoryPackage[] = [];
  const ml: MlInventory = { cuda: [], cudnn: [], nccl: [], frameworks: [] };

  const debPackage = (p: DpkgPackage, layer: number, path: string): InventoryPackage => {
    const q: Record<string, string> = {};
    if (p.architecture) q.arch = p.architecture;
    if (ctx.distro) q.distro = ctx.distro;
    if (p.sourceName !== p.name) q.upstream = p.sourceVersion !== p.version ? `${p.sourceName}@${p.sourceVersion}` : p.sourceName;
    const pkg: InventoryPackage = { type: 'deb', name: p.name, version: p.version, layer, path, purl: purl('deb', ctx.namespace, p.name, p.version, q) };
    if (p.sourceName !== p.name || p.sourceVersion !== p.version) {
      pkg.sourceName = p.sourceName;
      pkg.sourceVersion = p.sourceVersion;
    }
    if (p.architecture) pkg.architecture = p.architecture;
    if (ctx.ecosystem && ctx.ecosystem !== 'Alpine') {
      pkg.ecosystem = ctx.ecosystem;
      pkg.release = ctx.release;
    }
    return pkg;
  };

  for (const [path, entry] of view.files) {
    if (entry.kind !== 'file') continue;
    const body = (): string => entry.content?.toString('utf8') ?? '';
    try {
      if (path === 'var/lib/dpkg/status') {
        const { packages: pkgs, layers } = introducedLayers(entry, (t) => parseDpkgStatus(t), (p) => `${p.name}\0${p.version}\0${p.architecture ?? ''}`);
        for (const p of pkgs) packages.push(debPackage(p, layers.get(`${p.name}\0${p.version}\0${p.architecture ?? ''}`) ?? entry.layer, path));
      } else if (path.startsWith('var/lib/dpkg/status.d/')) {
        for (const p of parseDpkgStatus(body(), false)) packages.push(debPackage(p, entry.layer, path));
      } else if (path === 'lib/apk/db/installed') {
        const { packages: pkgs, layers } = introducedLayers(entry, parseApkInstalled, (p) => `${p.name}\0${p.version}`);
        for (const p of pkgs) {
          const q: Record<string, string> = {};
          if (p.architecture) q.arch = p.architecture;
          if (ctx.distro) q.distro = ctx.distro;
          if (p.origin !== p.name) q.upstream = p.origin;
          const pkg: InventoryPackage = { type: 'apk', name: p.name, version: p.version, layer: layers.get(`${p.name}\0${p.version}`) ?? entry.layer, path, purl: purl('apk', 'alpine', p.name, p.version, q) };
          if (p.origin !== p.name) pkg.sourceName = p.origin;
          if (p.architecture) pkg.architecture = p.architecture;
          if (p.license) pkg.license = p.license;
          if (ctx.ecosystem === 'Alpine') {
            pkg.ecosystem = 'Alpine';
            pkg.release = ctx.release;
          }
          packages.push(pkg);
        }
      } else if (RE.distInfo.test(path) || RE.eggInfoDir.test(path) || RE.eggInfoFile.test(path) || RE.egg.test(path)) {
        const d = parsePythonMetadata(body());
        if (!d) {
          warnings.push(`${path}: no Name and Version in the metadata`);
          continue;
        }
        const pkg: InventoryPackage = { type: 'pypi', name: d.name, version: d.version, layer: entry.layer, path, purl: purl('pypi', undefined, d.name, d.version), ecosystem: 'PyPI' };
        if (d.license) pkg.license = d.license;
        packages.push(pkg);
      } else if (RE.conda.test(path)) {
        const c = parseCondaMeta(body());
        if (!c) continue;
        const q: Record<string, string> = {};
        if (c.build) q.build = c.build;
        if (c.channel) q.channel = c.channel;
        if (c.subdir) q.subdir = c.subdir;
        const pkg: InventoryPackage = { type: 'conda', name: c.name, version: c.version, layer: entry.layer, path, purl: purl('conda', undefined, c.name, c.version, q) };
        if (c.license) pkg.license = c.license;
        packages.push(pkg);
      } else if (RE.node.test(path)) {
        const n = parseNodePackageJson(body());
        if (!n) continue;
        const [scope, name] = n.name.startsWith('@') ? (n.name.split('/') as [string, string]) : [undefined, n.name];
        const pkg: InventoryPackage = { type: 'npm', name: n.name, version: n.version, layer: entry.layer, path, purl: purl('npm', scope, name, n.version), ecosystem: 'npm' };
        if (n.license) pkg.license = n.license;
        packages.push(pkg);
      } else {
        collectMl(path, entry, body, ml);
      }
    } catch (e) {
      warnings.push(`${path}: ${(e as Error).message}`);
    }
  }

  mlFromPackages(packages, ml);
  for (const [kind, list] of [['cuda', ml.cuda], ['cudnn', ml.cudnn], ['nccl', ml.nccl]] as const) {
    for (const c of list) {
      if (c.via !== 'file' && c.via !== 'library') continue;
      packages.push({ type: 'generic', name: kind === 'cuda' ? 'cuda-toolkit' : kind, version: c.version, layer: c.layer, path: c.path, purl: purl('generic', 'nvidia', kind === 'cuda' ? 'cuda-toolkit' : kind, c.version) });
    }
  }
  packages.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.version.localeCompare(b.version) || a.path.localeCompare(b.path));
  const result: Inventory = { packages, ml, warnings };
  if (os) result.os = os;
  return result;
}

function collectMl(path: string, entry: ViewEntry, body: () => string, ml: MlInventory): void {
  const component = (version: string | undefined, via: MlComponent['via']): MlComponent | undefined => (version ? { version, path, layer: entry.layer, via } : undefined);
  const add = (list: MlComponent[], c: MlComponent | undefined): void => {
    if (c && !list.some((x) => x.version === c.version && x.path === c.path)) list.push(c);
  };
  if (RE.library.test(path)) {
    const base = posix.basename(path);
    add(ml.nccl, component(versionFromSoname(base, 'libnccl'), 'library'));
    add(ml.cudnn, component(versionFromSoname(base, 'libcudnn'), 'library'));
    add(ml.cuda, component(versionFromSoname(base, 'libcudart'), 'library'));
  } else if (RE.cudaVersion.test(path)) {
    add(ml.cuda, component(path.endsWith('.json') ? parseCudaVersionJson(body()) : parseCudaVersionTxt(body()), 'file'));
  } else if (RE.cudnnHeader.test(path)) {
    add(ml.cudnn, component(parseCudnnHeader(body()), 'file'));
  } else if (RE.ncclHeader.test(path)) {
    add(ml.nccl, component(parseNcclHeader(body()), 'file'));
  } else if (RE.torch.test(path)) {
    const t = parseTorchVersionPy(body());
    if (t.version) ml.frameworks.push({ name: 'torch', version: t.version, ...(t.cuda ? { cuda: t.cuda } : {}), ...(t.hip ? { rocm: t.hip } : {}), path, layer: entry.layer });
  } else if (RE.tensorflow.test(path)) {
    const b = parseTensorflowBuildInfo(body());
    ml.frameworks.push({ name: 'tensorflow', version: '', ...b, path, layer: entry.layer });
  } else if (RE.jaxlib.test(path)) {
    const v = parseJaxlibVersionPy(body());
    if (v) ml.frameworks.push({ name: 'jax', version: '', path, layer: entry.layer, ...(cudaFromLocalVersion(v) ? { cuda: cudaFromLocalVersion(v)! } : {}) });
  }
}

/** Fills framework versions from pip metadata, and CUDA libraries installed as deb or pip packages. */
function mlFromPackages(packages: InventoryPackage[], ml: MlInventory): void {
  // frameworks known only from pip metadata
  for (const [name, pipNames] of [
    ['torch', ['torch']],
    ['tensorflow', ['tensorflow', 'tensorflow-gpu', 'tensorflow-cpu', 'tf-nightly']],
    ['jax', ['jax']],
  ] as const) {
    for (const p of packages.filter((x) => x.type === 'pypi' && (pipNames as readonly string[]).includes(normalizePythonName(x.name)))) {
      const site = p.path.replace(/\/[^/]+\.(dist|egg)-info(\/.*)?$/, '');
      if (ml.frameworks.some((f) => f.name === name && f.path.startsWith(site))) continue;
      const f: MlFramework = { name, version: p.version, path: p.path, layer: p.layer };
      const c = cudaFromLocalVersion(p.version);
      if (c) f.cuda = c;
      ml.frameworks.push(f);
    }
  }
  const sitePackagesOf = (p: string): string => p.replace(/((?:site|dist)-packages)\/.*$/, '$1/');
  for (const f of ml.frameworks) {
    const names = f.name === 'torch' ? ['torch'] : f.name === 'tensorflow' ? ['tensorflow', 'tensorflow-gpu', 'tensorflow-cpu', 'tf-nightly', 'tensorflow-intel'] : ['jax'];
    const here = packages.filter((p) => p.type === 'pypi' && p.path.startsWith(sitePackagesOf(f.path)));
    const pip = frameworkVersionFromPip(here, names) ?? frameworkVersionFromPip(packages, names);
    if (!f.version && pip) f.version = pip.version;
    if (f.name === 'jax' && !f.cuda) {
      const plugin = here.find((p) => /^jax-cuda([0-9]+)-(plugin|pjrt)$/.test(normalizePythonName(p.name)));
      const jaxlib = frameworkVersionFromPip(here, ['jaxlib']);
      const cuda = plugin ? /^jax-cuda([0-9]+)/.exec(normalizePythonName(plugin.name))![1] : jaxlib ? cudaFromLocalVersion(jaxlib.version) : undefined;
      if (cuda) f.cuda = cuda;
    }
    if (f.name === 'torch' && !f.cuda && f.version) {
      const c = cudaFromLocalVersion(f.version);
      if (c) f.cuda = c;
    }
  }
  for (const p of packages) {
    const n = p.type === 'pypi' ? normalizePythonName(p.name) : p.name;
    const from = (via: MlComponent['via'], version: string): MlComponent => ({ version, path: p.path, layer: p.layer, via });
    if (p.type === 'deb') {
      const upstream = p.version.replace(/^[0-9]+:/, '').split('-')[0]!;
      if (/^libcudnn[0-9]+$/.test(n)) ml.cudnn.push(from('deb', upstream));
      else if (n === 'libnccl2') ml.nccl.push(from('deb', upstream));
      else if (/^cuda-cudart-[0-9]+-[0-9]+$/.test(n)) ml.cuda.push(from('deb', upstream));
    } else if (p.type === 'pypi') {
      if (/^nvidia-cudnn-cu[0-9]+$/.test(n)) ml.cudnn.push(from('pip', p.version));
      else if (/^nvidia-nccl-cu[0-9]+$/.test(n)) ml.nccl.push(from('pip', p.version));
      else if (/^nvidia-cuda-runtime-cu[0-9]+$/.test(n)) ml.cuda.push(from('pip', p.version));
    }
  }
}
