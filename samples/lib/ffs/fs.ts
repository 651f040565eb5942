// File operations on an FFS (UFS1 or UFS2) held in a Disk: the writer half of the sample
// tooling. Each public operation leaves a consistent file system on the disk (inodes, directory
// blocks, indirect blocks, cylinder-group maps and counts, the summary array at fs_csaddr and the
// superblock totals), as a kernel would after the operation and a sync, except the data blocks an
// operation was told to lose (`lose`): those are allocated and pointed at, but never written, so
// they read back as whatever the disk held there before, which is the soft-updates failure this
// project diagnoses.
//
// Allocation follows the kernel's shape with the simplest preferences: an inode goes in its
// parent's cylinder group (lowest free inode), blocks in their inode's group (lowest free whole
// block; fragments in the smallest sufficient run of a broken block, else a new block is broken),
// spilling over to the next groups. So blocks freed by a deletion are the first reused, which is
// how a new file comes to hold an old file's bytes. Nothing freed is ever zeroed.

import type { Disk } from '../disk.js';
import { BlockMap, type BmapIo, type IndirectRef } from './bmap.js';
import { CylGroup, type CsField } from './cg.js';
import {
  type Geometry,
  blockSizeAt,
  cgtod,
  dtog,
  dtogd,
  geometryFromSuperblock,
  inoToCg,
  inodeOffset,
  maxFileSize,
  fragRoundup,
} from './geometry.js';
import { blankInode, copyInode, decodeInode, encodeInode, type Inode } from './inode.js';
import {
  CG,
  CSUM,
  CSUM_SIZE,
  DIRBLKSIZ,
  DT_DIR,
  DT_LNK,
  DT_REG,
  DT_UNKNOWN,
  direntSize,
  FS_UFS1_MAGIC,
  FS_UFS2_MAGIC,
  IFDIR,
  IFLNK,
  IFMT,
  IFREG,
  NDADDR,
  ROOTINO,
  SB,
  SBLOCKSIZE,
  SBLOCK_FLOPPY,
  SBLOCK_PIGGY,
  SBLOCK_UFS1,
  SBLOCK_UFS2,
  rd,
  wr,
} from './layout.js';
import {
  checkName,
  chunkFree,
  chunkRecords,
  dotChunk,
  insertIntoChunk,
  newChunk,
  removeFromChunk,
  retargetInChunk,
} from './dir.js';

/** Seconds since the epoch (fractions become nanoseconds), a Date, or explicit parts. */
export type Time = number | Date | { sec: number; nsec?: number };

export interface Attrs {
  /** Permission bits (and setuid/setgid/sticky); the file type is implied by the operation. */
  mode?: number;
  uid?: number;
  gid?: number;
  atime?: Time;
  mtime?: Time;
  ctime?: Time;
  /** UFS2 only. */
  birthtime?: Time;
  /** di_flags (chflags). */
  flags?: number;
  /** Put the new inode in this cylinder group (default: the parent directory's). */
  cg?: number;
}

/**
 * Which data blocks an operation does not write (the soft-updates failure): `true` all of them;
 * a predicate on the logical block number; or byte ranges [start, end) of the file, a block being
 * lost when its byte range overlaps one of them.
 */
export type Lose = boolean | ((lbn: number) => boolean) | ReadonlyArray<readonly [number, number]>;

export interface WriteOptions extends Attrs {
  lose?: Lose;
  /** Write in slices of this many bytes (like a tar extractor's write calls), growing the tail as a kernel does. */
  chunk?: number;
  /** When the file exists: truncate it and write (same inode, the default), or unlink it and create a new one (as tar does). */
  replace?: 'truncate' | 'unlink';
}

/** A block of a file as this operation placed it. */
export interface PlacedBlock extends Extent {
  /** Allocated (or moved, when a tail grew) by this operation. */
  fresh: boolean;
  /** Not written by this operation: its bytes are whatever the disk held. */
  lost: boolean;
}

export interface Placement {
  path: string;
  ino: number;
  gen: number;
  size: number;
  /** The data blocks this operation wrote or was told to lose, in logical order. */
  blocks: PlacedBlock[];
  /** Indirect blocks allocated by this operation. */
  indirect: Array<{ level: number; fsAddr: number; disk: number }>;
}

export interface Stat {
  ino: number;
  gen: number;
  mode: number;
  type: 'file' | 'dir' | 'symlink' | 'other';
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** di_blocks (512-byte units). */
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
  birthtime: number;
  flags: number;
}

export interface Extent {
  /** Logical block number. */
  lbn: number;
  /** Offset in the file of the block's first byte. */
  fileOffset: number;
  /** File bytes the block holds (the last block holds fewer than bsize). */
  length: number;
  /** Bytes allocated to it (a block, or the fragments of a small file's tail). */
  allocated: number;
  /** Fragment address in the file system. */
  fsAddr: number;
  /** Absolute byte offset in the disk. */
  disk: number;
}

export interface DirEntryInfo {
  name: string;
  ino: number;
  type: number;
}

export interface OpenOptions {
  /** Byte offset of the superblock from the start of the file system (default: search 65536, 8192, 0, 262144). */
  sblockloc?: number;
  /** The clock for operations that are not given times (seconds; default: the superblock's fs_time). */
  now?: number;
}

const SEARCH = [SBLOCK_UFS2, SBLOCK_UFS1, SBLOCK_FLOPPY, SBLOCK_PIGGY];

function toTime(t: Time): [number, number] {
  if (t instanceof Date) {
    const ms = t.getTime();
    return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
  }
  if (typeof t === 'number') {
    const sec = Math.floor(t);
    return [sec, Math.round((t - sec) * 1e9)];
  }
  return [t.sec, t.nsec ?? 0];
}

/** Deterministic stand-in for arc4random, per file system and inode (splitmix32). */
export function hashGen(id0: number, id1: number, ino: number): number {
  let x = (id0 ^ Math.imul(id1 | 0, 0x85ebca6b) ^ Math.imul(ino + 1, 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  return (x >>> 1) + 1;
}

function dtypeOf(mode: number): number {
  switch (mode & IFMT) {
    case IFREG:
      return DT_REG;
    case IFDIR:
      return DT_DIR;
    case IFLNK:
      return DT_LNK;
    default:
      return DT_UNKNOWN;
  }
}

function loseFn(lose: Lose | undefined, bsize: number): ((lbn: number) => boolean) | null {
  if (lose === undefined || lose === false) return null;
  if (lose === true) return () => true;
  if (typeof lose === 'function') return lose;
  const ranges = lose;
  return (lbn) => ranges.some(([s, e]) => s < (lbn + 1) * bsize && e > lbn * bsize);
}

interface DirCache {
  /** The directory size the cache was made for. */
  size: number;
  names: Map<string, { ino: number; type: number; chunk: number }>;
  free: number[];
}

class FsError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

export class Ffs implements BmapIo {
  readonly disk: Disk;
  /** Byte offset of the file system (the partition) in the disk. */
  readonly offset: number;
  readonly g: Geometry;
  /** The clock for operations not given times (seconds). */
  now: number;
  private readonly sb: Buffer;
  private readonly csum: Buffer;
  private readonly cgs = new Map<number, CylGroup>();
  private readonly totals: Record<CsField, number>;
  private readonly id: [number, number];
  private csDirty = false;
  private sbDirty = false;
  private undo: Array<[number, Buffer]> | null = null;
  private readonly dirCaches = new Map<number, DirCache>();
  private readonly inodes = new Map<number, Inode>();
  private readonly maxFile: number;

  private constructor(disk: Disk, offset: number, sb: Buffer, now: number | undefined) {
    this.disk = disk;
    this.offset = offset;
    this.sb = sb;
    this.g = geometryFromSuperblock(sb);
    const g = this.g;
    this.csum = disk.readBytes(offset + g.csaddr * g.fsize, g.cssize);
    const u2 = g.ufs === 2;
    this.totals = {
      ndir: rd(sb, 0, u2 ? SB.cs_ndir : SB.old_cs_ndir),
      nbfree: rd(sb, 0, u2 ? SB.cs_nbfree : SB.old_cs_nbfree),
      nifree: rd(sb, 0, u2 ? SB.cs_nifree : SB.old_cs_nifree),
      nffree: rd(sb, 0, u2 ? SB.cs_nffree : SB.old_cs_nffree),
    };
    this.id = [rd(sb, 0, SB.id, 0), rd(sb, 0, SB.id, 1)];
    this.now = now ?? (u2 ? rd(sb, 0, SB.time) : rd(sb, 0, SB.old_time));
    this.maxFile = Math.min(maxFileSize(g), rd(sb, 0, SB.maxfilesize) || Number.MAX_SAFE_INTEGER);
  }

  /** Open the file system that starts `offset` bytes into the disk. */
  static open(disk: Disk, offset = 0, opts: OpenOptions = {}): Ffs {
    const places = opts.sblockloc !== undefined ? [opts.sblockloc] : SEARCH;
    for (const loc of places) {
      if (offset + loc + SBLOCKSIZE > disk.size) continue;
      const sb = disk.readBytes(offset + loc, SBLOCKSIZE);
      const magic = rd(sb, 0, SB.magic);
      if (magic !== FS_UFS2_MAGIC && magic !== FS_UFS1_MAGIC) continue;
      // A UFS2 superblock says where it belongs; a backup copy elsewhere is not the primary.
      if (magic === FS_UFS2_MAGIC && rd(sb, 0, SB.sblockloc) !== loc) continue;
      return new Ffs(disk, offset, sb, opts.now);
    }
    throw new Error(`no FFS superblock at ${places.join(', ')} bytes past offset ${offset}`);
  }

  // --- low-level I/O ------------------------------------------------------------------------

  readFrags(addr: number, bytes: number): Buffer {
    return this.disk.readBytes(this.offset + addr * this.g.fsize, bytes);
  }

  writeFrags(addr: number, buf: Buffer): void {
    this.put(buf, this.offset + addr * this.g.fsize);
  }

  private cg(c: number): CylGroup {
    let cg = this.cgs.get(c);
    if (!cg) {
      const buf = this.readFrags(cgtod(this.g, c), this.g.cgsize);
      cg = new CylGroup(this.g, c, buf, (cc, field, delta) => this.onDelta(cc, field, delta));
      this.cgs.set(c, cg);
    }
    return cg;
  }

  private onDelta(c: number, field: CsField, delta: number): void {
    const o = c * CSUM_SIZE;
    wr(this.csum, o, CSUM[field], rd(this.csum, o, CSUM[field]) + delta);
    this.totals[field] += delta;
    this.csDirty = true;
    this.sbDirty = true;
  }

  /** The inode as on disk (a copy the caller may change; decoded inodes are kept, as written). */
  readInode(ino: number): Inode {
    this.checkIno(ino);
    let ip = this.inodes.get(ino);
    if (!ip) {
      const raw = this.disk.readBytes(this.offset + inodeOffset(this.g, ino), this.g.inodeSize);
      ip = decodeInode(this.g, raw, ino);
      this.inodes.set(ino, ip);
    }
    return copyInode(ip);
  }

  private writeInode(ip: Inode): void {
    const raw = encodeInode(this.g, ip);
    this.put(raw, this.offset + inodeOffset(this.g, ip.ino));
    this.inodes.set(ip.ino, { ...copyInode(ip), raw });
  }

  private checkIno(ino: number): void {
    if (!Number.isSafeInteger(ino) || ino < ROOTINO || ino >= this.g.ipg * this.g.ncg) throw new FsError('EINVAL', `inode ${ino} out of range`);
  }

  /** Write what changed: cylinder groups, the summary array, the superblock. */
  private commit(): void {
    const g = this.g;
    for (const cg of this.cgs.values()) {
      if (!cg.dirty) continue;
      cg.finish(this.now);
      this.writeFrags(cgtod(g, cg.c), cg.buf);
      cg.dirty = false;
    }
    if (this.csDirty) {
      this.writeFrags(g.csaddr, this.csum);
      this.csDirty = false;
    }
    if (this.sbDirty) this.writeSuperblock();
  }

  private writeSuperblock(): void {
    const sb = this.sb;
    const t = this.totals;
    wr(sb, 0, SB.time, this.now);
    wr(sb, 0, SB.cs_ndir, t.ndir);
    wr(sb, 0, SB.cs_nbfree, t.nbfree);
    wr(sb, 0, SB.cs_nifree, t.nifree);
    wr(sb, 0, SB.cs_nffree, t.nffree);
    if (this.g.ufs === 1) {
      wr(sb, 0, SB.old_time, this.now);
      wr(sb, 0, SB.old_cs_ndir, t.ndir);
      wr(sb, 0, SB.old_cs_nbfree, t.nbfree);
      wr(sb, 0, SB.old_cs_nifree, t.nifree);
      wr(sb, 0, SB.old_cs_nffree, t.nffree);
    }
    this.put(sb.subarray(0, this.g.sbsize), this.offset + this.g.sblockloc);
    this.sbDirty = false;
  }

  /** Every write of an operation goes through here, keeping the old bytes to undo a failed operation. */
  private put(buf: Buffer, pos: number): void {
    this.undo?.push([pos, this.disk.readBytes(pos, buf.length)]);
    this.disk.write(buf, pos);
  }

  /**
   * Run one operation atomically: it writes everything (and commits the maps and summaries), or,
   * if it throws (ENOSPC half-way, a name that exists...), the disk is put back as it was.
   */
  private op<T>(fn: () => T): T {
    if (this.undo) return fn();
    this.undo = [];
    try {
      const out = fn();
      this.commit();
      return out;
    } catch (e) {
      const log = this.undo;
      this.undo = null;
      for (let i = log.length - 1; i >= 0; i--) this.disk.write(log[i]![1], log[i]![0]);
      this.reload();
      throw e;
    } finally {
      this.undo = null;
    }
  }

  /** Forget what is held in memory and read the superblock, summaries and groups afresh. */
  private reload(): void {
    const g = this.g;
    this.disk.read(this.sb, this.offset + g.sblockloc);
    this.disk.read(this.csum, this.offset + g.csaddr * g.fsize);
    const u2 = g.ufs === 2;
    this.totals.ndir = rd(this.sb, 0, u2 ? SB.cs_ndir : SB.old_cs_ndir);
    this.totals.nbfree = rd(this.sb, 0, u2 ? SB.cs_nbfree : SB.old_cs_nbfree);
    this.totals.nifree = rd(this.sb, 0, u2 ? SB.cs_nifree : SB.old_cs_nifree);
    this.totals.nffree = rd(this.sb, 0, u2 ? SB.cs_nffree : SB.old_cs_nffree);
    this.cgs.clear();
    this.dirCaches.clear();
    this.inodes.clear();
    this.csDirty = this.sbDirty = false;
  }

  // --- allocation -----------------------------------------------------------------------------

  private cgOrder(pref: number): number[] {
    const n = this.g.ncg;
    const p = ((pref % n) + n) % n;
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((p + i) % n);
    return out;
  }

  allocBlock(prefCg: number): number {
    for (const c of this.cgOrder(prefCg)) {
      const cg = this.cg(c);
      const b = cg.findFreeBlock();
      if (b < 0) continue;
      cg.allocBlock(b);
      return c * this.g.fpg + b * this.g.frag;
    }
    throw new FsError('ENOSPC', 'no free block');
  }

  private allocFrags(prefCg: number, n: number): number {
    if (n === this.g.frag) return this.allocBlock(prefCg);
    for (const c of this.cgOrder(prefCg)) {
      const cg = this.cg(c);
      const d = cg.findFragRun(n);
      if (d >= 0) {
        cg.allocFrags(d, n);
        return c * this.g.fpg + d;
      }
      const b = cg.findFreeBlock();
      if (b >= 0) {
        cg.allocFrags(b * this.g.frag, n);
        return c * this.g.fpg + b * this.g.frag;
      }
    }
    throw new FsError('ENOSPC', `no ${n} free fragments`);
  }

  freeFrags(addr: number, nfrags: number): void {
    this.cg(dtog(this.g, addr)).freeFrags(dtogd(this.g, addr), nfrags);
  }

  /** Grow the fragments at `addr` from `have` to `want` in place, if the next ones are free (ffs_fragextend). */
  private tryExtend(addr: number, have: number, want: number): boolean {
    const g = this.g;
    const d = dtogd(g, addr);
    if ((d % g.frag) + want > g.frag) return false;
    const cg = this.cg(dtog(g, addr));
    if (d + want > cg.ndblk) return false;
    for (let i = have; i < want; i++) if (!cg.fragFree(d + i)) return false;
    cg.allocFrags(d + have, want - have);
    return true;
  }

  private allocInode(prefCg: number, isDir: boolean): Inode {
    const g = this.g;
    for (const c of this.cgOrder(prefCg)) {
      const cg = this.cg(c);
      const i = cg.findFreeInode();
      if (i < 0) continue;
      if (g.ufs === 2) this.initInodeBlocks(cg, i);
      cg.allocInode(i, isDir);
      const ino = c * g.ipg + i;
      const old = this.readInode(ino);
      // FreeBSD's rule: the on-disk generation plus one, a fresh random one when that is 0.
      let gen = (old.gen + 1) >>> 0;
      if (old.gen === 0 || gen === 0) gen = hashGen(this.id[0], this.id[1], ino);
      const ip = blankInode(g, ino, gen);
      return ip;
    }
    throw new FsError('ENOSPC', 'no free inode');
  }

  /** UFS2 initialises inode blocks lazily: zero the next block of inodes when `i` gets near cg_initediblk. */
  private initInodeBlocks(cg: CylGroup, i: number): void {
    const g = this.g;
    let inited = rd(cg.buf, 0, CG.initediblk);
    while (i + g.inopb > inited && inited < g.ipg) {
      const first = cg.c * g.ipg + inited;
      const blk = Buffer.alloc(g.bsize);
      for (let k = 0; k < g.inopb; k++) blk.writeUInt32LE(hashGen(this.id[0], this.id[1], first + k), k * g.inodeSize + 80);
      this.put(blk, this.offset + inodeOffset(g, first));
      for (let k = 0; k < g.inopb; k++) this.inodes.delete(first + k);
      inited += g.inopb;
      wr(cg.buf, 0, CG.initediblk, inited);
      cg.dirty = true;
    }
  }

  private freeInode(ino: number, isDir: boolean): void {
    this.cg(inoToCg(this.g, ino)).freeInode(ino % this.g.ipg, isDir);
  }

  // --- paths and directories ------------------------------------------------------------------

  private parts(path: string): Buffer[] {
    const out: Buffer[] = [];
    for (const p of path.split('/')) {
      if (p === '' || p === '.') continue;
      out.push(Buffer.from(p, 'utf8'));
    }
    return out;
  }

  /** Inode number of an existing path (symlinks not followed). */
  lookup(path: string): number {
    const ino = this.tryLookup(path);
    if (ino === 0) throw new FsError('ENOENT', path);
    return ino;
  }

  exists(path: string): boolean {
    return this.tryLookup(path) !== 0;
  }

  private tryLookup(path: string): number {
    let ino = ROOTINO;
    for (const name of this.parts(path)) {
      const dip = this.readInode(ino);
      if ((dip.mode & IFMT) !== IFDIR) throw new FsError('ENOTDIR', path);
      const e = this.dirFind(dip, name);
      if (!e) return 0;
      ino = e.ino;
    }
    return ino;
  }

  /** The parent directory and last name of a path. */
  private parentOf(path: string): { parent: Inode; name: Buffer } {
    const ps = this.parts(path);
    const name = ps.pop();
    if (!name) throw new FsError('EINVAL', `${JSON.stringify(path)} names the root`);
    if (name.equals(Buffer.from('..'))) throw new FsError('EINVAL', `${JSON.stringify(path)} ends in ..`);
    checkName(name);
    let ino = ROOTINO;
    for (const p of ps) {
      const dip = this.readInode(ino);
      if ((dip.mode & IFMT) !== IFDIR) throw new FsError('ENOTDIR', path);
      const e = this.dirFind(dip, p);
      if (!e) throw new FsError('ENOENT', `${path}: ${p.toString()}`);
      ino = e.ino;
    }
    const parent = this.readInode(ino);
    if ((parent.mode & IFMT) !== IFDIR) throw new FsError('ENOTDIR', path);
    return { parent, name };
  }

  /** Each directory block: its run of fragments as read, and the chunks in it that lie within the size. */
  private *dirBlocks(dip: Inode): Generator<{ lbn: number; addr: number; run: Buffer; chunks: number }> {
    const g = this.g;
    const bm = new BlockMap(this, dip);
    const nblk = Math.ceil(dip.size / g.bsize);
    for (let lbn = 0; lbn < nblk; lbn++) {
      const addr = bm.get(lbn);
      if (!addr) throw new FsError('EIO', `directory ${dip.ino} has a hole at block ${lbn}`);
      const run = this.readFrags(addr, blockSizeAt(g, dip.size, lbn));
      yield { lbn, addr, run, chunks: Math.min(run.length, dip.size - lbn * g.bsize) / DIRBLKSIZ };
    }
  }

  /**
   * What a directory holds, kept in memory once read (every edit goes through dirAdd, dirRemove
   * and dirRetarget, which keep it in step): each name's inode, type and chunk, and each chunk's
   * free bytes (after compaction), so an add finds its chunk without reading the directory.
   */
  private dirCache(dip: Inode): DirCache {
    let c = this.dirCaches.get(dip.ino);
    if (c && c.size === dip.size) return c;
    c = { size: dip.size, names: new Map(), free: [] };
    for (const { lbn, run, chunks } of this.dirBlocks(dip)) {
      for (let k = 0; k < chunks; k++) {
        const idx = (lbn * this.g.bsize) / DIRBLKSIZ + k;
        const chunk = run.subarray(k * DIRBLKSIZ, (k + 1) * DIRBLKSIZ);
        for (const r of chunkRecords(chunk)) if (r.ino) c.names.set(r.name.toString('latin1'), { ino: r.ino, type: r.type, chunk: idx });
        c.free[idx] = chunkFree(chunk);
      }
    }
    this.dirCaches.set(dip.ino, c);
    return c;
  }

  private dirFind(dip: Inode, name: Buffer): { ino: number; type: number } | null {
    return this.dirCache(dip).names.get(name.toString('latin1')) ?? null;
  }

  /** Read, edit and write back the directory block holding chunk `idx`. */
  private withChunk<T>(dip: Inode, idx: number, fn: (chunk: Buffer) => T): T {
    const g = this.g;
    const off = idx * DIRBLKSIZ;
    const lbn = Math.floor(off / g.bsize);
    const addr = new BlockMap(this, dip).get(lbn);
    if (!addr) throw new FsError('EIO', `directory ${dip.ino} has a hole at block ${lbn}`);
    const run = this.readFrags(addr, blockSizeAt(g, dip.size, lbn));
    const within = off - lbn * g.bsize;
    const chunk = run.subarray(within, within + DIRBLKSIZ);
    const out = fn(chunk);
    this.writeFrags(addr, run);
    this.dirCache(dip).free[idx] = chunkFree(chunk);
    return out;
  }

  private dirEntries(dip: Inode): DirEntryInfo[] {
    const out: DirEntryInfo[] = [];
    for (const { run, chunks } of this.dirBlocks(dip)) {
      for (let k = 0; k < chunks; k++) {
        for (const r of chunkRecords(run.subarray(k * DIRBLKSIZ, (k + 1) * DIRBLKSIZ))) {
          if (r.ino) out.push({ name: r.name.toString('utf8'), ino: r.ino, type: r.type });
        }
      }
    }
    return out;
  }

  /** Add a name to a directory: the first chunk with room, else a new chunk at the end. */
  private dirAdd(dip: Inode, name: Buffer, ino: number, type: number): void {
    const c = this.dirCache(dip);
    const key = name.toString('latin1');
    if (c.names.has(key)) throw new FsError('EEXIST', name.toString());
    const need = direntSize(name.length);
    const idx = c.free.findIndex((f) => f >= need);
    if (idx >= 0) {
      if (!this.withChunk(dip, idx, (chunk) => insertIntoChunk(chunk, ino, type, name))) throw new Error(`directory ${dip.ino}: chunk ${idx} had no room after all`);
    } else {
      const bm = new BlockMap(this, dip);
      this.writeAt(dip, bm, dip.size, newChunk(ino, type, name), null, new Map());
      bm.flush();
      c.free.push(DIRBLKSIZ - need);
      c.size = dip.size;
    }
    c.names.set(key, { ino, type, chunk: idx >= 0 ? idx : c.free.length - 1 });
  }

  private dirRemove(dip: Inode, name: Buffer): void {
    const c = this.dirCache(dip);
    const key = name.toString('latin1');
    const e = c.names.get(key);
    if (!e) throw new FsError('ENOENT', name.toString());
    if (!this.withChunk(dip, e.chunk, (chunk) => removeFromChunk(chunk, name))) throw new Error(`directory ${dip.ino}: ${name.toString()} not in chunk ${e.chunk}`);
    c.names.delete(key);
  }

  /** Point an existing name at another inode (rename over a name, a moved directory's ".."). */
  private dirRetarget(dip: Inode, name: Buffer, ino: number, type: number): void {
    const e = this.dirCache(dip).names.get(name.toString('latin1'));
    if (!e) throw new FsError('ENOENT', name.toString());
    this.withChunk(dip, e.chunk, (chunk) => retargetInChunk(chunk, name, ino, type));
    e.ino = ino;
    e.type = type;
  }

  private touchDir(dip: Inode, t: number): void {
    dip.mtime = dip.ctime = t;
    dip.mtimensec = dip.ctimensec = 0;
  }

  // --- data -----------------------------------------------------------------------------------

  /**
   * Write `data` at byte `off` of the file, allocating and growing blocks as ffs_balloc does: a
   * small file's tail fragment grows in place when the next fragments are free, else moves (to a
   * new block, the rest of which is freed again, as FS_OPTTIME does); blocks passed over stay
   * holes; indirect blocks come before the data block that needs them. A block partly rewritten
   * is read from the disk first, as the kernel's buffer is: bytes of it past the old end of file
   * are zeros, unless a lost write left stale bytes there, which a write past the end then keeps.
   */
  private writeAt(ip: Inode, bm: BlockMap, off: number, data: Buffer, lose: ((lbn: number) => boolean) | null, placed: Map<number, PlacedBlock>): void {
    const g = this.g;
    const oldSize = ip.size;
    const end = off + data.length;
    const newSize = Math.max(oldSize, end);
    if (newSize > this.maxFile) throw new FsError('EFBIG', `size ${newSize} past fs_maxfilesize ${this.maxFile}`);
    const set = new Set<number>();
    if (oldSize > 0) {
      // The old tail fragment grows (to a whole block once it is no longer the last block).
      const oldLast = Math.floor((oldSize - 1) / g.bsize);
      if (oldLast < NDADDR && blockSizeAt(g, newSize, oldLast) > blockSizeAt(g, oldSize, oldLast)) set.add(oldLast);
    }
    if (data.length > 0) for (let l = Math.floor(off / g.bsize); l <= Math.floor((end - 1) / g.bsize); l++) set.add(l);
    const lbns = [...set].sort((a, b) => a - b);
    const prefCg = inoToCg(g, ip.ino);
    const perFrag = g.fsize / 512;
    for (const lbn of lbns) {
      const want = blockSizeAt(g, newSize, lbn) / g.fsize;
      const cur = bm.get(lbn);
      let addr: number;
      let fresh = false;
      let content: Buffer;
      if (cur === 0) {
        bm.prepare(lbn, prefCg);
        addr = this.allocFrags(prefCg, want);
        bm.set(lbn, addr);
        ip.blocks += want * perFrag;
        content = Buffer.alloc(want * g.fsize);
        fresh = true;
      } else {
        const have = blockSizeAt(g, oldSize, lbn) / g.fsize;
        content = Buffer.alloc(want * g.fsize);
        this.disk.read(content.subarray(0, Math.min(have, want) * g.fsize), this.offset + cur * g.fsize);
        addr = cur;
        if (want > have) {
          if (!this.tryExtend(cur, have, want)) {
            addr = this.allocBlock(prefCg);
            if (want < g.frag) this.freeFrags(addr + want, g.frag - want);
            this.freeFrags(cur, have);
            bm.set(lbn, addr);
          }
          ip.blocks += (want - have) * perFrag;
          fresh = true;
        }
      }
      const bStart = lbn * g.bsize;
      const from = Math.max(off, bStart);
      const to = Math.min(end, bStart + content.length);
      if (to > from) data.copy(content, from - bStart, from - off, to - off);
      const lost = lose ? lose(lbn) : false;
      if (!lost) this.writeFrags(addr, content);
      const prev = placed.get(lbn);
      placed.set(lbn, {
        lbn,
        fileOffset: bStart,
        length: Math.min(g.bsize, newSize - bStart),
        allocated: content.length,
        fsAddr: addr,
        disk: this.offset + addr * g.fsize,
        fresh: fresh || (prev?.fresh ?? false),
        lost,
      });
    }
    ip.size = newSize;
  }

  /** Shrink to `size` (ffs_truncate): free what lies past it, trim the tail fragment, zero the rest of the last block. */
  private shrink(ip: Inode, bm: BlockMap, size: number): void {
    const g = this.g;
    const oldSize = ip.size;
    if (size >= oldSize) return;
    const keepLast = size > 0 ? Math.floor((size - 1) / g.bsize) : -1;
    bm.truncateFrom(keepLast + 1, oldSize);
    if (keepLast >= 0) {
      const addr = bm.get(keepLast);
      const have = blockSizeAt(g, oldSize, keepLast);
      const want = blockSizeAt(g, size, keepLast);
      if (addr && want < have) this.freeFrags(addr + want / g.fsize, (have - want) / g.fsize);
      if (addr) {
        ip.blocks -= (have - want) / 512;
        const within = size - keepLast * g.bsize;
        if (within < want) this.put(Buffer.alloc(want - within), this.offset + addr * g.fsize + within);
      }
    }
    ip.size = size;
  }

  private placement(path: string, ip: Inode, bm: BlockMap, placed: Map<number, PlacedBlock>): Placement {
    return {
      path,
      ino: ip.ino,
      gen: ip.gen,
      size: ip.size,
      blocks: [...placed.values()].sort((a, b) => a.lbn - b.lbn),
      indirect: bm.allocatedIndirect.map((r: IndirectRef) => ({ level: r.level, fsAddr: r.addr, disk: this.offset + r.addr * this.g.fsize })),
    };
  }

  private applyAttrs(ip: Inode, a: Attrs, defaults: boolean): void {
    const [s, ns] = [this.now, 0];
    if (a.mode !== undefined) ip.mode = (ip.mode & IFMT) | (a.mode & 0o7777);
    if (a.uid !== undefined) ip.uid = a.uid;
    if (a.gid !== undefined) ip.gid = a.gid;
    if (a.flags !== undefined) ip.flags = a.flags;
    const set = (t: Time | undefined, fn: (sec: number, nsec: number) => void) => {
      if (t !== undefined) fn(...toTime(t));
      else if (defaults) fn(s, ns);
    };
    set(a.atime, (sec, nsec) => ((ip.atime = sec), (ip.atimensec = nsec)));
    set(a.mtime, (sec, nsec) => ((ip.mtime = sec), (ip.mtimensec = nsec)));
    set(a.ctime, (sec, nsec) => ((ip.ctime = sec), (ip.ctimensec = nsec)));
    if (this.g.ufs === 2) set(a.birthtime, (sec, nsec) => ((ip.birthtime = sec), (ip.birthnsec = nsec)));
  }

  /** A new inode of `type`, named `name` in `parent` (which is updated and written). */
  private create(parent: Inode, name: Buffer, type: number, attrs: Attrs, perm: number): Inode {
    if (this.dirFind(parent, name)) throw new FsError('EEXIST', name.toString());
    const isDir = type === IFDIR;
    const ip = this.allocInode(attrs.cg ?? inoToCg(this.g, parent.ino), isDir);
    ip.mode = type | perm;
    ip.nlink = isDir ? 2 : 1;
    ip.uid = 0;
    ip.gid = parent.gid;
    this.applyAttrs(ip, attrs, true);
    return ip;
  }

  // --- public operations ----------------------------------------------------------------------

  /** Make a directory (`parents`: and its missing ancestors, like mkdir -p). Returns its inode number. */
  mkdir(path: string, attrs: Attrs & { parents?: boolean } = {}): number {
    return this.op(() => this.mkdirIn(path, attrs));
  }

  private mkdirIn(path: string, attrs: Attrs & { parents?: boolean }): number {
    if (attrs.parents) {
      const ps = this.parts(path);
      let cur = '';
      for (let i = 0; i < ps.length; i++) {
        cur += '/' + ps[i]!.toString('utf8');
        const ino = this.tryLookup(cur);
        if (ino) {
          if (i === ps.length - 1) return ino;
          continue;
        }
        this.mkdirIn(cur, { ...attrs, parents: false });
      }
      return this.tryLookup(cur);
    }
    const g = this.g;
    const { parent, name } = this.parentOf(path);
    const ip = this.create(parent, name, IFDIR, attrs, attrs.mode ?? 0o755);
    const addr = this.allocFrags(inoToCg(g, ip.ino), fragRoundup(g, DIRBLKSIZ) / g.fsize);
    const run = Buffer.alloc(fragRoundup(g, DIRBLKSIZ));
    dotChunk(ip.ino, parent.ino, DT_DIR).copy(run);
    this.writeFrags(addr, run);
    ip.db[0] = addr;
    ip.size = DIRBLKSIZ;
    ip.blocks = run.length / 512;
    this.writeInode(ip);
    this.dirAdd(parent, name, ip.ino, DT_DIR);
    parent.nlink++;
    this.touchDir(parent, this.now);
    this.writeInode(parent);
    return ip.ino;
  }

  /**
   * Create (or replace) a regular file with `data`. With `lose`, the chosen data blocks are
   * allocated and pointed at but not written. Returns where every data block went.
   */
  writeFile(path: string, data: Uint8Array | string, opts: WriteOptions = {}): Placement {
    return this.op(() => {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const { parent, name } = this.parentOf(path);
      const existing = this.dirFind(parent, name);
      let ip: Inode;
      if (existing && opts.replace !== 'unlink') {
        ip = this.readInode(existing.ino);
        if ((ip.mode & IFMT) !== IFREG) throw new FsError('EISDIR', `${path} is not a regular file`);
        const bm = new BlockMap(this, ip);
        this.shrink(ip, bm, 0);
        bm.flush();
        ip.mtime = ip.ctime = this.now;
        ip.mtimensec = ip.ctimensec = 0;
        this.applyAttrs(ip, opts, false);
      } else {
        let dir = parent;
        if (existing) {
          this.unlinkIn(path);
          dir = this.readInode(parent.ino);
        }
        ip = this.create(dir, name, IFREG, opts, opts.mode ?? 0o644);
        this.writeInode(ip);
        this.dirAdd(dir, name, ip.ino, DT_REG);
        this.touchDir(dir, this.now);
        this.writeInode(dir);
      }
      return this.writeData(path, ip, 0, bytes, opts);
    });
  }

  private writeData(path: string, ip: Inode, off: number, bytes: Buffer, opts: WriteOptions): Placement {
    const bm = new BlockMap(this, ip);
    const placed = new Map<number, PlacedBlock>();
    const lose = loseFn(opts.lose, this.g.bsize);
    const step = opts.chunk && opts.chunk > 0 ? opts.chunk : Math.max(bytes.length, 1);
    if (bytes.length === 0) this.writeAt(ip, bm, off, bytes, lose, placed);
    for (let o = 0; o < bytes.length; o += step) this.writeAt(ip, bm, off + o, bytes.subarray(o, Math.min(bytes.length, o + step)), lose, placed);
    bm.flush();
    this.writeInode(ip);
    return this.placement(path, ip, bm, placed);
  }

  /** Append `data` to an existing regular file (with `lose`, as writeFile). */
  append(path: string, data: Uint8Array | string, opts: Pick<WriteOptions, 'lose' | 'chunk' | 'mtime' | 'ctime'> = {}): Placement {
    return this.op(() => {
      const ip = this.readInode(this.lookup(path));
      if ((ip.mode & IFMT) !== IFREG) throw new FsError('EISDIR', `${path} is not a regular file`);
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      ip.mtime = ip.ctime = this.now;
      ip.mtimensec = ip.ctimensec = 0;
      this.applyAttrs(ip, { mtime: opts.mtime, ctime: opts.ctime }, false);
      return this.writeData(path, ip, ip.size, bytes, opts);
    });
  }

  /** Write `data` at byte `offset` of an existing regular file (past the end leaves a hole). */
  pwrite(path: string, offset: number, data: Uint8Array | string, opts: Pick<WriteOptions, 'lose' | 'chunk'> = {}): Placement {
    return this.op(() => {
      const ip = this.readInode(this.lookup(path));
      if ((ip.mode & IFMT) !== IFREG) throw new FsError('EISDIR', `${path} is not a regular file`);
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      ip.mtime = ip.ctime = this.now;
      ip.mtimensec = ip.ctimensec = 0;
      return this.writeData(path, ip, offset, bytes, opts);
    });
  }

  /** Set a regular file's size: shrinking frees blocks, growing allocates only the last byte's block (a hole before it). */
  truncate(path: string, size: number): Placement {
    return this.op(() => {
      const ip = this.readInode(this.lookup(path));
      if ((ip.mode & IFMT) !== IFREG) throw new FsError('EISDIR', `${path} is not a regular file`);
      if (!Number.isSafeInteger(size) || size < 0) throw new FsError('EINVAL', `size ${size}`);
      const bm = new BlockMap(this, ip);
      const placed = new Map<number, PlacedBlock>();
      if (size < ip.size) this.shrink(ip, bm, size);
      else if (size > ip.size) this.writeAt(ip, bm, size - 1, Buffer.alloc(1), null, placed);
      ip.mtime = ip.ctime = this.now;
      ip.mtimensec = ip.ctimensec = 0;
      bm.flush();
      this.writeInode(ip);
      return this.placement(path, ip, bm, placed);
    });
  }

  /** A symbolic link: fast (in the inode) when the target is shorter than fs_maxsymlinklen, else in a block. */
  symlink(path: string, target: string, attrs: Attrs = {}): number {
    return this.op(() => {
      const tbytes = Buffer.from(target, 'utf8');
      if (tbytes.length === 0) throw new FsError('ENOENT', 'empty symlink target');
      const { parent, name } = this.parentOf(path);
      const ip = this.create(parent, name, IFLNK, attrs, attrs.mode ?? 0o755);
      if (tbytes.length < this.g.maxsymlinklen) {
        ip.shortlink = tbytes;
        ip.size = tbytes.length;
      } else {
        const bm = new BlockMap(this, ip);
        this.writeAt(ip, bm, 0, tbytes, null, new Map());
        bm.flush();
      }
      this.writeInode(ip);
      this.dirAdd(parent, name, ip.ino, DT_LNK);
      this.touchDir(parent, this.now);
      this.writeInode(parent);
      return ip.ino;
    });
  }

  /** A hard link `newPath` to the existing non-directory `existing`. */
  link(existing: string, newPath: string): void {
    this.op(() => {
      const ip = this.readInode(this.lookup(existing));
      if ((ip.mode & IFMT) === IFDIR) throw new FsError('EPERM', `${existing} is a directory`);
      const { parent, name } = this.parentOf(newPath);
      if (this.dirFind(parent, name)) throw new FsError('EEXIST', newPath);
      ip.nlink++;
      ip.ctime = this.now;
      ip.ctimensec = 0;
      this.writeInode(ip);
      this.dirAdd(parent, name, ip.ino, dtypeOf(ip.mode));
      this.touchDir(parent, this.now);
      this.writeInode(parent);
    });
  }

  /** Remove a non-directory name; the inode and its blocks are freed with the last link (their bytes stay). */
  unlink(path: string): void {
    this.op(() => this.unlinkIn(path));
  }

  private unlinkIn(path: string): void {
    const { parent, name } = this.parentOf(path);
    const e = this.dirFind(parent, name);
    if (!e) throw new FsError('ENOENT', path);
    const ip = this.readInode(e.ino);
    if ((ip.mode & IFMT) === IFDIR) throw new FsError('EISDIR', `${path} is a directory`);
    this.dirRemove(parent, name);
    this.touchDir(parent, this.now);
    this.writeInode(parent);
    this.dropLink(ip);
  }

  /** One link fewer; at zero, free the blocks and the inode (ufs_inactive: mode 0, size 0, pointers cleared). */
  private dropLink(ip: Inode): void {
    ip.nlink--;
    ip.ctime = this.now;
    ip.ctimensec = 0;
    if (ip.nlink > 0) {
      this.writeInode(ip);
      return;
    }
    this.release(ip, false);
  }

  private release(ip: Inode, isDir: boolean): void {
    if (ip.shortlink) {
      ip.shortlink = null;
      ip.size = 0;
    } else {
      const bm = new BlockMap(this, ip);
      this.shrink(ip, bm, 0);
      bm.flush();
    }
    ip.nlink = 0;
    ip.mode = 0;
    ip.size = 0;
    ip.blocks = 0;
    ip.mtime = ip.ctime = this.now;
    ip.mtimensec = ip.ctimensec = 0;
    ip.db.fill(0);
    ip.ib.fill(0);
    this.writeInode(ip);
    this.freeInode(ip.ino, isDir);
    this.dirCaches.delete(ip.ino);
  }

  /** Remove an empty directory. */
  rmdir(path: string): void {
    this.op(() => this.rmdirIn(path));
  }

  private rmdirIn(path: string): void {
    const { parent, name } = this.parentOf(path);
    const e = this.dirFind(parent, name);
    if (!e) throw new FsError('ENOENT', path);
    const ip = this.readInode(e.ino);
    if ((ip.mode & IFMT) !== IFDIR) throw new FsError('ENOTDIR', path);
    if (this.dirCache(ip).names.size > 2) throw new FsError('ENOTEMPTY', path);
    this.dirRemove(parent, name);
    parent.nlink--;
    this.touchDir(parent, this.now);
    this.writeInode(parent);
    this.release(ip, true);
  }

  /** Remove a tree (rm -r): children first, then the directory; or a single non-directory. */
  rmTree(path: string): void {
    this.op(() => this.rmTreeIn(path));
  }

  private rmTreeIn(path: string): void {
    const ip = this.readInode(this.lookup(path));
    if ((ip.mode & IFMT) !== IFDIR) {
      this.unlinkIn(path);
      return;
    }
    const base = path.endsWith('/') ? path : path + '/';
    for (const e of this.dirEntries(ip)) {
      if (e.name === '.' || e.name === '..') continue;
      this.rmTreeIn(base + e.name);
    }
    this.rmdirIn(path);
  }

  /** Rename, within or across directories; an existing target is replaced (an empty directory by a directory). */
  rename(from: string, to: string): void {
    this.op(() => {
      const src = this.parentOf(from);
      const se = this.dirFind(src.parent, src.name);
      if (!se) throw new FsError('ENOENT', from);
      const ip = this.readInode(se.ino);
      const isDir = (ip.mode & IFMT) === IFDIR;
      let dst = this.parentOf(to);
      if (isDir) {
        // Not into itself or a descendant.
        for (let cur = dst.parent.ino; ; ) {
          if (cur === ip.ino) throw new FsError('EINVAL', `cannot move ${from} into itself`);
          if (cur === ROOTINO) break;
          const up = this.dirFind(this.readInode(cur), Buffer.from('..'));
          if (!up) break;
          cur = up.ino;
        }
      }
      const de = this.dirFind(dst.parent, dst.name);
      if (de && de.ino === ip.ino) return;
      const type = dtypeOf(ip.mode);
      if (de) {
        const victim = this.readInode(de.ino);
        const vDir = (victim.mode & IFMT) === IFDIR;
        if (isDir !== vDir) throw new FsError(isDir ? 'ENOTDIR' : 'EISDIR', to);
        if (vDir && this.dirCache(victim).names.size > 2) throw new FsError('ENOTEMPTY', to);
        this.dirRetarget(dst.parent, dst.name, ip.ino, type);
        if (vDir) {
          dst.parent.nlink--;
          this.release(victim, true);
        } else this.dropLink(victim);
      } else {
        this.dirAdd(dst.parent, dst.name, ip.ino, type);
      }
      this.touchDir(dst.parent, this.now);
      this.writeInode(dst.parent);
      // The source parent may be the same inode: read it afresh.
      const sp = this.readInode(src.parent.ino);
      this.dirRemove(sp, src.name);
      this.touchDir(sp, this.now);
      if (isDir && sp.ino !== dst.parent.ino) {
        sp.nlink--;
        this.writeInode(sp);
        dst = { parent: this.readInode(dst.parent.ino), name: dst.name };
        dst.parent.nlink++;
        this.writeInode(dst.parent);
        const moved = this.readInode(ip.ino);
        this.dirRetarget(moved, Buffer.from('..'), dst.parent.ino, DT_DIR);
      } else {
        this.writeInode(sp);
      }
      const again = this.readInode(ip.ino);
      again.ctime = this.now;
      again.ctimensec = 0;
      this.writeInode(again);
    });
  }

  chmod(path: string, mode: number): void {
    this.setattr(path, { mode });
  }

  chown(path: string, uid: number, gid: number): void {
    this.setattr(path, { uid, gid });
  }

  utimes(path: string, atime: Time, mtime: Time): void {
    this.setattr(path, { atime, mtime });
  }

  /** Change attributes (ctime becomes now unless given). */
  setattr(path: string, attrs: Omit<Attrs, 'cg'>): void {
    this.op(() => {
      const ip = this.readInode(this.lookup(path));
      this.applyAttrs(ip, attrs, false);
      if (attrs.ctime === undefined) {
        ip.ctime = this.now;
        ip.ctimensec = 0;
      }
      this.writeInode(ip);
    });
  }

  /** Mark the superblock clean or not (fs_clean) and set its flags (e.g. FS_DOSOFTDEP), as a mount or unmount leaves them. */
  setState(state: { clean?: boolean; flags?: number; mountPoint?: string }): void {
    const sb = this.sb;
    if (state.clean !== undefined) wr(sb, 0, SB.clean, state.clean ? 1 : 0);
    if (state.flags !== undefined) {
      wr(sb, 0, SB.flags_openbsd, state.flags);
      if (this.g.ufs === 1) wr(sb, 0, SB.old_flags, state.flags & 0x7f);
    }
    if (state.mountPoint !== undefined) {
      const b = Buffer.from(state.mountPoint, 'utf8');
      if (b.length >= 468) throw new FsError('EINVAL', 'mount point too long');
      sb.fill(0, SB.fsmnt.off, SB.fsmnt.off + 468);
      b.copy(sb, SB.fsmnt.off);
    }
    this.writeSuperblock();
  }

  // --- reading (for tests and the generator) --------------------------------------------------

  stat(path: string): Stat {
    return this.statIno(this.lookup(path));
  }

  statIno(ino: number): Stat {
    const ip = this.readInode(ino);
    const t = ip.mode & IFMT;
    return {
      ino,
      gen: ip.gen,
      mode: ip.mode,
      type: t === IFREG ? 'file' : t === IFDIR ? 'dir' : t === IFLNK ? 'symlink' : 'other',
      nlink: ip.nlink,
      uid: ip.uid,
      gid: ip.gid,
      size: ip.size,
      blocks: ip.blocks,
      atime: ip.atime,
      mtime: ip.mtime,
      ctime: ip.ctime,
      birthtime: ip.birthtime,
      flags: ip.flags,
    };
  }

  readdir(path: string): DirEntryInfo[] {
    const ip = this.readInode(this.lookup(path));
    if ((ip.mode & IFMT) !== IFDIR) throw new FsError('ENOTDIR', path);
    return this.dirEntries(ip);
  }

  readlink(path: string): string {
    const ip = this.readInode(this.lookup(path));
    if ((ip.mode & IFMT) !== IFLNK) throw new FsError('EINVAL', `${path} is not a symlink`);
    if (ip.shortlink) return ip.shortlink.toString('utf8');
    return this.readData(ip, 0, ip.size).toString('utf8');
  }

  /** The file's bytes as the disk holds them now (holes read as zeros). */
  readFile(path: string): Buffer {
    const ip = this.readInode(this.lookup(path));
    return this.readData(ip, 0, ip.size);
  }

  readData(ip: Inode, off: number, len: number): Buffer {
    const g = this.g;
    const out = Buffer.alloc(Math.max(0, Math.min(len, ip.size - off)));
    const bm = new BlockMap(this, ip);
    let pos = off;
    while (pos < off + out.length) {
      const lbn = Math.floor(pos / g.bsize);
      const within = pos - lbn * g.bsize;
      const n = Math.min(g.bsize - within, off + out.length - pos);
      const addr = bm.get(lbn);
      if (addr) this.disk.read(out.subarray(pos - off, pos - off + n), this.offset + addr * g.fsize + within);
      pos += n;
    }
    return out;
  }

  /** Where the file's data lives: one extent per mapped block, in logical order. */
  extents(path: string): Extent[] {
    return this.extentsIno(this.lookup(path));
  }

  extentsIno(ino: number): Extent[] {
    const g = this.g;
    const ip = this.readInode(ino);
    if (ip.shortlink) return [];
    const out: Extent[] = [];
    new BlockMap(this, ip).walk((lbn, addr) => {
      out.push({
        lbn,
        fileOffset: lbn * g.bsize,
        length: Math.min(g.bsize, ip.size - lbn * g.bsize),
        allocated: blockSizeAt(g, ip.size, lbn),
        fsAddr: addr,
        disk: this.offset + addr * g.fsize,
      });
    });
    return out;
  }

  /** The indirect blocks of a file. */
  indirectBlocks(path: string): Array<{ level: number; fsAddr: number; disk: number }> {
    const ip = this.readInode(this.lookup(path));
    if (ip.shortlink) return [];
    return new BlockMap(this, ip).indirects().map((r) => ({ level: r.level, fsAddr: r.addr, disk: this.offset + r.addr * this.g.fsize }));
  }

  /** Free counts as the superblock holds them. */
  get free(): { blocks: number; frags: number; inodes: number; dirs: number } {
    return { blocks: this.totals.nbfree, frags: this.totals.nffree, inodes: this.totals.nifree, dirs: this.totals.ndir };
  }

  /** Is this fragment free in its cylinder group's map? */
  fragIsFree(addr: number): boolean {
    return this.cg(dtog(this.g, addr)).fragFree(dtogd(this.g, addr));
  }

  /** Every path in the tree (directories with a trailing '/'), depth first, names sorted. */
  walkTree(): Array<{ path: string; ino: number; type: 'file' | 'dir' | 'symlink' | 'other' }> {
    const out: Array<{ path: string; ino: number; type: 'file' | 'dir' | 'symlink' | 'other' }> = [];
    const visit = (dir: string, ino: number) => {
      const ents = this.dirEntries(this.readInode(ino))
        .filter((e) => e.name !== '.' && e.name !== '..')
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of ents) {
        const st = this.statIno(e.ino);
        const p = `${dir}${e.name}`;
        out.push({ path: st.type === 'dir' ? p + '/' : p, ino: e.ino, type: st.type });
        if (st.type === 'dir') visit(p + '/', e.ino);
      }
    };
    visit('/', ROOTINO);
    return out;
  }
}
