// Edit or stale? The rules that decide, for each stretch where a file differs from its expected
// source, whether the difference reads as an EDIT of the expected bytes (another version of the
// file: `modified`) or as STALE content (blocks that were never written: soft-updates loss).
//
// What soft-updates loss leaves is physical: whole filesystem blocks (fragments: multiples of 512
// bytes, aligned) hold other bytes, while every byte outside them is exactly the expected byte at
// the same offset, and the size is right. An edit is textual: it starts and ends anywhere, shifts
// what follows or not, and what it writes is mostly the expected bytes again (moved, renumbered,
// re-cased, re-indented, with CRLF endings) plus a little new text.
//
// So a same-size run of differing 512-byte blocks is STALE only when it has the physical shape and
// content that no edit has:
//   1. hard content: a whole aligned block of junk (zeros, a directory block, binary: NUL and
//      control bytes) inside a text file: no edit of a text file writes that, wherever it lies;
//   2. otherwise the run must be cut exactly at block boundaries: the expected bytes stop agreeing
//      at the run's first byte and agree again from its end. Chance agreement allowed at an edge:
//      3 bytes, or 16 bytes of whitespace, in text; 1 byte in binary (none at all at the start of
//      a binary run that reaches the end of the file: its end says nothing); at the very start of
//      a text file, 8 bytes or the first line and 16 more (`opam-version: "2.0"` then `name: "`).
//      An edit starting and ending at random offsets passes with odds of about 1 in 16,000 in
//      text and 1 in 65,000 in binary, and never when it shifts the bytes after it. Whole blocks
//      of zeros need no edges: the bytes agreeing there are the expected file's own zeros;
//   3. and its bytes must not be explained by the expected ones: same-offset byte shapes (letter,
//      digit, space, newline, other; also after normalising) agree on less than 85 % (a
//      same-length substitution everywhere keeps every line's shape), and less than 60 % of the
//      bytes are equal at the same offset or inside a 12-byte run (normalised: case, whitespace,
//      CR, digits) found in the expected bytes around it. A whole file (nothing agrees) takes less
//      than 30 %, measured both ways, and, for text, must end the way a window of another file
//      does: NUL-padded (that file was shorter) or cut mid-line where the expected ends a line.
//   4. and its tail must not be the expected bytes of the same run moved along (64 bytes and a
//      quarter of the run at least): an insertion at a block boundary shifts what follows, and a
//      file cut back to its old size after it shows only a little of that shift.
//   5. and, for a run that reaches the end of the file (one edge only, and an edit that rewrites
//      the end of a file while keeping its size leaves the same bytes), an origin: another file's
//      aligned blocks holding exactly those bytes (the rescue below). Junk and zeros need none,
//      nor, in a text file, bytes no edit of text writes (a control character, broken UTF-8).
// Anything else is an edit. An edit that an exact provenance match shows to be another file's
// aligned blocks (a long chance agreement at an edge, or content much like the expected) is turned
// back into stale later (compare-trees.ts), under guards that keep another version of the same
// file out.

import { isUtf8 } from 'node:buffer';
import { controlBytesExceed, isJunk } from './bytes.js';
import { normaliseText, sample, shapeAgreement, MAX_STRETCH } from './related.js';

/** Chance agreement tolerated at a stale run's edges. */
const EDGE_BYTES = 3;
const EDGE_WHITESPACE = 16;
/** Bytes any two text files of one kind may share at their very start. */
const FILE_START = 8;
/** The longest first line whose agreement at the start of a text file is taken as chance. */
const FIRST_LINE = 80;
/** Same-offset shape agreement from which a run is a same-length substitution. */
export const SHAPE_EDIT = 0.85;
/** Explained fraction from which a run (a whole file) is an edit. */
export const RUN_EXPLAINED = 0.6;
export const WHOLE_EXPLAINED = 0.3;
/** The shortest tail of a run that reads as the expected text moved along by an insertion. */
const DISPLACED_MIN = 64;

export interface RunFacts {
  /** The run in the file: [start, end), start on a 512-byte boundary, end on one or at EOF. */
  start: number;
  end: number;
  /** Whether the run is the whole file (nothing of it agrees with the expected bytes). */
  wholeFile: boolean;
  /** Whether the run reaches the end of the file (its end edge then says nothing). */
  atEof: boolean;
  /** The run's actual and expected bytes (the whole run, or evenly spaced samples of a long one). */
  actual: Uint8Array;
  expected: Uint8Array;
  /** The first and last bytes of the run on both sides (for the edges). */
  actualHead: Uint8Array;
  expectedHead: Uint8Array;
  actualTail: Uint8Array;
  expectedTail: Uint8Array;
  /** Whether a whole aligned 512-byte block of the run is junk (zeros, directory, binary). */
  junkBlock: boolean;
  /** Whether every actual byte of the run is NUL. */
  allZero: boolean;
  /**
   * The fraction of the run's actual bytes explained by the expected bytes around it (same offset,
   * or in a k-gram of the context); for a whole file, the larger of that and the other way round.
   * Called only when the rules get that far.
   */
  explain: () => Promise<number>;
  /** Whether the expected source is text (an edit of it never writes junk). */
  expectedText: boolean;
}

export type RunKind = 'stale' | 'edit';

export interface RunJudgement {
  start: number;
  end: number;
  kind: RunKind;
  /** Stale by rule 1 (junk in a text file): not a candidate for being an edit at all. */
  hard: boolean;
  /** An edit that an exact aligned match with another file may still show to be stale. */
  rescuable: boolean;
  /** Why, in a few words (kept in the report's detail). */
  why: string;
  /** Bytes equal at the start and end of the run (chance agreement, or the edit's unchanged part). */
  edges: [number, number];
  explained?: number;
  /** Same-offset shape agreement: exact from SHAPE_EDIT up; below it, the most it could still have been where counting stopped. */
  shape?: number;
  /** An edit only for want of an origin (rule 5): the disk may still show where it came from. */
  wantsOrigin?: boolean;
}

function commonPrefixLen(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function commonSuffixLen(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

function isWhitespace(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  }
  return true;
}

/**
 * Whether chance agreement `bytes` (expected bytes equal to the actual ones at an edge) is small
 * enough: a few bytes, or a little whitespace (indentation) in text. Binary agrees by chance once
 * in 256 bytes: one byte at most.
 */
function edgeOk(bytes: Uint8Array, text = true): boolean {
  if (!text) return bytes.length <= 1;
  return bytes.length <= EDGE_BYTES || (bytes.length <= EDGE_WHITESPACE && isWhitespace(bytes));
}

/**
 * The agreement at the start of a run. At the start of a text file, two files of one format share
 * their first line and the next field's name (`opam-version: "2.0"` then `name: "`): that much is
 * chance too.
 */
function headOk(bytes: Uint8Array, atFileStart: boolean, text: boolean, atEof: boolean): boolean {
  // A run that reaches the end of the file has one edge only: in binary it must be exact.
  if (!text && atEof) return bytes.length === 0;
  if (edgeOk(bytes, text)) return true;
  if (!atFileStart || !text) return false;
  // Text files of one kind start alike: `open `, `(* `, `let `, `opam-version: "2.0"` and a field.
  if (bytes.length <= FILE_START) return true;
  const nl = bytes.indexOf(0x0a);
  return nl >= 0 && nl < FIRST_LINE && bytes.length <= nl + 1 + EDGE_WHITESPACE;
}

/** The agreement at the end of a whole text file: files of a format end alike (`]\n`, `end\n`). */
function wholeTailOk(bytes: Uint8Array, text: boolean): boolean {
  return edgeOk(bytes, text) || (text && bytes.length <= 8);
}

/** Whether bytes read as text: next to no control characters (an edit of such a file writes none). */
export function looksText(buf: Uint8Array): boolean {
  // controlBytes * 1000 <= length, as a count at most a whole number.
  return buf.length > 0 && !controlBytesExceed(buf, Math.floor(buf.length / 1000));
}

export { isJunk };

/** Judge one run of differing blocks of a same-size file. */
export async function judgeRun(f: RunFacts): Promise<RunJudgement> {
  const pre = commonPrefixLen(f.actualHead, f.expectedHead);
  const suf = commonSuffixLen(f.actualTail, f.expectedTail);
  const base = { start: f.start, end: f.end, edges: [pre, suf] as [number, number] };
  if (f.expectedText && f.junkBlock) {
    return { ...base, kind: 'stale', hard: true, rescuable: false, why: 'non-text blocks (zeros, a directory block or binary) inside a text file' };
  }
  // Byte shapes at the same offsets; for text also after normalising (whitespace runs, CR, case,
  // digit runs), so re-indentation on top of a substitution still lines up.
  let shape = shapeAgreement(f.actual, f.expected, SHAPE_EDIT);
  if (shape < SHAPE_EDIT && f.expectedText) shape = Math.max(shape, shapeAgreement(normaliseText(f.actual).text, normaliseText(f.expected).text, SHAPE_EDIT));
  if (shape >= SHAPE_EDIT) {
    return { ...base, kind: 'edit', hard: false, rescuable: true, why: `same-length substitution (byte shapes agree on ${pct(shape)})`, shape };
  }
  const headBytes = f.expectedHead.subarray(0, pre);
  const tailBytes = f.expectedTail.subarray(f.expectedTail.length - suf);
  const edges =
    headOk(headBytes, f.start === 0, f.expectedText, f.atEof) && (f.wholeFile ? wholeTailOk(tailBytes, f.expectedText) : edgeOk(tailBytes, f.expectedText));
  if (f.allZero) {
    // Every byte of the run is NUL, and the run is whole 512-byte blocks: what a block never
    // written holds. Bytes agreeing at its edges are the expected file's own zeros there (a
    // binary's padding), not the ends of an edit; an edit that zeroed whole blocks of a binary
    // leaves the same bytes as the loss does, and no reader can tell them apart.
    return { ...base, kind: 'stale', hard: false, rescuable: false, why: 'whole blocks of zeros', shape };
  }
  if (!edges) {
    // A whole file is measured anyway: an exact match with another file may still show it stale.
    const explained = f.wholeFile ? await f.explain() : undefined;
    return { ...base, kind: 'edit', hard: false, rescuable: true, why: `the difference starts or ends inside a block (${pre} and ${suf} bytes agree at the edges)`, shape, explained };
  }
  const explained = await f.explain();
  const limit = f.wholeFile ? WHOLE_EXPLAINED : RUN_EXPLAINED;
  if (explained >= limit) {
    return { ...base, kind: 'edit', hard: false, rescuable: true, why: `${pct(explained)} of the bytes are the expected ones, moved or edited`, explained, shape };
  }
  const moved = f.actual.length === f.end - f.start ? displacedTail(f.actual, f.expected, pre) : 0;
  if (moved > 0) {
    return { ...base, kind: 'edit', hard: false, rescuable: true, why: `text inserted near the start of the run: its last ${moved} bytes are the expected ones, moved along`, explained, shape };
  }
  if (f.atEof && !f.wholeFile) {
    // One edge only: an edit that rewrote the end of the file from a block boundary, and kept its
    // size, reads the same. Stale only when another file's blocks are found there (compare-trees),
    // or when no edit of a text file writes such bytes (a last fragment too short for rule 1).
    if (f.expectedText && !couldBeTextEdit(f.actual, f.expected, f.actual.length === f.end - f.start)) {
      return { ...base, kind: 'stale', hard: true, rescuable: false, why: 'bytes no edit of a text file writes (control characters or broken UTF-8), to the end of the file', explained, shape };
    }
    return { ...base, kind: 'edit', hard: false, rescuable: true, wantsOrigin: true, why: `other bytes from a block boundary to the end (${pct(explained)} explained), and no file they come from`, explained, shape };
  }
  if (f.wholeFile && f.expectedText && !endsCut(f.actualTail, f.expectedTail)) {
    // A whole text file of other text that ends the way the expected one does: stale text is a
    // window of another file, cut at this file's size, so it rarely does. An edit keeps the end.
    return { ...base, kind: 'edit', hard: false, rescuable: true, why: `other text, but it ends as the expected file does (${pct(explained)} explained)`, explained, shape };
  }
  return {
    ...base,
    kind: 'stale',
    hard: false,
    rescuable: false,
    why: f.wholeFile ? `unrelated to the expected bytes (${pct(explained)} explained)` : `whole blocks unrelated to the expected bytes around them (${pct(explained)} explained)`,
    explained,
    shape,
  };
}

/**
 * Whether bytes could have been written by an edit of text: no control characters, and valid
 * UTF-8 where the expected bytes are (a sequence cut by the run's edges aside; `whole`: the run,
 * not samples of it). Random or compressed bytes fail the second test even when they happen to
 * hold no control character.
 */
export function couldBeTextEdit(actual: Uint8Array, expected: Uint8Array, whole: boolean): boolean {
  if (controlBytesExceed(actual, 0)) return false;
  // Samples of a long run are cut anywhere: their joints say nothing about UTF-8.
  return !whole || !isUtf8(utf8Inside(expected)) || isUtf8(utf8Inside(actual));
}

/** The bytes less a UTF-8 sequence cut at either end (continuation bytes first, a lead byte last). */
function utf8Inside(buf: Uint8Array): Uint8Array {
  let from = 0;
  while (from < 3 && from < buf.length && (buf[from]! & 0xc0) === 0x80) from++;
  let to = buf.length;
  for (let k = 1; k <= 3 && to - k >= from; k++) {
    const b = buf[to - k]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (need > k) to -= k;
    break;
  }
  return buf.subarray(from, to);
}

/**
 * The length of the run's tail that is the expected bytes of the same run, moved along: what an
 * insertion near the run's start leaves when everything after it shifted (and the file was then
 * cut at its old size, so only a little of the shift shows). 0 unless that tail is long enough not
 * to be chance: DISPLACED_MIN bytes and a quarter of the run past its agreeing head. Stale content
 * would have to end with this very file's text from a little earlier in the same block.
 */
export function displacedTail(actual: Uint8Array, expected: Uint8Array, from: number): number {
  const n = actual.length;
  const need = Math.max(DISPLACED_MIN, Math.ceil((n - from) / 4));
  if (expected.length !== n || n - from <= need) return 0;
  const probe = actual.subarray(n - DISPLACED_MIN);
  const exp = Buffer.from(expected.buffer, expected.byteOffset, n);
  let best = 0;
  // Each place the expected bytes hold the run's last bytes earlier than the run does.
  for (let q = exp.indexOf(probe, from); q >= 0 && q < n - DISPLACED_MIN; q = exp.indexOf(probe, q + 1)) {
    let i = n - DISPLACED_MIN - 1;
    let j = q - 1;
    while (j >= from && actual[i] === expected[j]) {
      i--;
      j--;
    }
    best = Math.max(best, n - 1 - i);
  }
  return best >= need ? best : 0;
}

/**
 * Whether the actual bytes end the way a window of another file does: NUL padding (that file was
 * shorter), or cut in the middle of a line where the expected file ends with a newline.
 */
export function endsCut(actualTail: Uint8Array, expectedTail: Uint8Array): boolean {
  const a = actualTail[actualTail.length - 1];
  const e = expectedTail[expectedTail.length - 1];
  return a === 0 || (e === 0x0a && a !== 0x0a);
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** Bytes of a run for the relatedness measure: the run, or samples of a long one. */
export function runSample(buf: Uint8Array): Uint8Array {
  const parts = sample(buf, MAX_STRETCH);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
