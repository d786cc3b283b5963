import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { WharfError } from '../../errors/wharf-error.js';

/**
 * A Dockerfile read into what the lint rules need: stages with their base image, instructions
 * with 1-based line numbers, RUN shell text with continuations joined and comment lines dropped
 * (as BuildKit does), heredoc bodies, ARG/ENV properties, flags and exec-form arguments.
 * The structure comes from dockerfile-ast (the parser behind the VS Code Docker extension);
 * this file only adapts it. Bad input — binary data, an empty file, a file over the size limit,
 * no FROM, an unterminated heredoc — is a WharfError('REQUEST_INVALID') with the line.
 */

/** dockerfile-ast's parse time grows faster than linearly with instruction length (a 1 MiB RUN takes ~8 s): bound it. */
export const MAX_DOCKERFILE_BYTES = 512 * 1024;

export interface DockerFlag {
  name: string;
  value: string | null;
  options: Map<string, string | null>;
}

export interface Heredoc {
  name: string;
  body: string;
  /** 1-based line of the body's first line */
  line: number;
}

export interface Property {
  name: string;
  value: string | null;
  line: number;
}

export interface DockerInstruction {
  keyword: string;
  /** 1-based first and last line */
  line: number;
  endLine: number;
  /** arguments after the flags, continuations joined, comment lines dropped, heredoc bodies left out */
  args: string;
  flags: DockerFlag[];
  /** the arguments as a JSON array of strings (exec form), when they are one */
  execForm?: string[];
  heredocs: Heredoc[];
  /** ARG and ENV name/value pairs */
  properties: Property[];
  /** the physical source lines, [line..endLine] */
  source: string[];
}

export interface ImageRef {
  /** as written after FROM, with global ARG defaults substituted (a variable without one stays as written) */
  text: string;
  name: string;
  tag?: string;
  digest?: string;
  /** true when a variable could not be resolved */
  unresolved: boolean;
}

export interface Stage {
  index: number;
  /** the name after AS (lower case, as BuildKit matches it) */
  name?: string;
  from: DockerInstruction;
  /** an external image, or scratch */
  base: ImageRef;
  /** the index of the earlier stage this one is built FROM, if any */
  parent?: number;
  instructions: DockerInstruction[];
}

export interface DockerfileModel {
  stages: Stage[];
  /** ARGs before the first FROM */
  globalArgs: DockerInstruction[];
  escape: string;
}

export function parseDockerfile(input: Buffer | string): DockerfileModel {
  const text = decodeText(input);
  if (text.trim() === '') throw new WharfError('REQUEST_INVALID', 'the Dockerfile is empty');
  const lines = text.split('\n');
  const df = DockerfileParser.parse(text);
  const escape = df.getEscapeCharacter();
  const stages: Stage[] = [];
  const byName = new Map<string, Stage>();
  const globalArgs: DockerInstruction[] = [];
  let globals: Map<string, string | null> | undefined;
  for (const raw of df.getInstructions()) {
    const ins = adapt(raw, lines, escape);
    if (ins.keyword === 'FROM') {
      // the ARGs before the first FROM are all a FROM can see
      globals ??= new Map(globalArgs.flatMap((a) => a.properties.map((p) => [p.name, p.value] as const)));
      const stage = newStage(ins, stages, byName, globals);
      stages.push(stage);
      // BuildKit refuses a repeated name; the first one is the one a FROM can mean
      if (stage.name !== undefined && !byName.has(stage.name)) byName.set(stage.name, stage);
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new WharfError('REQUEST_INVALID', `line ${ins.line}: ${ins.keyword} before the first FROM (only ARG may come before it)`);
      globalArgs.push(ins);
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new WharfError('REQUEST_INVALID', 'no FROM instruction: not a Dockerfile');
  return { stages, globalArgs, escape };
}

/** UTF-8 text without BOM and with LF line ends; binary data and oversized files are refused. */
function decodeText(input: Buffer | string): string {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (bytes.length > MAX_DOCKERFILE_BYTES) {
    throw new WharfError('REQUEST_INVALID', `the Dockerfile is ${bytes.length} bytes, over the ${MAX_DOCKERFILE_BYTES}-byte limit`);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new WharfError('REQUEST_INVALID', `not a text file: a NUL byte at offset ${nul}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new WharfError('REQUEST_INVALID', 'not a text file: the bytes are not valid UTF-8');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text.replace(/\r\n/g, '\n');
}

function adapt(raw: Instruction, lines: string[], escape: string): DockerInstruction {
  const range = raw.getRange();
  const keyword = raw.getKeyword().toUpperCase();
  const line = range.start.line;
  let endLine = range.end.line;
  const anyRaw = raw as unknown as {
    getFlags?: () => { getName(): string; getValue(): string | null; getOptions(): { getName(): string; getValue(): string | null }[] }[];
    getHeredocs?: () => { getName(): string; getContentRange(): Range | null; getDelimiterRange(): Range | null }[];
    getProperties?: () => { getName(): string; getValue(): string | null; getRange(): Range }[];
  };
  const flags: DockerFlag[] = (anyRaw.getFlags?.() ?? []).map((f) => ({
    name: f.getName().toLowerCase(),
    value: f.getValue(),
    options: new Map(f.getOptions().map((o) => [o.getName().toLowerCase(), o.getValue()])),
  }));
  const heredocs: Heredoc[] = [];
  for (const h of anyRaw.getHeredocs?.() ?? []) {
    if (h.getDelimiterRange() === null) {
      throw new WharfError('REQUEST_INVALID', `line ${line + 1}: heredoc <<${h.getName()} is never closed (no line "${h.getName()}" follows)`);
    }
    const content = h.getContentRange();
    const delimiter = h.getDelimiterRange()!;
    const body = content === null ? '' : lines.slice(content.start.line, content.end.line + 1).join('\n');
    heredocs.push({ name: h.getName(), body, line: (content?.start.line ?? delimiter.start.line) + 1 });
    endLine = Math.max(endLine, delimiter.end.line);
  }
  const argsRange = raw.getArgumentsRange();
  let args = '';
  if (argsRange !== null) {
    // heredoc bodies are not arguments: stop at the first one
    const lastArgLine = heredocs.length > 0 ? heredocs[0]!.line - 2 : argsRange.end.line;
    const physical: string[] = [];
    for (let l = argsRange.start.line; l <= Math.min(lastArgLine, argsRange.end.line); l++) {
      let s = lines[l] ?? '';
      if (l === argsRange.start.line) s = s.slice(argsRange.start.character);
      if (l === argsRange.end.line && l <= lastArgLine) s = s.slice(0, argsRange.end.character - (l === argsRange.start.line ? argsRange.start.character : 0));
      physical.push(s);
    }
    args = joinContinuations(physical, escape);
  }
  const properties: Property[] = (anyRaw.getProperties?.() ?? []).map((p) => ({ name: p.getName(), value: p.getValue(), line: p.getRange().start.line + 1 }));
  const ins: DockerInstruction = {
    keyword,
    line: line + 1,
    endLine: endLine + 1,
    args,
    flags,
    heredocs,
    properties,
    source: lines.slice(line, endLine + 1),
  };
  const exec = execForm(args);
  if (exec) ins.execForm = exec;
  return ins;
}

interface Range {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

/** Physical lines of one instruction as one logical line: `\`-newline joins, comment and blank lines inside are dropped. */
export function joinContinuations(physical: string[], escape: string): string {
  let out = '';
  for (let i = 0; i < physical.length; i++) {
    const s = physical[i]!;
    if (i > 0 && (/^\s*#/.test(s) || s.trim() === '')) continue;
    const trimmed = s.trimEnd(); // not /\s+$/: quadratic on a long run of blanks mid-line
    if (trimmed.endsWith(escape)) out += trimmed.slice(0, -1);
    else out += s + (i < physical.length - 1 ? '\n' : '');
  }
  return out.trim();
}

function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // not JSON: BuildKit runs it in shell form
  }
  return undefined;
}

function newStage(from: DockerInstruction, stages: Stage[], byName: Map<string, Stage>, globals: Map<string, string | null>): Stage {
  const words = from.args.split(/\s+/).filter((w) => w !== '');
  const imageText = words[0] ?? '';
  const asIndex = words.findIndex((w) => w.toLowerCase() === 'as');
  const name = asIndex > 0 ? words[asIndex + 1]?.toLowerCase() : undefined;
  const base = parseImageRef(substitute(imageText, globals));
  const stage: Stage = { index: stages.length, from, base, instructions: [] };
  if (name !== undefined) stage.name = name;
  let parent = byName.get(base.text.toLowerCase());
  if (!parent && base.unresolved) {
    // FROM base-${TARGETARCH} (NVIDIA's CUDA images): a variable set per platform picks one of
    // several stages; they share their ancestry, so the first stage whose name fits stands for them
    const literal = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(`^${imageText.split(VARIABLE).map((t) => literal(t.toLowerCase())).join('[a-z0-9_.-]*')}$`);
    parent = stages.find((s) => s.name !== undefined && pattern.test(s.name));
  }
  if (parent) stage.parent = parent.index;
  return stage;
}

const VARIABLE = /\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-[^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*/;

/** `${VAR}`, `${VAR:-default}` and `$VAR` from the ARGs before the first FROM (the only ones FROM sees). */
function substitute(text: string, values: Map<string, string | null>): { text: string; unresolved: boolean } {
  let unresolved = false;
  const out = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m: string, braced: string | undefined, def: string | undefined, bare: string | undefined) => {
    const v = values.get((braced ?? bare)!);
    if (v !== undefined && v !== null && v !== '') return v;
    if (def !== undefined) return def;
    unresolved = true;
    return m; // kept as written, for messages
  });
  return { text: out, unresolved };
}

/** name[:tag][@digest]; a colon before the last slash belongs to a registry port. */
export function parseImageRef(input: { text: string; unresolved: boolean }): ImageRef {
  let rest = input.text;
  const ref: ImageRef = { text: input.text, name: rest, unresolved: input.unresolved };
  const at = rest.indexOf('@');
  if (at >= 0) {
    ref.digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    ref.tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  ref.name = rest;
  return ref;
}
