// Decoders for the directory blocks a stale file may hold: FFS (UFS1/UFS2) `struct direct`
// in either byte order, and ext2/3/4 `ext4_dir_entry_2`. Both are chains of variable-length
// records whose lengths must add up exactly to the end of a chunk: FFS chains within each
// 512-byte DIRBLKSIZ chunk, ext4 within the filesystem block (1 to 64 KiB), so an ext4 record
// may cross a 512-byte boundary. A chain cut by the end of the file (a short file holding only
// the start of a block) is accepted.

import { isAllZero } from './bytes.js';
import { escapeBytes } from '../report/escape.js';

export type DirFormat = 'ffs-le' | 'ffs-be' | 'ext4';

export interface DirRecord {
  offset: number;
  ino: number;
  reclen: number;
  type: number;
  /** The raw name bytes (possibly cut short by the end of the data). */
  name: Uint8Array;
}

export interface DecodedDirectory {
  format: DirFormat;
  records: DirRecord[];
  /** Names of live records (inode != 0), escaped for display. */
  entries: string[];
  /** Bytes covered by complete chains (the rest is zero padding). */
  coveredBytes: number;
}

const FFS_CHUNK = 512;
const EXT4_MIN_BLOCK = 1024;
const EXT4_MAX_BLOCK = 65536;

interface ChainResult {
  records: DirRecord[];
  end: number;
  live: number;
}

function readU32(buf: Uint8Array, off: number, be: boolean): number {
  const b0 = buf[off]!, b1 = buf[off + 1]!, b2 = buf[off + 2]!, b3 = buf[off + 3]!;
  return be ? ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0 : ((b3 << 24) | (b2 << 16) | (b1 << 8) | b0) >>> 0;
}

function readU16(buf: Uint8Array, off: number, be: boolean): number {
  return be ? (buf[off]! << 8) | buf[off + 1]! : buf[off]! | (buf[off + 1]! << 8);
}

/** A name is plausible when none of its bytes is NUL or '/'. */
function nameOk(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0 || b === 0x2f) return false;
  }
  return true;
}

/**
 * One FFS chunk starting at `start`: the records must chain to exactly start+512, or to the end
 * of the data when the data stops inside the chunk.
 */
function ffsChunk(buf: Uint8Array, start: number, be: boolean): ChainResult | null {
  const chunkEnd = start + FFS_CHUNK;
  const records: DirRecord[] = [];
  let live = 0;
  let off = start;
  while (off < chunkEnd) {
    if (off >= buf.length) return records.length > 0 ? { records, end: buf.length, live } : null;
    if (off + 8 > buf.length) {
      // The data ends inside a record header: only acceptable after at least one record.
      return records.length > 0 ? { records, end: buf.length, live } : null;
    }
    const ino = readU32(buf, off, be);
    const reclen = readU16(buf, off + 4, be);
    const type = buf[off + 6]!;
    const namlen = buf[off + 7]!;
    if (reclen < 8 || reclen % 4 !== 0 || off + reclen > chunkEnd || type > 14) return null;
    const need = 8 + ((namlen + 1 + 3) & ~3);
    if (ino !== 0) {
      if (namlen === 0 || reclen < need) return null;
      const nameEnd = Math.min(off + 8 + namlen, buf.length);
      if (!nameOk(buf, off + 8, nameEnd)) return null;
      // FFS always writes the NUL terminator after the name.
      if (off + 8 + namlen < buf.length && buf[off + 8 + namlen] !== 0) return null;
      live++;
    } else if (reclen < need && records.length > 0) {
      return null;
    }
    records.push({ offset: off, ino, reclen, type, name: buf.subarray(off + 8, Math.min(off + 8 + namlen, buf.length)) });
    off += reclen;
  }
  // A short file may stop inside the chunk after a record reaching its end: cover the data only.
  return { records, end: Math.min(chunkEnd, buf.length), live };
}

/**
 * ext4 record lengths reach 64 KiB, so one record whose length runs past the data explains any
 * buffer: about 1 random block in 300 would pass as such a record. A record standing alone for
 * the whole data must therefore look like a real entry: a known file type (1 to 7) and a name
 * in UTF-8 without control bytes (a cut name may end inside a character: one lone record in a
 * short file is rare enough to ask for a whole one).
 */
function plausibleLoneRecord(r: DirRecord): boolean {
  if (r.type < 1 || r.type > 7) return false;
  for (const b of r.name) if (b < 0x20 || b === 0x7f) return false;
  try {
    STRICT_UTF8.decode(r.name);
    return true;
  } catch {
    return false;
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * An ext4 chain starting at `start` (a block boundary). It ends where the records land exactly
 * on a possible block end (a multiple of 1 KiB from the start, at most 64 KiB) and the next bytes
 * do not continue the chain, or at the end of the data.
 */
function ext4Chain(buf: Uint8Array, start: number): ChainResult | null {
  const records: DirRecord[] = [];
  let live = 0;
  let off = start;
  const limit = start + EXT4_MAX_BLOCK;
  for (;;) {
    if (off >= buf.length) return records.length > 0 ? { records, end: buf.length, live } : null;
    const atBoundary = off > start && (off - start) % EXT4_MIN_BLOCK === 0;
    if (off + 8 > buf.length) return records.length > 0 ? { records, end: buf.length, live } : null;
    const ino = readU32(buf, off, false);
    let reclen = readU16(buf, off + 4, false);
    if (reclen === 0 || reclen === 65535) reclen = 65536;
    const namelen = buf[off + 6]!;
    const type = buf[off + 7]!;
    const isTail = ino === 0 && reclen === 12 && namelen === 0 && type === 0xde;
    const bad =
      reclen < 8 ||
      reclen % 4 !== 0 ||
      off + reclen > limit ||
      (!isTail && type > 7) ||
      (ino !== 0 && (namelen === 0 || reclen < ((8 + namelen + 3) & ~3))) ||
      (ino !== 0 && !nameOk(buf, off + 8, Math.min(off + 8 + namelen, buf.length)));
    if (bad) return atBoundary && records.length > 0 ? { records, end: off, live } : null;
    if (ino !== 0) live++;
    records.push({ offset: off, ino, reclen, type, name: buf.subarray(off + 8, Math.min(off + 8 + namelen, buf.length)) });
    off += reclen;
    if (records.length === 1 && off >= buf.length && !plausibleLoneRecord(records[0]!)) return null;
    // A block ends at a power-of-two size: stop cleanly there if the next record is not valid.
    if (off - start >= EXT4_MAX_BLOCK) return { records, end: Math.min(off, buf.length), live };
  }
}

function toDecoded(format: DirFormat, chains: ChainResult[], coveredBytes: number): DecodedDirectory {
  const records = chains.flatMap((c) => c.records);
  const entries = records.filter((r) => r.ino !== 0).map((r) => escapeBytes(r.name));
  return { format, records, entries, coveredBytes };
}

/** FFS over the whole buffer: every 512-byte chunk a valid chain or all zero, at least one live entry. */
function decodeFfs(buf: Uint8Array, be: boolean): DecodedDirectory | null {
  const chains: ChainResult[] = [];
  let covered = 0;
  let live = 0;
  let sawZeroChunk = false;
  for (let start = 0; start < buf.length; start += FFS_CHUNK) {
    const end = Math.min(start + FFS_CHUNK, buf.length);
    if (isAllZero(buf.subarray(start, end))) {
      sawZeroChunk = true;
      continue;
    }
    // Directory chunks come first; a live chunk after zero padding is something else.
    if (sawZeroChunk) return null;
    const chain = ffsChunk(buf, start, be);
    if (!chain) return null;
    chains.push(chain);
    covered += chain.end - start;
    live += chain.live;
  }
  return live > 0 ? toDecoded(be ? 'ffs-be' : 'ffs-le', chains, covered) : null;
}

/** ext4 over the whole buffer: consecutive blocks of chained records, then optional zero padding. */
function decodeExt4(buf: Uint8Array): DecodedDirectory | null {
  const chains: ChainResult[] = [];
  let off = 0;
  let live = 0;
  while (off < buf.length) {
    const chain = ext4Chain(buf, off);
    if (!chain) {
      if (off > 0 && off % EXT4_MIN_BLOCK === 0 && isAllZero(buf.subarray(off))) break;
      return null;
    }
    chains.push(chain);
    live += chain.live;
    off = chain.end;
  }
  return live > 0 ? toDecoded('ext4', chains, off) : null;
}

/**
 * Decode `buf` as a directory block (or the start of one). Tries FFS little-endian, FFS
 * big-endian and ext4; the format whose chain explains the data wins.
 */
export function decodeDirectoryBlock(buf: Uint8Array): DecodedDirectory | null {
  if (buf.length < 8) return null;
  return decodeFfs(buf, false) ?? decodeFfs(buf, true) ?? decodeExt4(buf);
}

/**
 * Which 512-byte chunks of `buf` are covered by directory records (used for per-region
 * classes). FFS chunks are checked one by one; ext4 chains are followed from every 1 KiB
 * boundary not already covered, so records crossing 512-byte boundaries are understood.
 */
export function directoryChunks(buf: Uint8Array): boolean[] {
  const chunks = Math.ceil(buf.length / FFS_CHUNK);
  const out = new Array<boolean>(chunks).fill(false);
  for (let i = 0; i < chunks; i++) {
    const start = i * FFS_CHUNK;
    for (const be of [false, true]) {
      const c = ffsChunk(buf, start, be);
      if (c && c.live > 0) {
        out[i] = true;
        break;
      }
    }
  }
  for (let start = 0; start < buf.length; start += EXT4_MIN_BLOCK) {
    if (out[start / FFS_CHUNK]) continue;
    const c = ext4Chain(buf, start);
    if (!c || c.live === 0) continue;
    for (let off = start; off < c.end; off += FFS_CHUNK) out[off / FFS_CHUNK] = true;
    start = Math.max(start, Math.ceil(c.end / EXT4_MIN_BLOCK) * EXT4_MIN_BLOCK - EXT4_MIN_BLOCK);
  }
  return out;
}
