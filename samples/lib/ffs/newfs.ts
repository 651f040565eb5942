// newfs: make an FFS the way OpenBSD's newfs(8)/mkfs.c does, inside a Disk at a byte offset (a
// partition). UFS2 by default with OpenBSD's defaults for a /home partition: superblock at 65536,
// 16 KiB blocks, 2 KiB fragments, 256-byte inodes, one inode per 4 fragments, fs_maxcontig 1 (no
// cluster maps), minfree 5 %; UFS1 (superblock at 8192, 128-byte inodes) on request.
//
// What it writes, as mkfs does: in every cylinder group a copy of the superblock at cgsblock, the
// group header and maps at cgtod, and the first inode blocks (UFS2: two blocks, the rest are
// initialised on demand, cg_initediblk; UFS1: all of them), each inode with a random di_gen; the
// summary array at fs_csaddr (cg 0's first data fragments); the root directory (inode 2, one
// fragment holding "." and ".."); then the primary superblock. Deterministic: "random" values come
// from a hash of the file system id, which defaults to one derived from `time`.

import type { Disk } from '../disk.js';
import { CylGroup, cgMapLayout, cgSizeBytes } from './cg.js';
import { Ffs, hashGen } from './fs.js';
import { type Geometry, geometryFromSuperblock, maxFileSize } from './geometry.js';
import { encodeInode, blankInode } from './inode.js';
import {
  CG,
  CG_MAGIC,
  CSUM,
  CSUM_SIZE,
  DIRBLKSIZ,
  DINODE1_SIZE,
  DINODE2_SIZE,
  DT_DIR,
  FS_44INODEFMT,
  FS_DYNAMICPOSTBLFMT,
  FS_OPTTIME,
  FS_UFS1_MAGIC,
  FS_UFS2_MAGIC,
  IFDIR,
  MAXBSIZE,
  MAXFRAG,
  MINBSIZE,
  FS_MAXCONTIG,
  MAXSYMLINKLEN_UFS1,
  MAXSYMLINKLEN_UFS2,
  ROOTINO,
  SB,
  SBLOCKSIZE,
  SBLOCK_UFS1,
  SBLOCK_UFS2,
  SB_STRUCT_SIZE,
  rd,
  wr,
} from './layout.js';
import { dotChunk } from './dir.js';

/** Bad magic mkfs writes over a UFS1 superblock it replaces with UFS2 (FS_BAD_MAGIC). */
const FS_BAD_MAGIC = 0x19960408;
const SECTOR = 512;
/** newfs's NFPI: one inode per this many fragments by default. */
const NFPI = 4;
const MINCYLGRPS = 4;

export interface NewfsOptions {
  /** Byte offset of the file system in the disk (a partition's start). Default 0. */
  offset?: number;
  /** Bytes of the file system. Default: the rest of the disk. */
  size?: number;
  /** 2 (default) or 1. */
  ufs?: 1 | 2;
  /** Block size, default 16384. */
  bsize?: number;
  /** Fragment size, default 2048. */
  fsize?: number;
  /** Bytes of data per inode (newfs -i), default 4 fragments. */
  density?: number;
  /** Fragments per cylinder group (overrides newfs's sizing). */
  fpg?: number;
  /** Number of cylinder groups (overrides newfs's sizing; ignored with fpg). */
  ncg?: number;
  /** Inodes per cylinder group (rounded up to a whole inode block). */
  ipg?: number;
  /** newfs -c: at most this many fragments per cylinder group. */
  maxFragsPerCg?: number;
  /** fs_maxcontig; above 1, the cluster maps and summary are kept (OpenBSD's newfs uses 1). */
  maxcontig?: number;
  /** Percent reserved (newfs -m), default 5. */
  minfree?: number;
  avgfilesize?: number;
  avgfpdir?: number;
  /** Creation time (seconds), also the opened file system's clock. Default 2026-01-01T00:00:00Z. */
  time?: number;
  /** fs_id; default derived from `time`. */
  id?: [number, number];
  /** Root directory owner and permissions (default 0, 0, 0755). */
  rootUid?: number;
  rootGid?: number;
  rootMode?: number;
  /** Also make /lost+found (0700), as fsck would. */
  lostFound?: boolean;
  /** fs_fsmnt, the last mount point (the kernel writes it at mount). */
  mountPoint?: string;
  volname?: string;
}

export const DEFAULT_TIME = 1767225600;

function ilog2(n: number): number {
  const l = Math.log2(n);
  if (!Number.isInteger(l)) throw new Error(`${n} is not a power of 2`);
  return l;
}

const roundup = (x: number, y: number) => Math.ceil(x / y) * y;
const howmany = (x: number, y: number) => Math.ceil(x / y);

/** Make a file system and open it. */
export function newfs(disk: Disk, opts: NewfsOptions = {}): Ffs {
  const offset = opts.offset ?? 0;
  const ufs = opts.ufs ?? 2;
  const bsize = opts.bsize ?? 16384;
  const fsize = opts.fsize ?? 2048;
  const time = opts.time ?? DEFAULT_TIME;
  const bytes = opts.size ?? disk.size - offset;
  if (offset < 0 || offset % SECTOR !== 0) throw new Error(`offset ${offset} is not a multiple of ${SECTOR}`);
  if (offset + bytes > disk.size) throw new Error(`file system of ${bytes} bytes at ${offset} does not fit the disk (${disk.size})`);
  const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
  if (!pow2(bsize) || bsize < MINBSIZE || bsize > MAXBSIZE) throw new Error(`block size ${bsize}`);
  if (!pow2(fsize) || fsize < SECTOR || fsize > bsize) throw new Error(`fragment size ${fsize}`);
  if (bsize / fsize > MAXFRAG) throw new Error(`fragment size ${fsize} too small for block size ${bsize}`);

  const frag = bsize / fsize;
  const fragshift = ilog2(frag);
  const inodeSize = ufs === 2 ? DINODE2_SIZE : DINODE1_SIZE;
  const inopb = bsize / inodeSize;
  const inopf = inopb >> fragshift;
  const nindir = bsize / (ufs === 2 ? 8 : 4);
  const sblockloc = ufs === 2 ? SBLOCK_UFS2 : SBLOCK_UFS1;
  let size = Math.floor(bytes / fsize);
  const sblkno = roundup(howmany(sblockloc + SBLOCKSIZE, fsize), frag);
  const cblkno = sblkno + roundup(howmany(SBLOCKSIZE, fsize), frag);
  const iblkno = cblkno + frag;
  const maxcontig = Math.max(1, opts.maxcontig ?? 1);
  const contigsumsize = maxcontig > 1 ? Math.min(maxcontig, FS_MAXCONTIG) : 0;
  const shape = { ufs, frag, contigsumsize } as const;
  const cgBytes = (ipg: number, fpg: number) => cgSizeBytes({ ...shape, ipg, fpg });

  // Frags and inodes per group: mkfs.c's three loops (fit the maps in a block, keep at least
  // MINCYLGRPS groups, make the last group viable), unless the caller fixes them.
  let density = opts.density ?? NFPI * fsize;
  let fragsperinode = Math.max(Math.floor(density / fsize), 1);
  const ipgFor = (fpg: number) => roundup(howmany(fpg, fragsperinode), inopb);
  let fpg: number;
  let ipg: number;
  if (opts.fpg !== undefined || opts.ncg !== undefined) {
    fpg = opts.fpg !== undefined ? roundup(opts.fpg, frag) : roundup(howmany(size, opts.ncg!), frag);
    ipg = opts.ipg !== undefined ? roundup(opts.ipg, inopb) : ipgFor(fpg);
  } else {
    for (;;) {
      fragsperinode = Math.max(Math.floor(density / fsize), 1);
      let minfpg = fragsperinode * inopb;
      if (minfpg > size) minfpg = size;
      ipg = inopb;
      fpg = roundup(iblkno + ipg / inopf, frag);
      if (fpg < minfpg) fpg = minfpg;
      ipg = ipgFor(fpg);
      fpg = roundup(iblkno + ipg / inopf, frag);
      if (fpg < minfpg) fpg = minfpg;
      ipg = ipgFor(fpg);
      if (cgBytes(ipg, fpg) < bsize) break;
      density -= fsize;
      if (density < fsize) throw new Error('cannot fit a cylinder group in a block');
    }
    const maxfrgspercg = opts.maxFragsPerCg ?? Number.MAX_SAFE_INTEGER;
    let mincylgrps = MINCYLGRPS;
    if (opts.maxFragsPerCg !== undefined) {
      const i = Math.floor(size / maxfrgspercg);
      if (i < MINCYLGRPS) mincylgrps = i <= 0 ? 1 : i;
    }
    for (; fpg < maxfrgspercg; fpg += frag) {
      ipg = ipgFor(fpg);
      if (Math.floor(size / fpg) < mincylgrps) break;
      if (cgBytes(ipg, fpg) < bsize) continue;
      if (cgBytes(ipg, fpg) === bsize) break;
      fpg -= frag;
      ipg = ipgFor(fpg);
      break;
    }
    if (opts.ipg !== undefined) ipg = roundup(opts.ipg, inopb);
    for (;;) {
      const lastminfpg = roundup(iblkno + ipg / inopf, frag);
      if (size < lastminfpg) throw new Error(`file system of ${size} fragments is smaller than one cylinder group (${lastminfpg})`);
      if (size % fpg >= lastminfpg || size % fpg === 0) break;
      fpg -= frag;
      if (opts.ipg === undefined) ipg = ipgFor(fpg);
    }
  }
  if (cgBytes(ipg, fpg) > bsize) throw new Error(`cylinder group maps (${cgBytes(ipg, fpg)} bytes) do not fit a ${bsize}-byte block`);
  const lastminfpg = roundup(iblkno + ipg / inopf, frag);
  if (fpg < lastminfpg) throw new Error(`${fpg} fragments per group cannot hold ${ipg} inodes`);
  // A fixed geometry whose last group would be too small to hold its inodes drops that tail.
  if (size % fpg !== 0 && size % fpg < lastminfpg) size -= size % fpg;
  if (size < lastminfpg) throw new Error(`file system of ${size} fragments is smaller than one cylinder group (${lastminfpg})`);
  const ncg = howmany(size, fpg);

  const cgsize = roundup(cgBytes(ipg, fpg), fsize);
  const dblkno = iblkno + ipg / inopf;
  const csaddr = dblkno;
  const cssize = roundup(ncg * CSUM_SIZE, fsize);
  const csfrags = howmany(cssize, fsize);
  const sbsize = Math.min(roundup(SB_STRUCT_SIZE, fsize), SBLOCKSIZE);
  const dsize = size - sblkno - ncg * (dblkno - sblkno) - csfrags;
  const id: [number, number] = opts.id ?? [time | 0, hashGen(time, 0x5eed, 0) | 0];
  const nspf = fsize / SECTOR;

  // --- the superblock ---------------------------------------------------------------------------
  const sb = Buffer.alloc(SBLOCKSIZE);
  const S = (fld: (typeof SB)[keyof typeof SB], v: number, i = 0) => wr(sb, 0, fld, v, i);
  S(SB.sblkno, sblkno);
  S(SB.cblkno, cblkno);
  S(SB.iblkno, iblkno);
  S(SB.dblkno, dblkno);
  S(SB.ncg, ncg);
  S(SB.bsize, bsize);
  S(SB.fsize, fsize);
  S(SB.frag, frag);
  S(SB.minfree, opts.minfree ?? 5);
  S(SB.bmask, ~(bsize - 1));
  S(SB.fmask, ~(fsize - 1));
  S(SB.bshift, ilog2(bsize));
  S(SB.fshift, ilog2(fsize));
  S(SB.maxcontig, maxcontig);
  S(SB.maxbpg, nindir);
  S(SB.fragshift, fragshift);
  S(SB.fsbtodb, ilog2(nspf));
  S(SB.sbsize, sbsize);
  S(SB.nindir, nindir);
  S(SB.inopb, inopb);
  S(SB.old_nspf, nspf);
  S(SB.optim, FS_OPTTIME);
  S(SB.id, id[0], 0);
  S(SB.id, id[1], 1);
  S(SB.cssize, cssize);
  S(SB.cgsize, cgsize);
  S(SB.old_cpg, 1);
  S(SB.ipg, ipg);
  S(SB.fpg, fpg);
  S(SB.clean, 1);
  S(SB.maxbsize, bsize);
  S(SB.sblockloc, sblockloc);
  S(SB.size, size);
  S(SB.dsize, dsize);
  S(SB.csaddr, csaddr);
  S(SB.avgfilesize, opts.avgfilesize ?? 16384);
  S(SB.avgfpdir, opts.avgfpdir ?? 64);
  S(SB.contigsumsize, contigsumsize);
  S(SB.maxsymlinklen, ufs === 2 ? MAXSYMLINKLEN_UFS2 : MAXSYMLINKLEN_UFS1);
  S(SB.old_inodefmt, FS_44INODEFMT);
  S(SB.maxfilesize, maxFileSize({ bsize, nindir }));
  S(SB.qbmask, bsize - 1);
  S(SB.qfmask, fsize - 1);
  S(SB.old_postblformat, FS_DYNAMICPOSTBLFMT);
  S(SB.old_nrpos, 1);
  S(SB.time, time);
  if (ufs === 1) {
    // UFS1's 32-bit copies and fake geometry (mkfs.c: "compatibility with really ancient kernels").
    S(SB.old_cgoffset, 0);
    S(SB.old_cgmask, -1);
    S(SB.old_size, size);
    S(SB.old_dsize, dsize);
    S(SB.old_csaddr, csaddr);
    S(SB.old_time, time);
    S(SB.old_rps, 60);
    S(SB.old_interleave, 1);
    S(SB.old_spc, fpg * nspf);
    S(SB.old_nsect, fpg * nspf);
    S(SB.old_npsect, fpg * nspf);
    S(SB.old_ncyl, ncg);
  }
  if (opts.mountPoint) Buffer.from(opts.mountPoint, 'utf8').copy(sb, SB.fsmnt.off, 0, 467);
  if (opts.volname) Buffer.from(opts.volname, 'utf8').copy(sb, SB.volname.off, 0, 31);
  S(SB.magic, ufs === 2 ? FS_UFS2_MAGIC : FS_UFS1_MAGIC);
  const g: Geometry = geometryFromSuperblock(sb);

  // --- cylinder groups --------------------------------------------------------------------------
  const lay = cgMapLayout({ ...shape, ipg, fpg });
  const csum = Buffer.alloc(cssize);
  const totals = { ndir: 0, nbfree: 0, nifree: 0, nffree: 0 };
  const cgBufs: Buffer[] = [];
  for (let c = 0; c < ncg; c++) {
    const cbase = fpg * c;
    const ndblk = Math.min(cbase + fpg, size) - cbase;
    const cg = Buffer.alloc(cgsize);
    const C = (fld: (typeof CG)[keyof typeof CG], v: number, i = 0) => wr(cg, 0, fld, v, i);
    C(CG.magic, CG_MAGIC);
    C(CG.cgx, c);
    C(CG.ndblk, ndblk);
    if (ufs === 1) {
      C(CG.old_time, time);
      C(CG.old_ncyl, c === ncg - 1 ? 0 : 1);
      C(CG.old_niblk, ipg);
      C(CG.old_btotoff, lay.btotoff);
      C(CG.old_boff, lay.boff);
    } else {
      C(CG.time, time);
      C(CG.niblk, ipg);
      C(CG.initediblk, Math.min(ipg, 2 * inopb));
    }
    C(CG.iusedoff, lay.iusedoff);
    C(CG.freeoff, lay.freeoff);
    C(CG.nextfreeoff, lay.nextfreeoff);
    if (contigsumsize > 0) {
      C(CG.clustersumoff, lay.clustersumoff);
      C(CG.clusteroff, lay.clusteroff);
      C(CG.nclusterblks, Math.floor(ndblk / frag));
    }
    let nifree = ipg;
    if (c === 0) {
      for (let i = 0; i < ROOTINO; i++) cg[lay.iusedoff + (i >> 3)] = cg[lay.iusedoff + (i >> 3)]! | (1 << (i & 7));
      nifree -= ROOTINO;
    }
    const setFree = (d: number) => (cg[lay.freeoff + (d >> 3)] = cg[lay.freeoff + (d >> 3)]! | (1 << (d & 7)));
    const setBlock = (d: number) => {
      for (let i = 0; i < frag; i++) setFree(d + i);
      if (contigsumsize > 0) {
        const b = d / frag;
        cg[lay.clusteroff + (b >> 3)] = cg[lay.clusteroff + (b >> 3)]! | (1 << (b & 7));
      }
    };
    let nbfree = 0;
    let nffree = 0;
    const frsum = new Array<number>(MAXFRAG).fill(0);
    const dlower = sblkno;
    let dupper = dblkno;
    if (c === 0) dupper += csfrags;
    if (c > 0) {
      for (let d = 0; d < dlower; d += frag) {
        setBlock(d);
        nbfree++;
      }
    }
    const rem = dupper % frag;
    if (rem) {
      frsum[frag - rem]!++;
      for (const stop = dupper + frag - rem; dupper < stop; dupper++) {
        setFree(dupper);
        nffree++;
      }
    }
    let d = dupper;
    for (; d + frag <= ndblk; d += frag) {
      setBlock(d);
      nbfree++;
    }
    if (d < ndblk) {
      frsum[ndblk - d]!++;
      for (; d < ndblk; d++) {
        setFree(d);
        nffree++;
      }
    }
    C(CG.cs_nbfree, nbfree);
    C(CG.cs_nffree, nffree);
    C(CG.cs_nifree, nifree);
    for (let i = 1; i < MAXFRAG; i++) C(CG.frsum, frsum[i]!, i);
    wr(csum, c * CSUM_SIZE, CSUM.nbfree, nbfree);
    wr(csum, c * CSUM_SIZE, CSUM.nffree, nffree);
    wr(csum, c * CSUM_SIZE, CSUM.nifree, nifree);
    totals.nbfree += nbfree;
    totals.nffree += nffree;
    totals.nifree += nifree;
    cgBufs.push(cg);
  }
  const putTotals = () => {
    S(SB.cs_ndir, totals.ndir);
    S(SB.cs_nbfree, totals.nbfree);
    S(SB.cs_nifree, totals.nifree);
    S(SB.cs_nffree, totals.nffree);
    if (ufs === 1) {
      S(SB.old_cs_ndir, totals.ndir);
      S(SB.old_cs_nbfree, totals.nbfree);
      S(SB.old_cs_nifree, totals.nifree);
      S(SB.old_cs_nffree, totals.nffree);
    }
  };
  putTotals();

  // --- write: wipe an old UFS1 superblock, then each group's superblock copy, header and inodes ---
  const base = offset;
  if (ufs === 2 && offset + SBLOCK_UFS1 + SBLOCKSIZE <= disk.size) {
    const old = disk.readBytes(base + SBLOCK_UFS1, SBLOCKSIZE);
    if (rd(old, 0, SB.magic) === FS_UFS1_MAGIC) {
      wr(old, 0, SB.magic, FS_BAD_MAGIC);
      disk.write(old, base + SBLOCK_UFS1);
    }
  }
  const sbCopy = Buffer.from(sb);
  const genOf = (ino: number) => hashGen(id[0], id[1], ino);
  const inodeBlocks = (firstIno: number, count: number): Buffer => {
    const b = Buffer.alloc(count * inodeSize);
    const genOff = ufs === 2 ? 80 : 108;
    for (let k = 0; k < count; k++) b.writeUInt32LE(genOf(firstIno + k), k * inodeSize + genOff);
    return b;
  };
  // The derived summaries (cluster summary, UFS1 rotational totals) from the maps just made.
  for (let c = 0; c < ncg; c++) new CylGroup(g, c, cgBufs[c]!, () => {}).finish(time);
  const start = Math.max(bsize, SBLOCKSIZE);
  for (let c = 0; c < ncg; c++) {
    const cbase = fpg * c;
    // mkfs's iobuf: superblock copy | group header | two blocks of inodes, in one write.
    const io = Buffer.alloc(start + bsize + 2 * bsize);
    sbCopy.copy(io, 0);
    cgBufs[c]!.copy(io, start);
    const first = Math.min(ipg, 2 * inopb);
    inodeBlocks(c * ipg, first).copy(io, start + bsize);
    disk.write(io, base + (cbase + sblkno) * fsize);
    if (ufs === 1) {
      // UFS1: every inode block is initialised now.
      const rest = ipg - first;
      if (rest > 0) disk.write(inodeBlocks(c * ipg + first, rest), base + ((cbase + iblkno) * fsize + first * inodeSize));
    }
  }

  // --- the root directory (fsinit2: one fragment from cg 0's first free block) ------------------
  const cg0 = new CylGroup(g, 0, cgBufs[0]!, (_c, field, delta) => {
    totals[field] += delta;
    wr(csum, 0, CSUM[field], rd(csum, 0, CSUM[field]) + delta);
  });
  const b = cg0.findFreeBlock();
  if (b < 0) throw new Error('first cylinder group ran out of space');
  const rootFrag = b * frag;
  const dirFrags = howmany(DIRBLKSIZ, fsize);
  cg0.allocFrags(rootFrag, dirFrags);
  cg0.allocInode(ROOTINO, true);
  cg0.finish(time);
  const run = Buffer.alloc(dirFrags * fsize);
  dotChunk(ROOTINO, ROOTINO, DT_DIR).copy(run);
  disk.write(run, base + rootFrag * fsize);
  const root = blankInode(g, ROOTINO, genOf(ROOTINO) + 1);
  root.mode = IFDIR | (opts.rootMode ?? 0o755);
  root.uid = opts.rootUid ?? 0;
  root.gid = opts.rootGid ?? 0;
  root.nlink = 2;
  root.size = DIRBLKSIZ;
  root.blocks = run.length / SECTOR;
  root.db[0] = rootFrag;
  root.atime = root.mtime = root.ctime = time;
  if (ufs === 2) root.birthtime = time;
  const rootBytes = encodeInode(g, root);
  const fsba = g.iblkno + Math.floor(ROOTINO / inopb) * frag;
  disk.write(rootBytes, base + fsba * fsize + (ROOTINO % inopb) * inodeSize);
  disk.write(cgBufs[0]!, base + (0 + cblkno) * fsize);

  // --- the summary array and the primary superblock ---------------------------------------------
  putTotals();
  for (let i = 0; i < cssize; i += bsize) disk.write(csum.subarray(i, Math.min(cssize, i + bsize)), base + (csaddr * fsize + i));
  disk.write(sb.subarray(0, sbsize), base + sblockloc);

  const fs = Ffs.open(disk, offset, { now: time });
  if (opts.lostFound) fs.mkdir('/lost+found', { mode: 0o700 });
  return fs;
}

