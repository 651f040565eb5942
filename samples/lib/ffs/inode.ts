// On-disk inodes (struct ufs1_dinode, struct ufs2_dinode) decoded to one shape and encoded back
// through the layout tables. Fields this library does not manage (di_extb, di_kernflags, ...)
// are carried over from the bytes read.

import { DINODE1, DINODE2, IFLNK, IFMT, NDADDR, NIADDR, rd, wr } from './layout.js';
import type { Geometry } from './geometry.js';

export interface Inode {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** di_blocks: 512-byte sectors held (data, fragments and indirect blocks). */
  blocks: number;
  atime: number;
  atimensec: number;
  mtime: number;
  mtimensec: number;
  ctime: number;
  ctimensec: number;
  /** UFS2 only (0 on UFS1). */
  birthtime: number;
  birthnsec: number;
  gen: number;
  flags: number;
  /** Direct and indirect block pointers (fragment numbers; 0 = none). */
  db: number[];
  ib: number[];
  /** A fast symlink's target, kept in the pointer area instead of db/ib. */
  shortlink: Buffer | null;
  /** The bytes as read (kept for the fields not decoded). */
  raw: Buffer;
}

function isShortLink(g: Geometry, mode: number, size: number, blocks: number): boolean {
  return (mode & IFMT) === IFLNK && size < g.maxsymlinklen && blocks === 0;
}

export function decodeInode(g: Geometry, raw: Buffer, ino: number): Inode {
  const T = g.ufs === 2 ? DINODE2 : DINODE1;
  const mode = rd(raw, 0, T.mode);
  const size = rd(raw, 0, T.size);
  const blocks = rd(raw, 0, T.blocks);
  const short = isShortLink(g, mode, size, blocks);
  const db: number[] = [];
  const ib: number[] = [];
  for (let i = 0; i < NDADDR; i++) db.push(short ? 0 : rd(raw, 0, T.db, i));
  for (let i = 0; i < NIADDR; i++) ib.push(short ? 0 : rd(raw, 0, T.ib, i));
  const u2 = g.ufs === 2;
  return {
    ino,
    mode,
    nlink: rd(raw, 0, T.nlink),
    uid: rd(raw, 0, T.uid),
    gid: rd(raw, 0, T.gid),
    size,
    blocks,
    atime: rd(raw, 0, T.atime),
    atimensec: rd(raw, 0, T.atimensec),
    mtime: rd(raw, 0, T.mtime),
    mtimensec: rd(raw, 0, T.mtimensec),
    ctime: rd(raw, 0, T.ctime),
    ctimensec: rd(raw, 0, T.ctimensec),
    birthtime: u2 ? rd(raw, 0, DINODE2.birthtime) : 0,
    birthnsec: u2 ? rd(raw, 0, DINODE2.birthnsec) : 0,
    gen: rd(raw, 0, T.gen),
    flags: rd(raw, 0, T.flags),
    db,
    ib,
    shortlink: short ? Buffer.from(raw.subarray(T.db.off, T.db.off + size)) : null,
    raw: Buffer.from(raw),
  };
}

export function encodeInode(g: Geometry, ip: Inode): Buffer {
  const T = g.ufs === 2 ? DINODE2 : DINODE1;
  const out = Buffer.from(ip.raw);
  wr(out, 0, T.mode, ip.mode);
  wr(out, 0, T.nlink, ip.nlink);
  wr(out, 0, T.uid, ip.uid);
  wr(out, 0, T.gid, ip.gid);
  wr(out, 0, T.size, ip.size);
  wr(out, 0, T.blocks, ip.blocks);
  wr(out, 0, T.atime, ip.atime);
  wr(out, 0, T.atimensec, ip.atimensec);
  wr(out, 0, T.mtime, ip.mtime);
  wr(out, 0, T.mtimensec, ip.mtimensec);
  wr(out, 0, T.ctime, ip.ctime);
  wr(out, 0, T.ctimensec, ip.ctimensec);
  if (g.ufs === 2) {
    wr(out, 0, DINODE2.birthtime, ip.birthtime);
    wr(out, 0, DINODE2.birthnsec, ip.birthnsec);
  } else {
    // UFS1 keeps the old 16-bit ids beside the 32-bit ones; newer kernels leave them 0.
    wr(out, 0, DINODE1.oldids, 0, 0);
    wr(out, 0, DINODE1.oldids, 0, 1);
  }
  wr(out, 0, T.gen, ip.gen);
  wr(out, 0, T.flags, ip.flags);
  const areaStart = T.db.off;
  const areaEnd = T.ib.off + NIADDR * (g.ufs === 2 ? 8 : 4);
  if (ip.shortlink) {
    if (ip.shortlink.length >= g.maxsymlinklen) throw new Error('fast symlink target too long');
    out.fill(0, areaStart, areaEnd);
    ip.shortlink.copy(out, areaStart);
  } else {
    for (let i = 0; i < NDADDR; i++) wr(out, 0, T.db, ip.db[i]!, i);
    for (let i = 0; i < NIADDR; i++) wr(out, 0, T.ib, ip.ib[i]!, i);
  }
  return out;
}

/** A copy whose arrays and target can be changed without touching the original (raw is never changed in place). */
export function copyInode(ip: Inode): Inode {
  return { ...ip, db: ip.db.slice(), ib: ip.ib.slice(), shortlink: ip.shortlink ? Buffer.from(ip.shortlink) : null };
}

/** A zeroed inode image (for a freshly initialised inode block). */
export function blankInode(g: Geometry, ino: number, gen: number): Inode {
  const raw = Buffer.alloc(g.inodeSize);
  wr(raw, 0, g.ufs === 2 ? DINODE2.gen : DINODE1.gen, gen);
  return decodeInode(g, raw, ino);
}
