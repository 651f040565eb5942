// Which byte ranges of the disk a layer's own image holds: the clusters its step wrote (data,
// compressed or zero clusters of the top qcow2), read once from its L1/L2 tables. Asking the
// chain device instead (`map`) walks every level below for what the layer does not hold, which
// grows with the chain's depth; this costs one pass over the layer's own tables whatever the depth.

import { newRun } from '../image/chain-image.js';
import { Qcow2Image } from '../image/qcow2.js';
import { TableCache } from '../image/table-cache.js';
import { partitionPoint } from '../util/partition-point.js';

/** L2 tables read for the pass: a layer's tables are read once each, so a few suffice. */
const PASS_CACHE_BYTES = 1024 * 1024;

export interface OwnRanges {
  /** The layer image's cluster size. */
  readonly clusterSize: number;
  /** Bytes held. */
  readonly bytes: number;
  /** Sorted, merged, disjoint [start, end) guest byte ranges. */
  readonly ranges: readonly (readonly [number, number])[];
  /** Whether every byte of [offset, offset+length) is held. */
  holds(offset: number, length: number): boolean;
  /** The held parts of [offset, offset+length), in order. */
  within(offset: number, length: number): { offset: number; length: number }[];
}

class SortedRanges implements OwnRanges {
  readonly bytes: number;

  constructor(
    readonly clusterSize: number,
    readonly ranges: readonly (readonly [number, number])[],
  ) {
    this.bytes = ranges.reduce((n, [a, b]) => n + (b - a), 0);
  }

  /** Index of the first range ending after `offset`. */
  private first(offset: number): number {
    return partitionPoint(this.ranges.length, (i) => this.ranges[i]![1] <= offset);
  }

  holds(offset: number, length: number): boolean {
    const r = this.ranges[this.first(offset)];
    return r !== undefined && r[0] <= offset && offset + length <= r[1];
  }

  within(offset: number, length: number): { offset: number; length: number }[] {
    const out: { offset: number; length: number }[] = [];
    const end = offset + length;
    for (let i = this.first(offset); i < this.ranges.length; i++) {
      const [a, b] = this.ranges[i]!;
      if (a >= end) break;
      const lo = Math.max(a, offset);
      const hi = Math.min(b, end);
      if (hi > lo) out.push({ offset: lo, length: hi - lo });
    }
    return out;
  }
}

/** The ranges the qcow2 image at `path` holds itself (not its backing file). */
export function ownRanges(path: string): OwnRanges {
  const img = Qcow2Image.open(path, { cache: new TableCache(PASS_CACHE_BYTES), slot: 0 });
  try {
    const out: [number, number][] = [];
    const run = newRun();
    for (let off = 0; off < img.virtualSize; off += run.length) {
      img.lookup(off, img.virtualSize - off, run);
      if (run.kind === 'unallocated') continue;
      const last = out[out.length - 1];
      if (last && last[1] === off) last[1] = off + run.length;
      else out.push([off, off + run.length]);
    }
    return new SortedRanges(img.clusterSize, out);
  } finally {
    img.close();
  }
}
