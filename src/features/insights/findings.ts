/**
 * The findings of an analysis: what to fix, the evidence, the Dockerfile change, and what the fix
 * saves in bytes and in cold-start seconds. Each rule is documented in docs/insights.md. Pure.
 */
import type { AnalysisOptions, ImageConfigFacts, InsightsAnalysis, WasteItem } from './analysis-types.js';
import { FINDING_SEVERITIES, type Finding, type FindingSeverity } from './findings-types.js';
import { cacheKind, type CacheKind, type Category } from './categories.js';
import type { LayerRecord, RecordKind } from './layer-record.js';

export { FINDING_SEVERITIES, type Finding, type FindingId, type FindingSeverity } from './findings-types.js';

interface Input {
  records: readonly LayerRecord[];
  facts: ImageConfigFacts;
  options: AnalysisOptions;
  analysis: InsightsAnalysis;
  live: Map<string, { size: number; layer: number; kind: RecordKind }>;
  waste: WasteItem[];
  compilers: { path: string; layer: number }[];
  categoryOf(path: string): Category;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export function findingsOf(input: Input): Finding[] {
  const { records, facts, options, analysis, live } = input;
  const ratio = records.map((r) => (r.uncompressedBytes > 0 ? r.compressedBytes / r.uncompressedBytes : 1));
  const saving = (items: { layer: number; bytes: number }[]): Finding['saving'] => {
    const bytes = items.reduce((n, i) => n + i.bytes, 0);
    const compressedBytes = Math.round(items.reduce((n, i) => n + i.bytes * (ratio[i.layer] ?? 1), 0));
    return { bytes, compressedBytes, seconds: round((compressedBytes * 8) / options.bandwidthBitsPerSecond + bytes / options.decompressBytesPerSecond) };
  };
  const liveIn = (c: Category): { path: string; layer: number; bytes: number }[] => {
    const out: { path: string; layer: number; bytes: number }[] = [];
    for (const [path, l] of live) if (l.kind === 'f' && l.size > 0 && input.categoryOf(path) === c) out.push({ path, layer: l.layer, bytes: l.size });
    return out.sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path));
  };
  const layersOf = (items: { layer: number }[]): number[] => [...new Set(items.map((i) => i.layer))].sort((a, b) => a - b);
  const sum = (items: { bytes: number }[]): number => items.reduce((n, i) => n + i.bytes, 0);
  const findings: Finding[] = [];

  // baked model weights
  const weights = liveIn('model-weights');
  const weightBytes = sum(weights);
  if (weights.length > 0 && weightBytes >= options.weightsThresholdBytes) {
    const st = records.flatMap((r) => r.safetensors).filter((s) => live.has(s.path));
    findings.push({
      id: 'baked-weights',
      severity: weightBytes >= GiB ? 'high' : 'medium',
      title: `${fmt(weightBytes)} of model weights baked into the image`,
      evidence: {
        paths: weights.slice(0, 10).map((w) => w.path),
        layers: layersOf(weights),
        bytes: weightBytes,
        details: {
          files: weights.length,
          safetensors: st.map((s) => ({ path: s.path, tensors: s.tensors, parameters: s.parameters, dtypes: s.dtypes, ...(s.error ? { error: s.error } : {}) })),
        },
      },
      fix: 'Do not COPY or download weights at build time: fetch them at start from a volume, model registry or object store (e.g. an init container running `huggingface-cli download`).',
      saving: saving(weights),
    });
  }

  // devel base / build toolchain in the final image
  const tools = liveIn('build-tools');
  const toolBytes = sum(tools);
  const compilers = input.compilers.filter((c) => live.has(c.path));
  const nvcc = compilers.some((c) => /(?:^|\/)nvcc$/.test(c.path));
  if (tools.length > 0 && (compilers.length > 0 || toolBytes >= 50 * MiB)) {
    findings.push({
      id: 'devel-toolchain',
      severity: nvcc ? 'medium' : 'low',
      title: nvcc ? `CUDA devel toolchain (nvcc, headers, static libraries) in a runtime image: ${fmt(toolBytes)}` : `build toolchain (compilers, headers, -dev packages) in the final image: ${fmt(toolBytes)}`,
      evidence: { paths: [...compilers.map((c) => c.path), ...tools.slice(0, 8).map((t) => t.path)].filter((p, i, a) => a.indexOf(p) === i).slice(0, 10), layers: layersOf(tools), bytes: toolBytes, details: { compilers: compilers.map((c) => c.path) } },
      fix: nvcc
        ? 'Build in a `nvidia/cuda:<ver>-devel` stage and start the final stage `FROM nvidia/cuda:<ver>-runtime` (or -base), copying only the built artifacts with `COPY --from=build`.'
        : 'Compile in a builder stage and `COPY --from=builder` only the results into a slim final stage (or purge build-essential and -dev packages in the same RUN).',
      saving: saving(tools),
    });
  }

  // caches left behind
  const cacheFiles = liveIn('caches');
  if (cacheFiles.length > 0) {
    const kinds: Partial<Record<CacheKind, number>> = {};
    for (const c of cacheFiles) {
      const k = cacheKind(c.path) ?? 'other';
      kinds[k] = (kinds[k] ?? 0) + c.bytes;
    }
    const bytes = sum(cacheFiles);
    findings.push({
      id: 'caches-left',
      severity: bytes >= 100 * MiB ? 'medium' : 'low',
      title: `package manager caches left in the image: ${fmt(bytes)} (${Object.keys(kinds).join(', ')})`,
      evidence: { paths: cacheFiles.slice(0, 10).map((c) => c.path), layers: layersOf(cacheFiles), bytes, details: { byKind: kinds } },
      fix: cacheFix(Object.keys(kinds) as CacheKind[]),
      saving: saving(cacheFiles),
    });
  }

  // waste from later deletions and overwrites
  const removed = input.waste.filter((w) => w.reason !== 'duplicate');
  const removedBytes = sum(removed);
  if (removedBytes >= MiB) {
    findings.push({
      id: 'deleted-waste',
      severity: removedBytes >= 100 * MiB ? 'medium' : 'low',
      title: `${fmt(removedBytes)} in lower layers is deleted or overwritten by later layers (still pulled)`,
      evidence: {
        paths: removed.slice(0, 10).map((w) => w.path),
        layers: layersOf(removed),
        bytes: removedBytes,
        details: { items: removed.slice(0, 10).map((w) => ({ path: w.path, layer: w.layer, bytes: w.bytes, reason: w.reason, by: w.by })) },
      },
      fix: 'Delete files in the same RUN that creates them (or build them in another stage and COPY --from only the result): an `rm` in a later layer does not shrink the image.',
      saving: saving(removed),
    });
  }
  const dups = input.waste.filter((w) => w.reason === 'duplicate');
  const dupBytes = sum(dups);
  if (dupBytes >= MiB) {
    findings.push({
      id: 'duplicate-files',
      severity: 'low',
      title: `${fmt(dupBytes)} of identical files stored in more than one layer`,
      evidence: { paths: dups.slice(0, 10).map((w) => w.path), layers: layersOf(dups), bytes: dupBytes, details: { items: dups.slice(0, 10).map((w) => ({ path: w.path, layer: w.layer, bytes: w.bytes, sameAsLayer: w.by })) } },
      fix: 'Copy each file once (one COPY, or COPY --from of a directory instead of copying the same content again in a later layer).',
      saving: saving(dups),
    });
  }

  // secrets, in any layer
  records.forEach((r, layer) => {
    for (const s of r.secrets) {
      const stillThere = live.get(s.path)?.layer === layer;
      findings.push({
        id: 'secret',
        severity: 'critical',
        title: `${s.kind} in layer ${layer}${stillThere ? '' : ' (deleted by a later layer, still in the image)'}: ${s.path}`,
        evidence: { paths: [s.path], layers: [layer], bytes: 0, details: { kind: s.kind, deleted: !stillThere } },
        fix: 'Pass it to the build with `RUN --mount=type=secret,id=...` (never COPY, ARG or ENV), and rotate this credential: it is in the layer for good.',
        saving: { bytes: 0, compressedBytes: 0, seconds: 0 },
      });
    }
  });

  // running as root
  const user = facts.user.trim();
  if (user === '' || /^(?:root|0)(?::.*)?$/.test(user)) {
    findings.push({
      id: 'runs-as-root',
      severity: 'medium',
      title: `the image runs as root (User ${user === '' ? 'not set' : JSON.stringify(user)})`,
      evidence: { paths: [], layers: [], bytes: 0, details: { user } },
      fix: 'Add `RUN useradd --system --uid 10001 app` and `USER 10001` before the ENTRYPOINT.',
      saving: { bytes: 0, compressedBytes: 0, seconds: 0 },
    });
  }

  // a server without a health check
  if (facts.exposedPorts.length > 0 && !facts.healthcheck) {
    const port = facts.exposedPorts[0]!.split('/')[0];
    findings.push({
      id: 'no-healthcheck',
      severity: 'low',
      title: `a server image (exposes ${facts.exposedPorts.join(', ')}) without a HEALTHCHECK`,
      evidence: { paths: [], layers: [], bytes: 0, details: { exposedPorts: facts.exposedPorts } },
      fix: `Add \`HEALTHCHECK CMD curl -fsS http://localhost:${port}/health || exit 1\` (or a readiness probe in the pod spec).`,
      saving: { bytes: 0, compressedBytes: 0, seconds: 0 },
    });
  }

  // huge layers above a frequently changing one
  const changing = analysis.layers.find((l) => {
    const files = Object.values(l.categories).reduce((n, b) => n + b, 0);
    // COPY . <dest> (the build context, BuildKit or classic history) — not a base image's ADD file:
    const copiesContext = /\b(?:COPY|ADD)\s+(?:--(?!from)[a-z-]+(?:=\S+)?\s+)*\.\/?\s|#\(nop\) COPY dir:/.test(l.createdBy ?? '');
    return copiesContext || (files > 0 && l.categories.application >= files / 2);
  });
  if (changing) {
    const huge = analysis.layers.filter((l) => l.index > changing.index && l.uncompressedBytes >= options.hugeLayerBytes);
    if (huge.length > 0) {
      const items = huge.map((l) => ({ layer: l.index, bytes: l.uncompressedBytes }));
      findings.push({
        id: 'cache-busting',
        severity: 'medium',
        title: `${huge.length} large layer(s) (${fmt(sum(items))}) come after layer ${changing.index}, which changes with the code: every code change rebuilds and re-pushes them`,
        evidence: {
          paths: [],
          layers: [changing.index, ...huge.map((l) => l.index)],
          bytes: sum(items),
          details: { changingLayer: { index: changing.index, createdBy: changing.createdBy }, hugeLayers: huge.map((l) => ({ index: l.index, bytes: l.uncompressedBytes, createdBy: l.createdBy })) },
        },
        fix: 'Order the Dockerfile from least to most often changing: install dependencies and large assets before `COPY . .`.',
        saving: saving(items),
      });
    }
  }

  // torch built for a CUDA the base image does not provide
  const system = analysis.ml.cuda.find((c) => c.via !== 'pip' && !/(?:site|dist)-packages\//.test(c.path));
  for (const f of analysis.ml.frameworks.filter((x) => x.name === 'torch' && x.cuda)) {
    if (!system || majorMinor(system.version) === majorMinor(f.cuda!)) continue;
    const bundled = analysis.ml.cuda.some((c) => c.via === 'pip') || [...live.keys()].some((p) => /(?:site|dist)-packages\/nvidia\/cuda_runtime\//.test(p));
    const systemCuda = bundled ? liveIn('cuda').filter((c) => !/(?:site|dist)-packages\//.test(c.path)) : [];
    findings.push({
      id: 'torch-cuda-mismatch',
      severity: 'high',
      title: `torch ${f.version} is built for CUDA ${f.cuda}, the base image provides CUDA ${system.version}`,
      evidence: { paths: [f.path, system.path], layers: [...new Set([f.layer, system.layer])], bytes: sum(systemCuda), details: { torch: f.version, torchCuda: f.cuda, baseCuda: system.version, torchBundlesCuda: bundled } },
      fix: bundled
        ? `torch brings its own CUDA ${f.cuda} (nvidia-* wheels): start from a base without the CUDA toolkit (or one with CUDA ${f.cuda}).`
        : `Use a base with CUDA ${f.cuda} (nvidia/cuda:${f.cuda}.*-runtime) or install the torch build for CUDA ${majorMinor(system.version)} (--index-url .../whl/cu${majorMinor(system.version).replace('.', '')}).`,
      saving: saving(systemCuda),
    });
  }

  const rank = (s: FindingSeverity): number => FINDING_SEVERITIES.indexOf(s);
  return findings.sort((a, b) => b.saving.bytes - a.saving.bytes || rank(a.severity) - rank(b.severity) || a.id.localeCompare(b.id) || a.title.localeCompare(b.title));
}

function cacheFix(kinds: CacheKind[]): string {
  const parts: string[] = [];
  if (kinds.includes('apt-lists') || kinds.includes('deb-archives')) parts.push('end the apt RUN with `&& apt-get clean && rm -rf /var/lib/apt/lists/*`');
  if (kinds.includes('pip')) parts.push('`pip install --no-cache-dir`');
  if (kinds.includes('conda')) parts.push('`conda clean -afy` in the same RUN');
  if (kinds.includes('npm')) parts.push('`npm cache clean --force` in the same RUN');
  if (kinds.includes('huggingface')) parts.push('download to `RUN --mount=type=cache,target=/root/.cache/huggingface`');
  if (kinds.includes('pycache')) parts.push('`ENV PYTHONDONTWRITEBYTECODE=1`');
  if (kinds.includes('other')) parts.push('use `RUN --mount=type=cache,target=/root/.cache` for build caches');
  const text = parts.join('; ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

function majorMinor(v: string): string {
  return v.split('.').slice(0, 2).join('.');
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function fmt(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}
