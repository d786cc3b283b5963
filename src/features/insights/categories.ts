/**
 * Which part of an ML image a file belongs to, by its path and by the OS package that owns it
 * (dpkg's file lists). Each file gets exactly one category; the rules are tried in this order
 * (docs/insights.md lists them with examples):
 *   model-weights, caches, docs, build-tools, cuda, ml-frameworks, os-packages, python-packages,
 *   application, other.
 * Pure.
 */
export const CATEGORIES = ['os-packages', 'cuda', 'ml-frameworks', 'python-packages', 'model-weights', 'caches', 'build-tools', 'docs', 'application', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

/** What kind of cache a cache file is (for the finding's fix). */
export type CacheKind = 'apt-lists' | 'deb-archives' | 'pip' | 'conda' | 'npm' | 'huggingface' | 'pycache' | 'other';

export const WEIGHT_EXTENSIONS = ['.safetensors', '.bin', '.pt', '.pth', '.ckpt', '.gguf', '.onnx', '.h5', '.msgpack'];

const SITE = /(?:^|\/)(?:site|dist)-packages\/([^/]+)/;
const HUB_WEIGHTS = /(?:^|\/)(?:\.cache\/)?huggingface\/hub\/models--[^/]+\/blobs\/|(?:^|\/)torch\/hub\/checkpoints\//;

export function cacheKind(path: string): CacheKind | undefined {
  if (path.startsWith('var/lib/apt/lists/')) return 'apt-lists';
  if (path.startsWith('var/cache/apt/')) return path.endsWith('.deb') ? 'deb-archives' : 'apt-lists';
  if (path.endsWith('.deb')) return 'deb-archives';
  if (/(?:^|\/)\.cache\/pip\//.test(path) || path.startsWith('tmp/pip-')) return 'pip';
  if (/(?:^|\/)(?:opt\/conda|miniconda3|anaconda3|\.conda)\/pkgs\//.test(path)) return 'conda';
  if (/(?:^|\/)\.npm\/_cacache\/|(?:^|\/)\.cache\/yarn\//.test(path)) return 'npm';
  if (/(?:^|\/)\.cache\/huggingface\//.test(path)) return 'huggingface';
  if (/(?:^|\/)__pycache__\//.test(path)) return 'pycache';
  if (/(?:^|\/)\.cache\//.test(path) && path.startsWith('root/')) return 'other';
  return undefined;
}

export function isWeightFile(path: string): boolean {
  if (HUB_WEIGHTS.test(path)) return true;
  const dot = path.lastIndexOf('.');
  if (dot < 0 || !WEIGHT_EXTENSIONS.includes(path.slice(dot))) return false;
  // apt's own .bin caches and firmware are not weights
  return !path.startsWith('var/cache/') && !path.startsWith('usr/lib/firmware/') && !path.startsWith('lib/firmware/');
}

const DOCS = /^usr\/(?:local\/)?share\/(?:doc|man|info|locale|help|gtk-doc|lintian)\/|^usr\/share\/i18n\//;

const BUILD_PACKAGE = /^(?:gcc|g\+\+|cpp|c\+\+|clang|llvm|binutils|make|cmake|ninja-build|build-essential|autoconf|automake|libtool|pkg-config|pkgconf|dpkg-dev|bison|flex|gfortran|cuda-nvcc|cuda-nvcc-[0-9-]+|cuda-cudart-dev|cuda-command-line-tools|cuda-compiler|cuda-toolkit|cuda-minimal-build|cuda-libraries-dev|cuda-nvml-dev|cuda-nvprof|cuda-nsight)(?:-[0-9.]+)*(?:-[a-z0-9-]+)?$|-dev(?:-[0-9.]+)?$|-dev:[a-z0-9]+$|^linux-libc-dev$|^libc6-dev$/;
const BUILD_PATH = /^usr\/(?:local\/)?include\/|^usr\/local\/cuda[^/]*\/(?:bin\/(?:nvcc|ptxas|fatbinary|nvlink|cudafe\+\+|cuobjdump|nvdisasm|nvprune|cu\+\+filt|bin2c)|nvvm\/|include\/|targets\/[^/]+\/include\/|lib64\/[^/]+\.a$|targets\/[^/]+\/lib\/[^/]+\.a$)|^usr\/lib\/gcc\/|^usr\/libexec\/gcc\/|^usr\/bin\/(?:x86_64-linux-gnu-|aarch64-linux-gnu-)?(?:gcc|g\+\+|cc|c\+\+|cpp|ld|as|ld\.bfd|ld\.gold|make|cmake|nvcc)(?:-[0-9.]+)?$|^usr\/lib\/[^/]+\/lib[^/]+\.a$/;

const CUDA_PACKAGE = /^(?:cuda-|libcu[a-z]*[0-9]|libcudnn|libnccl|libnvinfer|libnvonnxparsers|libnvparsers|tensorrt|libnpp|libnvjpeg|libcublas|libcufft|libcurand|libcusparse|libcusolver|libnvjitlink|libnvrtc|nvidia-)/;
const CUDA_PATH = /^usr\/local\/cuda[^/]*\/|(?:^|\/)lib(?:cudart|cublas|cublasLt|cufft|cufftw|curand|cusparse|cusolver|cusolverMg|cudnn[a-z_]*|nccl|nvinfer[a-z_]*|nvonnxparser|nvparsers|nvrtc[a-z-]*|nvJitLink|nvjpeg|npp[a-z]*|cupti|nvToolsExt|cuda)\.so(?:\.[0-9.]+)?$|(?:site|dist)-packages\/(?:nvidia|tensorrt[a-z_]*)\/|(?:site|dist)-packages\/nvidia_[a-z0-9_]+-[^/]+\.dist-info\//;

const FRAMEWORKS = new Set(['torch', 'torchvision', 'torchaudio', 'torchtext', 'functorch', 'triton', 'tensorflow', 'tensorflow_core', 'tensorflow_estimator', 'tensorflow_io_gcs_filesystem', 'tensorboard', 'keras', 'tf_keras', 'jax', 'jaxlib', 'jax_plugins', 'jax_cuda12_plugin', 'jax_cuda12_pjrt', 'flax', 'optax', 'xformers', 'flash_attn', 'vllm', 'onnxruntime', 'paddle', 'mxnet', 'caffe2']);

const APPLICATION = /^(?:app|srv|code|workspace|workdir|src|home\/[^/]+|opt\/app|opt\/[^/]+\/app|usr\/src\/app|usr\/app)\//;

/** The Python distribution a site-packages path belongs to (its top-level directory, without .libs / -x.y.dist-info). */
export function pythonPackageOf(path: string): string | undefined {
  const m = SITE.exec(path);
  if (!m) return undefined;
  let top = m[1]!;
  const info = /^(.+?)-[0-9][^/]*\.(?:dist|egg)-info$/.exec(top);
  if (info) top = info[1]!;
  top = top.replace(/\.libs$/, '').replace(/\.(?:py|pth|so)$/, '').replace(/\.cpython-.*$/, '');
  return top.toLowerCase().replace(/[-.]+/g, '_');
}

export interface Ownership {
  /** the OS package that owns a path (dpkg lists), if any */
  owner(path: string): string | undefined;
}

export function categorize(path: string, owners: Ownership): Category {
  if (isWeightFile(path)) return 'model-weights';
  if (cacheKind(path)) return 'caches';
  if (DOCS.test(path)) return 'docs';
  const owner = owners.owner(path);
  if (owner !== undefined && BUILD_PACKAGE.test(owner)) return 'build-tools';
  if (BUILD_PATH.test(path)) return 'build-tools';
  if ((owner !== undefined && CUDA_PACKAGE.test(owner)) || CUDA_PATH.test(path)) return 'cuda';
  const py = pythonPackageOf(path);
  if (py !== undefined && FRAMEWORKS.has(py)) return 'ml-frameworks';
  if (owner !== undefined) return 'os-packages';
  if (py !== undefined) return 'python-packages';
  if (APPLICATION.test(path)) return 'application';
  return 'other';
}

/** True for a compiler that makes an image a "devel" image (nvcc, gcc, cc1). */
export function isCompiler(path: string): boolean {
  return /(?:^|\/)(?:nvcc|cc1|cc1plus|gcc(?:-[0-9.]+)?|x86_64-linux-gnu-gcc(?:-[0-9.]+)?)$/.test(path);
}
