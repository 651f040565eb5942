// How much of a stretch of bytes is explained by the expected source around it: the measure that
// tells an EDIT (the bytes are mostly the expected ones, moved, renumbered, re-cased, re-indented)
// from STALE content (another file's bytes, unrelated to the expected ones).
//
// A byte of the actual stretch counts as explained when it is equal to the expected byte at the
// same offset, or when it lies inside a k-gram that occurs anywhere in the expected context. For
// text the k-grams are taken on a normalised form (CR dropped, ASCII lower-cased, whitespace runs
// collapsed, digit runs collapsed), so CRLF endings, re-indentation, case changes and version bumps
// in every line read as edits; for binary they are raw bytes. Linear time: one rolling hash over
// each side, a hash set of the context's k-grams.

/** k-gram lengths: on normalised text, and on raw bytes. */
export const TEXT_K = 12;
export const BINARY_K = 16;

/** The most bytes of context and of the stretch that are looked at (larger ones are sampled). */
export const MAX_CONTEXT = 4 * 1024 * 1024;
export const MAX_STRETCH = 1024 * 1024;

/**
 * A plain Uint8Array view of bytes that may be a Buffer: these loops run hot on both, and code
 * optimised for one bails out on the other (a "wrong map") and is compiled again, at a cost of
 * tens of milliseconds a time.
 */
function plain(buf: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(buf) === Uint8Array.prototype ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

const WS = new Uint8Array(256);
for (const b of [0x20, 0x09, 0x0a, 0x0b, 0x0c]) WS[b] = 1;

/**
 * Normalised text: CR dropped, A-Z lower-cased, every whitespace run one space, every digit run
 * one '0'. `map[i]` is the offset in `buf` of normalised byte i (to map coverage back).
 */
export function normaliseText(input: Uint8Array, withMap = false): { text: Uint8Array; map: Uint32Array | null } {
  const buf = plain(input);
  const out = new Uint8Array(buf.length);
  const map = withMap ? new Uint32Array(buf.length) : null;
  let n = 0;
  let ws = false;
  let digit = false;
  for (let i = 0; i < buf.length; i++) {
    let b = buf[i]!;
    if (b === 0x0d) continue;
    if (WS[b]) {
      digit = false;
      if (ws) continue;
      ws = true;
      b = 0x20;
    } else if (b >= 0x30 && b <= 0x39) {
      ws = false;
      if (digit) continue;
      digit = true;
      b = 0x30;
    } else {
      ws = false;
      digit = false;
      if (b >= 0x41 && b <= 0x5a) b += 0x20;
    }
    if (map) map[n] = i;
    out[n++] = b;
  }
  return { text: out.subarray(0, n), map: map ? map.subarray(0, n) : null };
}

const BASE = 0x01000193;

/** The hash of every k-gram of buf, in order: a polynomial rolling hash, 32 bits. */
function kgramHashes(buf: Uint8Array, k: number, into?: Uint32Array): Uint32Array {
  const out = into ?? new Uint32Array(Math.max(0, buf.length - k + 1));
  if (buf.length < k) return out;
  let pow = 1;
  for (let i = 0; i < k - 1; i++) pow = Math.imul(pow, BASE);
  let h = 0;
  for (let i = 0; i < k; i++) h = (Math.imul(h, BASE) + buf[i]! + 1) | 0;
  out[0] = h >>> 0;
  for (let i = k; i < buf.length; i++) {
    h = (Math.imul(h - Math.imul(buf[i - k]! + 1, pow), BASE) + buf[i]! + 1) | 0;
    out[i - k + 1] = h >>> 0;
  }
  return out;
}


/**
 * Roll over every k-gram of `src`, adding to `found` those `want` holds (`bits`: a cheap filter
 * in front of it). The hot loop of the relatedness measure: a function of its own, so that its
 * optimised code does not depend on whatever its caller saw.
 */
function rollContext(src: Uint8Array, k: number, bits: Uint32Array, want: HashSet32, found: HashSet32): void {
  const total = src.length - k + 1;
  if (total <= 0) return;
  let pow = 1;
  for (let i = 0; i < k - 1; i++) pow = Math.imul(pow, BASE);
  if (total < 256) rollOne(src, k, pow, total, bits, want, found);
  else rollFour(src, k, pow, total, bits, want, found);
}

/** One rolling hash over the `total` k-grams of a short context. */
function rollOne(src: Uint8Array, k: number, pow: number, total: number, bits: Uint32Array, want: HashSet32, found: HashSet32): void {
  let h = hashAt(src, 0, k);
  for (let p = 0; ; p++) {
    if ((bits[(h >>> 5) & 0x7fff]! >>> (h & 31)) & 1) hit(h >>> 0, want, found);
    if (p + 1 >= total) return;
    h = (Math.imul(h - Math.imul(src[p]! + 1, pow), BASE) + src[p + k]! + 1) | 0;
  }
}

/**
 * Four rolling hashes at once, over four stretches of q k-grams that cover all `total` of them
 * (the last one overlaps the third: a k-gram found twice is found once). One rolling hash is a
 * chain of dependent multiplies; four independent chains keep the CPU busy where one leaves it
 * waiting (1.5x here). Every exit is inside the loop: code after a long loop has no type
 * feedback when the loop is compiled on the stack, and each call reaching it fell back to the
 * interpreter (290 times a 1 GB run).
 */
function rollFour(src: Uint8Array, k: number, pow: number, total: number, bits: Uint32Array, want: HashSet32, found: HashSet32): void {
  const q = Math.ceil(total / 4);
  const s1 = q;
  const s2 = 2 * q;
  const s3 = total - q;
  let h0 = hashAt(src, 0, k);
  let h1 = hashAt(src, s1, k);
  let h2 = hashAt(src, s2, k);
  let h3 = hashAt(src, s3, k);
  for (let j = 0; ; j++) {
    if ((bits[(h0 >>> 5) & 0x7fff]! >>> (h0 & 31)) & 1) hit(h0 >>> 0, want, found);
    if ((bits[(h1 >>> 5) & 0x7fff]! >>> (h1 & 31)) & 1) hit(h1 >>> 0, want, found);
    if ((bits[(h2 >>> 5) & 0x7fff]! >>> (h2 & 31)) & 1) hit(h2 >>> 0, want, found);
    if ((bits[(h3 >>> 5) & 0x7fff]! >>> (h3 & 31)) & 1) hit(h3 >>> 0, want, found);
    if (j + 1 >= q) return;
    h0 = (Math.imul(h0 - Math.imul(src[j]! + 1, pow), BASE) + src[j + k]! + 1) | 0;
    h1 = (Math.imul(h1 - Math.imul(src[s1 + j]! + 1, pow), BASE) + src[s1 + j + k]! + 1) | 0;
    h2 = (Math.imul(h2 - Math.imul(src[s2 + j]! + 1, pow), BASE) + src[s2 + j + k]! + 1) | 0;
    h3 = (Math.imul(h3 - Math.imul(src[s3 + j]! + 1, pow), BASE) + src[s3 + j + k]! + 1) | 0;
  }
}

/** A k-gram hash whose filter bit is set: into `found` when `want` holds it. */
function hit(u: number, want: HashSet32, found: HashSet32): void {
  if (want.has(u)) found.add(u);
}

/** The hash of src[at, at + k), as kgramHashes gives it. */
function hashAt(src: Uint8Array, at: number, k: number): number {
  let h = 0;
  for (let i = at; i < at + k; i++) h = (Math.imul(h, BASE) + src[i]! + 1) | 0;
  return h;
}

/**
 * An open-addressing set of 32-bit hashes (a JS Set of a million numbers costs ~40 MB; this costs
 * 8 bytes a slot). Hash 0 is stored as 1: a false match once in 4 billion costs nothing here.
 */
class HashSet32 {
  private readonly slots: Uint32Array;
  private readonly mask: number;
  constructor(capacity: number) {
    const size = HashSet32.slotsFor(capacity);
    this.slots = new Uint32Array(size);
    this.mask = size - 1;
  }
  static slotsFor(capacity: number): number {
    let size = 1024;
    while (size < capacity * 2) size *= 2;
    return size;
  }
  get slotCount(): number {
    return this.slots.length;
  }
  clear(): void {
    this.slots.fill(0);
  }
  add(h: number): void {
    const v = h || 1;
    let i = Math.imul(v, 0x9e3779b1) >>> 0;
    for (;;) {
      i &= this.mask;
      const s = this.slots[i]!;
      if (s === v) return;
      if (s === 0) {
        this.slots[i] = v;
        return;
      }
      i++;
    }
  }
  has(h: number): boolean {
    const v = h || 1;
    let i = Math.imul(v, 0x9e3779b1) >>> 0;
    for (;;) {
      i &= this.mask;
      const s = this.slots[i]!;
      if (s === v) return true;
      if (s === 0) return false;
      i++;
    }
  }
}

/**
 * The filter and the sets are reused from one measure to the next (cover runs start to end
 * without yielding): each is 128-512 KiB, and four new ones a measure were tens of MB of garbage
 * for one large damaged file (32 measures), which a thread doing little else let pile up.
 */
const FILTER = new Uint32Array(1 << 15);
let kgramSpace = new Uint32Array(0);
const spareSets = new Map<number, HashSet32[]>();
/** Sets larger than this are not kept for reuse. */
const SPARE_MAX_SLOTS = 1 << 20;

function takeSet(capacity: number): HashSet32 {
  const s = spareSets.get(HashSet32.slotsFor(capacity))?.pop();
  if (!s) return new HashSet32(capacity);
  s.clear();
  return s;
}

function giveSet(s: HashSet32): void {
  if (s.slotCount > SPARE_MAX_SLOTS) return;
  const list = spareSets.get(s.slotCount) ?? [];
  if (list.length < 2) list.push(s);
  spareSets.set(s.slotCount, list);
}

/**
 * An expected context to measure stretches against. The set is built from the (small) stretch and
 * the context is only rolled over, so a large context costs a pass of arithmetic, not a table of
 * its own.
 */
export class Context {
  private readonly src: Uint8Array;
  constructor(
    context: Uint8Array,
    readonly text: boolean,
  ) {
    this.src = text ? normaliseText(context).text : plain(context);
  }
  get k(): number {
    return this.text ? TEXT_K : BINARY_K;
  }

  /** The hashes of `hashes` that some k-gram of the context has. */
  private found(hashes: Uint32Array, want: HashSet32, found: HashSet32): void {
    // A bit per 2^20 hash values in front of the set: most k-grams of the context are wanted by
    // no stretch, and a bit test in a 128 KiB array is far cheaper than a probe of the set.
    const bits = FILTER;
    bits.fill(0);
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i]!;
      want.add(h);
      bits[(h >>> 5) & 0x7fff]! |= 1 << (h & 31);
    }
    rollContext(this.src, this.k, bits, want, found);
  }

  /**
   * Mark in `covered[i]` (one flag per byte of `stretches[i]`) the bytes inside a k-gram that the
   * context has too. One pass over the context serves all the stretches.
   */
  cover(stretches: Uint8Array[], covered: Uint8Array[]): void {
    const k = this.k;
    const parts: { text: Uint8Array; map: Uint32Array | null; hashes: Uint32Array; length: number }[] = [];
    const texts: { text: Uint8Array; map: Uint32Array | null }[] = [];
    let total = 0;
    for (let n = 0; n < stretches.length; n++) {
      const t = this.text ? normaliseText(plain(stretches[n]!), true) : { text: plain(stretches[n]!), map: null };
      texts.push(t);
      total += Math.max(0, t.text.length - k + 1);
    }
    // Every stretch's k-gram hashes, one after another in one reused array (see FILTER).
    if (kgramSpace.length < total) kgramSpace = new Uint32Array(total);
    const all = kgramSpace.subarray(0, total);
    let at = 0;
    for (let n = 0; n < texts.length; n++) {
      const { text, map } = texts[n]!;
      const hashes = kgramHashes(text, k, all.subarray(at, at + Math.max(0, text.length - k + 1)));
      parts.push({ text, map, hashes, length: stretches[n]!.length });
      at += hashes.length;
    }
    const want = takeSet(total);
    const found = takeSet(total);
    this.found(all, want, found);
    for (let n = 0; n < parts.length; n++) markFound(parts[n]!, found, k, covered[n]!);
    giveSet(want);
    giveSet(found);
  }
}

/**
 * Mark in `c` the bytes of a stretch inside a k-gram that `found` holds. Normalised bytes
 * i..i+k-1 map back to original bytes map[i]..map[i+k-1] (and the whitespace, CR and digits folded
 * into them).
 */
function markFound(p: { text: Uint8Array; map: Uint32Array | null; hashes: Uint32Array; length: number }, found: HashSet32, k: number, c: Uint8Array): void {
  const { text, map, hashes } = p;
  let until = 0;
  for (let i = 0; i < hashes.length; i++) {
    if (!found.has(hashes[i]!)) continue;
    const from = Math.max(map ? map[i]! : i, until);
    const to = map ? (i + k < text.length ? map[i + k]! : p.length) : i + k;
    if (to > from) c.fill(1, from, to);
    until = Math.max(until, to);
  }
}

export interface Relatedness {
  /** Fraction of the stretch's bytes explained by the expected bytes (0..1). */
  explained: number;
  /** Fraction equal to the expected byte at the same offset. */
  sameOffset: number;
}

/** Stretches longer than this are measured on evenly spaced pieces of them (an estimate). */
const MEASURE_WHOLE = 64 * 1024;
const PIECES = 16;
const PIECE = 4096;

/**
 * How much of `actual` is explained by the expected bytes: those at the same offsets
 * (`expectedHere`, the same length or shorter) and the k-grams of `context`. A long stretch is
 * measured on 16 pieces of 4 KiB (the same offsets on both sides): the estimate of a fraction,
 * at a bounded cost whatever its length.
 */
export function relatedness(actualIn: Uint8Array, expectedIn: Uint8Array | null, context: Context): Relatedness {
  if (actualIn.length === 0) return { explained: 1, sameOffset: 1 };
  const actual = plain(actualIn);
  const expectedHere = expectedIn ? plain(expectedIn) : null;
  const starts: number[] = [];
  const lengths: number[] = [];
  if (actual.length <= MEASURE_WHOLE) {
    starts.push(0);
    lengths.push(actual.length);
  } else {
    const step = Math.floor((actual.length - PIECE) / (PIECES - 1));
    for (let i = 0; i < PIECES; i++) {
      starts.push(i * step);
      lengths.push(PIECE);
    }
  }
  const stretches: Uint8Array[] = [];
  const covered: Uint8Array[] = [];
  let same = 0;
  for (let n = 0; n < starts.length; n++) {
    const o = starts[n]!;
    const l = lengths[n]!;
    stretches.push(actual.subarray(o, o + l));
    const c = new Uint8Array(l);
    covered.push(c);
    if (expectedHere) same += markSameOffset(actual, expectedHere, o, l, c);
  }
  context.cover(stretches, covered);
  let c = 0;
  let total = 0;
  for (let n = 0; n < covered.length; n++) {
    const flags = covered[n]!;
    total += flags.length;
    for (let i = 0; i < flags.length; i++) c += flags[i]!;
  }
  return { explained: c / total, sameOffset: same / total };
}

/** Mark in `c` the bytes of actual[o, o + l) equal to the expected byte at the same offset; their count. */
function markSameOffset(actual: Uint8Array, expectedHere: Uint8Array, o: number, l: number, c: Uint8Array): number {
  let same = 0;
  const end = Math.min(o + l, expectedHere.length);
  for (let i = o; i < end; i++) {
    if (actual[i] === expectedHere[i]) {
      c[i - o] = 1;
      same++;
    }
  }
  return same;
}

/**
 * Same-offset agreement of byte shapes (letter, digit, space, newline, other): a same-length
 * substitution everywhere (renamed identifiers, bumped versions, changed case) keeps the shape
 * of every line; unrelated text agrees only by chance.
 *
 * Exact when it is `atLeast` or more. Counting stops, 4 KiB at a time, once the rest cannot bring
 * it there, and what the count could still have reached is answered (below `atLeast`): unrelated
 * bytes agree on half their shapes or so, and tell after a third of a run.
 */
export function shapeAgreement(actualIn: Uint8Array, expectedIn: Uint8Array, atLeast = 0): number {
  const actual = plain(actualIn);
  const expected = plain(expectedIn);
  const n = Math.min(actual.length, expected.length);
  if (n === 0) return 0;
  let same = 0;
  for (let from = 0; from < n; from += 4096) {
    const to = Math.min(n, from + 4096);
    for (let i = from; i < to; i++) if (SHAPE[actual[i]!] === SHAPE[expected[i]!]) same++;
    // The most it can still reach, divided as the answer is: below `atLeast`, so is the answer.
    const most = (same + n - to) / n;
    if (most < atLeast) return most;
  }
  return same / n;
}

const SHAPE = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  SHAPE[b] =
    b === 0x0a
      ? 1
      : b === 0x20 || b === 0x09 || b === 0x0d
        ? 2
        : (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b >= 0x80
          ? 3
          : b >= 0x30 && b <= 0x39
            ? 4
            : b === 0
              ? 5
              : 6;
}

/** Evenly spaced slices of `buf` adding up to at most `max` bytes (the whole when it fits). */
export function sample(buf: Uint8Array, max: number, pieces = 16): Uint8Array[] {
  if (buf.length <= max) return [buf];
  const len = Math.floor(max / pieces);
  const step = Math.floor((buf.length - len) / (pieces - 1));
  return Array.from({ length: pieces }, (_, i) => buf.subarray(i * step, i * step + len));
}
