/**
 * What insights keeps of one layer: every entry (path, kind, size, and for regular files the
 * SHA-256 of the content, taken in the same pass), the files the inventory reads (their content),
 * the package file lists of dpkg (`var/lib/dpkg/info/*.list`), the headers of safetensors files,
 * and where secrets were seen (path and kind, never the secret). A record depends on the layer's
 * bytes alone, so it is stored per layer digest and an image whose layers all have records is
 * analysed without reading a layer (analysis.ts replays the records).
 *
 * `LayerAccounting` builds the records as a LayerConsumer of a shared pass (content/layers). It
 * never throws: past `maxEntries` entries it stops keeping them and marks the record partial.
 */
import { createHash, type Hash } from 'node:crypto';
import type { EntrySink, LayerConsumer, LayerEntry, LayerSummary } from '../../content/layers/layer-reader.js';
import { wantPath } from '../../content/inventory/collector.js';
import { SafetensorsHeaderReader, type SafetensorsInfo } from './safetensors.js';
import { SecretSniffer, secretKindOfPath, type SecretKind } from './secrets.js';

/** Bumped when a record's content changes: older records are read again. */
export const LAYER_RECORD_VERSION = 1;

/** f file, l hard link, s symlink, d directory, w whiteout, o opaque marker, x other */
export type RecordKind = 'f' | 'l' | 's' | 'd' | 'w' | 'o' | 'x';

/** [path, kind, size, sha256 hex (files), link target (links)] */
export type RecordEntry = [string, RecordKind, number, string?, string?];

export interface LayerRecord {
  version: number;
  digest: string;
  compression: LayerSummary['compression'];
  compressedBytes: number;
  uncompressedBytes: number;
  entries: RecordEntry[];
  /** entries past the cap were not kept */
  partial: boolean;
  /** contents (base64) of the files the inventory reads (content/inventory wantPath) */
  wanted: Record<string, string>;
  /** dpkg package -> the paths its .list file names (files only make sense; directories are kept too) */
  dpkgLists: Record<string, string[]>;
  safetensors: (SafetensorsInfo & { path: string })[];
  secrets: { path: string; kind: SecretKind }[];
  /** seconds spent reading this layer, for the decompression rate */
  readSeconds: number;
}

export interface AccountingLimits {
  /** entries kept per layer (all layers of one pass share nothing: each layer has its own cap) */
  maxEntries: number;
  /** bytes of a wanted (inventory) file kept; larger ones are skipped */
  maxWantedBytes: number;
  /** bytes of one dpkg .list file read */
  maxListBytes: number;
  /** bytes of a safetensors header parsed */
  maxSafetensorsHeaderBytes: number;
  /** bytes at the start of a file sniffed for secrets */
  maxSniffBytes: number;
}

export const DEFAULT_ACCOUNTING_LIMITS: AccountingLimits = {
  maxEntries: 1_000_000,
  maxWantedBytes: 32 * 1024 * 1024,
  maxListBytes: 4 * 1024 * 1024,
  maxSafetensorsHeaderBytes: 16 * 1024 * 1024,
  maxSniffBytes: 64 * 1024,
};

const KIND: Record<LayerEntry['kind'], RecordKind> = { file: 'f', link: 'l', symlink: 's', directory: 'd', whiteout: 'w', opaque: 'o', other: 'x' };
const DPKG_LIST = /^var\/lib\/dpkg\/info\/([^/]+?)(?::[a-z0-9_-]+)?\.list$/;

/** A sink that copies at most `cap` bytes, then reports whether it got the whole file. */
class Capture {
  private readonly parts: Buffer[] = [];
  private held = 0;
  overflow = false;
  constructor(private readonly cap: number) {}
  write(chunk: Buffer): void {
    if (this.overflow) return;
    if (this.held + chunk.length > this.cap) {
      this.overflow = true;
      this.parts.length = 0;
      return;
    }
    this.parts.push(Buffer.from(chunk));
    this.held += chunk.length;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class LayerAccounting implements LayerConsumer {
  readonly records: LayerRecord[] = [];
  private current?: LayerRecord;
  private started = 0;

  constructor(private readonly limits: AccountingLimits = DEFAULT_ACCOUNTING_LIMITS) {}

  startLayer(_layer: number, digest: string): void {
    this.started = performance.now();
    this.current = { version: LAYER_RECORD_VERSION, digest, compression: 'none', compressedBytes: 0, uncompressedBytes: 0, entries: [], partial: false, wanted: {}, dpkgLists: {}, safetensors: [], secrets: [], readSeconds: 0 };
  }

  entry(e: LayerEntry): EntrySink | undefined {
    const r = this.current!;
    const keep = r.entries.length < this.limits.maxEntries;
    if (!keep) r.partial = true;
    const row: RecordEntry = [e.path, KIND[e.kind], e.size];
    if ((e.kind === 'symlink' || e.kind === 'link') && e.linkTarget !== undefined) row[4] = e.linkTarget;
    if (keep) r.entries.push(row);
    if (e.kind === 'link') {
      // a hard link's content is its target's: the wanted view needs it, nothing else does
      return undefined;
    }
    if (e.kind !== 'file') return undefined;

    const want = wantPath(e.path);
    const list = DPKG_LIST.exec(e.path);
    const secretByPath = secretKindOfPath(e.path);
    const isSafetensors = e.path.endsWith('.safetensors');
    const hash: Hash = createHash('sha256');
    const wanted = want !== undefined && want !== 'name' && e.size <= this.limits.maxWantedBytes ? new Capture(this.limits.maxWantedBytes) : undefined;
    const listCapture = list && e.size <= this.limits.maxListBytes ? new Capture(this.limits.maxListBytes) : undefined;
    const sniffer = e.size > 0 && e.size <= 1024 * 1024 ? new SecretSniffer(e.path, this.limits.maxSniffBytes) : undefined;
    const st = isSafetensors ? new SafetensorsHeaderReader(e.size, this.limits.maxSafetensorsHeaderBytes) : undefined;
    if (secretByPath) r.secrets.push({ path: e.path, kind: secretByPath });
    return {
      write: (chunk) => {
        hash.update(chunk);
        wanted?.write(chunk);
        listCapture?.write(chunk);
        sniffer?.write(chunk);
        st?.write(chunk);
      },
      end: () => {
        row[3] = hash.digest('hex');
        if (wanted && !wanted.overflow) r.wanted[e.path] = wanted.bytes.toString('base64');
        if (list && listCapture && !listCapture.overflow) {
          r.dpkgLists[list[1]!] = listCapture.bytes
            .toString('utf8')
            .split('\n')
            .map((l) => l.replace(/^\/+/, '').trim())
            .filter((l) => l !== '' && l !== '.');
        }
        const kind = sniffer?.result();
        if (kind && !secretByPath) r.secrets.push({ path: e.path, kind });
        if (st) r.safetensors.push({ path: e.path, ...st.result() });
      },
    };
  }

  endLayer(summary: LayerSummary): void {
    const r = this.current!;
    r.compression = summary.compression;
    r.compressedBytes = summary.compressedBytes;
    r.uncompressedBytes = summary.uncompressedBytes;
    r.readSeconds = (performance.now() - this.started) / 1000;
    this.records.push(r);
    this.current = undefined;
  }
}
