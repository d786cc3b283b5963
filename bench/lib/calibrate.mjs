// A one-off measurement of the disk under the data directories: sequential write of `size`
// bytes in 4 MiB writes followed by one fsync, like a registry committing a pushed blob. Any
// push that fsyncs its blob (both Wharf and Distribution 2.8 do) is bounded by this figure.
import { randomFillSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export function diskWriteFsyncMBps(dir, size) {
  mkdirSync(dir, { recursive: true });
  execFileSync('sync');
  const path = join(dir, 'disk-calibration.bin');
  const buf = randomFillSync(Buffer.allocUnsafe(4 << 20));
  const t0 = performance.now();
  const fd = openSync(path, 'w');
  try {
    for (let off = 0; off < size; off += buf.length) {
      const n = Math.min(buf.length, size - off);
      for (let w = 0; w < n; ) w += writeSync(fd, buf, w, n - w);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const mbps = size / 1e6 / ((performance.now() - t0) / 1000);
  rmSync(path, { force: true });
  return mbps;
}
