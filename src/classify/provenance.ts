// Where stale bytes came from. Freed blocks are reused in any order, so the bytes in a damaged
// file are often the middle of another file, not its start. Every candidate file (the other
// expected sources, each --corpus directory, --corpus-guest directories) is indexed by its
// aligned 512-byte blocks: hash -> (file, block). A stale stretch is looked up block by block; the
// blocks that hit vote for a (file, offset delta); the best is confirmed on the bytes and the
// match extended both ways, byte by byte, within the stretch. The answer names the file and the
// offset in it where the stale bytes start.
//
// Memory: per indexed block, one 8-byte entry per ladder level (block-hash.ts: 32, 64, 256 and 512
// bytes): 32 bytes per 512-byte block, 64 KiB per indexed MiB, plus the file table. With `wanted` (the hashes of the stretches to trace, known before indexing),
// only matching blocks are kept, so memory follows the stale bytes, not the corpus.

import type { Provenance } from '../report/schema.js';
import type { TreeEntry } from '../tree/tree.js';
import { lengthWithoutTrailingNul } from './bytes.js';
import { BLOCK, hashBlock, hashHead, levelHash, newHashes, type BlockHashes, type Level } from './block-hash.js';
import { partitionPoint } from '../util/partition-point.js';

/** Something whose bytes can be read again to confirm a match. */
export type Readable = Pick<TreeEntry, 'size' | 'read'> & Partial<Pick<TreeEntry, 'readHead' | 'openReader'>>;

export interface CandidateFile {
  source: Provenance['source'];
  root: string;
  path: string;
  size: number;
  /** Where the bytes are read again from to confirm a match. */
  entry: Readable;
}

/** Read `len` bytes at `pos` (fewer at the end of the file). */
export async function readRange(entry: Readable, pos: number, len: number): Promise<Buffer> {
  const end = Math.min(entry.size, pos + len);
  if (end <= pos) return Buffer.alloc(0);
  if (entry.openReader && entry.size > 256 * 1024) {
    const r = await entry.openReader();
    try {
      const buf = Buffer.allocUnsafe(end - pos);
      let got = 0;
      while (got < buf.length) {
        const n = await r.read(buf.subarray(got), pos + got);
        if (n <= 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    } finally {
      await r.close();
    }
  }
  if (pos === 0 && entry.readHead) return entry.readHead(end);
  const all = await entry.read();
  return all.subarray(pos, end);
}

/** The hashes a set of stretches will look up: an index built with them keeps only what may match. */
export class Wanted {
  readonly h64 = new Set<number>();
  /** The low 24 bits of each h64 (what a head book keeps of a block: compare-trees.ts). */
  private readonly h64Low = new Set<number>();
  /** A bit per 2^20 values of h64 in front of the sets: most blocks asked about are wanted by none. */
  private readonly bits64 = new Uint32Array(1 << 15);
  readonly h32 = new Set<number>();
  readonly byLevel = new Map<Level, Set<number>>([
    [32, new Set()],
    [64, new Set()],
    [256, new Set()],
    [512, new Set()],
  ]);
  add(level: Level, h: BlockHashes): void {
    this.byLevel.get(level)!.add(levelHash(h, level));
    if (level === 32) this.h32.add(h.h32);
    else {
      this.h64.add(h.h64);
      this.h64Low.add(h.h64 & 0xffffff);
      this.bits64[(h.h64 >>> 5) & 0x7fff]! |= 1 << (h.h64 & 31);
    }
  }
  /** Whether some wanted block has this 64-byte head hash. */
  has64(h: number): boolean {
    return (this.bits64[(h >>> 5) & 0x7fff]! & (1 << (h & 31))) !== 0 && this.h64.has(h);
  }
  /** Whether some wanted block's 64-byte head hash has these low 24 bits (true also for some that are not wanted). */
  mayHave64(low24: number): boolean {
    return (this.bits64[(low24 >>> 5) & 0x7fff]! & (1 << (low24 & 31))) !== 0 && this.h64Low.has(low24);
  }
  get size(): number {
    let n = 0;
    for (const s of this.byLevel.values()) n += s.size;
    return n;
  }
}

/**
 * Growable pairs (hash, block id) for one ladder level; sealed, sorted by hash (a two-pass radix
 * sort on 16-bit digits: linear, no BigInt) into two parallel arrays, 8 bytes an entry.
 */
class Entries {
  private keys = new Uint32Array(1024);
  private ids = new Uint32Array(1024);
  length = 0;
  private sealed = false;

  push(key: number, id: number): void {
    if (this.sealed) throw new Error('index sealed');
    if (this.length === this.keys.length) {
      const k = new Uint32Array(this.keys.length * 2);
      k.set(this.keys);
      this.keys = k;
      const i = new Uint32Array(this.ids.length * 2);
      i.set(this.ids);
      this.ids = i;
    }
    this.keys[this.length] = key;
    this.ids[this.length] = id;
    this.length++;
  }

  seal(): void {
    if (this.sealed) return;
    this.sealed = true;
    const n = this.length;
    let keys = this.keys.subarray(0, n);
    let ids = this.ids.subarray(0, n);
    let k2 = new Uint32Array(n);
    let i2 = new Uint32Array(n);
    const count = new Uint32Array(65537);
    for (const shift of [0, 16]) {
      count.fill(0);
      for (let i = 0; i < n; i++) count[((keys[i]! >>> shift) & 0xffff) + 1]!++;
      for (let d = 0; d < 65536; d++) count[d + 1]! += count[d]!;
      for (let i = 0; i < n; i++) {
        const d = (keys[i]! >>> shift) & 0xffff;
        const at = count[d]!++;
        k2[at] = keys[i]!;
        i2[at] = ids[i]!;
      }
      [keys, k2] = [k2, keys];
      [ids, i2] = [i2, ids];
    }
    // Exactly sized copies: the growth slack is given back.
    this.keys = keys.slice();
    this.ids = ids.slice();
  }

  /** Block ids whose hash is `key` (at most `max`). */
  find(key: number, max: number): number[] {
    const k = this.keys;
    const a = partitionPoint(this.length, (m) => k[m]! < key);
    const out: number[] = [];
    for (let i = a; i < this.length && out.length < max && k[i] === key; i++) out.push(this.ids[i]!);
    return out;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.keys.byteLength + this.ids.byteLength;
  }
}

export interface IndexOptions {
  /** Keep only blocks whose hashes are wanted (see Wanted). */
  wanted?: Wanted;
}

export interface LookupOptions {
  /** A candidate that must not explain itself (the file's own expected source). */
  exclude?: { source: Provenance['source']; path: string };
  /** The whole stretch's length when `head` holds only its start (the rest is read with readMore). */
  length?: number;
  /** Read more of the stale stretch (offsets relative to its start), to extend a match past `head`. */
  readMore?: (pos: number, len: number) => Promise<Uint8Array>;
}

/** A match: the provenance, and where in the looked-up stretch the matched bytes start. */
export interface Match extends Provenance {
  /** Offset in the stretch where the matched bytes start. */
  stretchOffset: number;
  /** The candidate's size. */
  candidateSize: number;
  /** Read the candidate's bytes (to check what lies around the match). */
  read: (pos: number, len: number) => Promise<Buffer>;
}

/** The most candidate blocks a hash may name before it is taken as too common to tell anything. */
const MAX_BUCKET = 64;
/** The most blocks of a stretch that are looked up. */
const MAX_PROBES = 128;
/** How many (file, offset) groups are confirmed on the bytes before giving up. */
const MAX_CONFIRM = 4;
/** The shortest stretch that may be named when it is neither a whole block nor a whole file. */
const MIN_MATCH = 32;

export class ProvenanceIndex {
  private readonly files: CandidateFile[] = [];
  /** Global id of each file's first block (file i owns ids firstBlock[i] .. firstBlock[i+1]-1). */
  private readonly firstBlock: number[] = [];
  private nextBlock = 0;
  private readonly levels = new Map<Level, Entries>([
    [32, new Entries()],
    [64, new Entries()],
    [256, new Entries()],
    [512, new Entries()],
  ]);
  private readonly wanted?: Wanted;
  private indexedBytes = 0;
  /** The levels in ladder order, for the indexing loop. */
  private readonly ladder: [Entries, Entries, Entries, Entries];

  constructor(opts: IndexOptions = {}) {
    this.wanted = opts.wanted;
    this.ladder = [this.levels.get(32)!, this.levels.get(64)!, this.levels.get(256)!, this.levels.get(512)!];
  }

  /** Files seen. */
  get size(): number {
    return this.files.length;
  }

  /** Bytes of candidate data hashed, and bytes the index holds. */
  get stats(): { files: number; indexedBytes: number; entries: number; memoryBytes: number } {
    let entries = 0;
    let mem = 0;
    for (const e of this.levels.values()) {
      entries += e.length;
      mem += e.bytes;
    }
    return { files: this.files.length, indexedBytes: this.indexedBytes, entries, memoryBytes: mem + this.files.length * 8 };
  }

  /**
   * Index a whole file whose bytes are in `data` (a buffer, or successive chunks through
   * `addChunk`). `entry` reads them again when a match is confirmed.
   */
  add(source: Provenance['source'], root: string, path: string, data: Uint8Array, entry?: Readable): void {
    const file: CandidateFile = { source, root, path, size: data.length, entry: entry ?? memoryEntry(data) };
    const adder = this.adder(file);
    adder.chunk(data, 0);
    adder.done();
  }

  /**
   * Index a file chunk by chunk (offsets must be multiples of 512 except for the last chunk):
   * `chunk(bytes, fileOffset)` for each, then `done()`.
   */
  adder(file: CandidateFile): { chunk: (bytes: Uint8Array, offset: number) => void; done: () => void } {
    // Block ids are given out now, so files may be read and indexed concurrently.
    const first = this.nextBlock;
    this.nextBlock += Math.max(1, Math.ceil(file.size / BLOCK));
    this.files.push(file);
    this.firstBlock.push(first);
    const h = newHashes();
    const wanted = this.wanted;
    return {
      chunk: (bytes, offset) => {
        this.indexedBytes += bytes.length;
        const [e32, e64, e256, e512] = this.ladder;
        for (let off = 0; off < bytes.length; off += BLOCK) {
          const len = Math.min(BLOCK, bytes.length - off);
          // Filtered: the first 64 bytes tell whether the block can be wanted at all.
          if (wanted && !wanted.has64(hashHead(bytes, off, len, h).h64) && !wanted.h32.has(h.h32)) continue;
          hashBlock(bytes, off, len, h);
          if (h.zero) continue; // Zeros explain nothing.
          const id = first + (offset + off) / BLOCK;
          if (wanted) {
            if (len >= 32 && wanted.byLevel.get(32)!.has(h.h32)) e32.push(h.h32, id);
            if (len >= 64 && wanted.byLevel.get(64)!.has(h.h64)) e64.push(h.h64, id);
            if (len >= 256 && wanted.byLevel.get(256)!.has(h.h256)) e256.push(h.h256, id);
            if (wanted.byLevel.get(512)!.has(h.h512)) e512.push(h.h512, id);
            continue;
          }
          if (len >= 32) e32.push(h.h32, id);
          if (len >= 64) e64.push(h.h64, id);
          if (len >= 256) e256.push(h.h256, id);
          e512.push(h.h512, id);
        }
      },
      done: () => {},
    };
  }

  /** Sort the entries (otherwise the first lookup pays for it). */
  seal(): void {
    for (const e of this.levels.values()) e.seal();
  }

  private locate(id: number): { file: number; block: number } {
    // The last file starting at or before the block.
    const a = Math.max(0, partitionPoint(this.firstBlock.length, (m) => this.firstBlock[m]! <= id) - 1);
    return { file: a, block: id - this.firstBlock[a]! };
  }

  /**
   * The candidate file the stale bytes `head` (the start of a stale stretch that begins on a
   * block boundary of the damaged file) came from, with the offset in it where they start.
   */
  async lookup(head: Uint8Array, opts: LookupOptions = {}): Promise<Match | null> {
    this.seal();
    if (this.files.length === 0) return null;
    const length = Math.max(opts.length ?? head.length, head.length);
    const content = lengthWithoutTrailingNul(head);
    if (content < MIN_MATCH) return null;
    // Votes: (file, delta) -> blocks of the stretch that hit.
    const votes = new Map<string, { file: number; delta: number; hits: number; first: number }>();
    const h = newHashes();
    const nBlocks = Math.ceil(head.length / BLOCK);
    const step = Math.max(1, Math.ceil(nBlocks / MAX_PROBES));
    for (let b = 0; b < nBlocks; b += step) {
      const off = b * BLOCK;
      const len = Math.min(BLOCK, head.length - off);
      hashBlock(head, off, len, h);
      if (h.zero) continue;
      // A whole block by its full hash; a short last block by the longest prefix it covers, and
      // also zero-padded (it may be the end of a file that was itself short).
      const tries: [Level, number][] = [[512, h.h512]];
      if (len < BLOCK) {
        if (len >= 256) tries.push([256, h.h256]);
        else if (len >= 64) tries.push([64, h.h64]);
        else if (len >= 32) tries.push([32, h.h32]);
      }
      for (const [level, key] of tries) {
        const ids = this.levels.get(level)!.find(key, MAX_BUCKET + 1);
        if (ids.length > MAX_BUCKET && level !== 512) continue;
        for (const id of ids.slice(0, MAX_BUCKET)) {
          const at = this.locate(id);
          const f = this.files[at.file]!;
          if (opts.exclude && f.source === opts.exclude.source && f.path === opts.exclude.path) continue;
          const delta = at.block * BLOCK - off;
          const k = `${at.file}:${delta}`;
          const v = votes.get(k);
          if (v) v.hits++;
          else votes.set(k, { file: at.file, delta, hits: 1, first: off });
        }
      }
    }
    const ranked = [...votes.values()].sort((a, b) => b.hits - a.hits || a.first - b.first || a.file - b.file || a.delta - b.delta);
    let best: Match | null = null;
    for (const v of ranked.slice(0, MAX_CONFIRM)) {
      const m = await this.confirm(v.file, v.delta, v.first, head, length, content, opts);
      if (m && (!best || m.matchedBytes > best.matchedBytes)) best = m;
      if (best && best.matchedBytes >= Math.min(length, best.candidateSize - (best.offset ?? 0))) break;
    }
    return best;
  }

  /**
   * Confirm that the stretch and candidate `file` shifted by `delta` agree around `anchor`, and
   * extend the agreement both ways byte by byte (within the stretch and the candidate).
   */
  private async confirm(
    fileIdx: number,
    delta: number,
    anchor: number,
    head: Uint8Array,
    length: number,
    content: number,
    opts: LookupOptions,
  ): Promise<Match | null> {
    const f = this.files[fileIdx]!;
    // The stretch offsets that exist in the candidate too: [lo, hi).
    const lo = Math.max(0, -delta);
    const hi = Math.min(length, f.size - delta);
    if (hi <= lo || anchor < lo || anchor >= hi) return null;
    const win = Math.min(hi, head.length) - lo;
    const cand = await readRange(f.entry, lo + delta, win);
    const same = (i: number): boolean => i - lo < cand.length && head[i] === cand[i - lo];
    if (!same(anchor)) return null;
    let start = anchor;
    while (start > lo && same(start - 1)) start--;
    let end = anchor;
    const limit = lo + cand.length;
    // memcmp in 4 KiB steps, then byte by byte.
    while (end + 4096 <= limit && Buffer.compare(Buffer.from(head.buffer, head.byteOffset + end, 4096), cand.subarray(end - lo, end - lo + 4096)) === 0) end += 4096;
    while (end < limit && same(end)) end++;
    // Past the head: keep comparing with more of the stretch.
    if (end === head.length && end < hi && opts.readMore) {
      const CH = 1024 * 1024;
      while (end < hi) {
        const n = Math.min(CH, hi - end);
        const [a, c] = await Promise.all([opts.readMore(end, n), readRange(f.entry, end + delta, n)]);
        const k = Math.min(a.length, c.length);
        let i = 0;
        while (i + 4096 <= k && Buffer.compare(Buffer.from(a.buffer, a.byteOffset + i, 4096), c.subarray(i, i + 4096)) === 0) i += 4096;
        while (i < k && a[i] === c[i]) i++;
        end += i;
        if (i < n) break;
      }
    }
    const matched = end - start;
    // Evidence: a whole block, or all that the stretch holds, or the whole candidate.
    const wholeStretch = start === 0 && end >= Math.min(content, length);
    const wholeCandidate = start + delta === 0 && end + delta === f.size;
    if (!(matched >= BLOCK || ((wholeStretch || wholeCandidate) && matched >= MIN_MATCH))) return null;
    return {
      source: f.source,
      path: f.path,
      root: f.root,
      matchedBytes: matched,
      offset: start + delta,
      stretchOffset: start,
      candidateSize: f.size,
      read: (pos, len) => readRange(f.entry, pos, len),
    };
  }
}

function memoryEntry(data: Uint8Array): Readable {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { size: buf.length, read: async () => buf };
}
