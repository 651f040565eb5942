// A least-recently-used cache of qcow2 L2 tables with a byte budget, shared by the images of
// one chain (like qemu's qcow2-cache.c, but read-only: nothing is ever dirty), and the one
// compressed cluster last inflated in the chain. An open chain holds no other metadata than
// this and its images' L1 tables (bounded by the files' sizes), so its memory is bounded whatever
// the images say.

import { Lru } from '../util/lru.js';

/**
 * Default budget per open chain: 8 MiB. With 64 KiB clusters one L2 table maps 512 MiB of
 * virtual disk, so 8 MiB (128 tables) maps 64 GiB: a whole 40 GB obuilder disk in one image, or
 * the working set of a filesystem walk spread over a chain. An audit keeps one chain open per
 * job, so with --jobs = 32 cores the tables stay under 256 MiB. Misses cost one pread.
 */
export const DEFAULT_TABLE_CACHE_BYTES = 8 * 1024 * 1024;

/** Images of one chain share a cache; keys are `tableOffset + slot` (see `key`). */
export const MAX_CACHE_SLOTS = 512;

export class TableCache {
  // Weighed in bytes; the table just added is kept even when it alone exceeds the budget.
  private readonly tables: Lru<number, Buffer>;

  constructor(readonly budget: number = DEFAULT_TABLE_CACHE_BYTES) {
    this.tables = new Lru(budget, (t) => t.length);
  }

  /**
   * The key of a table of image `slot` (< MAX_CACHE_SLOTS) at file offset `offset`. Table
   * offsets are multiples of the cluster size (>= 512) and below the file's size (< 2^53), so
   * `offset + slot` is exact and unique.
   */
  static key(slot: number, offset: number): number {
    return offset + slot;
  }

  // The last inflated cluster: small reads inside one compressed cluster (a filesystem reading
  // 4 KiB blocks) inflate it once. One per chain, so it costs at most one cluster (2 MiB).
  private inflatedSlot = -1;
  private inflatedAt = -1;
  private inflatedBytes: Buffer | null = null;

  /** The cluster inflated from `offset` in image `slot`, if it is the last one inflated. */
  inflated(slot: number, offset: number): Buffer | null {
    return slot === this.inflatedSlot && offset === this.inflatedAt ? this.inflatedBytes : null;
  }

  keepInflated(slot: number, offset: number, bytes: Buffer): void {
    this.inflatedSlot = slot;
    this.inflatedAt = offset;
    this.inflatedBytes = bytes;
  }

  get(key: number): Buffer | undefined {
    return this.tables.get(key);
  }

  set(key: number, table: Buffer): void {
    this.tables.set(key, table);
  }

  /** Bytes held now (for tests and the benchmark). */
  get size(): number {
    return this.tables.weightHeld;
  }

  clear(): void {
    this.tables.clear();
    this.inflatedBytes = null;
    this.inflatedSlot = -1;
  }
}
