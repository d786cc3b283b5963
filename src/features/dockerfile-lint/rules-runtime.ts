import type { DockerInstruction, Stage } from './dockerfile-model.js';
import type { LintContext, LintFinding, LintRule, Severity } from './lint-context.js';
import { hubCallIn, isUrl, isWeightsPath, weightsDownload } from './package-commands.js';

/** Rules about what the image carries and how it runs: weights, remote sources, secrets, user, CMD form. */

/** COPY/ADD sources: every word but the last (the destination) */
function sources(ins: DockerInstruction): string[] {
  const words = ins.execForm ?? ins.args.split(/\s+/).filter((w) => w !== '');
  return words.slice(0, -1).filter((w) => !w.startsWith('<<'));
}

export const weightsInImage: LintRule = {
  id: 'model-weights-in-image',
  severity: 'high',
  title: 'model weights downloaded or copied at build time',
  why: 'Weights baked into a layer are pulled by every node on every cold start, and every retrain re-pushes the image.',
  check(ctx) {
    const out: LintFinding[] = [];
    const fix = 'keep weights out of the image: mount or download them at start (a volume, an init container, or a model registry), or push them as their own OCI artifact';
    for (const stage of ctx.model.stages) {
      for (const ins of stage.instructions) {
        if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
          const w = sources(ins).find(isWeightsPath);
          if (w) out.push(ctx.finding(this, stage, ins.line, ins.endLine, `${ins.keyword} of weights ${w.replace(/[?#].*$/, '')}`, fix));
          continue;
        }
        if (ins.keyword !== 'RUN') continue;
        const hits = ctx.runCommands(ins).map((c) => ({ line: c.line, what: weightsDownload(c.cmd) })).filter((h) => h.what !== undefined);
        if (hits.length === 0) {
          // a body run by python (RUN python3 <<EOF) is not shell: look for the hub calls in its text
          const call = ins.heredocs.map((h) => ({ h, call: hubCallIn(h.body) })).find((x) => x.call !== undefined);
          if (call) hits.push({ line: call.h.line, what: `${call.call}() in a heredoc script` });
        }
        for (const h of hits) out.push(ctx.finding(this, stage, h.line, ins.endLine, `weights downloaded at build time: ${h.what}`, fix));
      }
    }
    return out;
  },
};

export const addUrl: LintRule = {
  id: 'add-url',
  severity: 'medium',
  title: 'ADD of a URL without --checksum',
  why: 'ADD fetches the URL on every build without verifying what came back, and the file lands in its own layer even when it is an archive to unpack.',
  check(ctx) {
    const out: LintFinding[] = [];
    for (const stage of ctx.model.stages) {
      for (const ins of stage.instructions) {
        if (ins.keyword !== 'ADD' || ins.flags.some((f) => f.name === 'checksum')) continue;
        const url = sources(ins).find(isUrl);
        if (url) out.push(ctx.finding(this, stage, ins.line, ins.endLine, `ADD of ${url.replace(/[?#].*$/, '')} without --checksum`, 'add --checksum=sha256:<digest>, or RUN curl -fsSL <url> | sha256sum -c / tar in one RUN so only what is needed stays'));
      }
    }
    return out;
  },
};

/** Name parts that mark a secret; KEY only with a qualifier (GPG_KEY and KEYRING are public material). */
const SECRET_WORDS = new Set(['TOKEN', 'SECRET', 'PASSWORD', 'PASSWD', 'CREDENTIAL', 'CREDENTIALS', 'APIKEY']);
const KEY_QUALIFIERS = new Set(['API', 'ACCESS', 'SECRET', 'PRIVATE', 'AUTH', 'SIGNING', 'ENCRYPTION', 'MASTER', 'ACCOUNT', 'CLIENT']);

/** true for HF_TOKEN, AWS_SECRET_ACCESS_KEY, OPENAI_API_KEY, hfToken, DB_PASSWORD; false for TOKENIZERS_PARALLELISM, GPG_KEY, PWD, DB_PASSWORD_FILE */
export function isSecretName(name: string): boolean {
  const parts = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[_\-.]+/)
    .filter((p) => p !== '');
  // POSTGRES_PASSWORD_FILE, SECRETS_DIR: where a secret is, not the secret
  if (['FILE', 'PATH', 'DIR'].includes(parts[parts.length - 1] ?? '')) return false;
  return parts.some((p, i) => SECRET_WORDS.has(p) || (p === 'KEY' && i > 0 && KEY_QUALIFIERS.has(parts[i - 1]!)));
}

/** A value that is a file path (GOOGLE_APPLICATION_CREDENTIALS=/run/secrets/gcp.json) names where a secret is. */
function isPath(value: string): boolean {
  return /^(\/|\.\/|~\/)/.test(value);
}

/** a URL with a password in it (https://user:pass@host) */
function hasUrlCredentials(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i.test(value);
}

export const secretInBuild: LintRule = {
  id: 'secret-in-build',
  severity: 'critical',
  title: 'a secret in ARG or ENV',
  why: 'ENV values are stored in the image config and ARG values in its history: anyone who can pull the image can read them, deleting them later does not help.',
  check(ctx) {
    const out: LintFinding[] = [];
    const scan = (stage: Stage | undefined, ins: DockerInstruction) => {
      if (ins.keyword !== 'ARG' && ins.keyword !== 'ENV') return;
      for (const p of ins.properties) {
        const byName = isSecretName(p.name) && !(p.value !== null && isPath(p.value));
        const inUrl = p.value !== null && hasUrlCredentials(p.value);
        if (!byName && !inUrl) continue;
        const hasValue = p.value !== null && p.value !== '';
        if (ins.keyword === 'ENV' && !hasValue) continue;
        const severity: Severity = hasValue ? 'critical' : 'high';
        const what = inUrl && !byName ? `${ins.keyword} ${p.name} holds a URL with a password` : hasValue ? `${ins.keyword} ${p.name} sets a secret in the Dockerfile` : `ARG ${p.name} takes a secret as a build argument`;
        const where = ins.keyword === 'ENV' ? 'stored in the image config' : 'recorded in the image history of every RUN that uses it';
        out.push({ rule: this.id, severity, line: p.line, endLine: p.line, stage: stage ? ctx.stageLabel(stage) : 'global', message: `${what} (${where})`, fix: `pass it as a build secret: RUN --mount=type=secret,id=${p.name.toLowerCase()} ... and docker build --secret id=${p.name.toLowerCase()},env=${p.name}; give it at run time, not build time` });
      }
    };
    for (const ins of ctx.model.globalArgs) scan(undefined, ins);
    for (const stage of ctx.model.stages) for (const ins of stage.instructions) scan(stage, ins);
    return out;
  },
};

/** the last instruction with `keyword` in the final image (the final stage, then the stages it is built FROM) */
function lastInFinal(ctx: LintContext, keyword: string): { stage: Stage; ins: DockerInstruction } | undefined {
  return ctx
    .finalInstructions()
    .filter((x) => x.ins.keyword === keyword)
    .pop();
}

export const finalUserRoot: LintRule = {
  id: 'final-user-root',
  severity: 'medium',
  title: 'the final image runs as root (USER root)',
  why: 'A process running as root turns any escape from the application into root in the container, and on hosts without user namespaces close to root on the node.',
  check(ctx) {
    const last = lastInFinal(ctx, 'USER');
    if (!last) return [];
    const user = last.ins.args.split(':')[0]!.trim();
    if (user !== 'root' && user !== '0') return [];
    return [ctx.finding(this, last.stage, last.ins.line, last.ins.endLine, `the last USER of the final image is ${last.ins.args.trim()}`, 'create an unprivileged user (RUN useradd --uid 10001 --create-home app) and end with USER app (or USER 10001)')];
  },
};

export const finalUserMissing: LintRule = {
  id: 'final-user-missing',
  severity: 'low',
  title: 'the final image sets no USER',
  why: "Without USER the container runs as the base image's user, which is root for nvidia/cuda, pytorch, python and most ML bases.",
  check(ctx) {
    if (lastInFinal(ctx, 'USER')) return [];
    const final = ctx.finalStage;
    if (final.base.name.toLowerCase() === 'scratch' && final.parent === undefined) return [];
    return [ctx.finding(this, final, final.from.line, final.from.endLine, `no USER in the final image: it runs as the base image's user (root unless ${ctx.finalChain[0]!.base.text || 'the base image'} sets another)`, 'add USER with an unprivileged user at the end of the final stage')];
  },
};

export const shellFormCommand: LintRule = {
  id: 'shell-form-cmd',
  severity: 'low',
  title: 'CMD or ENTRYPOINT in shell form',
  why: 'Shell form runs the process under /bin/sh -c: the shell is PID 1 and does not forward SIGTERM, so the server is killed instead of draining on every rollout.',
  check(ctx) {
    const out: LintFinding[] = [];
    for (const keyword of ['ENTRYPOINT', 'CMD']) {
      const last = lastInFinal(ctx, keyword);
      if (!last || last.ins.execForm || last.ins.args === '') continue;
      const json = last.ins.args.startsWith('[') ? ' (it starts with [ but is not a JSON array of double-quoted strings)' : '';
      out.push(ctx.finding(this, last.stage, last.ins.line, last.ins.endLine, `${keyword} ${last.ins.args.slice(0, 60)} is in shell form${json}`, `${keyword} ${JSON.stringify(shellWords(last.ins.args))} (exec form; use exec in a wrapper script)`));
    }
    return out;
  },
};

function shellWords(args: string): string[] {
  return args.replace(/^\[|\]$/g, '').split(/[\s,]+/).map((w) => w.replace(/^['"]|['"]$/g, '')).filter((w) => w !== '');
}
