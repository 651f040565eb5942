// The FFS superblock (struct fs, FreeBSD sys/ufs/ffs/fs.h; OpenBSD names the UFS1-only fields
// fs_ffs1_*): where it is searched for, how it is sanity-checked before any of its numbers is
// used, and the cylinder-group arithmetic that follows from it (cgbase, cgstart, cgdmin,
// ino_to_fsba, ...). All addresses are in fragments, relative to the start of the filesystem.

import type { BlockDevice } from '../../image/block-device.js';
import { escapeBytes } from '../../report/escape.js';
import { UserError } from '../../util/errors.js';
import { layout, type Decoded } from './layout.js';

export const FS_UFS1_MAGIC = 0x011954;
export const FS_UFS2_MAGIC = 0x19540119;
/** Search order of FreeBSD's SBLOCKSEARCH: UFS2's place, UFS1's, a floppy's, a "piggy" one. */
export const SBLOCKSEARCH = [65536, 8192, 0, 262144] as const;
export const SBLOCKSIZE = 8192;
export const MINBSIZE = 4096;
export const MAXBSIZE = 65536;
export const MAXFRAG = 8;
export const DEV_BSIZE = 512;
export const NDADDR = 12;
export const NIADDR = 3;
export const NXADDR = 2;
export const ROOTINO = 2;
export const MAXMNTLEN = 468;
export const MAXVOLLEN = 32;
/** Largest fast symlink area: (NDADDR + NIADDR) block pointers. */
export const MAXSYMLINKLEN_UFS1 = (NDADDR + NIADDR) * 4;
export const MAXSYMLINKLEN_UFS2 = (NDADDR + NIADDR) * 8;
export const FS_42INODEFMT = -1;
export const FS_44INODEFMT = 2;

/** struct fs: 1376 bytes. Offsets as in the comments of FreeBSD's fs.h and OpenBSD's. */
export const SUPERBLOCK = layout('struct fs', 1376, {
  sblkno: [8, 'i32'],
  cblkno: [12, 'i32'],
  iblkno: [16, 'i32'],
  dblkno: [20, 'i32'],
  old_cgoffset: [24, 'i32'],
  old_cgmask: [28, 'i32'],
  old_time: [32, 'i32'],
  old_size: [36, 'i32'],
  old_dsize: [40, 'i32'],
  ncg: [44, 'u32'],
  bsize: [48, 'i32'],
  fsize: [52, 'i32'],
  frag: [56, 'i32'],
  minfree: [60, 'i32'],
  bmask: [72, 'i32'],
  fmask: [76, 'i32'],
  bshift: [80, 'i32'],
  fshift: [84, 'i32'],
  maxcontig: [88, 'i32'],
  maxbpg: [92, 'i32'],
  fragshift: [96, 'i32'],
  fsbtodb: [100, 'i32'],
  sbsize: [104, 'i32'],
  nindir: [116, 'i32'],
  inopb: [120, 'u32'],
  id0: [144, 'i32'],
  id1: [148, 'i32'],
  old_csaddr: [152, 'i32'],
  cssize: [156, 'i32'],
  cgsize: [160, 'i32'],
  old_cpg: [180, 'i32'],
  ipg: [184, 'u32'],
  fpg: [188, 'i32'],
  old_cstotal_ndir: [192, 'i32'],
  old_cstotal_nbfree: [196, 'i32'],
  old_cstotal_nifree: [200, 'i32'],
  old_cstotal_nffree: [204, 'i32'],
  fmod: [208, 'i8'],
  clean: [209, 'i8'],
  ronly: [210, 'i8'],
  old_flags: [211, 'u8'],
  fsmnt: [212, 'bytes', MAXMNTLEN],
  volname: [680, 'bytes', MAXVOLLEN],
  swuid: [712, 'u64'],
  maxbsize: [860, 'i32'],
  sblockloc: [1000, 'i64'],
  cstotal_ndir: [1008, 'i64'],
  cstotal_nbfree: [1016, 'i64'],
  cstotal_nifree: [1024, 'i64'],
  cstotal_nffree: [1032, 'i64'],
  time: [1072, 'i64'],
  size: [1080, 'i64'],
  dsize: [1088, 'i64'],
  csaddr: [1096, 'i64'],
  /** OpenBSD's and NetBSD's fs_flags (FreeBSD moved its fs_flags to 1312, OpenBSD's fs_fscktime). */
  flags: [1308, 'u32'],
  freebsd_flags: [1312, 'i32'],
  contigsumsize: [1316, 'i32'],
  maxsymlinklen: [1320, 'i32'],
  old_inodefmt: [1324, 'i32'],
  maxfilesize: [1328, 'u64'],
  state: [1352, 'i32'],
  magic: [1372, 'i32'],
});

export type RawSuperblock = Decoded<typeof SUPERBLOCK.fields>;

/** The numbers of a superblock that passed the sanity checks, and the arithmetic on them. */
export class Geometry {
  readonly version: 1 | 2;
  /** Byte offset of the superblock that was used. */
  readonly superblockOffset: number;
  readonly bsize: number;
  readonly fsize: number;
  readonly frag: number;
  readonly bshift: number;
  readonly fshift: number;
  readonly fragshift: number;
  readonly ncg: number;
  readonly ipg: number;
  readonly fpg: number;
  readonly inopb: number;
  readonly nindir: number;
  readonly sblkno: number;
  readonly cblkno: number;
  readonly iblkno: number;
  readonly dblkno: number;
  readonly cgoffset: number;
  readonly cgmask: number;
  readonly cgsize: number;
  readonly csaddr: number;
  readonly cssize: number;
  /** Filesystem size in fragments. */
  readonly size: number;
  readonly dsize: number;
  /** 128 (UFS1) or 256 (UFS2). */
  readonly inodeSize: number;
  /** Byte width of a block pointer: 4 (UFS1) or 8 (UFS2). */
  readonly ptrSize: number;
  readonly maxSymlinkLen: number;
  /** FS_44INODEFMT (2) for 4.4BSD directories with d_type; older ones have a 16-bit d_namlen. */
  readonly inodeFormat: number;
  /** OFSFMT: 4.2BSD directory records (16-bit d_namlen, no d_type). */
  readonly oldDirectoryFormat: boolean;
  /** Largest file size the block pointers can address: (NDADDR + n + n^2 + n^3) blocks. */
  readonly maxFileSize: number;
  /** Total inodes: ncg * ipg. */
  readonly inodeCount: number;

  constructor(
    readonly raw: RawSuperblock,
    offset: number,
    /** How messages name this filesystem: "<device>: UFS2". */
    readonly label: string,
  ) {
    this.version = raw.magic === FS_UFS2_MAGIC ? 2 : 1;
    this.superblockOffset = offset;
    this.bsize = raw.bsize;
    this.fsize = raw.fsize;
    this.frag = raw.frag;
    this.bshift = Math.log2(raw.bsize);
    this.fshift = Math.log2(raw.fsize);
    this.fragshift = Math.log2(raw.frag);
    this.ncg = raw.ncg;
    this.ipg = raw.ipg;
    this.fpg = raw.fpg;
    this.inopb = raw.inopb;
    this.sblkno = raw.sblkno;
    this.cblkno = raw.cblkno;
    this.iblkno = raw.iblkno;
    this.dblkno = raw.dblkno;
    this.cgoffset = this.version === 1 ? raw.old_cgoffset : 0;
    this.cgmask = this.version === 1 ? raw.old_cgmask : -1;
    this.cgsize = raw.cgsize;
    this.size = this.version === 1 ? raw.old_size : raw.size;
    this.dsize = this.version === 1 ? raw.old_dsize : raw.dsize;
    this.csaddr = this.version === 1 ? raw.old_csaddr : raw.csaddr;
    this.cssize = raw.cssize;
    this.inodeSize = this.version === 1 ? 128 : 256;
    this.ptrSize = this.version === 1 ? 4 : 8;
    this.nindir = raw.bsize / this.ptrSize;
    const fastMax = this.version === 1 ? MAXSYMLINKLEN_UFS1 : MAXSYMLINKLEN_UFS2;
    this.inodeFormat = this.version === 2 ? FS_44INODEFMT : raw.old_inodefmt;
    // As the kernels do: a pre-4.4BSD inode format has no fast symlinks and old directories.
    this.maxSymlinkLen = this.inodeFormat < FS_44INODEFMT ? 0 : Math.min(Math.max(raw.maxsymlinklen, 0), fastMax);
    this.oldDirectoryFormat = this.version === 1 && this.maxSymlinkLen <= 0;
    const n = this.nindir;
    this.maxFileSize = (NDADDR + n + n * n + n * n * n) * this.bsize;
    this.inodeCount = this.ncg * this.ipg;
  }

  /** "<device>: UFS2: <what>", one line. */
  error(what: string): UserError {
    return new UserError(`${this.label}: ${what}`.replace(/\s*\n\s*/g, ' '));
  }

  /** First fragment of cylinder group c. */
  cgbase(c: number): number {
    return this.fpg * c;
  }

  /** Where cg c's metadata starts (UFS1 staggers it by cgoffset; UFS2 does not). */
  cgstart(c: number): number {
    if (this.version === 2) return this.cgbase(c);
    // (c & ~cgmask) on 32-bit ints, as in the macro.
    return this.cgbase(c) + this.cgoffset * ((c & ~this.cgmask) >>> 0);
  }

  /** Superblock copy of cg c. */
  cgsblock(c: number): number {
    return this.cgstart(c) + this.sblkno;
  }

  /** Cylinder group header of cg c. */
  cgtod(c: number): number {
    return this.cgstart(c) + this.cblkno;
  }

  /** First inode block of cg c. */
  cgimin(c: number): number {
    return this.cgstart(c) + this.iblkno;
  }

  /** First data fragment after cg c's metadata. */
  cgdmin(c: number): number {
    return this.cgstart(c) + this.dblkno;
  }

  /** Fragments cg c spans (the last one may be short). */
  cgFragments(c: number): number {
    return Math.min(this.fpg, this.size - this.cgbase(c));
  }

  inoToCg(ino: number): number {
    return Math.floor(ino / this.ipg);
  }

  /** ino_to_fsba: the fragment address of the block that holds inode ino. */
  inoToFsba(ino: number): number {
    return this.cgimin(this.inoToCg(ino)) + Math.floor((ino % this.ipg) / this.inopb) * this.frag;
  }

  /** Byte offset of inode ino in the filesystem. */
  inodeOffset(ino: number): number {
    return this.inoToFsba(ino) * this.fsize + (ino % this.inopb) * this.inodeSize;
  }

  dtog(frag: number): number {
    return Math.floor(frag / this.fpg);
  }

  /** Inode table length of one cg, in fragments. */
  get inodeTableFrags(): number {
    return Math.ceil((this.ipg * this.inodeSize) / this.fsize);
  }

  /** fragroundup: bytes rounded up to whole fragments. */
  fragRoundUp(bytes: number): number {
    return Math.ceil(bytes / this.fsize) * this.fsize;
  }

  /**
   * Why [frag, frag+n) cannot be a data or indirect block of a file, or null when it can: it
   * must lie inside the filesystem, within one block, and outside every cg's boot area,
   * superblock copy, cg header and inode table.
   */
  badExtent(frag: number, n: number): string | null {
    if (!Number.isSafeInteger(frag) || frag <= 0) return `fragment ${frag} is not a valid address`;
    if (frag + n > this.size) return `fragment ${frag} is past the end of the filesystem (${this.size} fragments)`;
    if ((frag % this.frag) + n > this.frag) return `fragments ${frag}-${frag + n - 1} cross a block boundary`;
    const c = this.dtog(frag);
    const metaStart = c === 0 ? 0 : this.cgsblock(c);
    const metaEnd = this.cgdmin(c);
    if (frag < metaEnd && frag + n > metaStart) return `fragment ${frag} lies in cylinder group ${c}'s metadata (fragments ${metaStart}-${metaEnd - 1})`;
    return null;
  }
}

function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * Why this superblock cannot be used, or null when its numbers hang together and fit the device.
 * Every number that later sizes a loop, an allocation or a read is checked here.
 */
export function insaneSuperblock(sb: RawSuperblock, offset: number, deviceSize: number): string | null {
  const v2 = sb.magic === FS_UFS2_MAGIC;
  if (!v2 && sb.magic !== FS_UFS1_MAGIC) return `bad magic ${sb.magic >>> 0}`;
  if (v2 && sb.sblockloc !== offset) return `UFS2 superblock at ${offset} says it belongs at ${sb.sblockloc}`;
  if (sb.sbsize < 0 || sb.sbsize > SBLOCKSIZE) return `superblock size ${sb.sbsize} is not within 0-${SBLOCKSIZE}`;
  if (!isPow2(sb.bsize) || sb.bsize < MINBSIZE || sb.bsize > MAXBSIZE) return `block size ${sb.bsize} is not a power of two within ${MINBSIZE}-${MAXBSIZE}`;
  if (!isPow2(sb.fsize) || sb.fsize < DEV_BSIZE || sb.fsize > sb.bsize) return `fragment size ${sb.fsize} is not a power of two within ${DEV_BSIZE}-${sb.bsize}`;
  if (sb.frag !== sb.bsize / sb.fsize || sb.frag > MAXFRAG) return `fragments per block ${sb.frag} is not block size / fragment size (at most ${MAXFRAG})`;
  if (sb.bshift !== Math.log2(sb.bsize) || sb.fshift !== Math.log2(sb.fsize) || sb.fragshift !== Math.log2(sb.frag)) {
    return `shift counts (${sb.bshift}, ${sb.fshift}, ${sb.fragshift}) disagree with the sizes`;
  }
  const isize = v2 ? 256 : 128;
  if (sb.inopb !== sb.bsize / isize) return `inodes per block ${sb.inopb} is not ${sb.bsize / isize}`;
  if (sb.nindir !== sb.bsize / (v2 ? 8 : 4)) return `pointers per indirect block ${sb.nindir} is not ${sb.bsize / (v2 ? 8 : 4)}`;
  const size = v2 ? sb.size : sb.old_size;
  if (!Number.isSafeInteger(size) || size <= 0) return `filesystem size ${size} fragments is not positive`;
  if (size * sb.fsize > deviceSize) return `filesystem of ${size * sb.fsize} bytes does not fit the ${deviceSize}-byte device`;
  if (sb.ncg < 1) return `cylinder group count ${sb.ncg} is not positive`;
  if (sb.fpg <= 0 || sb.fpg % sb.frag !== 0) return `fragments per group ${sb.fpg} is not a positive multiple of ${sb.frag}`;
  if (sb.ncg !== Math.ceil(size / sb.fpg)) return `cylinder group count ${sb.ncg} does not cover ${size} fragments at ${sb.fpg} per group`;
  if (sb.ipg < sb.inopb || sb.ipg % sb.inopb !== 0) return `inodes per group ${sb.ipg} is not a positive multiple of ${sb.inopb}`;
  if (sb.ncg * sb.ipg > 0xffff_ffff) return `${sb.ncg} groups of ${sb.ipg} inodes exceed 32-bit inode numbers`;
  if (!(sb.sblkno >= 0 && sb.sblkno < sb.cblkno && sb.cblkno < sb.iblkno && sb.iblkno < sb.dblkno)) {
    return `cylinder group layout (super ${sb.sblkno}, header ${sb.cblkno}, inodes ${sb.iblkno}, data ${sb.dblkno}) is out of order`;
  }
  if (sb.iblkno % sb.frag !== 0) return `inode blocks start at fragment ${sb.iblkno}, not on a block boundary`;
  const itab = Math.ceil((sb.ipg * isize) / sb.fsize);
  if (sb.dblkno < sb.iblkno + itab) return `data start ${sb.dblkno} leaves no room for ${sb.ipg} inodes after ${sb.iblkno}`;
  if (sb.dblkno > sb.fpg) return `data start ${sb.dblkno} is past the ${sb.fpg} fragments of a group`;
  if (sb.cgsize < 168 || sb.cgsize > sb.bsize || (sb.iblkno - sb.cblkno) * sb.fsize < sb.cgsize) {
    return `cylinder group size ${sb.cgsize} does not fit between header and inodes`;
  }
  if (168 + Math.ceil(sb.ipg / 8) + Math.ceil(sb.fpg / 8) > sb.cgsize) {
    return `cylinder group maps for ${sb.ipg} inodes and ${sb.fpg} fragments do not fit its ${sb.cgsize} bytes`;
  }
  const msl = sb.maxsymlinklen;
  if (msl < 0 || msl > (v2 ? MAXSYMLINKLEN_UFS2 : MAXSYMLINKLEN_UFS1)) return `fast symlink length ${msl} is out of range`;
  if (!v2 && sb.old_cgoffset < 0) return `cylinder group offset ${sb.old_cgoffset} is negative`;
  // Every cg's metadata inside the filesystem and inside its own group.
  const geo = new Geometry(sb, offset, '');
  for (let c = 0; c < sb.ncg; c++) {
    const end = geo.cgdmin(c);
    if (end > size || end > geo.cgbase(c) + sb.fpg) return `cylinder group ${c}'s metadata (up to fragment ${end}) does not fit`;
  }
  return null;
}

export interface SuperblockSearch {
  geometry: Geometry | null;
  /** Each location where a magic number was seen but the superblock was refused, and why. */
  refused: { offset: number; version: 1 | 2; why: string }[];
}

/** Look for a usable superblock at 65536, 8192, 0 and 262144 (in that order). */
export function findSuperblock(dev: BlockDevice, label: string): SuperblockSearch {
  const refused: SuperblockSearch['refused'] = [];
  const buf = Buffer.alloc(SUPERBLOCK.size);
  for (const offset of SBLOCKSEARCH) {
    if (offset + SUPERBLOCK.size > dev.size) continue;
    dev.read(buf, offset);
    const raw = SUPERBLOCK.read(buf);
    if (raw.magic !== FS_UFS1_MAGIC && raw.magic !== FS_UFS2_MAGIC) continue;
    const version = raw.magic === FS_UFS2_MAGIC ? 2 : 1;
    const why = insaneSuperblock(raw, offset, dev.size);
    if (why) {
      refused.push({ offset, version, why });
      continue;
    }
    return { geometry: new Geometry(raw, offset, `${label}: UFS${version}`), refused };
  }
  return { geometry: null, refused };
}

/** The superblock's volume name as bytes (up to the first NUL) and as a display string. */
export function volumeName(raw: RawSuperblock): { bytes: Buffer; display: string } {
  const nul = raw.volname.indexOf(0);
  const bytes = nul >= 0 ? raw.volname.subarray(0, nul) : raw.volname;
  return { bytes: Buffer.from(bytes), display: escapeBytes(bytes) };
}
