/**
 * Stanzas of `Field: value` lines, as dpkg's status database (deb822(5)) and Python's core
 * metadata (email headers) write them: a line starting with a space or tab continues the previous
 * field; a blank line ends a stanza. Pure.
 */
export type Stanza = Map<string, string>;

/** Every stanza of `text`; field names are kept as written (lookups use `field`). */
export function parseStanzas(text: string, options: { firstOnly?: boolean } = {}): Stanza[] {
  const out: Stanza[] = [];
  let current: Stanza = new Map();
  let last: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') {
      if (current.size > 0) {
        out.push(current);
        if (options.firstOnly) return out;
        current = new Map();
      }
      last = undefined;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && last !== undefined) {
      current.set(last, `${current.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // not a field: ignored, as dpkg would refuse it but a scanner should not
    last = line.slice(0, colon).trim().toLowerCase();
    if (!current.has(last)) current.set(last, line.slice(colon + 1).trim());
  }
  if (current.size > 0) out.push(current);
  return out;
}
