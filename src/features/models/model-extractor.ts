/**
 * Reads a model artifact's metadata without downloading its weights: every read is a byte range
 * of a blob the repository links. A safetensors file costs one read of its first 64 KiB (a second
 * one, of exactly the rest of the header, when the header is longer); a GGUF file reads its first
 * 1 MiB and doubles until the key/values and tensor infos are in (bounded by the GGUF limits);
 * files inside an uncompressed tar layer are found by reading the 512-byte headers only; small
 * files (config.json, the model card, the license, the shard index) are read whole up to 1 MiB.
 *
 * A file whose header is malformed gets its error in the result; the rest of the model is still
 * described. Nothing here writes: the service stores the result.
 */
import { parse as parseYaml } from 'yaml';
import { ggufMetadataJson, parseGgufHeader, type GgufHeader } from '../../content/models/gguf.js';
import { kitfileLayerPaths, recognizeModelArtifact, type ModelArtifact, type ModelLayer, type ModelLayerRole } from '../../content/models/model-artifact.js';
import { ModelFileError, NeedMoreBytes } from '../../content/models/model-file-error.js';
import { parseSafetensorsHeader, parseSafetensorsIndex, safetensorsHeaderLength, type SafetensorsHeader } from '../../content/models/safetensors.js';
import { parseTarHeader, paxPath } from '../../content/models/tar-header.js';

/** Reads bytes [start, end] (inclusive) of a blob. */
export type BlobRangeReader = (digest: string, start: number, end: number) => Promise<Buffer>;

export const EXTRACTOR_VERSION = 1;

export interface ExtractLimits {
  /** the first read of a safetensors file */
  safetensorsFirstRead: number;
  maxSafetensorsHeaderBytes: number;
  ggufFirstRead: number;
  maxGgufHeaderBytes: number;
  /** small files read whole up to this size */
  maxSmallFileBytes: number;
  /** entries walked per tar layer */
  maxTarEntries: number;
  /** tensors listed per file in the stored result (counts cover all) */
  maxListedTensors: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = {
  safetensorsFirstRead: 64 * 1024,
  maxSafetensorsHeaderBytes: 100_000_000,
  ggufFirstRead: 1024 * 1024,
  maxGgufHeaderBytes: 64 * 1024 * 1024,
  maxSmallFileBytes: 1024 * 1024,
  maxTarEntries: 10_000,
  maxListedTensors: 2_000,
};

export interface ModelTensor {
  name: string;
  dtype: string;
  shape: number[];
}

export interface ModelFileInfo {
  path: string;
  size: number;
  role: ModelLayerRole;
  layer: number;
  /** where the file's bytes start in its layer blob (0 for a raw layer; null inside a compressed archive) */
  offset: number | null;
  /** the file's sha256 digest when it is a raw layer (the layer's digest); null inside an archive */
  fileDigest: string | null;
  kind: 'safetensors' | 'gguf' | 'config' | 'generation-config' | 'tokenizer' | 'safetensors-index' | 'readme' | 'license' | 'other';
  /** what the header said (weights) */
  weights?: {
    format: 'safetensors' | 'gguf';
    tensors: number;
    parameters: number;
    parametersByDtype: Record<string, number>;
    bytesByDtype: Record<string, number>;
    headerBytes: number;
    /** safetensors __metadata__; GGUF key/values (arrays summarised) */
    metadata: Record<string, unknown> | null;
    tensorList: ModelTensor[];
    gguf?: { version: number; architecture: string | null; name: string | null; fileType: number | null; fileTypeName: string | null; contextLength: number | null };
  };
  /** why this file could not be read */
  error?: string;
}

export interface ModelMetadata {
  extractorVersion: number;
  format: ModelArtifact['format'];
  /** safetensors, gguf, mixed, or what the config says (onnx, pt, ...) */
  weightFormat: string | null;
  name: string | null;
  architecture: string | null;
  parameters: number;
  parametersByDtype: Record<string, number>;
  /** GGUF general.file_type name, or the config's quantization */
  quantization: string | null;
  contextLength: number | null;
  /** bytes of every layer */
  totalBytes: number;
  /** bytes of the weight files */
  weightBytes: number;
  /**
   * Memory the weights need once loaded: their tensor bytes as stored (safetensors data, GGUF
   * tensors at their quantized size), or the weight files' size when no header could be read.
   * Activations and the KV cache come on top.
   */
  memoryToLoadBytes: number;
  license: string | null;
  hasConfig: boolean;
  hasGenerationConfig: boolean;
  hasTokenizer: boolean;
  hasReadme: boolean;
  hasLicenseFile: boolean;
  /** model.safetensors.index.json: shards named, tensors, total size, shards missing from the artifact */
  shards: { files: string[]; tensors: number; totalSize: number | null; missing: string[] } | null;
  /** config.json's most telling fields */
  hfConfig: Record<string, unknown> | null;
  /** the model card: YAML front matter and the first heading */
  card: { title: string | null; frontMatter: Record<string, unknown> | null; bytes: number } | null;
  /** the artifact's own config blob, parsed (ModelPack config, Kitfile, Docker model config) */
  artifactConfig: Record<string, unknown> | null;
  files: ModelFileInfo[];
  /** problems with the metadata (the artifact is stored and pullable regardless) */
  errors: string[];
  reads: { ranges: number; bytes: number };
}

const SMALL_KINDS = new Set(['config', 'generation-config', 'safetensors-index', 'readme', 'license']);

function kindOf(path: string, role: ModelLayerRole, mediaType: string): ModelFileInfo['kind'] {
  const base = (path.split('/').pop() ?? path).toLowerCase();
  if (base.endsWith('.safetensors') || mediaType === 'application/vnd.docker.ai.safetensors') return 'safetensors';
  if (base.endsWith('.gguf') || mediaType === 'application/vnd.docker.ai.gguf.v3') return 'gguf';
  if (base === 'config.json') return 'config';
  if (base === 'generation_config.json') return 'generation-config';
  if (base === 'model.safetensors.index.json' || base.endsWith('.safetensors.index.json')) return 'safetensors-index';
  if (base === 'tokenizer.json' || base === 'tokenizer.model' || base === 'tokenizer_config.json' || base === 'vocab.json' || base === 'tokenizer.ggml') return 'tokenizer';
  if (base === 'readme.md' || base === 'readme') return 'readme';
  if (role === 'license' || /^(license|licence|copying)(\.(md|txt))?$/.test(base)) return 'license';
  return 'other';
}

function objectOr(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function parseJsonObject(buf: Buffer): Record<string, unknown> | null {
  try {
    return objectOr(JSON.parse(buf.toString('utf8')));
  } catch {
    return null;
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export class ModelExtractor {
  private ranges = 0;
  private bytes = 0;
  private readonly limits: ExtractLimits;

  constructor(
    private readonly readRange: BlobRangeReader,
    limits: Partial<ExtractLimits> = {},
  ) {
    this.limits = { ...DEFAULT_EXTRACT_LIMITS, ...limits };
  }

  private async read(digest: string, start: number, end: number): Promise<Buffer> {
    this.ranges++;
    const buf = await this.readRange(digest, start, end);
    this.bytes += buf.length;
    if (buf.length !== end - start + 1) throw new ModelFileError(`blob ${digest} gave ${buf.length} bytes for a range of ${end - start + 1}`);
    return buf;
  }

  /** Metadata of the model whose manifest is `manifest`; undefined when it is not a model artifact. */
  async extract(manifest: unknown): Promise<ModelMetadata | undefined> {
    const artifact = recognizeModelArtifact(manifest);
    if (!artifact) return undefined;
    const errors: string[] = [];
    let artifactConfig: Record<string, unknown> | null = null;
    if (artifact.config && artifact.config.size > 0 && artifact.config.size <= this.limits.maxSmallFileBytes) {
      artifactConfig = parseJsonObject(await this.read(artifact.config.digest, 0, artifact.config.size - 1));
      if (!artifactConfig) errors.push(`the artifact config (${artifact.config.mediaType}) is not a JSON object`);
    }
    if (artifact.format === 'modelkit' && artifactConfig) {
      // kit names each layer's path in the Kitfile, in layer order
      const paths = kitfileLayerPaths(artifactConfig);
      artifact.layers.forEach((l, i) => {
        if (l.path === null && paths[i] !== undefined) l.path = paths[i]!;
      });
    }
    const files: ModelFileInfo[] = [];
    const smallFiles = new Map<string, Buffer>();
    for (const layer of artifact.layers) {
      try {
        await this.describeLayer(artifact, layer, files, smallFiles, errors);
      } catch (e) {
        if (!(e instanceof ModelFileError)) throw e;
        errors.push(`layer ${layer.index} (${layer.path ?? layer.digest}): ${e.message}`);
      }
    }
    for (const f of files) if (f.error) errors.push(`${f.path}: ${f.error}`);
    return this.summarise(artifact, artifactConfig, files, smallFiles, errors);
  }

  private async describeLayer(artifact: ModelArtifact, layer: ModelLayer, files: ModelFileInfo[], small: Map<string, Buffer>, errors: string[]): Promise<void> {
    if (layer.packing === 'raw') {
      const path = layer.path ?? defaultPath(artifact, layer);
      await this.describeFile({ path, size: layer.size, role: layer.role, layer: layer.index, offset: 0, fileDigest: layer.digest, kind: kindOf(path, layer.role, layer.mediaType) }, layer.digest, small, files);
      return;
    }
    if (layer.packing !== 'tar') {
      files.push({ path: layer.path ?? `layer-${layer.index}`, size: layer.size, role: layer.role, layer: layer.index, offset: null, fileDigest: null, kind: 'other' });
      errors.push(`layer ${layer.index} (${layer.path ?? layer.digest}) is a compressed archive (${layer.packing}): its files are not inspected; push weights raw or as plain tar`);
      return;
    }
    // an uncompressed tar: walk the headers with 512-byte reads
    let at = 0;
    let longName: string | undefined;
    for (let n = 0; n < this.limits.maxTarEntries; n++) {
      if (at + 512 > layer.size) return;
      const header = parseTarHeader(await this.read(layer.digest, at, at + 511));
      if (header === null) return;
      const dataStart = at + 512;
      if (dataStart + header.size > layer.size) throw new ModelFileError(`tar: entry ${JSON.stringify(header.name.slice(0, 80))} runs past the end of the layer`);
      if (header.type === 'L' || header.type === 'x') {
        if (header.size > 64 * 1024) throw new ModelFileError('tar: an extended header is over 64 KiB');
        const data = header.size > 0 ? await this.read(layer.digest, dataStart, dataStart + header.size - 1) : Buffer.alloc(0);
        longName = header.type === 'L' ? data.toString('utf8').replace(/\0+$/, '') : (paxPath(data) ?? longName);
      } else {
        const path = (longName ?? header.name).replace(/^\.\//, '');
        longName = undefined;
        if (header.type === '0' || header.type === '\0' || header.type === '7') {
          await this.describeFile({ path, size: header.size, role: layer.role, layer: layer.index, offset: dataStart, fileDigest: null, kind: kindOf(path, layer.role, '') }, layer.digest, small, files);
        }
      }
      at = dataStart + Math.ceil(header.size / 512) * 512;
    }
    throw new ModelFileError(`tar: more than ${this.limits.maxTarEntries} entries`);
  }

  private async describeFile(file: ModelFileInfo, digest: string, small: Map<string, Buffer>, files: ModelFileInfo[]): Promise<void> {
    files.push(file);
    const base = file.offset ?? 0;
    try {
      if (file.kind === 'safetensors') file.weights = safetensorsWeights(await this.safetensors(digest, base, file.size), this.limits.maxListedTensors);
      else if (file.kind === 'gguf') file.weights = ggufWeights(await this.gguf(digest, base, file.size), this.limits.maxListedTensors);
      else if (SMALL_KINDS.has(file.kind) && file.size > 0 && file.size <= this.limits.maxSmallFileBytes) small.set(file.path, await this.read(digest, base, base + file.size - 1));
    } catch (e) {
      if (!(e instanceof ModelFileError)) throw e;
      file.error = e.message;
    }
  }

  private async safetensors(digest: string, base: number, size: number): Promise<SafetensorsHeader> {
    if (size < 8) throw new ModelFileError('safetensors: the file is shorter than the 8-byte header length');
    const first = await this.read(digest, base, base + Math.min(size, this.limits.safetensorsFirstRead) - 1);
    const n = safetensorsHeaderLength(first, size, this.limits.maxSafetensorsHeaderBytes);
    const header = first.length >= 8 + n ? first.subarray(8, 8 + n) : Buffer.concat([first.subarray(8), await this.read(digest, base + first.length, base + 8 + n - 1)]);
    return parseSafetensorsHeader(header, size);
  }

  private async gguf(digest: string, base: number, size: number): Promise<GgufHeader> {
    let have = await this.read(digest, base, base + Math.min(size, this.limits.ggufFirstRead) - 1);
    const limits = { maxHeaderBytes: this.limits.maxGgufHeaderBytes, maxTensors: 1_000_000, maxKeys: 100_000, maxStringBytes: 16 * 1024 * 1024 };
    for (;;) {
      try {
        return parseGgufHeader(have, size, limits);
      } catch (e) {
        if (!(e instanceof NeedMoreBytes)) throw e;
        const want = Math.min(size, Math.max(e.bytes, have.length * 2), this.limits.maxGgufHeaderBytes);
        if (want <= have.length) throw new ModelFileError(`gguf: the header is longer than the limit of ${this.limits.maxGgufHeaderBytes} bytes`);
        have = Buffer.concat([have, await this.read(digest, base + have.length, base + want - 1)]);
      }
    }
  }

  private summarise(artifact: ModelArtifact, artifactConfig: Record<string, unknown> | null, files: ModelFileInfo[], small: Map<string, Buffer>, errors: string[]): ModelMetadata {
    const weightsFiles = files.filter((f) => f.kind === 'safetensors' || f.kind === 'gguf' || (f.role === 'weight' && f.kind === 'other'));
    const parametersByDtype: Record<string, number> = {};
    let parameters = 0;
    let memory = 0;
    for (const f of weightsFiles) {
      if (!f.weights) {
        memory += f.size;
        continue;
      }
      parameters += f.weights.parameters;
      for (const [d, n] of Object.entries(f.weights.parametersByDtype)) parametersByDtype[d] = (parametersByDtype[d] ?? 0) + n;
      memory += Object.values(f.weights.bytesByDtype).reduce((a, b) => a + b, 0);
    }
    const byBase = (kind: ModelFileInfo['kind']): ModelFileInfo | undefined => files.find((f) => f.kind === kind && !f.path.includes('/')) ?? files.find((f) => f.kind === kind);
    const content = (kind: ModelFileInfo['kind']): Buffer | undefined => {
      const f = byBase(kind);
      return f ? small.get(f.path) : undefined;
    };
    const hf = content('config') ? parseJsonObject(content('config')!) : null;
    if (byBase('config') && content('config') && !hf) errors.push('config.json is not a JSON object');
    const gguf = weightsFiles.find((f) => f.weights?.gguf)?.weights?.gguf;
    // the artifact configs each format writes
    const mp = artifact.format === 'modelpack' ? { d: objectOr(artifactConfig?.descriptor), c: objectOr(artifactConfig?.config) } : null;
    const kit = artifact.format === 'modelkit' ? { p: objectOr(artifactConfig?.package), m: objectOr(artifactConfig?.model) } : null;
    const dk = artifact.format === 'docker' ? objectOr(artifactConfig?.config) : null;

    let shards: ModelMetadata['shards'] = null;
    const indexBytes = content('safetensors-index');
    if (indexBytes) {
      try {
        const index = parseSafetensorsIndex(indexBytes.toString('utf8'));
        const present = new Set(files.map((f) => f.path.split('/').pop()));
        const names = Object.keys(index.shards).sort();
        shards = { files: names, tensors: index.tensors, totalSize: index.totalSize, missing: names.filter((n) => !present.has(n)) };
        if (shards.missing.length > 0) errors.push(`model.safetensors.index.json names shards the artifact lacks: ${shards.missing.join(', ')}`);
      } catch (e) {
        if (!(e instanceof ModelFileError)) throw e;
        errors.push(e.message);
      }
    }
    const readme = content('readme');
    const card = readme ? modelCard(readme) : null;
    const cardLicense = card?.frontMatter ? str(card.frontMatter.license) : null;
    const mpLicenses = Array.isArray(mp?.d?.licenses) ? (mp!.d!.licenses as unknown[]).filter((x) => typeof x === 'string').join(' AND ') : null;
    const ggufLicense = weightsFiles.map((f) => f.weights?.metadata?.['general.license']).find((v) => typeof v === 'string') as string | undefined;
    const formats = new Set(weightsFiles.map((f) => f.weights?.format ?? f.kind).filter((k) => k !== 'other'));
    const hfArch = hf ? (Array.isArray(hf.architectures) && typeof hf.architectures[0] === 'string' ? (hf.architectures[0] as string) : str(hf.model_type)) : null;
    return {
      extractorVersion: EXTRACTOR_VERSION,
      format: artifact.format,
      weightFormat: formats.size === 1 ? [...formats][0]! : formats.size > 1 ? 'mixed' : (str(mp?.c?.format) ?? str(kit?.m?.format) ?? str(dk?.format)),
      name: str(mp?.d?.name) ?? str(kit?.p?.name) ?? str(kit?.m?.name) ?? gguf?.name ?? card?.title ?? null,
      architecture: gguf?.architecture ?? hfArch ?? str(mp?.c?.architecture) ?? str(dk?.architecture),
      parameters,
      parametersByDtype,
      quantization: gguf?.fileTypeName ?? str(mp?.c?.quantization) ?? str(dk?.quantization),
      contextLength: gguf?.contextLength ?? (hf && Number.isSafeInteger(hf.max_position_embeddings) ? (hf.max_position_embeddings as number) : null),
      totalBytes: artifact.layers.reduce((n, l) => n + l.size, 0),
      weightBytes: weightsFiles.reduce((n, f) => n + f.size, 0),
      memoryToLoadBytes: memory,
      license: cardLicense ?? mpLicenses ?? str(kit?.p?.license) ?? str(kit?.m?.license) ?? ggufLicense ?? null,
      hasConfig: byBase('config') !== undefined,
      hasGenerationConfig: byBase('generation-config') !== undefined,
      hasTokenizer: byBase('tokenizer') !== undefined || weightsFiles.some((f) => f.weights?.metadata?.['tokenizer.ggml.model'] !== undefined),
      hasReadme: readme !== undefined || byBase('readme') !== undefined,
      hasLicenseFile: byBase('license') !== undefined,
      shards,
      hfConfig: hf ? pick(hf, ['architectures', 'model_type', 'torch_dtype', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'intermediate_size', 'vocab_size', 'max_position_embeddings']) : null,
      card,
      artifactConfig,
      files,
      errors,
      reads: { ranges: this.ranges, bytes: this.bytes },
    };
  }
}

function defaultPath(artifact: ModelArtifact, layer: ModelLayer): string {
  if (artifact.format === 'docker') {
    const sameKind = artifact.layers.filter((l) => l.mediaType === layer.mediaType);
    const n = sameKind.length > 1 ? `-${sameKind.indexOf(layer) + 1}` : '';
    if (layer.role === 'license') return `LICENSE${n}`;
    if (layer.role === 'mmproj') return `model${n}.mmproj`;
    if (layer.role === 'chat-template') return `template${n}.jinja`;
    if (layer.mediaType.endsWith('safetensors')) return `model${n}.safetensors`;
    return `model${n}.gguf`;
  }
  return `layer-${layer.index}`;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

function modelCard(buf: Buffer): NonNullable<ModelMetadata['card']> {
  const text = buf.toString('utf8');
  let frontMatter: Record<string, unknown> | null = null;
  let body = text;
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (m) {
    try {
      frontMatter = objectOr(parseYaml(m[1]!, { maxAliasCount: 10 }));
    } catch {
      frontMatter = null;
    }
    body = text.slice(m[0].length);
  }
  const title = /^#\s+(.+)$/m.exec(body)?.[1]?.trim() ?? null;
  return { title, frontMatter, bytes: buf.length };
}

function safetensorsWeights(h: SafetensorsHeader, maxListed: number): NonNullable<ModelFileInfo['weights']> {
  return {
    format: 'safetensors',
    tensors: h.tensors.length,
    parameters: h.parameters,
    parametersByDtype: h.parametersByDtype,
    bytesByDtype: h.bytesByDtype,
    headerBytes: h.headerBytes,
    metadata: h.metadata,
    tensorList: h.tensors.slice(0, maxListed).map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
  };
}

function ggufWeights(h: GgufHeader, maxListed: number): NonNullable<ModelFileInfo['weights']> {
  return {
    format: 'gguf',
    tensors: h.tensorCount,
    parameters: h.parameters,
    parametersByDtype: h.parametersByType,
    bytesByDtype: h.bytesByType,
    headerBytes: h.dataOffset,
    metadata: ggufMetadataJson(h.metadata),
    tensorList: h.tensors.slice(0, maxListed).map((t) => ({ name: t.name, dtype: t.type, shape: t.dims })),
    gguf: { version: h.version, architecture: h.architecture, name: h.name, fileType: h.fileType, fileTypeName: h.fileTypeName, contextLength: h.contextLength },
  };
}
