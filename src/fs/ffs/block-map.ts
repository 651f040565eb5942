// From a file's logical blocks to fragments on the disk: direct pointers, single, double and
// triple indirect blocks, the tail fragments of a small file, holes (pointer 0: zeros). Like
// ffs_bmap and The Sleuth Kit's ffs block walk. Every pointer is checked before it is followed;
// an indirect block used twice by one file is a loop; a file cannot reference more blocks than
// the filesystem holds. Work and memory are bounded by the filesystem's size, never by a count
// read from an inode.

import type { BlockDevice } from '../../image/block-device.js';
import { readI64 } from './layout.js';
import { Lru } from '../../util/lru.js';
import { NDADDR, NIADDR, NXADDR, type Geometry } from './superblock.js';
import type { Inode } from './inode.js';

/** A run of a file's bytes and where they are on the device (null: a hole, reads as zeros). */
export interface Extent {
  /** Byte offset in the file. */
  fileOffset: number;
  /** Bytes of the file (the last extent stops at the file's size, not at its fragment's end). */
  length: number;
  /** Byte offset in the filesystem's device, or null for a hole. */
  diskOffset: number | null;
}

/** A block of a file that holds no file data: an indirect block, or UFS2 extended attributes. */
export interface MetadataBlock {
  kind: 'indirect' | 'extattr';
  /** 1 single, 2 double, 3 triple indirect; 0 for extended attributes. */
  level: number;
  /** First logical block this indirect block maps (or the extattr block index). */
  lbn: number;
  fragment: number;
  fragments: number;
  diskOffset: number;
  length: number;
}

/** One step of the block walk. */
export interface BlockVisit {
  kind: 'data' | 'indirect' | 'extattr';
  /** Data: first logical block; indirect: first logical block it maps. */
  lbn: number;
  /** Indirect level (1-3), 0 for data and extattr. */
  level: number;
  /** First fragment, or 0 for a hole (data only). */
  fragment: number;
  /** Fragments allocated (data: for one block; 0 for a hole). */
  fragments: number;
  /** Data: bytes of the file this covers (a hole may cover many blocks); others: fragments * fsize. */
  fileOffset: number;
  length: number;
}

export interface BlockMapOptions {
  /** Largest number of extents `extents()` returns before refusing (default 1,000,000). */
  maxExtents?: number;
}

export class BlockMap {
  private readonly indirect = new Lru<number, Buffer>(64);
  private readonly maxExtents: number;

  constructor(
    private readonly dev: BlockDevice,
    private readonly geo: Geometry,
    opts: BlockMapOptions = {},
  ) {
    this.maxExtents = opts.maxExtents ?? 1_000_000;
  }

  /** Whether a symlink keeps its target in the inode (no blocks at all). */
  isFastSymlink(ino: Inode): boolean {
    const max = this.geo.maxSymlinkLen;
    return ino.kind === 'symlink' && (ino.size < max || (max === 0 && ino.blocks === 0));
  }

  /** Whether this inode's pointers address blocks (regular files, directories, slow symlinks). */
  hasBlocks(ino: Inode): boolean {
    return ino.kind === 'file' || ino.kind === 'directory' || (ino.kind === 'symlink' && !this.isFastSymlink(ino));
  }

  private err(ino: Inode, what: string): Error {
    return this.geo.error(`inode ${ino.ino}: ${what}`);
  }

  private checkSize(ino: Inode): void {
    if (!Number.isSafeInteger(ino.size) || ino.size > this.geo.maxFileSize) {
      throw this.err(ino, `size ${ino.size} is more than its block pointers can address (${this.geo.maxFileSize})`);
    }
  }

  private check(ino: Inode, frag: number, n: number, what: string): void {
    const bad = this.geo.badExtent(frag, n);
    if (bad) throw this.err(ino, `${what}: ${bad}`);
  }

  /** Number of logical blocks of the file. */
  private nblocks(ino: Inode): number {
    return Math.ceil(ino.size / this.geo.bsize);
  }

  /** Fragments allocated to logical block lbn (a short last direct block is fragroundup(size)). */
  private fragsOf(ino: Inode, lbn: number, nblocks: number): number {
    const geo = this.geo;
    if (lbn < NDADDR && lbn === nblocks - 1) return Math.ceil((ino.size - lbn * geo.bsize) / geo.fsize);
    return geo.frag;
  }

  private readIndirect(ino: Inode, frag: number, level: number): Buffer {
    this.check(ino, frag, this.geo.frag, `level-${level} indirect block`);
    if (frag % this.geo.frag !== 0) throw this.err(ino, `level-${level} indirect block ${frag} is not block-aligned`);
    let b = this.indirect.get(frag);
    if (!b) {
      b = Buffer.alloc(this.geo.bsize);
      this.dev.read(b, frag * this.geo.fsize);
      this.indirect.set(frag, b);
    }
    return b;
  }

  private entry(block: Buffer, i: number): number {
    return this.geo.ptrSize === 4 ? block.readInt32LE(i * 4) : readI64(block, i * 8);
  }

  /**
   * Visit every block of the file in logical order: data blocks (holes as runs with fragment 0),
   * the indirect blocks before the blocks they map, then extended-attribute blocks. Return false
   * from `visit` to stop.
   */
  walk(ino: Inode, visit: (v: BlockVisit) => boolean | void): void {
    if (!this.hasBlocks(ino)) return;
    this.checkSize(ino);
    const geo = this.geo;
    const nblocks = this.nblocks(ino);
    const limit = Math.ceil(geo.size / geo.frag) + 1;
    let referenced = 0;
    const seenIndirect = new Set<number>();
    let stopped = false;

    const emit = (v: BlockVisit): void => {
      if (v.fragment !== 0 && ++referenced > limit) {
        throw this.err(ino, `references more than the ${limit - 1} blocks the filesystem holds (blocks are used twice)`);
      }
      if (visit(v) === false) stopped = true;
    };
    const data = (lbn: number, frag: number): void => {
      const length = Math.min(geo.bsize, ino.size - lbn * geo.bsize);
      if (frag === 0) {
        emit({ kind: 'data', lbn, level: 0, fragment: 0, fragments: 0, fileOffset: lbn * geo.bsize, length });
        return;
      }
      const n = this.fragsOf(ino, lbn, nblocks);
      this.check(ino, frag, n, `block ${lbn}`);
      if (n === geo.frag && frag % geo.frag !== 0) throw this.err(ino, `block ${lbn} at fragment ${frag} is not block-aligned`);
      emit({ kind: 'data', lbn, level: 0, fragment: frag, fragments: n, fileOffset: lbn * geo.bsize, length });
    };
    const hole = (lbn: number, count: number): void => {
      const start = lbn * geo.bsize;
      emit({ kind: 'data', lbn, level: 0, fragment: 0, fragments: 0, fileOffset: start, length: Math.min(count * geo.bsize, ino.size - start) });
    };
    const indirect = (frag: number, level: number, base: number, cover: number): void => {
      if (seenIndirect.has(frag)) throw this.err(ino, `indirect block ${frag} is used twice (a loop)`);
      seenIndirect.add(frag);
      const block = this.readIndirect(ino, frag, level);
      emit({ kind: 'indirect', lbn: base, level, fragment: frag, fragments: geo.frag, fileOffset: 0, length: geo.bsize });
      const sub = geo.nindir ** (level - 1);
      const n = Math.ceil(cover / sub);
      for (let i = 0; i < n && !stopped; i++) {
        const p = this.entry(block, i);
        const b = base + i * sub;
        if (level === 1) data(b, p);
        else if (p === 0) hole(b, Math.min(sub, nblocks - b));
        else indirect(p, level - 1, b, Math.min(sub, nblocks - b));
      }
    };

    for (let lbn = 0; lbn < Math.min(NDADDR, nblocks) && !stopped; lbn++) data(lbn, ino.db[lbn] ?? 0);
    let base = NDADDR;
    let span = geo.nindir;
    for (let level = 1; level <= NIADDR && base < nblocks && !stopped; level++) {
      const cover = Math.min(span, nblocks - base);
      const p = ino.ib[level - 1] ?? 0;
      if (p === 0) hole(base, cover);
      else indirect(p, level, base, cover);
      base += span;
      span *= geo.nindir;
    }
    if (!stopped && ino.extsize > 0) {
      if (ino.extsize > NXADDR * geo.bsize) throw this.err(ino, `extended attribute size ${ino.extsize} is more than ${NXADDR * geo.bsize}`);
      const nb = Math.ceil(ino.extsize / geo.bsize);
      for (let i = 0; i < nb && !stopped; i++) {
        const p = ino.extb[i] ?? 0;
        if (p === 0) continue;
        const n = i === nb - 1 ? Math.ceil((ino.extsize - i * geo.bsize) / geo.fsize) : geo.frag;
        this.check(ino, p, n, `extended attribute block ${i}`);
        emit({ kind: 'extattr', lbn: i, level: 0, fragment: p, fragments: n, fileOffset: 0, length: n * geo.fsize });
      }
    }
  }

  /** The file's bytes as extents, merged where contiguous in the file and on the disk. */
  extents(ino: Inode): Extent[] {
    const out: Extent[] = [];
    const fsize = this.geo.fsize;
    this.walk(ino, (v) => {
      if (v.kind !== 'data' || v.length <= 0) return;
      const disk = v.fragment === 0 ? null : v.fragment * fsize;
      const last = out[out.length - 1];
      if (
        last &&
        last.fileOffset + last.length === v.fileOffset &&
        ((last.diskOffset === null && disk === null) || (last.diskOffset !== null && disk !== null && last.diskOffset + last.length === disk))
      ) {
        last.length += v.length;
        return;
      }
      if (out.length >= this.maxExtents) throw this.err(ino, `has more than ${this.maxExtents} extents`);
      out.push({ fileOffset: v.fileOffset, length: v.length, diskOffset: disk });
    });
    return out;
  }

  /** The file's indirect blocks (and UFS2 extended-attribute blocks). */
  metadataBlocks(ino: Inode): MetadataBlock[] {
    const out: MetadataBlock[] = [];
    const fsize = this.geo.fsize;
    this.walk(ino, (v) => {
      if (v.kind === 'data') return;
      out.push({ kind: v.kind, level: v.level, lbn: v.lbn, fragment: v.fragment, fragments: v.fragments, diskOffset: v.fragment * fsize, length: v.fragments * fsize });
    });
    return out;
  }

  /** ffs_bmap: the fragment holding logical block lbn, or 0 for a hole. */
  bmap(ino: Inode, lbn: number): number {
    const geo = this.geo;
    const nblocks = this.nblocks(ino);
    if (lbn < 0 || lbn >= nblocks) return 0;
    if (lbn < NDADDR) {
      const p = ino.db[lbn] ?? 0;
      if (p !== 0) this.check(ino, p, this.fragsOf(ino, lbn, nblocks), `block ${lbn}`);
      return p;
    }
    let rel = lbn - NDADDR;
    let level = 1;
    let span = geo.nindir;
    while (rel >= span) {
      rel -= span;
      level++;
      span *= geo.nindir;
    }
    let p = ino.ib[level - 1] ?? 0;
    for (let l = level; l >= 1; l--) {
      if (p === 0) return 0;
      const block = this.readIndirect(ino, p, l);
      const sub = geo.nindir ** (l - 1);
      p = this.entry(block, Math.floor(rel / sub));
      rel %= sub;
    }
    if (p !== 0) {
      this.check(ino, p, geo.frag, `block ${lbn}`);
      if (p % geo.frag !== 0) throw this.err(ino, `block ${lbn} at fragment ${p} is not block-aligned`);
    }
    return p;
  }

  /** Check what bmap relies on before a file is read. */
  prepare(ino: Inode): void {
    this.checkSize(ino);
  }
}

/** Positioned reads of one file into the caller's buffer: nothing of the file is held. */
export class FileReader {
  constructor(
    private readonly dev: BlockDevice,
    private readonly geo: Geometry,
    private readonly map: BlockMap,
    readonly inode: Inode,
  ) {
    map.prepare(inode);
  }

  get size(): number {
    return this.inode.size;
  }

  /** Fill `buf` from `position`; returns the bytes read (0 at or past the end). */
  read(buf: Uint8Array, position: number): number {
    const size = this.inode.size;
    if (!Number.isSafeInteger(position) || position < 0) throw this.geo.error(`inode ${this.inode.ino}: read at ${position}`);
    if (position >= size) return 0;
    const n = Math.min(buf.length, size - position);
    const bsize = this.geo.bsize;
    const fsize = this.geo.fsize;
    let done = 0;
    while (done < n) {
      const pos = position + done;
      const lbn = Math.floor(pos / bsize);
      const off = pos % bsize;
      const p = this.map.bmap(this.inode, lbn);
      let len = Math.min(bsize - off, n - done);
      // Extend over following blocks that are contiguous on the disk (or following holes).
      let next = lbn + 1;
      while (done + len < n) {
        const q = this.map.bmap(this.inode, next);
        if (p === 0 ? q !== 0 : q !== p + (next - lbn) * this.geo.frag) break;
        len += Math.min(bsize, n - done - len);
        next++;
      }
      const target = buf.subarray(done, done + len);
      if (p === 0) target.fill(0);
      else this.dev.read(target, p * fsize + off);
      done += len;
    }
    return n;
  }
}
