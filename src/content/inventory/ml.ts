/**
 * What ML teams ask first: which CUDA toolkit, cuDNN and NCCL, and which PyTorch / TensorFlow /
 * JAX built for which CUDA. Parsers of the files those projects install:
 * - CUDA: version.json (CUDA >= 11.1: {"cuda": {"version": "12.1.1"}, ...}) or version.txt
 *   ("CUDA Version 10.2.89") in the toolkit directory;
 * - cuDNN: cudnn_version.h (cuDNN >= 8) or cudnn.h: CUDNN_MAJOR / CUDNN_MINOR / CUDNN_PATCHLEVEL;
 * - NCCL: nccl.h (NCCL_MAJOR / NCCL_MINOR / NCCL_PATCH) or the name libnccl.so.X.Y.Z;
 * - PyTorch: torch/version.py (`__version__ = '2.1.0+cu121'`, `cuda = '12.1'`);
 * - TensorFlow: tensorflow/python/platform/build_info.py (`'cuda_version': '12.2'`, `'cudnn_version': '8'`);
 * - JAX: jaxlib/version.py (`_version = "0.4.20"`), CUDA from jaxlib's local version or plugin names.
 * Pure.
 */
export function parseCudaVersionJson(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { cuda?: { version?: unknown } };
    return typeof v?.cuda?.version === 'string' ? v.cuda.version : undefined;
  } catch {
    return undefined;
  }
}

export function parseCudaVersionTxt(text: string): string | undefined {
  return /CUDA Version\s+([0-9]+(?:\.[0-9]+)*)/.exec(text)?.[1];
}

function define(text: string, name: string): string | undefined {
  return new RegExp(`^\\s*#\\s*define\\s+${name}\\s+([0-9]+)\\b`, 'm').exec(text)?.[1];
}

export function parseCudnnHeader(text: string): string | undefined {
  const major = define(text, 'CUDNN_MAJOR');
  const minor = define(text, 'CUDNN_MINOR');
  const patch = define(text, 'CUDNN_PATCHLEVEL');
  return major && minor ? [major, minor, patch ?? '0'].join('.') : undefined;
}

export function parseNcclHeader(text: string): string | undefined {
  const major = define(text, 'NCCL_MAJOR');
  const minor = define(text, 'NCCL_MINOR');
  const patch = define(text, 'NCCL_PATCH');
  return major && minor ? [major, minor, patch ?? '0'].join('.') : undefined;
}

/** X.Y.Z from a versioned library file name, e.g. libnccl.so.2.18.3 -> 2.18.3 */
export function versionFromSoname(base: string, lib: string): string | undefined {
  const m = new RegExp(`^${lib.replace(/[.]/g, '\\.')}\\.so\\.([0-9]+\\.[0-9]+\\.[0-9]+(?:\\.[0-9]+)?)$`).exec(base);
  return m?.[1];
}

/** A Python string assignment `name = '...'` (optionally annotated: `cuda: Optional[str] = '12.1'`). */
function pyString(text: string, name: string): string | undefined {
  return new RegExp(`^${name}\\s*(?::[^=\\n]+)?=\\s*['"]([^'"\\n]+)['"]`, 'm').exec(text)?.[1];
}

export function parseTorchVersionPy(text: string): { version?: string; cuda?: string; hip?: string } {
  const out: { version?: string; cuda?: string; hip?: string } = {};
  const version = pyString(text, '__version__');
  const cuda = pyString(text, 'cuda');
  const hip = pyString(text, 'hip');
  if (version) out.version = version;
  if (cuda) out.cuda = cuda;
  if (hip) out.hip = hip;
  return out;
}

export function parseTensorflowBuildInfo(text: string): { cuda?: string; cudnn?: string } {
  const item = (key: string): string | undefined => new RegExp(`['"]${key}['"]\\s*[,:]\\s*['"]([^'"]+)['"]`).exec(text)?.[1];
  const out: { cuda?: string; cudnn?: string } = {};
  const cuda = item('cuda_version');
  const cudnn = item('cudnn_version');
  if (cuda) out.cuda = cuda;
  if (cudnn) out.cudnn = cudnn;
  return out;
}

export function parseJaxlibVersionPy(text: string): string | undefined {
  return pyString(text, '_version') ?? pyString(text, '__version__');
}

/** CUDA of a PEP 440 local version: 2.1.0+cu121 -> 12.1, 0.4.20+cuda12.cudnn89 -> 12 */
export function cudaFromLocalVersion(version: string): string | undefined {
  const local = version.split('+')[1];
  if (!local) return undefined;
  const cu = /(?:^|[.])cu([0-9]{2,3})(?:$|[.])/.exec(local);
  if (cu) return `${cu[1]!.slice(0, -1)}.${cu[1]!.slice(-1)}`;
  const cuda = /(?:^|[.])cuda([0-9]+(?:[._][0-9]+)?)/.exec(local);
  return cuda ? cuda[1]!.replace('_', '.') : undefined;
}
