// Where stale bytes came from. Every candidate file (the other expected sources, each --corpus
// directory, guest directories) is indexed once; the index is the candidates' contents sorted
// byte-wise, so the candidate sharing the longest prefix with a stale file is always next to
// the stale bytes' insertion point: one binary search per lookup, no pass over the corpus.

import type { Provenance } from '../report/schema.js';
import { commonPrefix, lengthWithoutTrailingNul } from './bytes.js';

export interface Candidate {
  source: Provenance['source'];
  root: string;
  path: string;
  /** The start of the file (at most maxBytes of it). */
  head: Buffer;
  /** The file's whole size. */
  size: number;
}

export interface ProvenanceOptions {
  /** How much of each candidate is kept in memory (stale files longer than this still match its start). */
  maxBytes?: number;
  /** The shortest common prefix that counts as evidence when neither file contains the other. */
  minBlockMatch?: number;
  /** The shortest stale text or candidate that may be named at all. */
  minMatch?: number;
}

const DEFAULTS = { maxBytes: 64 * 1024, minBlockMatch: 512, minMatch: 16 } satisfies Required<ProvenanceOptions>;

export class ProvenanceIndex {
  private readonly sorted: Candidate[] = [];
  private dirty = false;
  private readonly opts: Required<ProvenanceOptions>;

  constructor(opts: ProvenanceOptions = {}) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** How much of a candidate is kept (and so worth reading). */
  get maxBytes(): number {
    return this.opts.maxBytes;
  }

  get size(): number {
    return this.sorted.length;
  }

  add(source: Provenance['source'], root: string, path: string, data: Buffer, size = data.length): void {
    const end = lengthWithoutTrailingNul(data.subarray(0, this.opts.maxBytes));
    if (end === 0) return; // Empty or all-NUL files explain nothing.
    this.sorted.push({ source, root, path, head: data.subarray(0, end), size });
    this.dirty = true;
  }

  private ensureSorted(): void {
    if (!this.dirty) return;
    this.sorted.sort((a, b) => Buffer.compare(a.head, b.head) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    this.dirty = false;
  }

  /** Sort now (otherwise the first lookup pays for it). */
  seal(): void {
    this.ensureSorted();
  }

  /**
   * The file whose start the stale bytes begin with, or that begins with the stale bytes;
   * failing that, one sharing at least a whole block with them. `exclude` names a candidate
   * that must not explain itself (the file's own expected source).
   */
  lookup(stale: Uint8Array, exclude?: { source: Provenance['source']; path: string }): Provenance | null {
    this.ensureSorted();
    const end = lengthWithoutTrailingNul(stale);
    if (end < this.opts.minMatch || this.sorted.length === 0) return null;
    const key = Buffer.from(stale.buffer, stale.byteOffset, Math.min(end, this.opts.maxBytes));
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.sorted[mid]!.head, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    // The best candidates are around the insertion point; equal prefixes form runs, so walk
    // outwards while the shared prefix does not shrink.
    let best: { c: Candidate; n: number } | null = null;
    const consider = (i: number): number => {
      const c = this.sorted[i]!;
      const n = commonPrefix(c.head, key);
      if (exclude && c.source === exclude.source && c.path === exclude.path) return n;
      if (!best || n > best.n) best = { c, n };
      return n;
    };
    for (const dir of [-1, 1]) {
      let i = dir < 0 ? lo - 1 : lo;
      let last = -1;
      for (let steps = 0; i >= 0 && i < this.sorted.length && steps < 64; i += dir, steps++) {
        const n = consider(i);
        if (last >= 0 && n < last) break;
        last = n;
      }
    }
    if (!best) return null;
    const { c, n } = best as { c: Candidate; n: number };
    const containsWhole = n === c.head.length && c.head.length >= this.opts.minMatch;
    const containedWhole = n === key.length;
    if (!(containsWhole || containedWhole || n >= this.opts.minBlockMatch)) return null;
    return { source: c.source, path: c.path, root: c.root, matchedBytes: n };
  }
}
