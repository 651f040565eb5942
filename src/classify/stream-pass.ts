// The streaming pass over a pair of files of the same size: chunks compared whole first (the
// common case, equal bytes, costs one memcmp a chunk), then, where a chunk differs, 512-byte
// sector by sector for the runs the judge looks at, and block by block for the regions; both sides
// hashed (once while they agree) and the expected file's block heads recorded on the way.
//
// It is fed chunks and keeps no bytes, so it runs wherever the bytes are read: on the main thread
// (file-compare.ts, any producer) or in a same-bytes worker (host files); what it finds is plain
// data that crosses threads.

import { createHash, hash, type Hash } from 'node:crypto';
import type { Region, RegionClass } from '../report/schema.js';
import { BLOCK, headHashes } from './block-hash.js';
import { isAllZero, isPaddedText } from './bytes.js';
import { directoryChunks } from './directory-block.js';
import { isJunk } from './judge.js';

export const SECTOR = BLOCK;
/**
 * Chunk size of every streaming read (a multiple of any block size the classifier takes). Both
 * sides' chunks stay in a core's L2 cache (1 MiB here) from the kernel's copy through the compare
 * and the hash: reading, comparing and hashing a pair of large files ran at 2.0 GB/s with 64 or
 * 128 KiB chunks, and at 1.1 GB/s with 256 KiB or more.
 */
export const CHUNK = 128 * 1024;
/** The most regions reported for one file (runs of the same class are merged already). */
const MAX_REGIONS = 10_000;

/** A run of differing 512-byte blocks, as the streaming pass finds it. */
export interface RawRun {
  start: number;
  end: number;
  /** A whole aligned block of the run is junk (zeros, a directory block, binary). */
  junk: boolean;
  allZero: boolean;
  /** A block of the run decodes as directory records (its `.` entry may name the directory). */
  dir: boolean;
}

/** What the pass found. */
export interface SameSizeScan {
  /** The size of both files, as read. */
  size: number;
  runs: RawRun[];
  regions: Region[];
  /** More regions than MAX_REGIONS: the last one absorbed the rest. */
  regionsTruncated: boolean;
  expectedSha256: string;
  actualSha256: string;
  /** The expected file's 64-byte head hash of each 512-byte block (when asked for). */
  heads: Uint32Array | null;
}

/** Drop up to three UTF-8 continuation bytes at the start: a block may begin mid-character. */
function skipContinuation(buf: Uint8Array): Uint8Array {
  let i = 0;
  while (i < 3 && i < buf.length && (buf[i]! & 0xc0) === 0x80) i++;
  return buf.subarray(i);
}

/** The stale content class of one block (it differs from the expected one). */
export function blockClass(block: Uint8Array, dirChunk: (i: number) => boolean, firstChunk: number): RegionClass {
  if (isAllZero(block)) return 'zeros';
  let anyDir = false;
  let dir = true;
  for (let c = 0; c * SECTOR < block.length; c++) {
    if (dirChunk(firstChunk + c)) anyDir = true;
    else if (!isAllZero(block.subarray(c * SECTOR, Math.min((c + 1) * SECTOR, block.length)))) dir = false;
  }
  if (anyDir && dir) return 'directory-block';
  if (isPaddedText(skipContinuation(block))) return 'foreign-text';
  return 'foreign-binary';
}

/** Regions as runs of one class; `push` merges with the last one. */
export class RegionList {
  readonly list: Region[] = [];
  truncated = false;
  push(offset: number, length: number, cls: RegionClass): void {
    const last = this.list[this.list.length - 1];
    if (last && last.class === cls && last.offset + last.length === offset) {
      last.length += length;
      return;
    }
    if (this.list.length >= MAX_REGIONS) {
      // Past the cap, the last region absorbs the rest (its class is then "mixed": said in detail).
      this.truncated = true;
      if (last) last.length = offset + length - last.offset;
      return;
    }
    this.list.push({ offset, length, class: cls });
  }
}

/**
 * Streaming sha256 of both sides, hashing once while they agree. A file read in one chunk (most
 * files of a tree: small ones) is hashed in one call, with no Hash object: each is a native
 * object the collector must track, and making one cost more than hashing a few KiB.
 */
export class PairHash {
  private e: Hash | null = null;
  private a: Hash | null = null;
  private whole: [string, string] | null = null;
  /** `size`: both files', when it is the same (-1: the one-call shortcut is not taken). */
  constructor(private readonly size = -1) {}
  update(eb: Uint8Array, ab: Uint8Array, same: boolean): void {
    if (!this.e && eb.length === this.size) {
      const e = hash('sha256', eb, 'hex');
      this.whole = [e, same ? e : hash('sha256', ab, 'hex')];
      return;
    }
    this.e ??= createHash('sha256');
    if (same && !this.a) {
      this.e.update(eb);
      return;
    }
    if (!this.a) this.a = this.e.copy();
    this.e.update(eb);
    this.a.update(ab);
  }
  digest(): [string, string] {
    if (this.whole) return this.whole;
    this.e ??= createHash('sha256');
    const e = this.e.digest('hex');
    return [e, this.a ? this.a.digest('hex') : e];
  }
}

/** The 64-byte head hash (block-hash.ts) of each 512-byte block of a file, recorded as it is read. */
export class Heads {
  readonly values: Uint32Array;
  constructor(size: number) {
    this.values = new Uint32Array(Math.ceil(size / SECTOR));
  }
  record(buf: Uint8Array, pos: number): void {
    headHashes(buf, this.values, pos / SECTOR);
  }
}

/** The pass itself: fed each chunk of both sides in order, then asked what it found. */
export class SameSizeScanner {
  private readonly runs: RawRun[] = [];
  private readonly regions = new RegionList();
  private readonly hash: PairHash;
  private readonly heads: Heads | null;

  constructor(
    private readonly size: number,
    private readonly blockSize: number,
    heads: boolean,
  ) {
    this.heads = heads ? new Heads(size) : null;
    this.hash = new PairHash(size);
  }

  /** The chunk at `pos` of each side (as long as each other: the files are the same size). */
  feed(pos: number, eb: Buffer, ab: Buffer): void {
    const same = eb.equals(ab);
    this.hash.update(eb, ab, same);
    this.heads?.record(eb, pos);
    if (same) this.regions.push(pos, eb.length, 'match');
    else this.differingChunk(pos, eb, ab);
  }

  finish(): SameSizeScan {
    const [expectedSha256, actualSha256] = this.hash.digest();
    return {
      size: this.size,
      runs: this.runs,
      regions: this.regions.list,
      regionsTruncated: this.regions.truncated,
      expectedSha256,
      actualSha256,
      heads: this.heads?.values ?? null,
    };
  }

  private differingChunk(pos: number, eb: Buffer, ab: Buffer): void {
    let dirs: boolean[] | null = null;
    const dirChunk = (i: number): boolean => (dirs ??= directoryChunks(ab))[i] ?? false;
    const runs = this.runs;
    for (let off = 0; off < ab.length; off += SECTOR) {
      const end = Math.min(off + SECTOR, ab.length);
      // By offsets: views are made only of the sectors that differ.
      if (ab.compare(eb, off, end, off, end) === 0) continue;
      const a = ab.subarray(off, end);
      const zero = isAllZero(a);
      const dir = !zero && dirChunk(off / SECTOR);
      const junk = end - off >= 64 && (zero || dir || isJunk(a));
      const last = runs[runs.length - 1];
      if (last && last.end === pos + off) {
        last.end = pos + end;
        last.junk ||= junk;
        last.allZero &&= zero;
        last.dir ||= dir;
      } else {
        runs.push({ start: pos + off, end: pos + end, junk, allZero: zero, dir });
      }
    }
    for (let off = 0; off < ab.length; off += this.blockSize) {
      const end = Math.min(off + this.blockSize, ab.length);
      this.regions.push(pos + off, end - off, ab.compare(eb, off, end, off, end) === 0 ? 'match' : blockClass(ab.subarray(off, end), dirChunk, off / SECTOR));
    }
  }
}
