/**
 * Shared passes over an image's layers. Features that read image content (the scan's inventory,
 * the insights accounting, later the lazy-pull file table) register as participants; when one
 * of them reads an image (the leader), every other participant that still needs that image
 * (`join` answers a consumer) is fed by the same pass, so a layer is decompressed once however
 * many features are due for it. Each participant stores its own result in `done` (or records
 * the error in `failed`); a participant's failure to store never fails the leader.
 *
 * main.ts creates one ContentPasses and hands it to each feature; features never see each other.
 */
import type { LayerConsumer, LayerSource, LayerSummary, ReadLimits } from './layers/layer-reader.js';
import { LayerError, readLayers } from './layers/layer-reader.js';

export interface PassImage {
  repository: string;
  /** the image manifest's digest */
  digest: string;
  /** every layer of the image, in order (foreign layers left out) */
  layers: readonly LayerSource[];
}

export interface PassJoin {
  consumer: LayerConsumer;
  /** after a pass over every layer of the image */
  done(summaries: LayerSummary[]): Promise<void>;
  /** the pass failed (a bomb, a malformed layer): record it */
  failed(error: LayerError): Promise<void>;
}

export interface PassParticipant {
  readonly name: string;
  /** a consumer when this participant still needs `image` read (no stored result), else undefined */
  join(image: PassImage): Promise<PassJoin | undefined>;
}

export interface PassLogger {
  warn(obj: object, msg: string): void;
}

export class ContentPasses {
  private readonly participants: PassParticipant[] = [];

  constructor(private readonly logger?: PassLogger) {}

  register(participant: PassParticipant): void {
    this.participants.push(participant);
  }

  /**
   * Reads `image` for `leader` (its consumer), with every other participant that joins. The
   * leader may ask for only some layers (`only`: indexes, e.g. those it has no record of); when
   * another participant joins, every layer is read, since the others need the whole image.
   * Resolves with the summaries of the layers read; rejects with the LayerError of a failed pass
   * (after the joined participants have recorded it).
   */
  async run(image: PassImage, leader: string, consumer: LayerConsumer, limits: ReadLimits, only?: ReadonlySet<number>): Promise<{ summaries: LayerSummary[]; read: number[]; joined: string[] }> {
    const joins: { name: string; join: PassJoin }[] = [];
    for (const p of this.participants) {
      if (p.name === leader) continue;
      try {
        const join = await p.join(image);
        if (join) joins.push({ name: p.name, join });
      } catch (err) {
        this.logger?.warn({ err, participant: p.name, digest: image.digest }, 'a participant could not join a content pass');
      }
    }
    const read = image.layers.map((_, i) => i).filter((i) => joins.length > 0 || only === undefined || only.has(i));
    const sources = read.map((i) => image.layers[i]!);
    let summaries: LayerSummary[];
    try {
      summaries = await readLayers(sources, [consumer, ...joins.map((j) => j.join.consumer)], limits);
    } catch (e) {
      if (e instanceof LayerError) {
        for (const j of joins) await j.join.failed(e).catch((err: unknown) => this.logger?.warn({ err, participant: j.name }, 'recording a failed pass failed'));
      }
      throw e;
    }
    for (const j of joins) await j.join.done(summaries).catch((err: unknown) => this.logger?.warn({ err, participant: j.name, digest: image.digest }, 'a participant could not store its result'));
    return { summaries, read, joined: joins.map((j) => j.name) };
  }
}
