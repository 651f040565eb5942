// A deterministic mutation engine: input `i` of a target is a function of (run seed, target,
// i) alone, so any input can be made again from its index (`npm run fuzz -- --replay T:i`).
// Mutations are AFL's havoc stack in miniature: bit flips, interesting bytes and integers (both
// byte orders), block deletes, inserts, duplications, splices with another seed, truncation,
// extension, and dictionary tokens; concentrated on a seed's "hot" ranges (the metadata of a disk
// image) when it names them.

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  /** mulberry32 */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0 <= x < n */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.next() / 2 ** 32) * n);
  }
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
}

/** FNV-1a of a string, mixed with a number: the seed of one input. */
export function inputSeed(runSeed: number, target: string, index: number): number {
  let h = 0x811c9dc5 ^ runSeed;
  for (const c of `${target}:${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

export interface Seed {
  bytes: Buffer;
  /** Byte ranges [start, end) worth mutating most (headers, tables, directory blocks). */
  hot?: [number, number][];
  /** What it is, for reports. */
  name: string;
}

export interface MutateOptions {
  maxLength: number;
  dictionary?: readonly Buffer[];
  /** Most stacked mutations per input (default 8). */
  maxStack?: number;
  /** Probability that one input keeps the seed's length and only overwrites bytes (default 0.3). */
  inPlace?: number;
}

const INTERESTING8 = [0, 1, 0x7f, 0x80, 0xff, 0x2e, 0x2f, 0x20, 0x0a, 0x00, 0x41];
const INTERESTING32 = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x1ff, 0x200, 0x201, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

function pos(rng: Rng, len: number, seed: Seed | undefined): number {
  if (len === 0) return 0;
  const hot = seed?.hot?.filter(([s, e]) => s < len && e > s);
  if (hot && hot.length > 0 && rng.chance(0.85)) {
    const [s, e] = rng.pick(hot);
    return s + rng.int(Math.min(e, len) - s);
  }
  return rng.int(len);
}

const INTERESTING64 = [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0x20000000000000n, 0x1fffffffffffffn];

function writeInt(rng: Rng, buf: Buffer, at: number, width: 2 | 4 | 8, v: number, le: boolean): void {
  if (at + width > buf.length) return;
  if (width === 2) {
    if (le) buf.writeUInt16LE(v & 0xffff, at);
    else buf.writeUInt16BE(v & 0xffff, at);
  } else if (width === 4) {
    if (le) buf.writeUInt32LE(v >>> 0, at);
    else buf.writeUInt32BE(v >>> 0, at);
  } else {
    const big = rng.chance(0.3) ? rng.pick(INTERESTING64) : BigInt.asUintN(64, BigInt(Math.trunc(v)));
    if (le) buf.writeBigUInt64LE(big, at);
    else buf.writeBigUInt64BE(big, at);
  }
}

/** One input from the seeds. */
export function mutate(rng: Rng, seeds: readonly Seed[], opts: MutateOptions): Buffer {
  const seed = rng.pick(seeds);
  let buf = Buffer.from(seed.bytes);
  const inPlace = rng.chance(opts.inPlace ?? 0.3);
  const stack = 1 + rng.int(opts.maxStack ?? 8);
  for (let k = 0; k < stack; k++) {
    const op = inPlace ? rng.int(5) : rng.int(12);
    const len = buf.length;
    switch (op) {
      case 0: {
        if (len === 0) break;
        const at = pos(rng, len, seed);
        buf[at] = buf[at]! ^ (1 << rng.int(8));
        break;
      }
      case 1: {
        if (len === 0) break;
        buf[pos(rng, len, seed)] = rng.pick(INTERESTING8);
        break;
      }
      case 2: {
        const width = rng.pick([2, 4, 8] as const);
        const v = rng.chance(0.5) ? rng.pick(INTERESTING32) : rng.chance(0.5) ? len + rng.int(64) - 32 : rng.next();
        writeInt(rng, buf, pos(rng, len, seed), width, v, rng.chance(0.5));
        break;
      }
      case 3: {
        if (len === 0) break;
        buf[pos(rng, len, seed)] = rng.int(256);
        break;
      }
      case 4: {
        // Dictionary token, overwritten in place.
        if (!opts.dictionary?.length || len === 0) break;
        const tok = rng.pick(opts.dictionary);
        tok.copy(buf, pos(rng, len, seed));
        break;
      }
      case 5: {
        // Delete a block.
        if (len < 2) break;
        const at = pos(rng, len, seed);
        const n = 1 + rng.int(Math.min(len - at, rng.chance(0.7) ? 16 : 4096));
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + n)]);
        break;
      }
      case 6: {
        // Insert random or repeated bytes.
        const at = pos(rng, len + 1, seed);
        const n = 1 + rng.int(rng.chance(0.7) ? 16 : 1024);
        const ins = rng.chance(0.5) ? Buffer.alloc(n, rng.pick(INTERESTING8)) : Buffer.from(Array.from({ length: n }, () => rng.int(256)));
        buf = Buffer.concat([buf.subarray(0, at), ins, buf.subarray(at)]);
        break;
      }
      case 7: {
        // Duplicate a block elsewhere (overwrite).
        if (len < 2) break;
        const from = rng.int(len);
        const n = 1 + rng.int(Math.min(len - from, 512));
        buf.copy(buf, pos(rng, len, seed), from, from + n);
        break;
      }
      case 8: {
        // Splice with another seed.
        const other = rng.pick(seeds).bytes;
        const cut = rng.int(len + 1);
        const cut2 = rng.int(other.length + 1);
        buf = Buffer.concat([buf.subarray(0, cut), other.subarray(cut2)]);
        break;
      }
      case 9: {
        // Truncate.
        buf = buf.subarray(0, rng.int(len + 1));
        break;
      }
      case 10: {
        // Extend with zeros or a copy of the start.
        const n = 1 + rng.int(4096);
        buf = Buffer.concat([buf, rng.chance(0.5) ? Buffer.alloc(n) : buf.subarray(0, Math.min(n, len))]);
        break;
      }
      default: {
        // Dictionary token, inserted.
        if (!opts.dictionary?.length) break;
        const tok = rng.pick(opts.dictionary);
        const at = pos(rng, len + 1, seed);
        buf = Buffer.concat([buf.subarray(0, at), tok, buf.subarray(at)]);
        break;
      }
    }
  }
  // buf is already a copy of the seed (or a new concatenation): no second copy.
  return buf.length > opts.maxLength ? buf.subarray(0, opts.maxLength) : buf;
}
