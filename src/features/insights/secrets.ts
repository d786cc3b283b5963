/**
 * Secrets left in a layer (also in one a later layer deletes: the bytes are still pulled). Two
 * ways to notice one: the path (an `.env` file, `.aws/credentials`, an SSH private key, a docker
 * or kube config, `.netrc`, `.git-credentials`, a Hugging Face token file) and, for small files
 * outside libraries and documentation, the first bytes (a PEM private key, an AWS access key id,
 * a GCP service-account key, GitHub / Hugging Face / Slack / npm tokens). Only the kind and the
 * path are ever reported — the matched text is neither returned nor kept.
 */
export type SecretKind =
  | 'private-key'
  | 'aws-credentials'
  | 'gcp-service-account-key'
  | 'env-file'
  | 'docker-config'
  | 'kube-config'
  | 'netrc'
  | 'git-credentials'
  | 'github-token'
  | 'huggingface-token'
  | 'slack-token'
  | 'npm-token'
  | 'pypi-token';

const ENV_FILE = /(?:^|\/)\.env(?:\.[A-Za-z0-9_-]+)?$/;
const ENV_EXAMPLE = /\.(?:example|sample|template|dist|defaults?)$/;

export function secretKindOfPath(path: string): SecretKind | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (ENV_FILE.test(path) && !ENV_EXAMPLE.test(base)) return 'env-file';
  if (/(?:^|\/)\.aws\/credentials$/.test(path)) return 'aws-credentials';
  if (/(?:^|\/)\.ssh\/id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?$/.test(path)) return 'private-key';
  if (/(?:^|\/)\.docker\/config\.json$/.test(path)) return 'docker-config';
  if (/(?:^|\/)\.kube\/config$/.test(path)) return 'kube-config';
  if (base === '.netrc') return 'netrc';
  if (base === '.git-credentials') return 'git-credentials';
  if (/(?:^|\/)huggingface\/token$/.test(path)) return 'huggingface-token';
  if (/(?:^|\/)gcloud\/application_default_credentials\.json$/.test(path)) return 'gcp-service-account-key';
  return undefined;
}

const CONTENT: [SecretKind, RegExp][] = [
  ['private-key', /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----/],
  ['aws-credentials', /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|aws_secret_access_key\s*[=:]\s*[A-Za-z0-9/+=]{40}/],
  ['gcp-service-account-key', /"type"\s*:\s*"service_account"[\s\S]{0,4000}"private_key"/],
  ['github-token', /\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b/],
  ['huggingface-token', /\bhf_[A-Za-z0-9]{30,}\b/],
  ['slack-token', /\bxox[baprs]-[A-Za-z0-9-]{10,}/],
  ['npm-token', /_authToken\s*=\s*[A-Za-z0-9._-]{20,}|\bnpm_[A-Za-z0-9]{36}\b/],
  ['pypi-token', /\bpypi-AgE[A-Za-z0-9_-]{50,}/],
];

/** One cheap pass first: most files hold none of these, and only those that do get the patterns above. */
const PREFILTER = /PRIVATE KEY|AKIA|ASIA|aws_secret_access_key|service_account|gh[pousr]_|github_pat_|hf_|xox[baprs]-|_authToken|npm_|pypi-AgE/;

/** Paths whose content is not sniffed: libraries' own test fixtures and docs would be noise. */
const NOT_SNIFFED = /(?:^|\/)(?:site-packages|dist-packages|node_modules)\/|^usr\/share\/|^usr\/include\/|\.(?:so(?:\.[0-9.]+)?|a|o|pyc|whl|gz|zip|xz|bz2|zst|tar|png|jpe?g|gif|mo|safetensors|bin|pt|pth|ckpt|gguf|onnx|h5|msgpack)$/;

/** The first `cap` bytes of a small file, matched once at the end. */
export class SecretSniffer {
  private readonly parts: Buffer[] = [];
  private held = 0;
  private readonly active: boolean;

  constructor(
    path: string,
    private readonly cap: number,
  ) {
    this.active = !NOT_SNIFFED.test(path);
  }

  write(chunk: Buffer): void {
    if (!this.active || this.held >= this.cap) return;
    const take = chunk.subarray(0, this.cap - this.held);
    this.parts.push(Buffer.from(take));
    this.held += take.length;
  }

  result(): SecretKind | undefined {
    if (!this.active || this.held === 0) return undefined;
    const text = Buffer.concat(this.parts).toString('latin1');
    if (!PREFILTER.test(text)) return undefined;
    for (const [kind, re] of CONTENT) if (re.test(text)) return kind;
    return undefined;
  }
}
