/**
 * Command-line flags -> a config layer. Flags arrive as an object keyed by config key, dotted
 * (`{ 'log.level': 'debug' }`), nested (`{ log: { level: 'debug' } }`) or both. Undefined values
 * are skipped (an option the user did not give); string values are coerced to the key's type as
 * for env vars, since that is what an option parser hands over. Unknown keys are reported here,
 * with the flag that carried them.
 */
import type { TSchema } from '@sinclair/typebox';
import { emptyLayer, isPlainObject, pointerOf, setIn, type ConfigLayer, type ConfigSource } from './config-layer.js';
import { coerceString, didYouMean, propertiesOf, schemaAt } from './schema-nav.js';

export function flagLayer(schema: TSchema, flags: Readonly<Record<string, unknown>>, cwd: string): ConfigLayer {
  const layer = emptyLayer({ kind: 'flag', label: 'flag', baseDir: cwd });

  const visit = (entries: Readonly<Record<string, unknown>>, prefix: readonly string[]): void => {
    for (const [key, value] of Object.entries(entries)) {
      if (value === undefined) continue;
      const segments = [...prefix, ...key.split('.')];
      const name = segments.join('.');
      const source: ConfigSource = { kind: 'flag', label: `flag ${name}`, baseDir: cwd };
      const target = schemaAt(schema, segments);
      if (target === undefined) {
        layer.problems.push({ path: pointerOf(segments), message: unknownKeyMessage(schema, segments), source: source.label });
        continue;
      }
      if (isPlainObject(value) && propertiesOf(target) !== undefined) {
        visit(value, segments);
        continue;
      }
      setIn(layer, segments, typeof value === 'string' ? coerceString(target, value) : value, source);
    }
  };
  visit(flags, []);
  return layer;
}

function unknownKeyMessage(schema: TSchema, segments: readonly string[]): string {
  // Name the first segment that does not exist, and what it may have meant.
  for (let i = 0; i < segments.length; i++) {
    const properties = propertiesOf(schemaAt(schema, segments.slice(0, i)));
    const key = segments[i]!;
    if (properties === undefined) return `unknown key "${segments.join('.')}": ${segments.slice(0, i).join('.')} is not a section`;
    if (!Object.hasOwn(properties, key)) {
      const suggestion = didYouMean(key, Object.keys(properties));
      return `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
    }
  }
  return `unknown key "${segments.join('.')}"`;
}
