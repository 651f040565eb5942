// The numbers that place everything in an FFS, read once from a superblock, and the fs.h macros
// over them (cgbase, cgstart, cgsblock, cgtod, cgimin, cgdmin, ino_to_fsba, ...). Addresses are
// fragment numbers relative to the start of the file system, as on disk.

import {
  DINODE1_SIZE,
  DINODE2_SIZE,
  FS_UFS1_MAGIC,
  FS_UFS2_MAGIC,
  NDADDR,
  SB,
  rd,
} from './layout.js';

export type UfsVersion = 1 | 2;

export interface Geometry {
  readonly ufs: UfsVersion;
  /** Byte offset of the primary superblock from the start of the file system. */
  readonly sblockloc: number;
  readonly bsize: number;
  readonly fsize: number;
  readonly frag: number;
  readonly bshift: number;
  readonly fshift: number;
  readonly fragshift: number;
  readonly ncg: number;
  readonly fpg: number;
  readonly ipg: number;
  /** Inodes per block. */
  readonly inopb: number;
  readonly inodeSize: number;
  /** Block pointers per indirect block. */
  readonly nindir: number;
  readonly ptrSize: number;
  readonly sblkno: number;
  readonly cblkno: number;
  readonly iblkno: number;
  readonly dblkno: number;
  /** UFS1 only (0 and -1 as OpenBSD's newfs writes them). */
  readonly cgoffset: number;
  readonly cgmask: number;
  readonly csaddr: number;
  readonly cssize: number;
  readonly cgsize: number;
  readonly sbsize: number;
  /** Fragments in the file system. */
  readonly size: number;
  readonly maxsymlinklen: number;
  readonly contigsumsize: number;
}

export function geometryFromSuperblock(sb: Buffer): Geometry {
  const magic = rd(sb, 0, SB.magic);
  let ufs: UfsVersion;
  if (magic === FS_UFS2_MAGIC) ufs = 2;
  else if (magic === FS_UFS1_MAGIC) ufs = 1;
  else throw new Error(`not an FFS superblock (magic 0x${(magic >>> 0).toString(16)})`);
  const g: Geometry = {
    ufs,
    sblockloc: rd(sb, 0, SB.sblockloc),
    bsize: rd(sb, 0, SB.bsize),
    fsize: rd(sb, 0, SB.fsize),
    frag: rd(sb, 0, SB.frag),
    bshift: rd(sb, 0, SB.bshift),
    fshift: rd(sb, 0, SB.fshift),
    fragshift: rd(sb, 0, SB.fragshift),
    ncg: rd(sb, 0, SB.ncg),
    fpg: rd(sb, 0, SB.fpg),
    ipg: rd(sb, 0, SB.ipg),
    inopb: rd(sb, 0, SB.inopb),
    inodeSize: ufs === 2 ? DINODE2_SIZE : DINODE1_SIZE,
    nindir: rd(sb, 0, SB.nindir),
    ptrSize: ufs === 2 ? 8 : 4,
    sblkno: rd(sb, 0, SB.sblkno),
    cblkno: rd(sb, 0, SB.cblkno),
    iblkno: rd(sb, 0, SB.iblkno),
    dblkno: rd(sb, 0, SB.dblkno),
    cgoffset: ufs === 1 ? rd(sb, 0, SB.old_cgoffset) : 0,
    cgmask: ufs === 1 ? rd(sb, 0, SB.old_cgmask) : -1,
    csaddr: ufs === 2 ? rd(sb, 0, SB.csaddr) : rd(sb, 0, SB.old_csaddr),
    cssize: rd(sb, 0, SB.cssize),
    cgsize: rd(sb, 0, SB.cgsize),
    sbsize: rd(sb, 0, SB.sbsize),
    size: ufs === 2 ? rd(sb, 0, SB.size) : rd(sb, 0, SB.old_size),
    maxsymlinklen: rd(sb, 0, SB.maxsymlinklen),
    contigsumsize: rd(sb, 0, SB.contigsumsize),
  };
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (!pow2(g.bsize) || !pow2(g.fsize) || g.bsize / g.fsize !== g.frag || g.frag > 8) {
    throw new Error(`superblock has inconsistent sizes (bsize ${g.bsize}, fsize ${g.fsize}, frag ${g.frag})`);
  }
  if (g.ncg <= 0 || g.fpg <= 0 || g.ipg <= 0 || g.fpg % g.frag !== 0) {
    throw new Error(`superblock has inconsistent cylinder groups (ncg ${g.ncg}, fpg ${g.fpg}, ipg ${g.ipg})`);
  }
  return g;
}

/** cgbase: first fragment of cylinder group c. */
export function cgbase(g: Geometry, c: number): number {
  return g.fpg * c;
}

/** cgstart: cgbase, shifted by the (UFS1-only) cylinder offset. */
export function cgstart(g: Geometry, c: number): number {
  if (g.ufs === 2) return cgbase(g, c);
  return cgbase(g, c) + g.cgoffset * (c & ~g.cgmask);
}

export const cgsblock = (g: Geometry, c: number): number => cgstart(g, c) + g.sblkno;
export const cgtod = (g: Geometry, c: number): number => cgstart(g, c) + g.cblkno;
export const cgimin = (g: Geometry, c: number): number => cgstart(g, c) + g.iblkno;
export const cgdmin = (g: Geometry, c: number): number => cgstart(g, c) + g.dblkno;

/** Fragments in cylinder group c (the last one may be short). */
export function cgFrags(g: Geometry, c: number): number {
  return Math.min(g.fpg, g.size - cgbase(g, c));
}

export const dtog = (g: Geometry, d: number): number => Math.floor(d / g.fpg);
export const dtogd = (g: Geometry, d: number): number => d % g.fpg;
export const inoToCg = (g: Geometry, ino: number): number => Math.floor(ino / g.ipg);

/** Byte offset (from the start of the file system) of inode `ino`. */
export function inodeOffset(g: Geometry, ino: number): number {
  const c = inoToCg(g, ino);
  const fsba = cgimin(g, c) + Math.floor((ino % g.ipg) / g.inopb) * g.frag;
  return fsba * g.fsize + (ino % g.inopb) * g.inodeSize;
}

/** fragroundup. */
export function fragRoundup(g: Geometry, bytes: number): number {
  return Math.ceil(bytes / g.fsize) * g.fsize;
}

/**
 * sblksize: bytes allocated to logical block `lbn` of a file of `size` bytes (a full block,
 * except the last block of a small file, which holds only the fragments it needs).
 */
export function blockSizeAt(g: Geometry, size: number, lbn: number): number {
  if (lbn >= NDADDR || size >= (lbn + 1) * g.bsize) return g.bsize;
  return fragRoundup(g, size - lbn * g.bsize);
}

/** fs_maxfilesize as newfs computes it. */
export function maxFileSize(g: Pick<Geometry, 'bsize' | 'nindir'>): number {
  let max = g.bsize * NDADDR - 1;
  let sizepb = g.bsize;
  for (let i = 0; i < 3; i++) {
    sizepb *= g.nindir;
    max += sizepb;
  }
  return Math.min(max, Number.MAX_SAFE_INTEGER);
}
