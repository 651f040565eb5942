// On-disk layouts of FFS (UFS1 and UFS2), each field declared once, with its byte offset, and
// read and written through these tables only. Little-endian (amd64).
//
// Facts from FreeBSD sys/ufs/ffs/fs.h (struct fs, struct cg, struct csum, CGSIZE), sys/ufs/ufs/
// dinode.h (struct ufs1_dinode, struct ufs2_dinode), sys/ufs/ufs/dir.h (struct direct, DIRBLKSIZ,
// DIRECTSIZ, DT_*), and OpenBSD sbin/newfs/mkfs.c (what newfs puts in them). Where OpenBSD's
// struct fs differs from FreeBSD's (fs_flags), the OpenBSD place is used and both are named.

export type FieldType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64';

export interface Field {
  readonly off: number;
  readonly type: FieldType;
  /** Array fields: element count (elements are `type`, contiguous). */
  readonly count?: number;
}

const SIZE: Record<FieldType, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };

function f(off: number, type: FieldType, count?: number): Field {
  return count === undefined ? { off, type } : { off, type, count };
}

export function fieldSize(fld: Field): number {
  return SIZE[fld.type] * (fld.count ?? 1);
}

/** Read a field (element `i` of an array field) of the structure at `base` in `buf`. */
export function rd(buf: Buffer, base: number, fld: Field, i = 0): number {
  const o = base + fld.off + i * SIZE[fld.type];
  switch (fld.type) {
    case 'u8':
      return buf[o]!;
    case 'i8':
      return buf.readInt8(o);
    case 'u16':
      return buf.readUInt16LE(o);
    case 'i16':
      return buf.readInt16LE(o);
    case 'u32':
      return buf.readUInt32LE(o);
    case 'i32':
      return buf.readInt32LE(o);
    case 'u64':
      return buf.readUInt32LE(o + 4) * 0x1_0000_0000 + buf.readUInt32LE(o);
    case 'i64':
      return buf.readInt32LE(o + 4) * 0x1_0000_0000 + buf.readUInt32LE(o);
  }
}

/** Write a field (element `i` of an array field). Values are truncated to the field's width like C. */
export function wr(buf: Buffer, base: number, fld: Field, v: number, i = 0): void {
  const o = base + fld.off + i * SIZE[fld.type];
  switch (fld.type) {
    case 'u8':
    case 'i8':
      buf[o] = v & 0xff;
      return;
    case 'u16':
    case 'i16':
      buf.writeUInt16LE(v & 0xffff, o);
      return;
    case 'u32':
    case 'i32':
      buf.writeUInt32LE(v >>> 0, o);
      return;
    case 'u64':
    case 'i64': {
      if (!Number.isSafeInteger(v)) throw new Error(`64-bit field value ${v} is not a safe integer`);
      const lo = ((v % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000;
      const hi = Math.floor(v / 0x1_0000_0000);
      buf.writeUInt32LE(lo, o);
      buf.writeUInt32LE(hi >>> 0, o + 4);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Constants (fs.h, dinode.h, dir.h)

export const SBLOCK_FLOPPY = 0;
export const SBLOCK_UFS1 = 8192;
export const SBLOCK_UFS2 = 65536;
export const SBLOCK_PIGGY = 262144;
export const SBLOCKSIZE = 8192;
export const FS_UFS1_MAGIC = 0x011954;
export const FS_UFS2_MAGIC = 0x19540119;
export const CG_MAGIC = 0x090255;
export const MAXFRAG = 8;
export const MINBSIZE = 4096;
export const MAXBSIZE = 65536;
export const FS_MAXCONTIG = 16;
export const FS_44INODEFMT = 2;
export const FS_DYNAMICPOSTBLFMT = 1;
export const FS_OPTTIME = 0;
export const FS_UNCLEAN = 0x01;
export const FS_DOSOFTDEP = 0x02;
export const FS_FLAGS_UPDATED = 0x80;
export const DEV_BSIZE = 512;
export const MAXMNTLEN = 468;
export const MAXVOLLEN = 32;

export const NDADDR = 12;
export const NIADDR = 3;
export const ROOTINO = 2;
/** Bytes of a fast symlink kept in di_db/di_ib: (NDADDR + NIADDR) * pointer size. */
export const MAXSYMLINKLEN_UFS1 = (NDADDR + NIADDR) * 4;
export const MAXSYMLINKLEN_UFS2 = (NDADDR + NIADDR) * 8;

export const IFMT = 0o170000;
export const IFIFO = 0o010000;
export const IFCHR = 0o020000;
export const IFDIR = 0o040000;
export const IFBLK = 0o060000;
export const IFREG = 0o100000;
export const IFLNK = 0o120000;
export const IFSOCK = 0o140000;

export const DIRBLKSIZ = 512;
export const MAXNAMLEN = 255;
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

/** DIRECTSIZ: bytes a `struct direct` with a name of `namlen` bytes needs (NUL included, 4-aligned). */
export function direntSize(namlen: number): number {
  return (8 + namlen + 1 + 3) & ~3;
}

// ---------------------------------------------------------------------------------------------
// struct fs: the superblock (1376 bytes; SBLOCKSIZE reserved)

export const SB = {
  firstfield: f(0, 'i32'),
  unused_1: f(4, 'i32'),
  sblkno: f(8, 'i32'),
  cblkno: f(12, 'i32'),
  iblkno: f(16, 'i32'),
  dblkno: f(20, 'i32'),
  old_cgoffset: f(24, 'i32'),
  old_cgmask: f(28, 'i32'),
  old_time: f(32, 'i32'),
  old_size: f(36, 'i32'),
  old_dsize: f(40, 'i32'),
  ncg: f(44, 'u32'),
  bsize: f(48, 'i32'),
  fsize: f(52, 'i32'),
  frag: f(56, 'i32'),
  minfree: f(60, 'i32'),
  old_rotdelay: f(64, 'i32'),
  old_rps: f(68, 'i32'),
  bmask: f(72, 'i32'),
  fmask: f(76, 'i32'),
  bshift: f(80, 'i32'),
  fshift: f(84, 'i32'),
  maxcontig: f(88, 'i32'),
  maxbpg: f(92, 'i32'),
  fragshift: f(96, 'i32'),
  fsbtodb: f(100, 'i32'),
  sbsize: f(104, 'i32'),
  /** OpenBSD fs_csmask, fs_csshift (unused). */
  spare1: f(108, 'i32', 2),
  nindir: f(116, 'i32'),
  inopb: f(120, 'u32'),
  old_nspf: f(124, 'i32'),
  optim: f(128, 'i32'),
  old_npsect: f(132, 'i32'),
  old_interleave: f(136, 'i32'),
  old_trackskew: f(140, 'i32'),
  id: f(144, 'i32', 2),
  old_csaddr: f(152, 'i32'),
  cssize: f(156, 'i32'),
  cgsize: f(160, 'i32'),
  /** OpenBSD fs_ntrak. */
  spare2: f(164, 'i32'),
  old_nsect: f(168, 'i32'),
  old_spc: f(172, 'i32'),
  old_ncyl: f(176, 'i32'),
  old_cpg: f(180, 'i32'),
  ipg: f(184, 'u32'),
  fpg: f(188, 'i32'),
  /** struct csum fs_old_cstotal (OpenBSD fs_ffs1_cstotal): UFS1's totals. */
  old_cs_ndir: f(192, 'i32'),
  old_cs_nbfree: f(196, 'i32'),
  old_cs_nifree: f(200, 'i32'),
  old_cs_nffree: f(204, 'i32'),
  fmod: f(208, 'i8'),
  clean: f(209, 'i8'),
  ronly: f(210, 'i8'),
  /** OpenBSD fs_ffs1_flags. */
  old_flags: f(211, 'u8'),
  fsmnt: f(212, 'u8', MAXMNTLEN),
  volname: f(680, 'u8', MAXVOLLEN),
  swuid: f(712, 'u64'),
  pad: f(720, 'i32'),
  cgrotor: f(724, 'i32'),
  /** In-core pointers, 128 bytes whatever the word size; zero on disk. */
  ocsp: f(728, 'u8', 128),
  old_cpc: f(856, 'i32'),
  maxbsize: f(860, 'i32'),
  /** FreeBSD fs_unrefs .. fs_sparecon64; OpenBSD fs_spareconf64[17]. */
  sparecon64: f(864, 'i64', 17),
  sblockloc: f(1000, 'i64'),
  /** struct csum_total fs_cstotal: UFS2's totals (and UFS1's, 64-bit). */
  cs_ndir: f(1008, 'i64'),
  cs_nbfree: f(1016, 'i64'),
  cs_nifree: f(1024, 'i64'),
  cs_nffree: f(1032, 'i64'),
  cs_numclusters: f(1040, 'i64'),
  time: f(1072, 'i64'),
  size: f(1080, 'i64'),
  dsize: f(1088, 'i64'),
  csaddr: f(1096, 'i64'),
  pendingblocks: f(1104, 'i64'),
  pendinginodes: f(1112, 'u32'),
  snapinum: f(1116, 'u32', 20),
  avgfilesize: f(1196, 'u32'),
  avgfpdir: f(1200, 'u32'),
  save_cgsize: f(1204, 'i32'),
  /** OpenBSD fs_flags (FreeBSD fs_metackhash). */
  flags_openbsd: f(1308, 'u32'),
  /** FreeBSD fs_flags (OpenBSD fs_fscktime). */
  flags_freebsd: f(1312, 'i32'),
  contigsumsize: f(1316, 'i32'),
  maxsymlinklen: f(1320, 'i32'),
  old_inodefmt: f(1324, 'i32'),
  maxfilesize: f(1328, 'u64'),
  qbmask: f(1336, 'i64'),
  qfmask: f(1344, 'i64'),
  state: f(1352, 'i32'),
  old_postblformat: f(1356, 'i32'),
  old_nrpos: f(1360, 'i32'),
  /** OpenBSD fs_postbloff, fs_rotbloff. */
  spare5: f(1364, 'i32', 2),
  magic: f(1372, 'i32'),
} as const;

export const SB_STRUCT_SIZE = 1376;

// struct csum: one per cylinder group in the summary area at fs_csaddr.
export const CSUM = {
  ndir: f(0, 'i32'),
  nbfree: f(4, 'i32'),
  nifree: f(8, 'i32'),
  nffree: f(12, 'i32'),
} as const;
export const CSUM_SIZE = 16;

// ---------------------------------------------------------------------------------------------
// struct cg: a cylinder group header, followed by its maps (168 bytes before the maps)

export const CG = {
  firstfield: f(0, 'i32'),
  magic: f(4, 'i32'),
  /** UFS1's time (OpenBSD cg_time). */
  old_time: f(8, 'i32'),
  cgx: f(12, 'u32'),
  /** UFS1 (OpenBSD cg_ncyl, cg_niblk). */
  old_ncyl: f(16, 'i16'),
  old_niblk: f(18, 'i16'),
  ndblk: f(20, 'u32'),
  cs_ndir: f(24, 'i32'),
  cs_nbfree: f(28, 'i32'),
  cs_nifree: f(32, 'i32'),
  cs_nffree: f(36, 'i32'),
  rotor: f(40, 'u32'),
  frotor: f(44, 'u32'),
  irotor: f(48, 'u32'),
  frsum: f(52, 'u32', MAXFRAG),
  /** UFS1: int32 block totals per cylinder, u16 free block positions (OpenBSD cg_btotoff, cg_boff). */
  old_btotoff: f(84, 'i32'),
  old_boff: f(88, 'i32'),
  iusedoff: f(92, 'u32'),
  freeoff: f(96, 'u32'),
  nextfreeoff: f(100, 'u32'),
  clustersumoff: f(104, 'u32'),
  clusteroff: f(108, 'u32'),
  nclusterblks: f(112, 'u32'),
  /** UFS2 (OpenBSD cg_ffs2_niblk). */
  niblk: f(116, 'u32'),
  initediblk: f(120, 'u32'),
  unrefs: f(124, 'u32'),
  sparecon32: f(128, 'i32'),
  ckhash: f(132, 'u32'),
  /** UFS2 (OpenBSD cg_ffs2_time). */
  time: f(136, 'i64'),
  sparecon64: f(144, 'i64', 3),
} as const;

export const CG_HEADER_SIZE = 168;

// ---------------------------------------------------------------------------------------------
// struct ufs2_dinode (256 bytes) and struct ufs1_dinode (128 bytes)

export const DINODE2 = {
  mode: f(0, 'u16'),
  nlink: f(2, 'i16'),
  uid: f(4, 'u32'),
  gid: f(8, 'u32'),
  blksize: f(12, 'u32'),
  size: f(16, 'u64'),
  blocks: f(24, 'u64'),
  atime: f(32, 'i64'),
  mtime: f(40, 'i64'),
  ctime: f(48, 'i64'),
  birthtime: f(56, 'i64'),
  mtimensec: f(64, 'i32'),
  atimensec: f(68, 'i32'),
  ctimensec: f(72, 'i32'),
  birthnsec: f(76, 'i32'),
  gen: f(80, 'u32'),
  kernflags: f(84, 'u32'),
  flags: f(88, 'u32'),
  extsize: f(92, 'i32'),
  extb: f(96, 'i64', 2),
  db: f(112, 'i64', NDADDR),
  ib: f(208, 'i64', NIADDR),
  modrev: f(232, 'u64'),
  spare: f(240, 'i64', 2),
} as const;
export const DINODE2_SIZE = 256;

export const DINODE1 = {
  mode: f(0, 'u16'),
  nlink: f(2, 'i16'),
  oldids: f(4, 'u16', 2),
  size: f(8, 'u64'),
  atime: f(16, 'i32'),
  atimensec: f(20, 'i32'),
  mtime: f(24, 'i32'),
  mtimensec: f(28, 'i32'),
  ctime: f(32, 'i32'),
  ctimensec: f(36, 'i32'),
  db: f(40, 'i32', NDADDR),
  ib: f(88, 'i32', NIADDR),
  flags: f(100, 'u32'),
  blocks: f(104, 'i32'),
  gen: f(108, 'u32'),
  uid: f(112, 'u32'),
  gid: f(116, 'u32'),
  modrev: f(120, 'u64'),
} as const;
export const DINODE1_SIZE = 128;

// ---------------------------------------------------------------------------------------------
// struct direct: a directory entry (name follows at 8, NUL-terminated, record 4-aligned)

export const DIRECT = {
  ino: f(0, 'u32'),
  reclen: f(4, 'u16'),
  type: f(6, 'u8'),
  namlen: f(7, 'u8'),
} as const;
export const DIRECT_NAME_OFF = 8;
