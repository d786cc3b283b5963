// Test data: random files generated once (not timed), their sha256 computed once and cached
// next to them, so a re-run reuses them. Every file is distinct (its name is its identity), so
// pushing "a different file per repetition" defeats the registries' digest deduplication.
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const GEN_CHUNK = 16 << 20;

/** Returns { path, size, digest } for a random file `<id>-<size>.bin` in dir, generating it if needed. */
export function randomFile(dir, id, size) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${id}-${size}.bin`);
  const meta = `${path}.sha256`;
  if (existsSync(path) && existsSync(meta) && statSync(path).size === size) {
    return { path, size, digest: readFileSync(meta, 'utf8').trim() };
  }
  const t0 = performance.now();
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(GEN_CHUNK, size));
  try {
    for (let off = 0; off < size; ) {
      const n = Math.min(buf.length, size - off);
      const chunk = buf.subarray(0, n);
      randomFillSync(chunk);
      hash.update(chunk);
      for (let w = 0; w < n; ) w += writeSync(fd, chunk, w, n - w);
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  const digest = `sha256:${hash.digest('hex')}`;
  renameSync(tmp, path);
  writeFileSync(meta, `${digest}\n`);
  process.stderr.write(`  generated ${path} (${fmtBytes(size)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return { path, size, digest };
}

/** n distinct random in-memory blobs of `size` bytes: [{ body, digest }]. */
export function randomBlobs(n, size) {
  const all = Buffer.allocUnsafe(n * size);
  randomFillSync(all);
  return Array.from({ length: n }, (_, i) => {
    const body = all.subarray(i * size, (i + 1) * size);
    return { body, digest: sha256(body) };
  });
}

export function sha256(buf) {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

export function fmtBytes(n) {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(n % (1 << 30) ? 1 : 0)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(n % (1 << 20) ? 1 : 0)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} B`;
}
