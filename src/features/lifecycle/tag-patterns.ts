/**
 * A tag wildcard (ECR's tag patterns and immutability exclusions): `*` matches any run of
 * characters (also none), everything else itself; the whole tag must match. Linear in the tag per
 * `*`, no regular expression (so no pathological backtracking on hostile patterns).
 */
export function wildcardMatches(pattern: string, tag: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === tag;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!tag.startsWith(first) || tag.length < first.length + last.length || !tag.endsWith(last)) return false;
  let pos = first.length;
  const end = tag.length - last.length;
  for (const mid of parts.slice(1, -1)) {
    const i = tag.indexOf(mid, pos);
    if (i < 0 || i + mid.length > end) return false;
    pos = i + mid.length;
  }
  return true;
}
