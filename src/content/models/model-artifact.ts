/**
 * Tells a model artifact from an OCI image manifest, and what each of its layers is:
 *
 * - CNCF ModelPack (modelpack/model-spec docs/spec.md): `artifactType`
 *   application/vnd.cncf.model.manifest.v1+json, config application/vnd.cncf.model.config.v1+json,
 *   layers application/vnd.cncf.model.{weight,weight.config,doc,code,dataset}.v1.{raw,tar,tar+gzip,
 *   tar+zstd}; a layer's file path in the `org.cncf.model.filepath` annotation.
 * - KitOps ModelKits (kitops pkg/lib/constants/mediaType.go): no artifactType; config
 *   application/vnd.kitops.modelkit.config.v1+json (the Kitfile as JSON), layers
 *   application/vnd.kitops.modelkit.{model,modelpart,dataset,code,docs}.v1.tar[+gzip]; paths come
 *   from the Kitfile (`model.path`, `docs[].path`, ...), each layer a tar of that path.
 * - Docker Model Runner (docker/model-distribution types/config.go): config
 *   application/vnd.docker.ai.model.config.v0.1+json (v0.2 too), layers
 *   application/vnd.docker.ai.gguf.v3 (raw GGUF files), .safetensors, .license, .mmproj,
 *   .chat.template.jinja.
 *
 * Pure: the caller hands in the manifest's JSON.
 */

export const ModelMediaTypes = {
  modelpackArtifact: 'application/vnd.cncf.model.manifest.v1+json',
  modelpackConfig: 'application/vnd.cncf.model.config.v1+json',
  modelkitConfig: 'application/vnd.kitops.modelkit.config.v1+json',
  dockerConfigV01: 'application/vnd.docker.ai.model.config.v0.1+json',
  dockerGguf: 'application/vnd.docker.ai.gguf.v3',
  dockerSafetensors: 'application/vnd.docker.ai.safetensors',
  dockerLicense: 'application/vnd.docker.ai.license',
  dockerMmproj: 'application/vnd.docker.ai.mmproj',
  dockerChatTemplate: 'application/vnd.docker.ai.chat.template.jinja',
} as const;

/** ModelPack's layer annotation keys (docs/annotations.md) */
export const ModelPackAnnotations = {
  filepath: 'org.cncf.model.filepath',
  fileMetadata: 'org.cncf.model.file.metadata+json',
  mediaTypeUntested: 'org.cncf.model.file.mediatype.untested',
} as const;

export type ModelFormat = 'modelpack' | 'modelkit' | 'docker';
export type ModelLayerRole = 'weight' | 'weight-config' | 'doc' | 'code' | 'dataset' | 'model-part' | 'license' | 'mmproj' | 'chat-template' | 'other';
export type ModelPacking = 'raw' | 'tar' | 'tar+gzip' | 'tar+zstd';

export interface ModelLayer {
  index: number;
  mediaType: string;
  digest: string;
  size: number;
  role: ModelLayerRole;
  packing: ModelPacking;
  /** the file's (raw) or the archived directory's path, when the manifest or config names it */
  path: string | null;
  annotations: Record<string, string>;
}

export interface ModelArtifact {
  format: ModelFormat;
  config: { mediaType: string; digest: string; size: number } | null;
  layers: ModelLayer[];
  annotations: Record<string, string>;
}

const MODELPACK_LAYER = /^application\/vnd\.cncf\.model\.(weight\.config|weight|doc|code|dataset)\.v1\.(raw|tar|tar\+gzip|tar\+zstd)$/;
const MODELKIT_LAYER = /^application\/vnd\.kitops\.modelkit\.(model|modelpart|dataset|code|docs)\.v1\.tar(?:\+(gzip|zstd))?$/;
const DOCKER_CONFIG = /^application\/vnd\.docker\.ai\.model\.config\.v\d+\.\d+\+json$/;

const MODELPACK_ROLES: Record<string, ModelLayerRole> = { weight: 'weight', 'weight.config': 'weight-config', doc: 'doc', code: 'code', dataset: 'dataset' };
const MODELKIT_ROLES: Record<string, ModelLayerRole> = { model: 'weight', modelpart: 'model-part', dataset: 'dataset', code: 'code', docs: 'doc' };
const DOCKER_ROLES: Record<string, ModelLayerRole> = {
  [ModelMediaTypes.dockerGguf]: 'weight',
  [ModelMediaTypes.dockerSafetensors]: 'weight',
  [ModelMediaTypes.dockerLicense]: 'license',
  [ModelMediaTypes.dockerMmproj]: 'mmproj',
  [ModelMediaTypes.dockerChatTemplate]: 'chat-template',
};

interface RawDescriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  annotations?: unknown;
}

function strings(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
}

/** The model artifact this manifest is, or undefined for anything else (an image, an index, another artifact). */
export function recognizeModelArtifact(manifest: unknown): ModelArtifact | undefined {
  if (typeof manifest !== 'object' || manifest === null) return undefined;
  const m = manifest as { artifactType?: unknown; config?: RawDescriptor; layers?: unknown; annotations?: unknown };
  if (!Array.isArray(m.layers)) return undefined;
  const configType = typeof m.config?.mediaType === 'string' ? m.config.mediaType : '';
  const layerTypes = (m.layers as RawDescriptor[]).map((l) => (typeof l?.mediaType === 'string' ? l.mediaType : ''));
  let format: ModelFormat | undefined;
  if (m.artifactType === ModelMediaTypes.modelpackArtifact || configType === ModelMediaTypes.modelpackConfig) format = 'modelpack';
  else if (configType === ModelMediaTypes.modelkitConfig || (layerTypes.length > 0 && layerTypes.some((t) => MODELKIT_LAYER.test(t)))) format = 'modelkit';
  else if (DOCKER_CONFIG.test(configType) || layerTypes.includes(ModelMediaTypes.dockerGguf)) format = 'docker';
  if (!format) return undefined;
  const layers = (m.layers as RawDescriptor[]).map((l, index): ModelLayer => {
    const mediaType = layerTypes[index]!;
    const annotations = strings(l?.annotations);
    const base = { index, mediaType, digest: typeof l?.digest === 'string' ? l.digest : '', size: typeof l?.size === 'number' ? l.size : 0, annotations };
    const path = annotations[ModelPackAnnotations.filepath] ?? annotations['org.opencontainers.image.title'] ?? null;
    const mp = MODELPACK_LAYER.exec(mediaType);
    if (mp) return { ...base, role: MODELPACK_ROLES[mp[1]!]!, packing: mp[2] as ModelPacking, path };
    const mk = MODELKIT_LAYER.exec(mediaType);
    if (mk) return { ...base, role: MODELKIT_ROLES[mk[1]!]!, packing: mk[2] ? (`tar+${mk[2]}` as ModelPacking) : 'tar', path };
    const docker = DOCKER_ROLES[mediaType];
    if (docker) return { ...base, role: docker, packing: 'raw', path };
    if (mediaType.endsWith('.tar')) return { ...base, role: 'other', packing: 'tar', path };
    return { ...base, role: 'other', packing: 'raw', path };
  });
  const config = m.config && typeof m.config.digest === 'string' && typeof m.config.size === 'number' ? { mediaType: configType, digest: m.config.digest, size: m.config.size } : null;
  return { format, config, layers, annotations: strings(m.annotations) };
}

/**
 * A KitOps Kitfile's paths, in the order kit writes its layers (model, model parts, code,
 * datasets, docs: kitops pkg/lib/kitfile/local-storage.go saveKitfileLayers), so layer i's path
 * is the i-th one; also the package's license and names.
 */
export function kitfileLayerPaths(kitfile: unknown): string[] {
  if (typeof kitfile !== 'object' || kitfile === null) return [];
  const k = kitfile as { model?: { path?: unknown; parts?: unknown }; code?: unknown; datasets?: unknown; docs?: unknown };
  const paths: string[] = [];
  const add = (v: unknown): void => {
    if (typeof v === 'object' && v !== null && typeof (v as { path?: unknown }).path === 'string') paths.push((v as { path: string }).path);
  };
  if (k.model && typeof k.model.path === 'string' && k.model.path !== '') paths.push(k.model.path);
  if (k.model && Array.isArray(k.model.parts)) k.model.parts.forEach(add);
  for (const list of [k.code, k.datasets, k.docs]) if (Array.isArray(list)) list.forEach(add);
  return paths;
}
