import { Builder, ByteBuffer, type Offset } from 'flatbuffers';
import { WharfError } from '../../errors/wharf-error.js';
import type { TarEntry, TarEntryType } from './tar-indexer.js';

/**
 * SOCI's zTOC, encoded and decoded with the `flatbuffers` runtime following soci-snapshotter's
 * published schema (ztoc/fbs/ztoc.fbs, namespace ztoc, root type Ztoc). Field slots, in schema
 * order:
 *
 *   Ztoc            0 version:string  1 build_tool_identifier:string  2 compressed_archive_size:long
 *                   3 uncompressed_archive_size:long  4 toc:TOC  5 compression_info:CompressionInfo
 *   TOC             0 metadata:[FileMetadata]
 *   FileMetadata    0 name  1 type  2 uncompressed_offset:long  3 uncompressed_size:long  4 linkname
 *                   5 mode:long  6 uid:uint32  7 gid:uint32  8 uname  9 gname  10 mod_time
 *                   11 devmajor:long  12 devminor:long  13 xattrs:[Xattr]
 *   Xattr           0 key  1 value
 *   CompressionInfo 0 compression_algorithm:byte (Gzip = 1 default, Uncompressed = 2)
 *                   1 max_span_id:int  2 span_digests:[string]  3 checkpoints:[ubyte]
 *
 * `checkpoints` holds the algorithm's own binary index (zinfo.ts). The same bytes serve Wharf's
 * file API and SOCI clients.
 */
export const ZTOC_VERSION = '0.9';

export type ZtocAlgorithm = 'gzip' | 'uncompressed';

export interface Ztoc {
  version: string;
  buildToolIdentifier: string;
  compressedArchiveSize: number;
  uncompressedArchiveSize: number;
  entries: TarEntry[];
  algorithm: ZtocAlgorithm;
  maxSpanId: number;
  spanDigests: string[];
  checkpoints: Uint8Array;
}

const ALGORITHM_CODE: Record<ZtocAlgorithm, number> = { gzip: 1, uncompressed: 2 };
const TYPES = new Set<TarEntryType>(['reg', 'hardlink', 'symlink', 'dir', 'char', 'block', 'fifo']);

export function encodeZtoc(z: Ztoc): Uint8Array {
  const b = new Builder(1024 + z.checkpoints.length + z.entries.length * 160);
  const version = b.createString(z.version);
  const tool = b.createString(z.buildToolIdentifier);
  const metadata = z.entries.map((e) => fileMetadata(b, e));
  const metadataVector = offsetVector(b, metadata);
  b.startObject(1);
  b.addFieldOffset(0, metadataVector, 0);
  const toc = b.endObject();
  const checkpoints = b.createByteVector(z.checkpoints);
  const digests = offsetVector(b, z.spanDigests.map((d) => b.createString(d)));
  b.startObject(4);
  b.addFieldInt8(0, ALGORITHM_CODE[z.algorithm], 1);
  b.addFieldInt32(1, z.maxSpanId, 0);
  b.addFieldOffset(2, digests, 0);
  b.addFieldOffset(3, checkpoints, 0);
  const info = b.endObject();
  b.startObject(6);
  b.addFieldOffset(0, version, 0);
  b.addFieldOffset(1, tool, 0);
  b.addFieldInt64(2, BigInt(z.compressedArchiveSize), 0n);
  b.addFieldInt64(3, BigInt(z.uncompressedArchiveSize), 0n);
  b.addFieldOffset(4, toc, 0);
  b.addFieldOffset(5, info, 0);
  const root = b.endObject();
  b.finish(root);
  return b.asUint8Array();
}

function fileMetadata(b: Builder, e: TarEntry): Offset {
  const name = b.createString(e.name);
  const type = b.createString(e.type);
  const linkname = b.createString(e.linkname);
  const uname = b.createString(e.uname);
  const gname = b.createString(e.gname);
  const modTime = b.createString(e.modTime);
  const xattrs = offsetVector(
    b,
    Object.entries(e.pax).map(([k, v]) => {
      const key = b.createString(k);
      const value = b.createString(v);
      b.startObject(2);
      b.addFieldOffset(0, key, 0);
      b.addFieldOffset(1, value, 0);
      return b.endObject();
    }),
  );
  b.startObject(14);
  b.addFieldOffset(0, name, 0);
  b.addFieldOffset(1, type, 0);
  b.addFieldInt64(2, BigInt(e.offset), 0n);
  b.addFieldInt64(3, BigInt(e.size), 0n);
  b.addFieldOffset(4, linkname, 0);
  b.addFieldInt64(5, BigInt(e.mode), 0n);
  b.addFieldInt32(6, e.uid, 0);
  b.addFieldInt32(7, e.gid, 0);
  b.addFieldOffset(8, uname, 0);
  b.addFieldOffset(9, gname, 0);
  b.addFieldOffset(10, modTime, 0);
  b.addFieldInt64(11, BigInt(e.devmajor), 0n);
  b.addFieldInt64(12, BigInt(e.devminor), 0n);
  b.addFieldOffset(13, xattrs, 0);
  return b.endObject();
}

function offsetVector(b: Builder, items: Offset[]): Offset {
  b.startVector(4, items.length, 4);
  for (let i = items.length - 1; i >= 0; i -= 1) b.addOffset(items[i]!);
  return b.endVector();
}

/** A bounds-checked view of a table: every read stays inside the buffer or throws. */
class Table {
  constructor(
    private readonly bb: ByteBuffer,
    readonly pos: number,
  ) {}

  private field(slot: number): number {
    return this.bb.__offset(this.pos, 4 + 2 * slot);
  }
  string(slot: number): string {
    const o = this.field(slot);
    return o === 0 ? '' : (this.bb.__string(this.pos + o) as string);
  }
  long(slot: number): number {
    const o = this.field(slot);
    if (o === 0) return 0;
    const v = this.bb.readInt64(this.pos + o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('a number out of range');
    return Number(v);
  }
  uint32(slot: number): number {
    const o = this.field(slot);
    return o === 0 ? 0 : this.bb.readUint32(this.pos + o);
  }
  int32(slot: number): number {
    const o = this.field(slot);
    return o === 0 ? 0 : this.bb.readInt32(this.pos + o);
  }
  int8(slot: number, dflt: number): number {
    const o = this.field(slot);
    return o === 0 ? dflt : this.bb.readInt8(this.pos + o);
  }
  table(slot: number): Table | undefined {
    const o = this.field(slot);
    return o === 0 ? undefined : new Table(this.bb, this.bb.__indirect(this.pos + o));
  }
  /** [start, length] of a vector, checked against the buffer */
  vector(slot: number, elementSize: number): [number, number] {
    const o = this.field(slot);
    if (o === 0) return [0, 0];
    const start = this.bb.__vector(this.pos + o);
    const length = this.bb.__vector_len(this.pos + o);
    if (start < 0 || length < 0 || start + length * elementSize > this.bb.capacity()) throw corrupt('a vector runs past the end');
    return [start, length];
  }
  tables(slot: number): Table[] {
    const [start, length] = this.vector(slot, 4);
    const out: Table[] = [];
    for (let i = 0; i < length; i += 1) out.push(new Table(this.bb, this.bb.__indirect(start + i * 4)));
    return out;
  }
  strings(slot: number): string[] {
    const [start, length] = this.vector(slot, 4);
    const out: string[] = [];
    for (let i = 0; i < length; i += 1) out.push(this.bb.__string(start + i * 4) as string);
    return out;
  }
  bytes(slot: number): Uint8Array {
    const [start, length] = this.vector(slot, 1);
    return this.bb.bytes().subarray(start, start + length);
  }
}

function corrupt(why: string): WharfError {
  return new WharfError('LAYER_INVALID', `the zTOC is corrupt: ${why}`);
}

/** Decodes a zTOC; anything malformed (a stored index damaged, or not a zTOC) is LAYER_INVALID. */
export function decodeZtoc(bytes: Uint8Array): Ztoc {
  try {
    if (bytes.length < 8) throw corrupt('too short');
    const bb = new ByteBuffer(bytes);
    const root = new Table(bb, bb.readInt32(0));
    const toc = root.table(4);
    const info = root.table(5);
    if (!toc || !info) throw corrupt('no TOC or compression info');
    const code = info.int8(0, 1);
    const algorithm: ZtocAlgorithm | undefined = code === 1 ? 'gzip' : code === 2 ? 'uncompressed' : undefined;
    if (!algorithm) throw corrupt(`unknown compression algorithm ${code}`);
    const entries = toc.tables(0).map((m): TarEntry => {
      const type = m.string(1) as TarEntryType;
      if (!TYPES.has(type)) throw corrupt(`unknown entry type ${JSON.stringify(type)}`);
      const pax: Record<string, string> = {};
      for (const x of m.tables(13)) pax[x.string(0)] = x.string(1);
      return {
        name: m.string(0),
        type,
        offset: m.long(2),
        size: m.long(3),
        linkname: m.string(4),
        mode: m.long(5),
        uid: m.uint32(6),
        gid: m.uint32(7),
        uname: m.string(8),
        gname: m.string(9),
        modTime: m.string(10),
        devmajor: m.long(11),
        devminor: m.long(12),
        pax,
      };
    });
    return {
      version: root.string(0),
      buildToolIdentifier: root.string(1),
      compressedArchiveSize: root.long(2),
      uncompressedArchiveSize: root.long(3),
      entries,
      algorithm,
      maxSpanId: info.int32(1),
      spanDigests: info.strings(2),
      checkpoints: info.bytes(3),
    };
  } catch (e) {
    if (e instanceof WharfError) throw e;
    throw corrupt((e as Error).message);
  }
}
