/**
 * The JSON Schema of the config file, for `wharf config schema` and editors (yaml-language-server:
 * `# yaml-language-server: $schema=wharf.schema.json`). It is ConfigSchema as plain JSON: TypeBox's
 * symbol keys and the loader's annotations are dropped, and `required` lists only what a file must
 * spell out: not keys with a default or a derived default, nor sections made only of those (the
 * loaded Config always has them).
 */
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema, DerivedKind } from './schema.js';
import { propertiesOf } from './schema-nav.js';

export const CONFIG_SCHEMA_DIALECT = 'http://json-schema.org/draft-07/schema#';

export function configJsonSchema(): Record<string, unknown> {
  return { $schema: CONFIG_SCHEMA_DIALECT, ...(toJson(ConfigSchema) as Record<string, unknown>) };
}

function toJson(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJson);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  // Object.entries skips symbol keys: TypeBox's [Kind], [OptionalKind] and ours.
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'function') continue;
    out[key] = toJson(value);
  }
  const properties = (node as { properties?: Record<string | symbol, unknown> }).properties;
  if (Array.isArray(out.required) && properties !== undefined) {
    const required = (out.required as string[]).filter((key) => {
      const child = properties[key] as TSchema | undefined;
      return child !== undefined && requiredInFile(child);
    });
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  return out;
}

/** Whether a (non-optional) key must appear in the file: no default, not derived, and, for a section, something inside is required. */
function requiredInFile(schema: TSchema): boolean {
  if (schema.default !== undefined || DerivedKind in schema) return false;
  const properties = propertiesOf(schema);
  if (properties === undefined) return true;
  const required = new Set<string>((schema as { required?: string[] }).required ?? []);
  return Object.entries(properties).some(([key, child]) => required.has(key) && requiredInFile(child));
}
