// A cylinder group held in memory: its header and maps (inode used map, fragment free map, and,
// when fs_contigsumsize > 0, the cluster map and cluster summary), with the bookkeeping the
// kernel does on every allocation and free (ffs_alloc.c's fragacct, cg_cs, cg_frsum).
//
// Free-map bit set = fragment free; inode-map bit set = inode in use; cluster-map bit set = block
// free. Positions are relative to the cylinder group's base (dtogd).

import { CG, CG_HEADER_SIZE, CG_MAGIC, rd, wr } from './layout.js';
import type { Geometry } from './geometry.js';

export type CsField = 'ndir' | 'nbfree' | 'nifree' | 'nffree';

/** Runs of free fragments in one block's frag bits: runs[value] = list of [start, length]. */
function runTable(frag: number): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  for (let v = 0; v < 1 << frag; v++) {
    const runs: Array<[number, number]> = [];
    let start = -1;
    for (let i = 0; i <= frag; i++) {
      const free = i < frag && (v >> i) & 1;
      if (free && start < 0) start = i;
      if (!free && start >= 0) {
        runs.push([start, i - start]);
        start = -1;
      }
    }
    out.push(runs);
  }
  return out;
}

const RUNS: Record<number, Array<Array<[number, number]>>> = {};
function runsFor(frag: number): Array<Array<[number, number]>> {
  return (RUNS[frag] ??= runTable(frag));
}

export class CylGroup {
  readonly c: number;
  readonly buf: Buffer;
  readonly ndblk: number;
  /** Whole blocks the free map covers (a short tail block is never "whole"). */
  readonly nblocks: number;
  dirty = false;
  private readonly g: Geometry;
  private readonly frag: number;
  private readonly full: number;
  private readonly iusedoff: number;
  private readonly freeoff: number;
  private readonly clusteroff: number;
  private readonly onDelta: (c: number, field: CsField, delta: number) => void;
  private readonly runs: Array<Array<[number, number]>>;
  /** Lowest block index that may be wholly free; lowest inode that may be free. */
  private blockHint = 0;
  private inoHint = 0;

  constructor(g: Geometry, c: number, buf: Buffer, onDelta: (c: number, field: CsField, delta: number) => void) {
    if (rd(buf, 0, CG.magic) !== CG_MAGIC) throw new Error(`cylinder group ${c}: bad magic`);
    if (rd(buf, 0, CG.cgx) !== c) throw new Error(`cylinder group ${c}: header says ${rd(buf, 0, CG.cgx)}`);
    this.g = g;
    this.c = c;
    this.buf = buf;
    this.frag = g.frag;
    this.full = (1 << g.frag) - 1;
    this.ndblk = rd(buf, 0, CG.ndblk);
    this.nblocks = Math.floor(this.ndblk / g.frag);
    this.iusedoff = rd(buf, 0, CG.iusedoff);
    this.freeoff = rd(buf, 0, CG.freeoff);
    this.clusteroff = g.contigsumsize > 0 ? rd(buf, 0, CG.clusteroff) : 0;
    this.onDelta = onDelta;
    this.runs = runsFor(g.frag);
  }

  cs(field: CsField): number {
    return rd(this.buf, 0, CG[`cs_${field}`]);
  }

  private adjust(field: CsField, delta: number): void {
    if (delta === 0) return;
    wr(this.buf, 0, CG[`cs_${field}`], this.cs(field) + delta);
    this.onDelta(this.c, field, delta);
    this.dirty = true;
  }

  frsum(size: number): number {
    return rd(this.buf, 0, CG.frsum, size);
  }

  private frsumAdd(size: number, delta: number): void {
    wr(this.buf, 0, CG.frsum, this.frsum(size) + delta, size);
  }

  /** fragacct: count (delta +1) or uncount (-1) the runs of free fragments of a block's bits. */
  private fragacct(bits: number, delta: number): void {
    if (bits === this.full) return;
    for (const [, len] of this.runs[bits]!) this.frsumAdd(len, delta);
  }

  // --- inode map ------------------------------------------------------------------------------

  inoUsed(i: number): boolean {
    return ((this.buf[this.iusedoff + (i >> 3)]! >> (i & 7)) & 1) === 1;
  }

  private setIno(i: number, used: boolean): void {
    const o = this.iusedoff + (i >> 3);
    this.buf[o] = used ? this.buf[o]! | (1 << (i & 7)) : this.buf[o]! & ~(1 << (i & 7));
    this.dirty = true;
  }

  /** Lowest free inode index in this group, or -1. */
  findFreeInode(): number {
    if (this.cs('nifree') <= 0) return -1;
    const ipg = this.g.ipg;
    let i = this.inoHint;
    while (i < ipg) {
      const byte = this.buf[this.iusedoff + (i >> 3)]!;
      if (byte === 0xff && (i & 7) === 0) {
        i += 8;
        continue;
      }
      if (!((byte >> (i & 7)) & 1)) return i;
      i++;
    }
    return -1;
  }

  allocInode(i: number, isDir: boolean): void {
    if (this.inoUsed(i)) throw new Error(`inode ${this.c * this.g.ipg + i} is already in use`);
    this.setIno(i, true);
    this.adjust('nifree', -1);
    if (isDir) this.adjust('ndir', 1);
    if (i === this.inoHint) this.inoHint = i + 1;
    wr(this.buf, 0, CG.irotor, i);
  }

  freeInode(i: number, isDir: boolean): void {
    if (!this.inoUsed(i)) throw new Error(`inode ${this.c * this.g.ipg + i} is already free`);
    this.setIno(i, false);
    this.adjust('nifree', 1);
    if (isDir) this.adjust('ndir', -1);
    if (i < this.inoHint) this.inoHint = i;
  }

  // --- fragment map ---------------------------------------------------------------------------

  /** The free bits of block `b` (bit i = fragment b*frag+i free). */
  blockBits(b: number): number {
    const d = b * this.frag;
    return (this.buf[this.freeoff + (d >> 3)]! >> (d & 7)) & this.full;
  }

  private setBlockBits(b: number, bits: number): void {
    const d = b * this.frag;
    const o = this.freeoff + (d >> 3);
    const sh = d & 7;
    this.buf[o] = (this.buf[o]! & ~(this.full << sh)) | (bits << sh);
    this.dirty = true;
  }

  fragFree(d: number): boolean {
    return ((this.buf[this.freeoff + (d >> 3)]! >> (d & 7)) & 1) === 1;
  }

  private setCluster(b: number, free: boolean): void {
    if (this.g.contigsumsize <= 0) return;
    const o = this.clusteroff + (b >> 3);
    this.buf[o] = free ? this.buf[o]! | (1 << (b & 7)) : this.buf[o]! & ~(1 << (b & 7));
  }

  /** Lowest wholly free block, or -1. */
  findFreeBlock(): number {
    if (this.cs('nbfree') <= 0) return -1;
    if (this.frag === 8) {
      const map = this.buf.subarray(this.freeoff, this.freeoff + this.nblocks);
      const b = map.indexOf(0xff, this.blockHint);
      if (b >= 0) this.blockHint = b;
      return b;
    }
    for (let b = this.blockHint; b < this.nblocks; b++) {
      if (this.blockBits(b) === this.full) {
        this.blockHint = b;
        return b;
      }
    }
    return -1;
  }

  /**
   * Where to put `n` (< frag) fragments without breaking a whole block: the first run of exactly
   * the smallest sufficient size that frsum says exists (as ffs_alloccg and ffs_mapsearch do).
   * Returns the first fragment (cg-relative), or -1.
   */
  findFragRun(n: number): number {
    for (let size = n; size < this.frag; size++) {
      if (this.frsum(size) <= 0) continue;
      for (let b = 0; b < this.nblocks; b++) {
        const bits = this.blockBits(b);
        if (bits === 0 || bits === this.full) continue;
        for (const [start, len] of this.runs[bits]!) if (len === size) return b * this.frag + start;
      }
      // The tail of a short last group is mapped but is not a whole block.
      const tail = this.tailRuns();
      for (const [start, len] of tail) if (len === size) return start;
    }
    return -1;
  }

  private tailRuns(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let start = -1;
    for (let d = this.nblocks * this.frag; d <= this.ndblk; d++) {
      const free = d < this.ndblk && this.fragFree(d);
      if (free && start < 0) start = d;
      if (!free && start >= 0) {
        out.push([start, d - start]);
        start = -1;
      }
    }
    return out;
  }

  /** Bits of the (possibly short) block holding fragment d, and how many fragments it has. */
  private blockOf(d: number): { b: number; bits: number; width: number } {
    const b = Math.floor(d / this.frag);
    const width = Math.min(this.frag, this.ndblk - b * this.frag);
    return { b, bits: this.blockBits(b) & ((1 << width) - 1), width };
  }

  /** Allocate fragments [d, d+n) (cg-relative), all in one block and all free. */
  allocFrags(d: number, n: number): void {
    const { b, bits, width } = this.blockOf(d);
    const first = d - b * this.frag;
    if (first + n > width) throw new Error(`fragments ${d}+${n} cross a block boundary`);
    const mask = ((1 << n) - 1) << first;
    if ((bits & mask) !== mask) throw new Error(`cylinder group ${this.c}: fragments ${d}+${n} are not free`);
    const next = bits & ~mask;
    if (bits === this.full && width === this.frag) {
      this.adjust('nbfree', -1);
      this.adjust('nffree', this.frag - n);
      this.setCluster(b, false);
    } else {
      this.fragacct(bits, -1);
      this.adjust('nffree', -n);
    }
    this.fragacct(next, 1);
    this.setBlockBits(b, next);
    wr(this.buf, 0, CG.frotor, d);
  }

  /** Allocate the whole block b (all its fragments free). */
  allocBlock(b: number): void {
    if (this.blockBits(b) !== this.full) throw new Error(`cylinder group ${this.c}: block ${b} is not free`);
    this.setBlockBits(b, 0);
    this.adjust('nbfree', -1);
    this.setCluster(b, false);
    if (b === this.blockHint) this.blockHint = b + 1;
    wr(this.buf, 0, CG.rotor, b * this.frag);
  }

  /** Free fragments [d, d+n) (cg-relative), all in one block and all in use. */
  freeFrags(d: number, n: number): void {
    const { b, bits, width } = this.blockOf(d);
    const first = d - b * this.frag;
    if (first + n > width) throw new Error(`fragments ${d}+${n} cross a block boundary`);
    const mask = ((1 << n) - 1) << first;
    if ((bits & mask) !== 0) throw new Error(`cylinder group ${this.c}: freeing free fragments ${d}+${n}`);
    const next = bits | mask;
    this.fragacct(bits, -1);
    if (next === this.full && width === this.frag) {
      this.adjust('nffree', n - this.frag);
      this.adjust('nbfree', 1);
      this.setCluster(b, true);
      if (b < this.blockHint) this.blockHint = b;
    } else {
      this.adjust('nffree', n);
      this.fragacct(next, 1);
    }
    this.setBlockBits(b, next);
  }

  /** Bring the derived summaries (UFS1 rotational totals, cluster summary) up to date before a write. */
  finish(time: number): void {
    const g = this.g;
    if (g.ufs === 1) {
      wr(this.buf, 0, CG.old_time, time);
      const nb = this.cs('nbfree');
      this.buf.writeInt32LE(nb | 0, rd(this.buf, 0, CG.old_btotoff));
      this.buf.writeUInt16LE(nb & 0xffff, rd(this.buf, 0, CG.old_boff));
    } else {
      wr(this.buf, 0, CG.time, time);
    }
    if (g.contigsumsize > 0) {
      const sumoff = rd(this.buf, 0, CG.clustersumoff);
      const counts = new Array<number>(g.contigsumsize + 1).fill(0);
      let run = 0;
      for (let b = 0; b <= this.nblocks; b++) {
        const free = b < this.nblocks && ((this.buf[this.clusteroff + (b >> 3)]! >> (b & 7)) & 1) === 1;
        if (free) run++;
        else if (run > 0) {
          counts[Math.min(run, g.contigsumsize)]!++;
          run = 0;
        }
      }
      for (let i = 1; i <= g.contigsumsize; i++) this.buf.writeInt32LE(counts[i]!, sumoff + 4 * i);
    }
  }
}

/** Layout of the maps in a cylinder group header (the offsets newfs computes in initcg). */
export interface CgMapLayout {
  btotoff: number;
  boff: number;
  iusedoff: number;
  freeoff: number;
  clustersumoff: number;
  clusteroff: number;
  nextfreeoff: number;
}

export function cgMapLayout(g: Pick<Geometry, 'ufs' | 'ipg' | 'fpg' | 'frag' | 'contigsumsize'>): CgMapLayout {
  const start = CG_HEADER_SIZE;
  let btotoff = 0;
  let boff = 0;
  let iusedoff = start;
  if (g.ufs === 1) {
    // fs_old_cpg = 1 and fs_old_nrpos = 1: one int32 block total, one u16 position count.
    btotoff = start;
    boff = btotoff + 4;
    iusedoff = boff + 2;
  }
  const freeoff = iusedoff + Math.ceil(g.ipg / 8);
  let nextfreeoff = freeoff + Math.ceil(g.fpg / 8);
  let clustersumoff = 0;
  let clusteroff = 0;
  if (g.contigsumsize > 0) {
    clustersumoff = Math.ceil(nextfreeoff / 4) * 4 - 4;
    clusteroff = clustersumoff + (g.contigsumsize + 1) * 4;
    nextfreeoff = clusteroff + Math.ceil(g.fpg / g.frag / 8);
  }
  return { btotoff, boff, iusedoff, freeoff, clustersumoff, clusteroff, nextfreeoff };
}

/** CGSIZE (fs.h), with fs_old_cpg = 1. */
export function cgSizeBytes(g: Pick<Geometry, 'ufs' | 'ipg' | 'fpg' | 'frag' | 'contigsumsize'>): number {
  return (
    CG_HEADER_SIZE +
    4 +
    2 +
    Math.ceil(g.ipg / 8) +
    Math.ceil(g.fpg / 8) +
    4 +
    (g.contigsumsize <= 0 ? 0 : g.contigsumsize * 4 + Math.ceil(g.fpg / g.frag / 8))
  );
}

