// On-disk inodes (struct ufs1_dinode, struct ufs2_dinode: FreeBSD sys/ufs/ufs/dinode.h), where
// each lives in its cylinder group's inode table, and a bounded cache of inode-table blocks.

import type { BlockDevice } from '../../image/block-device.js';
import { layout, readI64 } from './layout.js';
import { Lru } from '../../util/lru.js';
import { NDADDR, NIADDR, NXADDR, type Geometry } from './superblock.js';
import type { CylinderGroups } from './cylinder-group.js';

export const IFMT = 0o170000;
export const IFIFO = 0o010000;
export const IFCHR = 0o020000;
export const IFDIR = 0o040000;
export const IFBLK = 0o060000;
export const IFREG = 0o100000;
export const IFLNK = 0o120000;
export const IFSOCK = 0o140000;
export const IFWHT = 0o160000;

export type InodeKind = 'file' | 'directory' | 'symlink' | 'fifo' | 'char-device' | 'block-device' | 'socket' | 'whiteout' | 'none' | 'unknown';

export function kindOfMode(mode: number): InodeKind {
  switch (mode & IFMT) {
    case IFREG:
      return 'file';
    case IFDIR:
      return 'directory';
    case IFLNK:
      return 'symlink';
    case IFIFO:
      return 'fifo';
    case IFCHR:
      return 'char-device';
    case IFBLK:
      return 'block-device';
    case IFSOCK:
      return 'socket';
    case IFWHT:
      return 'whiteout';
    case 0:
      return 'none';
    default:
      return 'unknown';
  }
}

/** struct ufs1_dinode: 128 bytes. */
export const UFS1_DINODE = layout('struct ufs1_dinode', 128, {
  mode: [0, 'u16'],
  nlink: [2, 'i16'],
  size: [8, 'u64'],
  atime: [16, 'i32'],
  atimensec: [20, 'i32'],
  mtime: [24, 'i32'],
  mtimensec: [28, 'i32'],
  ctime: [32, 'i32'],
  ctimensec: [36, 'i32'],
  db: [40, 'bytes', NDADDR * 4],
  ib: [88, 'bytes', NIADDR * 4],
  flags: [100, 'u32'],
  blocks: [104, 'i32'],
  gen: [108, 'i32'],
  uid: [112, 'u32'],
  gid: [116, 'u32'],
  modrev: [120, 'u64'],
});

/** struct ufs2_dinode: 256 bytes. */
export const UFS2_DINODE = layout('struct ufs2_dinode', 256, {
  mode: [0, 'u16'],
  nlink: [2, 'i16'],
  uid: [4, 'u32'],
  gid: [8, 'u32'],
  blksize: [12, 'u32'],
  size: [16, 'u64'],
  blocks: [24, 'u64'],
  atime: [32, 'i64'],
  mtime: [40, 'i64'],
  ctime: [48, 'i64'],
  birthtime: [56, 'i64'],
  mtimensec: [64, 'i32'],
  atimensec: [68, 'i32'],
  ctimensec: [72, 'i32'],
  birthnsec: [76, 'i32'],
  gen: [80, 'i32'],
  kernflags: [84, 'u32'],
  flags: [88, 'u32'],
  extsize: [92, 'i32'],
  extb: [96, 'bytes', NXADDR * 8],
  db: [112, 'bytes', NDADDR * 8],
  ib: [208, 'bytes', NIADDR * 8],
  modrev: [232, 'u64'],
});

export interface Timestamp {
  sec: number;
  nsec: number;
}

export interface Inode {
  ino: number;
  /** Type and permission bits as stored. */
  mode: number;
  kind: InodeKind;
  /** mode & 07777. */
  perm: number;
  nlink: number;
  uid: number;
  gid: number;
  /** di_size, bytes. */
  size: number;
  /** di_blocks: 512-byte units held, as the inode claims (not trusted for anything). */
  blocks: number;
  generation: number;
  /** di_flags (chflags). */
  flags: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  /** UFS2 only. */
  birthtime: Timestamp | null;
  /** Direct block pointers (fragment addresses; 0 = hole). */
  db: number[];
  /** Single, double, triple indirect block pointers. */
  ib: number[];
  /** UFS2 extended attribute area: its size and its two block pointers. */
  extsize: number;
  extb: number[];
  /** The bytes of the pointer area (db then ib): a fast symlink's target lives here. */
  pointerArea: Buffer;
  /** Byte offset of the on-disk inode in the filesystem. */
  offset: number;
  /** False for a UFS2 inode past its group's initialised inode blocks: read as zeros. */
  initialized: boolean;
}

function pointers(area: Buffer, width: 4 | 8): number[] {
  const out: number[] = [];
  for (let off = 0; off + width <= area.length; off += width) out.push(width === 4 ? area.readInt32LE(off) : readI64(area, off));
  return out;
}

/** Decode one on-disk inode. UFS1 and UFS2 share the field names; widths and UFS2's extras differ. */
export function decodeInode(buf: Buffer, base: number, version: 1 | 2, ino: number, offset: number, initialized = true): Inode {
  const v1 = version === 1;
  const struct = v1 ? UFS1_DINODE : UFS2_DINODE;
  const width = v1 ? 4 : 8;
  const d = struct.read(buf, base);
  const d2 = v1 ? null : (d as ReturnType<typeof UFS2_DINODE.read>);
  return {
    ino,
    mode: d.mode,
    kind: kindOfMode(d.mode),
    perm: d.mode & 0o7777,
    nlink: d.nlink,
    uid: d.uid,
    gid: d.gid,
    size: d.size,
    blocks: d.blocks,
    generation: d.gen,
    flags: d.flags,
    atime: { sec: d.atime, nsec: d.atimensec },
    mtime: { sec: d.mtime, nsec: d.mtimensec },
    ctime: { sec: d.ctime, nsec: d.ctimensec },
    birthtime: d2 ? { sec: d2.birthtime, nsec: d2.birthnsec } : null,
    db: pointers(d.db, width),
    ib: pointers(d.ib, width),
    extsize: d2 ? d2.extsize : 0,
    extb: d2 ? pointers(d2.extb, 8) : [],
    pointerArea: Buffer.from(buf.subarray(base + struct.offsetOf('db'), base + struct.offsetOf('ib') + NIADDR * width)),
    offset,
    initialized,
  };
}

/** One cylinder group's inode table, where an audit compares inode blocks between layers. */
export interface InodeTableRange {
  cg: number;
  /** First inode number of the group, and how many. */
  firstInode: number;
  count: number;
  /** Byte offset and length of the table in the filesystem. */
  offset: number;
  length: number;
}

/** Reads inodes through a bounded cache of inode-table blocks. */
export class InodeTable {
  private readonly blocks = new Lru<number, Buffer>(64);
  /** Decoded inodes, so that a walk and the reads that follow it decode each inode once. */
  private readonly decoded = new Lru<number, Inode>(1024);

  constructor(
    private readonly dev: BlockDevice,
    private readonly geo: Geometry,
    private readonly cgs: CylinderGroups,
  ) {}

  checkIno(ino: number): void {
    if (!Number.isSafeInteger(ino) || ino < 0 || ino >= this.geo.inodeCount) {
      throw this.geo.error(`inode ${ino} does not exist (0-${this.geo.inodeCount - 1})`);
    }
  }

  /** Byte offset of inode ino in the filesystem. */
  offset(ino: number): number {
    this.checkIno(ino);
    return this.geo.inodeOffset(ino);
  }

  /** The inode (shared with later calls for the same number: do not modify it). */
  read(ino: number): Inode {
    const hit = this.decoded.get(ino);
    if (hit) return hit;
    const inode = this.decode(ino);
    this.decoded.set(ino, inode);
    return inode;
  }

  private decode(ino: number): Inode {
    this.checkIno(ino);
    const geo = this.geo;
    const offset = geo.inodeOffset(ino);
    if (geo.version === 2) {
      const cg = this.cgs.get(geo.inoToCg(ino));
      if (ino % geo.ipg >= cg.initializedInodes) return decodeInode(Buffer.alloc(geo.inodeSize), 0, 2, ino, offset, false);
    }
    const fsba = geo.inoToFsba(ino);
    let block = this.blocks.get(fsba);
    if (!block) {
      block = Buffer.alloc(geo.bsize);
      this.dev.read(block, fsba * geo.fsize);
      this.blocks.set(fsba, block);
    }
    return decodeInode(block, (ino % geo.inopb) * geo.inodeSize, geo.version, ino, offset);
  }

  ranges(): InodeTableRange[] {
    const geo = this.geo;
    const out: InodeTableRange[] = [];
    for (let c = 0; c < geo.ncg; c++) {
      out.push({ cg: c, firstInode: c * geo.ipg, count: geo.ipg, offset: geo.cgimin(c) * geo.fsize, length: geo.ipg * geo.inodeSize });
    }
    return out;
  }
}
