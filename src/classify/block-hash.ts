// Hashes of aligned 512-byte blocks, for the provenance index. Freed blocks are reused whole and
// at fragment-aligned offsets (and fragments are multiples of 512 bytes), so stale bytes in a
// damaged file line up with 512-byte blocks of the file they came from, whatever the offset.
//
// One pass over a block gives a ladder of 32-bit hashes: of its first 32, 64 and 256 bytes and of
// the whole block (a short last block is hashed zero-padded to 512, as a file's last fragment is
// zero beyond its end). A stale stretch shorter than a block (a short file, the end of a file)
// is looked up by the longest prefix hash it covers. Hashes are only hints: every match is
// confirmed on the bytes before it is named.

export const BLOCK = 512;
const WORDS = BLOCK / 4;

/** Prefix lengths with a hash of their own (the whole block is the last). */
export const LADDER = [32, 64, 256, 512] as const;
export type Level = (typeof LADDER)[number];

export interface BlockHashes {
  h32: number;
  h64: number;
  h256: number;
  h512: number;
  /** Whether every byte of the block is NUL (found in the same pass). */
  zero: boolean;
}

const scratch = new Uint8Array(BLOCK);
const scratchWords = new Int32Array(scratch.buffer);

function mix(h: number, k: number): number {
  h = Math.imul(h ^ k, 0x01000193);
  return (h ^ (h >>> 15)) | 0;
}

function finish(h1: number, h2: number, n: number): number {
  let h = (h1 ^ Math.imul(h2, 0x85ebca6b) ^ n) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The ladder of hashes of the block at `off` of `buf` (`len` bytes, at most 512; a shorter block
 * is zero-padded). Writes into `out` and returns it.
 */
export function hashBlock(buf: Uint8Array, off: number, len: number, out: BlockHashes): BlockHashes {
  let words: Int32Array;
  let base: number;
  if (len === BLOCK && (buf.byteOffset + off) % 4 === 0) {
    words = new Int32Array(buf.buffer, buf.byteOffset + off, WORDS);
    base = 0;
  } else {
    scratch.fill(0);
    scratch.set(buf.subarray(off, off + len));
    words = scratchWords;
    base = 0;
  }
  let h1 = 0x2545f491;
  let h2 = 0x9e3779b9 | 0;
  let any = 0;
  for (let i = 0; i < WORDS; i++) {
    const k = words[base + i]!;
    any |= k;
    h1 = mix(h1, k);
    h2 = (Math.imul(h2, 31) + k) | 0;
    if (i === 7) out.h32 = finish(h1, h2, 32);
    else if (i === 15) out.h64 = finish(h1, h2, 64);
    else if (i === 63) out.h256 = finish(h1, h2, 256);
  }
  out.h512 = finish(h1, h2, 512);
  out.zero = any === 0;
  return out;
}

/**
 * Only the first two levels (32 and 64 bytes), from the block's first 16 words: an eighth of the
 * work, enough to tell that a block cannot be one a lookup wants.
 */
export function hashHead(buf: Uint8Array, off: number, len: number, out: BlockHashes): BlockHashes {
  let h1 = 0x2545f491;
  let h2 = 0x9e3779b9 | 0;
  const aligned = (buf.byteOffset + off) % 4 === 0 && len >= 64;
  const words = aligned ? new Int32Array(buf.buffer, buf.byteOffset + off, 16) : null;
  for (let i = 0; i < 16; i++) {
    let k: number;
    if (words) k = words[i]!;
    else {
      const p = off + i * 4;
      k = (p < off + len ? buf[p]! : 0) | ((p + 1 < off + len ? buf[p + 1]! : 0) << 8) | ((p + 2 < off + len ? buf[p + 2]! : 0) << 16) | ((p + 3 < off + len ? buf[p + 3]! : 0) << 24);
    }
    h1 = mix(h1, k);
    h2 = (Math.imul(h2, 31) + k) | 0;
    if (i === 7) out.h32 = finish(h1, h2, 32);
  }
  out.h64 = finish(h1, h2, 64);
  return out;
}

/** The 64-byte head hash of the block whose first word is `words[base]`: hashHead's h64. */
function head64(words: Int32Array, base: number): number {
  let h1 = 0x2545f491;
  let h2 = 0x9e3779b9 | 0;
  for (let i = 0; i < 16; i++) {
    const k = words[base + i]!;
    h1 = mix(h1, k);
    h2 = (Math.imul(h2, 31) + k) | 0;
  }
  return finish(h1, h2, 64);
}

/** A block's first 64 bytes copied here, zero-padded, when they cannot be read as words in place. */
const headScratch = new Uint8Array(64);
const headScratchWords = new Int32Array(headScratch.buffer);

/**
 * The 64-byte head hash of every 512-byte block of `buf` (a file's bytes from a block boundary),
 * into `out` from index `at`: hashHead in one loop over one view of the words. One shape of code
 * for every caller (a Buffer or a Uint8Array, aligned or not, a short last block): this runs on
 * every byte read, and code that bails out on a new shape is compiled again and again.
 */
export function headHashes(buf: Uint8Array, out: Uint32Array, at: number): void {
  // None past the end of `out` (the shorter side of a pair of different sizes has no more).
  const blocks = Math.max(0, Math.min(Math.ceil(buf.length / BLOCK), out.length - at));
  const whole = Math.min(Math.floor(buf.length / BLOCK), blocks);
  const aligned = buf.byteOffset % 4 === 0;
  const words = new Int32Array(buf.buffer, aligned ? buf.byteOffset : 0, aligned ? whole * WORDS : 0);
  for (let b = 0; b < blocks; b++) {
    if (b < whole && aligned) {
      out[at + b] = head64(words, b * WORDS) >>> 0;
      continue;
    }
    const off = b * BLOCK;
    const len = Math.min(64, buf.length - off);
    headScratch.fill(0);
    headScratch.set(buf.subarray(off, off + len));
    out[at + b] = head64(headScratchWords, 0) >>> 0;
  }
}

export function newHashes(): BlockHashes {
  return { h32: 0, h64: 0, h256: 0, h512: 0, zero: false };
}

export function levelHash(h: BlockHashes, level: Level): number {
  return level === 32 ? h.h32 : level === 64 ? h.h64 : level === 256 ? h.h256 : h.h512;
}
