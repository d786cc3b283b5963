import { parse, type ParseEntry } from 'shell-quote';

/**
 * The simple commands of a RUN's shell text, tokenized by shell-quote (quotes, escapes,
 * operators). Light, not a shell: lists (`&&`, `||`, `;`, `|`, `&`, newlines, subshells) are
 * split into commands; leading `VAR=value` assignments and wrappers (`sudo`, `env`, `exec`,
 * `then`, `do`, ...) are taken off; `sh -c '...'` / `bash -c "..."` is looked into. Variables
 * are kept as written (`$VAR`), never expanded. Control flow is not evaluated: a command inside
 * an `if` counts as run.
 */
export interface ShellCommand {
  /** the program and its arguments */
  words: string[];
  /** VAR=value assignments written before the command */
  env: Map<string, string>;
  /** 0-based line of the script the command starts on */
  scriptLine: number;
}

const WRAPPERS = new Set(['sudo', 'env', 'exec', 'time', 'nohup', 'then', 'do', 'else', 'elif', 'if', 'while', 'until', '!', 'command', 'xargs', 'eval']);
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash']);
const REDIRECTS = new Set(['>', '<', '>>', '>&', '<(']);
/** a hostile script must not recurse without bound through nested `sh -c` */
const MAX_NESTING = 4;

export function shellCommands(script: string, depth = 0): ShellCommand[] {
  const out: ShellCommand[] = [];
  // heredoc scripts keep their own line continuations; join them so a command is one line
  const lines = script.replace(/\\\r?\n/g, ' ').split('\n');
  lines.forEach((line, scriptLine) => {
    let entries: ParseEntry[];
    try {
      entries = parse(line, (key: string) => `$${key}`) as ParseEntry[];
    } catch {
      return; // shell-quote refuses some malformed quoting; such a line has no command we can read
    }
    let words: string[] = [];
    let skipNext = false;
    const flush = () => {
      if (words.length > 0) out.push(...unwrap(words, scriptLine, depth));
      words = [];
    };
    for (const e of entries) {
      if (typeof e === 'string') {
        if (skipNext) skipNext = false;
        else words.push(e);
      } else if ('comment' in e) {
        break;
      } else if (e.op === 'glob') {
        if (skipNext) skipNext = false;
        else words.push(e.pattern);
      } else if (REDIRECTS.has(e.op)) {
        skipNext = true;
      } else {
        flush();
      }
    }
    flush();
  });
  return out;
}

function unwrap(input: string[], scriptLine: number, depth: number): ShellCommand[] {
  const env = new Map<string, string>();
  let words = input;
  for (;;) {
    const first = words[0];
    if (first === undefined) return [];
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(first);
    if (assignment) {
      env.set(assignment[1]!, assignment[2]!);
      words = words.slice(1);
    } else if (WRAPPERS.has(first)) {
      words = words.slice(1);
      // options of sudo/env/xargs (e.g. `sudo -E`, `env -i`) go with the wrapper
      while (words[0]?.startsWith('-')) words = words.slice(1);
    } else break;
  }
  const program = basename(words[0]!);
  if (SHELLS.has(program) && depth < MAX_NESTING) {
    const c = words.findIndex((w, i) => i > 0 && /^-[a-z]*c[a-z]*$/.test(w));
    const script = c > 0 ? words[c + 1] : undefined;
    if (script !== undefined) return shellCommands(script, depth + 1).map((cmd) => ({ ...cmd, scriptLine, env: new Map([...env, ...cmd.env]) }));
  }
  return [{ words, env, scriptLine }];
}

export function basename(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1);
}
