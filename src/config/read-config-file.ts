/**
 * The YAML config file -> a config layer, recording file:line:column for every key so that
 * problems point at the line to fix. Hostile or broken input is reported, never thrown raw:
 * files over MAX_CONFIG_FILE_BYTES are refused before parsing, alias expansion is capped
 * (the "billion laughs" document), and syntax errors, duplicate keys, several documents in one
 * file, unknown tags and a top level that is not a mapping are all problems.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Node as YamlNode, type YAMLError } from 'yaml';
import { emptyLayer, isPlainObject, pointerOf, type ConfigLayer, type ConfigSource } from './config-layer.js';

export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** Alias expansions allowed while building the value (the `yaml` package's default, made explicit). */
export const MAX_YAML_ALIAS_COUNT = 100;

export function readConfigFile(file: string, cwd: string): ConfigLayer {
  const absolute = resolve(cwd, file);
  const fileSource = (line?: number, col?: number): ConfigSource => ({
    kind: 'file',
    label: line === undefined ? `file ${file}` : `file ${file}:${line}:${col}`,
    // Relative paths in a config file are relative to the file, so the file works wherever
    // `wharf` is started from (and the same file can be used by `serve` and `fsck`).
    baseDir: dirname(absolute),
  });
  const layer = emptyLayer(fileSource());
  const fail = (message: string, line?: number, col?: number): ConfigLayer => {
    layer.problems.push({ path: '', message, source: fileSource(line, col).label });
    return layer;
  };

  let bytes: Buffer;
  try {
    bytes = readBounded(absolute, MAX_CONFIG_FILE_BYTES);
  } catch (err) {
    if (err instanceof TooLarge) return fail(`config file is larger than ${MAX_CONFIG_FILE_BYTES} bytes; refusing to read it`);
    const e = err as NodeJS.ErrnoException;
    return fail(`cannot read config file: ${e.code ?? e.message}${e.code === 'ENOENT' ? ' (no such file)' : ''}`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('config file is not valid UTF-8');
  }

  const lineCounter = new LineCounter();
  let value: unknown;
  try {
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const issues: YAMLError[] = [...doc.errors, ...doc.warnings];
    if (issues.length > 0) {
      for (const issue of issues) {
        const { line, col } = lineCounter.linePos(issue.pos[0]);
        layer.problems.push({ path: '', message: `YAML: ${firstLine(issue.message)}`, source: fileSource(line, col).label });
      }
      return layer;
    }
    try {
      value = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
    } catch (err) {
      if (err instanceof ReferenceError && /alias/i.test(err.message)) {
        return fail(`YAML aliases expand too much (more than ${MAX_YAML_ALIAS_COUNT} alias uses); refusing the document`);
      }
      throw err;
    }
    if (value === null || value === undefined) return layer; // empty file or only comments
    if (!isPlainObject(value)) return fail(`the top level must be a mapping of keys to values, got ${describeTopLevel(value)}`);
    layer.value = value;
    recordPositions(doc.contents, [], layer, lineCounter, fileSource);
  } catch (err) {
    // e.g. a stack overflow on absurd nesting: still a configuration problem, not a crash.
    return fail(`cannot parse config file: ${(err as Error).message}`);
  }
  return layer;
}

class TooLarge extends Error {}

/** Reads at most `limit` bytes, also from pipes and devices whose size stat cannot tell. */
function readBounded(path: string, limit: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (stat.size > limit) throw new TooLarge();
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > limit) throw new TooLarge();
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function describeTopLevel(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** Records the position of each mapping key; values inside an alias take the alias's position. */
function recordPositions(
  node: unknown,
  path: readonly string[],
  layer: ConfigLayer,
  lineCounter: LineCounter,
  fileSource: (line: number, col: number) => ConfigSource,
): void {
  if (!isMap(node)) return;
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const at = (pair.key as YamlNode | null)?.range?.[0];
    const segments = [...path, key];
    if (at !== undefined) {
      const { line, col } = lineCounter.linePos(at);
      layer.sources.set(pointerOf(segments), fileSource(line, col));
    }
    recordPositions(pair.value, segments, layer, lineCounter, fileSource);
  }
}
