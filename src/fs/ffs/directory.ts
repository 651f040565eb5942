// Directory entries (struct direct, FreeBSD sys/ufs/ufs/dir.h), like The Sleuth Kit's
// ffs_dent.c: a directory is a sequence of DIRBLKSIZ (512-byte) chunks; in each, records chain
// by d_reclen from the chunk's start to its end and never cross it. A record with d_ino 0 is a
// free slot. Names are bytes (any byte but NUL and '/'), shown through escapeBytes.

import { escapeBytes } from '../../report/escape.js';
import { layout } from './layout.js';
import type { Geometry } from './superblock.js';

export const DIRBLKSIZ = 512;
export const MAXNAMLEN = 255;

/** struct direct header (the name follows at 8, NUL-terminated, padded to 4 bytes). */
export const DIRECT = layout('struct direct', 8, {
  ino: [0, 'u32'],
  reclen: [4, 'u16'],
  type: [6, 'u8'],
  namlen: [7, 'u8'],
});

/** 4.2BSD directories (FS_42INODEFMT) have no d_type: d_namlen is 16 bits at 6. */
export const OLD_DIRECT = layout('struct odirect', 8, {
  ino: [0, 'u32'],
  reclen: [4, 'u16'],
  namlen: [6, 'u16'],
});

export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;
export const DT_WHT = 14;

/** DIRSIZ: bytes a record with this name length needs (header, name, NUL, padding to 4). */
export function dirsiz(namlen: number): number {
  return (DIRECT.size + namlen + 1 + 3) & ~3;
}

export interface DirEntry {
  ino: number;
  /** d_type as stored (DT_*); DT_UNKNOWN on 4.2BSD-format directories. */
  type: number;
  /** The name's bytes. */
  name: Buffer;
  /** The name with control characters, invalid UTF-8 and bidi overrides escaped. */
  display: string;
  /** Byte offset of the record in the directory. */
  offset: number;
}

/**
 * Parse one DIRBLKSIZ chunk that starts at byte `chunkOffset` of directory `dirIno`. Free slots
 * are skipped. A record that breaks the chaining or names an impossible inode is a UserError
 * naming the directory and the offset.
 */
export function parseDirChunk(chunk: Buffer, chunkOffset: number, dirIno: number, geo: Geometry): DirEntry[] {
  const out: DirEntry[] = [];
  const oldFormat = geo.oldDirectoryFormat;
  let off = 0;
  while (off < chunk.length) {
    const at = chunkOffset + off;
    const bad = (why: string): Error => geo.error(`directory inode ${dirIno}: entry at offset ${at}: ${why}`);
    if (chunk.length - off < DIRECT.size) throw bad(`only ${chunk.length - off} bytes left in its ${DIRBLKSIZ}-byte chunk`);
    const h = oldFormat ? { ...OLD_DIRECT.read(chunk, off), type: DT_UNKNOWN } : DIRECT.read(chunk, off);
    if (h.reclen === 0) throw bad('record length 0');
    if (h.reclen % 4 !== 0) throw bad(`record length ${h.reclen} is not a multiple of 4`);
    if (h.reclen > chunk.length - off) throw bad(`record length ${h.reclen} runs past the end of its ${DIRBLKSIZ}-byte chunk`);
    if (h.ino !== 0) {
      if (h.namlen === 0 || h.namlen > MAXNAMLEN) throw bad(`name length ${h.namlen}`);
      if (dirsiz(h.namlen) > h.reclen) throw bad(`name length ${h.namlen} does not fit record length ${h.reclen}`);
      if (h.ino >= geo.inodeCount) throw bad(`inode ${h.ino} does not exist (0-${geo.inodeCount - 1})`);
      const name = Buffer.from(chunk.subarray(off + DIRECT.size, off + DIRECT.size + h.namlen));
      if (name.includes(0)) throw bad(`name ${escapeBytes(name)} holds a NUL byte`);
      if (name.includes(0x2f)) throw bad(`name ${escapeBytes(name)} holds a '/'`);
      out.push({ ino: h.ino, type: h.type, name, display: escapeBytes(name), offset: at });
    }
    off += h.reclen;
  }
  return out;
}
