import type { DockerfileModel, DockerInstruction, Stage } from './dockerfile-model.js';
import { shellCommands, type ShellCommand } from './shell-commands.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low';
export const SEVERITIES: Severity[] = ['critical', 'high', 'medium', 'low'];

export interface LintFinding {
  rule: string;
  severity: Severity;
  /** 1-based; `line` is where the problem is (the command inside a multi-line RUN when it can be told) */
  line: number;
  endLine: number;
  /** the stage's name, or its index as a string */
  stage: string;
  message: string;
  fix: string;
  /** set by --image: the pushed image shows what this finding costs */
  confirmed?: { bytes: number; evidence: string };
}

export interface LintRule {
  id: string;
  severity: Severity;
  title: string;
  /** why it matters, for SARIF's help text and the docs */
  why: string;
  check(ctx: LintContext): LintFinding[];
}

export interface RunCommand {
  cmd: ShellCommand;
  /** 1-based line of the Dockerfile */
  line: number;
}

/** The model plus what several rules ask: which stages end up in the image, RUN commands, env. */
export class LintContext {
  readonly model: DockerfileModel;
  /** the final stage and the stages it is built FROM: their files are the image's */
  readonly finalChain: Stage[];
  private readonly commands = new Map<DockerInstruction, RunCommand[]>();
  private readonly envSetFrom = new Map<string, number[]>();

  constructor(model: DockerfileModel) {
    this.model = model;
    // a parent is always an earlier stage, so the walk ends
    const chain: Stage[] = [];
    for (let s: Stage | undefined = model.stages[model.stages.length - 1]; s !== undefined; s = s.parent === undefined ? undefined : model.stages[s.parent]) chain.push(s);
    this.finalChain = chain.reverse();
  }

  get finalStage(): Stage {
    return this.model.stages[this.model.stages.length - 1]!;
  }

  stageLabel(stage: Stage): string {
    return stage.name ?? String(stage.index);
  }

  /** instructions of the final image in order: the final chain's stages, oldest first */
  finalInstructions(): { stage: Stage; ins: DockerInstruction }[] {
    return this.finalChain.flatMap((stage) => stage.instructions.map((ins) => ({ stage, ins })));
  }

  /** every command of every RUN in the final image, in order (the cache rules' view) */
  finalRunCommands(): (RunCommand & { stage: Stage; ins: DockerInstruction })[] {
    return this.finalInstructions()
      .filter(({ ins }) => ins.keyword === 'RUN')
      .flatMap(({ stage, ins }) => this.runCommands(ins).map((c) => ({ ...c, stage, ins })));
  }

  /** A finding of `rule` (its severity unless another is given) in `stage`, from `line` to the end of `ins`. */
  finding(rule: { id: string; severity: Severity }, stage: Stage, line: number, endLine: number, message: string, fix: string, severity = rule.severity): LintFinding {
    return { rule: rule.id, severity, line, endLine, stage: this.stageLabel(stage), message, fix };
  }

  /** The shell commands a RUN runs: shell form, exec form, and heredoc bodies run by a shell. */
  runCommands(ins: DockerInstruction): RunCommand[] {
    const cached = this.commands.get(ins);
    if (cached) return cached;
    const out: RunCommand[] = [];
    if (ins.keyword === 'RUN') {
      if (ins.execForm) {
        const words = ins.execForm;
        const viaShell = words.length >= 3 && /(^|\/)(ba)?sh$/.test(words[0]!) && /^-[a-z]*c[a-z]*$/.test(words[1]!);
        const cmds = viaShell ? shellCommands(words[2]!) : [{ words, env: new Map<string, string>(), scriptLine: 0 }];
        for (const cmd of cmds) out.push({ cmd, line: ins.line });
      } else {
        const text = ins.source.join('\n');
        const starts = [0];
        for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
        // a program not found from some offset is not found from any later one: search once
        const missing = new Map<string, number>();
        let from = 0;
        for (const cmd of shellCommands(ins.args)) {
          const prog = cmd.words[0] ?? '';
          const gone = missing.get(prog);
          const at = gone !== undefined && gone <= from ? -1 : locate(text, prog, from);
          if (at < 0 && gone === undefined) missing.set(prog, from);
          if (at >= 0) from = at + prog.length;
          out.push({ cmd, line: ins.line + lineIndex(starts, at >= 0 ? at : from) });
        }
        // `RUN <<EOF` (or `RUN bash <<EOF`) hands the body to a shell; `RUN python3 <<EOF` does not
        const head = shellCommands(ins.args.replace(/<<-?\s*["']?\w+["']?/g, ''));
        const shellBody = head.length === 0 || /^(ba|da|z)?sh$/.test(head[0]!.words[0] ?? '');
        if (shellBody) for (const h of ins.heredocs) for (const cmd of shellCommands(h.body)) out.push({ cmd, line: h.line + cmd.scriptLine });
      }
    }
    this.commands.set(ins, out);
    return out;
  }

  /** ENV or ARG `name` with a non-empty value, set in `stage` before `line` or in a stage it is built FROM */
  envSetBefore(stage: Stage, line: number, name: string): boolean {
    let table = this.envSetFrom.get(name);
    if (!table) {
      // per stage (parents come first): the line from which `name` is set; -Infinity when inherited
      table = [];
      for (const s of this.model.stages) {
        let from = s.parent !== undefined && table[s.parent]! < Number.POSITIVE_INFINITY ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
        if (from === Number.POSITIVE_INFINITY) {
          const ins = s.instructions.find((i) => (i.keyword === 'ENV' || i.keyword === 'ARG') && i.properties.some((p) => p.name === name && p.value !== null && p.value !== ''));
          if (ins) from = ins.line;
        }
        table.push(from);
      }
      this.envSetFrom.set(name, table);
    }
    return table[stage.index]! < line;
  }
}

/**
 * Where a command starts inside a multi-line RUN, as a character offset into its source lines
 * joined by newlines: the next occurrence of its program as a whole word at or after `from`
 * (-1 when there is none, e.g. a program spelled through a variable).
 * Commands come in order, so each search goes on after the previous command's program.
 */
function locate(text: string, prog: string, from: number): number {
  if (prog === '') return from;
  const word = new RegExp(`(?:^|[\\s;&|(\`"'])(${prog.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})(?=$|[\\s;&|)"'])`, 'gm');
  word.lastIndex = from;
  const m = word.exec(text);
  return m ? m.index + m[0].length - m[1]!.length : -1;
}

/** the index of the line holding `offset`, from the offsets where lines start */
function lineIndex(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A `RUN --mount=type=cache` whose target passes `accept` (the cached files stay out of the layer). */
export function cacheMount(ins: DockerInstruction, accept: (target: string) => boolean): boolean {
  return ins.flags.some((f) => {
    if (f.name !== 'mount' || f.options.get('type') !== 'cache') return false;
    return accept(f.options.get('target') ?? f.options.get('dst') ?? f.options.get('destination') ?? '');
  });
}
