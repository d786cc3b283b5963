import { basename, type ShellCommand } from './shell-commands.js';

/**
 * What a shell command does, as far as the lint rules care: pip, apt, other package managers,
 * downloads. Each function looks at one command's words (see shell-commands.ts).
 */

/** The options and arguments of `pip install` (pip, pip3, pip3.11, python -m pip, python3 -mpip), or undefined. */
export function pipInstallArgs(cmd: ShellCommand): string[] | undefined {
  const w = cmd.words;
  const prog = basename(w[0] ?? '');
  let rest: string[] | undefined;
  if (/^pip(\d+(\.\d+)?)?$/.test(prog)) rest = w.slice(1);
  else if (/^python(\d+(\.\d+)?)?$/.test(prog)) {
    const m = w.findIndex((x, i) => i > 0 && (x === '-mpip' || (x === '-m' && w[i + 1] === 'pip')));
    if (m > 0) rest = w.slice(w[m] === '-mpip' ? m + 1 : m + 2);
  }
  if (rest === undefined) return undefined;
  const sub = rest.findIndex((x) => !x.startsWith('-'));
  // options before the subcommand (`pip --no-cache-dir install x`) are pip's too
  return sub >= 0 && rest[sub] === 'install' ? [...rest.slice(0, sub), ...rest.slice(sub + 1)] : undefined;
}

/** The apt-get / apt subcommand and the words after it (`apt-get -y install x` -> ['install', ['x']]). */
export function aptCommand(cmd: ShellCommand): { sub: string; args: string[]; options: string[] } | undefined {
  const w = cmd.words;
  const prog = basename(w[0] ?? '');
  if (prog !== 'apt-get' && prog !== 'apt') return undefined;
  const options: string[] = [];
  for (let i = 1; i < w.length; i++) {
    const x = w[i]!;
    if (x === '-o' || x === '-c' || x === '-t') {
      options.push(x, w[i + 1] ?? '');
      i++;
    } else if (x.startsWith('-')) options.push(x);
    else return { sub: x, args: w.slice(i + 1), options: [...options, ...w.slice(i + 1).filter((a) => a.startsWith('-'))] };
  }
  return undefined;
}

/** `apt-get install` that would pull in recommended packages. */
export function aptInstallsRecommends(cmd: ShellCommand): boolean {
  const apt = aptCommand(cmd);
  if (!apt || apt.sub !== 'install') return false;
  const o = apt.options;
  if (o.includes('--no-install-recommends')) return false;
  return !o.some((x) => /^APT::Install-Recommends=("?)(false|0|no|off)\1$/i.test(x) || /^-oAPT::Install-Recommends=(false|0)$/i.test(x));
}

export function isAptUpdate(cmd: ShellCommand): boolean {
  return aptCommand(cmd)?.sub === 'update';
}

/** `rm ... /var/lib/apt/lists...` */
export function removesAptLists(cmd: ShellCommand): boolean {
  return basename(cmd.words[0] ?? '') === 'rm' && cmd.words.slice(1).some((a) => a.replace(/\/+$/, '').startsWith('/var/lib/apt/lists'));
}

/**
 * A dependency installation whose cache a whole-context COPY before it would bust: pip (but not
 * `pip install --no-deps .`, which installs only the project itself), conda / mamba / micromamba,
 * npm / yarn / pnpm, poetry, uv, pipenv. Returns the command's name for messages.
 */
export function dependencyInstall(cmd: ShellCommand): string | undefined {
  const w = cmd.words;
  const prog = basename(w[0] ?? '');
  const pip = pipInstallArgs(cmd);
  if (pip) {
    const packages = pip.filter((a) => !a.startsWith('-'));
    const onlyProject = packages.length > 0 && packages.every((p) => p === '.' || p.startsWith('./') || p.startsWith('/'));
    if (onlyProject && pip.includes('--no-deps')) return undefined;
    return 'pip install';
  }
  const sub = w.slice(1).find((x) => !x.startsWith('-'));
  if (['conda', 'mamba', 'micromamba'].includes(prog)) {
    if (sub === 'install' || sub === 'create') return `${prog} ${sub}`;
    if (sub === 'env' && ['create', 'update'].includes(w[w.indexOf('env') + 1] ?? '')) return `${prog} env`;
  }
  if (['npm', 'pnpm'].includes(prog) && ['install', 'i', 'ci'].includes(sub ?? '')) return `${prog} ${sub}`;
  if (prog === 'yarn' && (sub === undefined || sub === 'install')) return 'yarn install';
  if (['poetry', 'pipenv'].includes(prog) && sub === 'install') return `${prog} install`;
  if (prog === 'uv' && (sub === 'sync' || (sub === 'pip' && w.includes('install')))) return `uv ${sub}`;
  return undefined;
}

/** File extensions of model weights and checkpoints (the categories of docs/insights.md). */
export const WEIGHT_EXTENSIONS = ['.safetensors', '.bin', '.pt', '.pth', '.ckpt', '.gguf', '.ggml', '.onnx', '.h5', '.msgpack', '.tflite', '.keras'];

/** true for a path, glob or URL that names a weights file (the query string of a URL is ignored). */
export function isWeightsPath(p: string): boolean {
  const path = p.replace(/[?#].*$/, '').toLowerCase();
  return WEIGHT_EXTENSIONS.some((e) => path.endsWith(e));
}

export function isUrl(s: string): boolean {
  return /^(https?|ftp):\/\//i.test(s) || /^git@[^:]+:/.test(s);
}

/** Python calls that fetch weights from a hub when run. */
const HUB_CALLS = /\b(snapshot_download|hf_hub_download|from_pretrained|torch\.hub\.load|torch\.hub\.download_url_to_file|load_state_dict_from_url)\s*\(/;

/** How a command downloads weights at build time, or undefined. */
export function weightsDownload(cmd: ShellCommand): string | undefined {
  const w = cmd.words;
  const prog = basename(w[0] ?? '');
  if ((prog === 'huggingface-cli' || prog === 'hf') && w[1] === 'download') return `${prog} download`;
  if (prog === 'git' && w.includes('lfs') && w.includes('pull')) return 'git lfs pull';
  if (prog === 'git' && w[1] === 'clone' && w.some((a) => /^https?:\/\/(www\.)?(huggingface\.co|hf\.co)\//.test(a))) return 'git clone of a Hugging Face repository';
  if (prog === 'wget' || prog === 'curl' || prog === 'aria2c') {
    const url = w.slice(1).find((a) => isUrl(a) && (isWeightsPath(a) || /^https?:\/\/(huggingface\.co|hf\.co)\/.+\/resolve\//.test(a)));
    if (url) return `${prog} of ${url.replace(/[?#].*$/, '')}`;
  }
  if (/^python(\d+(\.\d+)?)?$/.test(prog)) {
    const c = w.indexOf('-c');
    const code = c > 0 ? w[c + 1] : undefined;
    const call = code === undefined ? undefined : HUB_CALLS.exec(code);
    if (call) return `${call[1]}() in python -c`;
  }
  return undefined;
}

/** A hub download call in a script that is not shell (e.g. `RUN python3 <<EOF`). */
export function hubCallIn(text: string): string | undefined {
  return HUB_CALLS.exec(text)?.[1];
}
