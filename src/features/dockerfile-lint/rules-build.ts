import { cacheMount, type LintFinding, type LintRule } from './lint-context.js';
import { aptInstallsRecommends, dependencyInstall, isAptUpdate, pipInstallArgs, removesAptLists } from './package-commands.js';

/**
 * Rules about how the image is built: base images, package-manager caches, layer order.
 * The cache rules look only at the stages whose files are the final image's (the last stage
 * and the stages it is built FROM): a builder stage's caches reach the image only through an
 * explicit COPY --from, which the weights rule and the image analysis see.
 */

export const baseImageUnpinned: LintRule = {
  id: 'base-image-unpinned',
  severity: 'medium',
  title: 'base image without a tag, or tagged latest',
  why: 'latest moves: the same Dockerfile builds a different image tomorrow, and layers cached on nodes stop matching.',
  check(ctx) {
    const out: LintFinding[] = [];
    for (const stage of ctx.model.stages) {
      const b = stage.base;
      if (stage.parent !== undefined || b.unresolved || b.name.toLowerCase() === 'scratch' || b.digest !== undefined) continue;
      if (b.tag !== undefined && b.tag !== 'latest') continue;
      out.push(
        ctx.finding(this, stage, stage.from.line, stage.from.line, `FROM ${b.text}: ${b.tag === undefined ? 'no tag, so latest' : 'the latest tag'}, which moves`, `pin a version tag, and preferably its digest: FROM ${b.name}:<version>@sha256:<digest>`),
      );
    }
    return out;
  },
};

export const cudaDevelFinal: LintRule = {
  id: 'cuda-devel-final-stage',
  severity: 'high',
  title: 'the final image is built FROM a devel base',
  why: 'CUDA devel images carry nvcc, headers and static libraries: several GB that a runtime image never uses.',
  check(ctx) {
    const root = ctx.finalChain[0]!;
    const b = root.base;
    if (b.tag === undefined || !/(^|[-_.])devel([-_.]|$)/i.test(b.tag)) return [];
    const final = ctx.finalStage;
    const runtime = b.tag.replace(/devel/i, 'runtime');
    const fix =
      ctx.model.stages.length > 1
        ? `build in the devel stage, then start the final stage FROM ${b.name}:${runtime} and COPY --from the built artifacts`
        : `split the build: FROM ${b.name}:${b.tag} AS build for compiling, then FROM ${b.name}:${runtime} and COPY --from=build only what runs`;
    return [ctx.finding(this, final, final.from.line, final.from.line, `the final image is built FROM ${b.text}, a devel image (compilers and headers shipped to production)`, fix)];
  },
};

export const pipNoCacheDir: LintRule = {
  id: 'pip-no-cache-dir',
  severity: 'medium',
  title: 'pip install keeps its download cache in the image',
  why: "pip caches every wheel it downloads under ~/.cache/pip; for torch and CUDA wheels that is GBs left in the layer.",
  check(ctx) {
    const pipCacheMount = (t: string) => /(^|\/)\.cache(\/pip)?\/?$/.test(t) || /pip/.test(t);
    // pip's own configuration written earlier in the image turns the cache off too: a pip.conf
    // from a heredoc with `no-cache-dir = ...`, or `pip config set global.no-cache-dir ...`
    const conf = ctx.finalInstructions().find(({ ins }) => ins.heredocs.some((h) => /^[ \t]*no-cache-dir[ \t]*=/m.test(h.body)));
    const confLine = conf ? conf.ins.endLine : Number.POSITIVE_INFINITY;
    let configured = false;
    const out: LintFinding[] = [];
    for (const { cmd, stage, ins, line } of ctx.finalRunCommands()) {
      if (isPipConfigNoCache(cmd.words)) configured = true;
      const args = pipInstallArgs(cmd);
      if (args === undefined || configured || line > confLine || cacheMount(ins, pipCacheMount)) continue;
      if (args.includes('--no-cache-dir') || cmd.env.has('PIP_NO_CACHE_DIR') || ctx.envSetBefore(stage, ins.line, 'PIP_NO_CACHE_DIR')) continue;
      out.push(ctx.finding(this, stage, line, ins.endLine, `${cmd.words.slice(0, 4).join(' ').slice(0, 80)} without --no-cache-dir leaves pip's cache in the layer`, 'add --no-cache-dir, or set ENV PIP_NO_CACHE_DIR=1 in the stage, or use RUN --mount=type=cache,target=/root/.cache/pip'));
    }
    return out;
  },
};

export const aptNoInstallRecommends: LintRule = {
  id: 'apt-no-install-recommends',
  severity: 'low',
  title: 'apt-get install pulls in recommended packages',
  why: 'Recommended packages are not needed to run and often double what apt installs (docs, X11 libraries, extra tools).',
  check(ctx) {
    return ctx
      .finalRunCommands()
      .filter(({ cmd }) => aptInstallsRecommends(cmd))
      .map(({ cmd, stage, ins, line }) => ctx.finding(this, stage, line, ins.endLine, `${cmd.words[0]} install without --no-install-recommends`, `${cmd.words[0]} install -y --no-install-recommends ...`));
  },
};

export const aptListsNotRemoved: LintRule = {
  id: 'apt-lists-not-removed',
  severity: 'medium',
  title: 'apt-get update without removing /var/lib/apt/lists in the same RUN',
  why: 'The package lists (tens of MB) stay in the layer; removing them in a later RUN only hides them.',
  check(ctx) {
    const out: LintFinding[] = [];
    for (const { stage, ins } of ctx.finalInstructions()) {
      if (ins.keyword !== 'RUN' || cacheMount(ins, (t) => t.startsWith('/var/lib/apt'))) continue;
      const cmds = ctx.runCommands(ins);
      const update = cmds.find((c) => isAptUpdate(c.cmd));
      if (!update || cmds.some((c) => removesAptLists(c.cmd))) continue;
      out.push(ctx.finding(this, stage, update.line, ins.endLine, `${update.cmd.words[0]} update in a RUN that does not remove /var/lib/apt/lists`, 'end the same RUN with && rm -rf /var/lib/apt/lists/* (or mount a cache: RUN --mount=type=cache,target=/var/lib/apt/lists)'));
    }
    return out;
  },
};

export const copyContextBeforeInstall: LintRule = {
  id: 'copy-context-before-install',
  severity: 'medium',
  title: 'the whole build context is copied before dependencies are installed',
  why: 'Any source change invalidates the COPY and so re-runs the dependency install and re-pushes its layer (often GBs).',
  check(ctx) {
    const out: LintFinding[] = [];
    for (const stage of ctx.model.stages) {
      const copy = stage.instructions.find((ins) => (ins.keyword === 'COPY' || ins.keyword === 'ADD') && !ins.flags.some((f) => f.name === 'from') && copiesWholeContext(ins.execForm ?? ins.args.split(/\s+/)));
      if (!copy) continue;
      for (const ins of stage.instructions) {
        if (ins.line <= copy.line || ins.keyword !== 'RUN') continue;
        const install = ctx.runCommands(ins).map((c) => ({ c, what: dependencyInstall(c.cmd) })).find((x) => x.what !== undefined);
        if (!install) continue;
        out.push(
          ctx.finding(this, stage, copy.line, copy.endLine, `${copy.keyword} of the whole context before ${install.what} (line ${install.c.line}): every source change re-installs the dependencies`, 'copy the dependency files first (COPY requirements.txt .), install, then COPY . . (install the project itself with pip install --no-deps .)'),
        );
        break;
      }
    }
    return out;
  },
};

/** `pip config set global.no-cache-dir true` (any value: pip disables the cache for all of them) */
function isPipConfigNoCache(words: string[]): boolean {
  const i = words.indexOf('config');
  return i > 0 && /(^|\/)pip[0-9.]*$|^-m(pip)?$/.test(words[i - 1] ?? '') && words[i + 1] === 'set' && /^(global|install)\.no-cache-dir$/.test(words[i + 2] ?? '');
}

/** `COPY . .`, `COPY ./ /app`, `ADD . /src` (sources are every word but the last) */
function copiesWholeContext(words: string[]): boolean {
  const sources = words.filter((w) => w !== '').slice(0, -1);
  return sources.some((s) => s === '.' || s === './' || s === '*' || s === './*');
}
