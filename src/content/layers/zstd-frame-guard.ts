/**
 * Walks the frame structure of a zstd stream (RFC 8878 section 3.1) as its bytes go by, without
 * decoding anything, so that a frame asking for a window larger than `maxWindowBytes` is refused
 * before the decoder allocates it: a decoder allocates the window the header declares, and a
 * hostile header may declare 2 GiB. Skippable frames are passed over. Pure (no I/O).
 */
export class ZstdLimitError extends Error {}

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type State =
  | { kind: 'magic' }
  | { kind: 'header' }
  | { kind: 'skippable-size' }
  | { kind: 'block-header'; checksum: boolean }
  | { kind: 'skip'; left: number; then: State };

export class ZstdFrameGuard {
  private state: State = { kind: 'magic' };
  /** bytes of a header not complete yet (at most 18) */
  private pending: number[] = [];
  private frames = 0;

  constructor(private readonly maxWindowBytes: number) {}

  /** Checks the next bytes of the stream; throws ZstdLimitError or Error('malformed ...'). */
  check(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      const s = this.state;
      if (s.kind === 'skip') {
        const n = Math.min(s.left, chunk.length - i);
        s.left -= n;
        i += n;
        if (s.left === 0) this.state = s.then;
        continue;
      }
      this.pending.push(chunk[i]!);
      i++;
      this.step();
    }
  }

  /** At the end of the stream: it must end between frames. */
  end(): void {
    const ended = this.state.kind === 'magic' && this.pending.length === 0 && this.frames > 0;
    if (!ended) throw new Error('malformed zstd stream: it ends inside a frame');
  }

  private step(): void {
    const p = this.pending;
    const s = this.state;
    switch (s.kind) {
      case 'magic': {
        if (p.length < 4) return;
        const magic = (p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24)) >>> 0;
        this.pending = [];
        if (magic === ZSTD_MAGIC) this.state = { kind: 'header' };
        else if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) this.state = { kind: 'skippable-size' };
        else throw new Error('malformed zstd stream: bad frame magic');
        this.frames++;
        return;
      }
      case 'skippable-size': {
        if (p.length < 4) return;
        const size = (p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24)) >>> 0;
        this.pending = [];
        this.state = size === 0 ? { kind: 'magic' } : { kind: 'skip', left: size, then: { kind: 'magic' } };
        return;
      }
      case 'header': {
        const fhd = p[0]!;
        const fcsFlag = fhd >> 6;
        const single = (fhd & 0x20) !== 0;
        if ((fhd & 0x08) !== 0) throw new Error('malformed zstd stream: reserved header bit set');
        const dictBytes = [0, 1, 2, 4][fhd & 3]!;
        const fcsBytes = fcsFlag === 0 ? (single ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
        const total = 1 + (single ? 0 : 1) + dictBytes + fcsBytes;
        if (p.length < total) return;
        let window: number;
        if (!single) {
          const wd = p[1]!;
          const base = 2 ** (10 + (wd >> 3));
          window = base + (base / 8) * (wd & 7);
        } else {
          let fcs = 0;
          const at = 1 + dictBytes;
          for (let k = fcsBytes - 1; k >= 0; k--) fcs = fcs * 256 + p[at + k]!;
          window = fcsBytes === 2 ? fcs + 256 : fcs;
        }
        if (window > this.maxWindowBytes) {
          throw new ZstdLimitError(`zstd frame needs a ${window}-byte window; the scanner allows ${this.maxWindowBytes}`);
        }
        this.pending = [];
        this.state = { kind: 'block-header', checksum: (fhd & 0x04) !== 0 };
        return;
      }
      case 'block-header': {
        if (p.length < 3) return;
        const h = p[0]! | (p[1]! << 8) | (p[2]! << 16);
        this.pending = [];
        const last = (h & 1) === 1;
        const type = (h >> 1) & 3;
        const size = h >>> 3;
        if (type === 3) throw new Error('malformed zstd stream: reserved block type');
        const content = type === 1 ? 1 : size;
        const after: State = last ? (s.checksum ? { kind: 'skip', left: 4, then: { kind: 'magic' } } : { kind: 'magic' }) : s;
        this.state = content > 0 ? { kind: 'skip', left: content, then: after } : after;
        return;
      }
    }
  }
}
