// A file's logical-to-physical block map: 12 direct pointers in the inode, then single, double
// and triple indirect blocks of fs_nindir pointers each (UFS1 int32, UFS2 int64). Indirect
// blocks are read once and cached; new ones are zero-filled; all are written by flush().

import { NDADDR, NIADDR } from './layout.js';
import type { Geometry } from './geometry.js';
import { blockSizeAt } from './geometry.js';
import type { Inode } from './inode.js';

export interface BmapIo {
  readonly g: Geometry;
  readFrags(addr: number, bytes: number): Buffer;
  writeFrags(addr: number, buf: Buffer): void;
  /** A whole free block (fragment address), preferring cylinder group `prefCg`. */
  allocBlock(prefCg: number): number;
  freeFrags(addr: number, nfrags: number): void;
}

export interface IndirectRef {
  addr: number;
  /** 1 single, 2 double, 3 triple. */
  level: number;
}

interface Path {
  /** Which di_ib slot, -1 for a direct block. */
  root: number;
  idx: number[];
}

export class BlockMap {
  private readonly io: BmapIo;
  private readonly ip: Inode;
  private readonly g: Geometry;
  private readonly n: number;
  private readonly cache = new Map<number, Buffer>();
  private readonly dirty = new Set<number>();
  /** Indirect blocks allocated through this map (for placement reports). */
  readonly allocatedIndirect: IndirectRef[] = [];

  constructor(io: BmapIo, ip: Inode) {
    this.io = io;
    this.ip = ip;
    this.g = io.g;
    this.n = io.g.nindir;
  }

  private path(lbn: number): Path {
    if (lbn < 0 || !Number.isSafeInteger(lbn)) throw new Error(`logical block ${lbn}`);
    if (lbn < NDADDR) return { root: -1, idx: [lbn] };
    const n = this.n;
    let l = lbn - NDADDR;
    if (l < n) return { root: 0, idx: [l] };
    l -= n;
    if (l < n * n) return { root: 1, idx: [Math.floor(l / n), l % n] };
    l -= n * n;
    if (l < n * n * n) return { root: 2, idx: [Math.floor(l / (n * n)), Math.floor(l / n) % n, l % n] };
    throw new Error(`logical block ${lbn} is past the triple indirect block`);
  }

  private load(addr: number): Buffer {
    let b = this.cache.get(addr);
    if (!b) {
      b = this.io.readFrags(addr, this.g.bsize);
      this.cache.set(addr, b);
    }
    return b;
  }

  private ptr(blk: Buffer, i: number): number {
    if (this.g.ptrSize === 4) return blk.readInt32LE(4 * i);
    return blk.readInt32LE(8 * i + 4) * 0x1_0000_0000 + blk.readUInt32LE(8 * i);
  }

  private setPtr(addr: number, blk: Buffer, i: number, v: number): void {
    if (this.g.ptrSize === 4) blk.writeInt32LE(v, 4 * i);
    else {
      blk.writeUInt32LE(v % 0x1_0000_0000, 8 * i);
      blk.writeUInt32LE(Math.floor(v / 0x1_0000_0000), 8 * i + 4);
    }
    this.dirty.add(addr);
  }

  private newIndirect(level: number, prefCg: number): number {
    const addr = this.io.allocBlock(prefCg);
    this.cache.set(addr, Buffer.alloc(this.g.bsize));
    this.dirty.add(addr);
    this.ip.blocks += this.g.bsize / 512;
    this.allocatedIndirect.push({ addr, level });
    return addr;
  }

  /** Physical fragment address of logical block `lbn`, 0 for a hole. */
  get(lbn: number): number {
    const p = this.path(lbn);
    if (p.root < 0) return this.ip.db[lbn]!;
    let addr = this.ip.ib[p.root]!;
    for (const i of p.idx) {
      if (addr === 0) return 0;
      addr = this.ptr(this.load(addr), i);
    }
    return addr;
  }

  /** Allocate whatever indirect blocks the path to `lbn` lacks (as ffs_balloc does, before the data block). */
  prepare(lbn: number, prefCg: number): void {
    const p = this.path(lbn);
    if (p.root < 0) return;
    let level = p.root + 1;
    if (this.ip.ib[p.root] === 0) this.ip.ib[p.root] = this.newIndirect(level, prefCg);
    let addr = this.ip.ib[p.root]!;
    for (let k = 0; k < p.idx.length - 1; k++) {
      const blk = this.load(addr);
      let child = this.ptr(blk, p.idx[k]!);
      level--;
      if (child === 0) {
        child = this.newIndirect(level, prefCg);
        this.setPtr(addr, blk, p.idx[k]!, child);
      }
      addr = child;
    }
  }

  /** Point logical block `lbn` at `addr` (0 to unmap); the indirect path must exist (prepare). */
  set(lbn: number, value: number): void {
    const p = this.path(lbn);
    if (p.root < 0) {
      this.ip.db[lbn] = value;
      return;
    }
    let addr = this.ip.ib[p.root]!;
    for (let k = 0; k < p.idx.length - 1; k++) {
      addr = this.ptr(this.load(addr), p.idx[k]!);
      if (addr === 0) throw new Error(`no indirect block on the path to logical block ${lbn}`);
    }
    this.setPtr(addr, this.load(addr), p.idx[p.idx.length - 1]!, value);
  }

  private span(level: number): number {
    return this.n ** (level - 1);
  }

  private rootBase(root: number): number {
    const n = this.n;
    return root === 0 ? NDADDR : root === 1 ? NDADDR + n : NDADDR + n + n * n;
  }

  /** Every mapped data block, in logical order. */
  walk(cb: (lbn: number, addr: number) => void): void {
    for (let i = 0; i < NDADDR; i++) if (this.ip.db[i]) cb(i, this.ip.db[i]!);
    for (let r = 0; r < NIADDR; r++) {
      const addr = this.ip.ib[r]!;
      if (addr) this.visit(addr, r + 1, this.rootBase(r), cb);
    }
  }

  private visit(addr: number, level: number, base: number, cb: (lbn: number, addr: number) => void, ind?: (r: IndirectRef) => void): void {
    ind?.({ addr, level });
    const blk = this.load(addr);
    const span = this.span(level);
    for (let i = 0; i < this.n; i++) {
      const p = this.ptr(blk, i);
      if (!p) continue;
      if (level === 1) cb(base + i, p);
      else this.visit(p, level - 1, base + i * span, cb, ind);
    }
  }

  /** Every indirect block, parents before children. */
  indirects(): IndirectRef[] {
    const out: IndirectRef[] = [];
    for (let r = 0; r < NIADDR; r++) {
      const addr = this.ip.ib[r]!;
      if (addr) this.visit(addr, r + 1, this.rootBase(r), () => {}, (x) => out.push(x));
    }
    return out;
  }

  /**
   * Free every data block at or past logical block `first`, and every indirect block left with
   * nothing to map; `oldSize` gives the direct blocks' fragment counts. Freed blocks keep their bytes.
   */
  truncateFrom(first: number, oldSize: number): void {
    const g = this.g;
    const perFrag = g.fsize / 512;
    for (let lbn = Math.max(0, first); lbn < NDADDR; lbn++) {
      const addr = this.ip.db[lbn]!;
      if (!addr) continue;
      const nfrags = blockSizeAt(g, oldSize, lbn) / g.fsize;
      this.io.freeFrags(addr, nfrags);
      this.ip.blocks -= nfrags * perFrag;
      this.ip.db[lbn] = 0;
    }
    for (let r = 0; r < NIADDR; r++) {
      const addr = this.ip.ib[r]!;
      if (!addr) continue;
      const base = this.rootBase(r);
      if (base >= first) {
        this.freeWhole(addr, r + 1);
        this.ip.ib[r] = 0;
      } else if (base + this.n * this.span(r + 1) > first) {
        this.freePart(addr, r + 1, base, first);
      }
    }
  }

  private freeBlock(addr: number): void {
    this.io.freeFrags(addr, this.g.frag);
    this.ip.blocks -= this.g.bsize / 512;
    this.cache.delete(addr);
    this.dirty.delete(addr);
  }

  private freeWhole(addr: number, level: number): void {
    const blk = this.load(addr);
    for (let i = 0; i < this.n; i++) {
      const p = this.ptr(blk, i);
      if (!p) continue;
      if (level === 1) this.freeBlock(p);
      else this.freeWhole(p, level - 1);
    }
    this.freeBlock(addr);
  }

  private freePart(addr: number, level: number, base: number, first: number): void {
    const blk = this.load(addr);
    const span = this.span(level);
    for (let i = 0; i < this.n; i++) {
      const childBase = base + i * span;
      if (childBase + span <= first) continue;
      const p = this.ptr(blk, i);
      if (!p) continue;
      if (level === 1) {
        this.freeBlock(p);
        this.setPtr(addr, blk, i, 0);
      } else if (childBase >= first) {
        this.freeWhole(p, level - 1);
        this.setPtr(addr, blk, i, 0);
      } else {
        this.freePart(p, level - 1, childBase, first);
      }
    }
  }

  /** Write the indirect blocks changed since the last flush. */
  flush(): void {
    for (const addr of [...this.dirty].sort((a, b) => a - b)) this.io.writeFrags(addr, this.cache.get(addr)!);
    this.dirty.clear();
  }
}
