// A scan worker thread (scan-pool.ts): for each pair of host files it is sent, when both are the
// same size as opened (a listing may not know the sizes: the open's fstat tells them), the streaming pass (stream-pass.ts: both read, compared, hashed, the expected file's block heads
// recorded, the differing runs found) and, where they differ, the runs judged (file-compare.ts),
// as the main thread would. Reads are synchronous into reused buffers: on this thread nothing else
// waits, and a small cached file costs four system calls, not four trips through libuv's pool.
//
// A pair it cannot read is answered null and the main thread compares it the usual way, reporting
// what it finds there: files of different sizes, a file that cannot be opened, one that is no
// longer a regular file (of its listed size, when listed with one), one that changed size while read. A pair whose judging may still be revised by
// the provenance step (a rescue: compare-trees.ts) is answered with its scan only, and judged on
// the main thread, which keeps what revising needs.

import { closeSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { TreeEntry } from '../tree/tree.js';
import { openListedSized } from '../util/open-listed.js';
import { isWorkerOf } from '../util/worker-thread.js';
import { compareFile, type FileResult } from './file-compare.js';
import { CHUNK, SameSizeScanner, type SameSizeScan } from './stream-pass.js';

export interface ScanPair {
  expected: string;
  actual: string;
  /** The sizes each was listed with, when its listing knew (-1: learnt from the open descriptor). */
  expectedSize: number;
  actualSize: number;
}

/** A pair scanned: what the pass found and, when they differ, the file judged (null: judge it on the main thread). */
export interface Scanned {
  scan: SameSizeScan;
  result: FileResult | null;
}

/**
 * Pairs found to hold the same bytes, told in a few arrays, not an object a pair: they are most
 * of a tree, and every object of an answer costs the calling thread to receive and to read (for a
 * tree of small files, as much as scanning the pair itself).
 */
export interface SameAnswers {
  pairs: number[];
  sizes: number[];
  sha256: string[];
  /** The expected files' block heads one after another (null: not asked for): pair n's are [at[n], at[n + 1]). */
  heads: Uint32Array | null;
  at: number[];
}

/** Pairs answered together: those that hold the same bytes, and the others with their indices in the job, each scanned, or null (compare it on the main thread). */
export interface ScanAnswer {
  same: SameAnswers;
  pairs: number[];
  results: (Scanned | null)[];
}

/** Answers go back a few dozen pairs or a few MB at a time: few messages, none held long. */
const ANSWER_PAIRS = 64;
const ANSWER_BYTES = 8 * 1024 * 1024;

/** Fill `buf` from `pos`, as far as the file goes. */
function fill(fd: number, buf: Buffer, pos: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, pos + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}

/**
 * Open a listed file for reading: its descriptor and size, or null when it is not (any more) a
 * regular file (of its listed size, when the listing knew it).
 */
function openListed(file: string, size: number): { fd: number; size: number } | null {
  try {
    return openListedSized(file, size < 0 ? undefined : size);
  } catch {
    // Not this thread's to report: the usual path reads it again and says what it finds.
    return null;
  }
}

const eBuf = Buffer.allocUnsafe(CHUNK);
const aBuf = Buffer.allocUnsafe(CHUNK);

function scanOpen(ef: number, af: number, size: number, blockSize: number, heads: boolean): SameSizeScan | null {
  const scanner = new SameSizeScanner(size, blockSize, heads);
  for (let pos = 0; pos < size; pos += CHUNK) {
    const want = Math.min(CHUNK, size - pos);
    const e = want === CHUNK ? eBuf : eBuf.subarray(0, want);
    const a = want === CHUNK ? aBuf : aBuf.subarray(0, want);
    // Shorter than it was at the open: it changed while read; the main thread reports what it finds.
    if (fill(ef, e, pos) !== want || fill(af, a, pos) !== want) return null;
    scanner.feed(pos, e, a);
  }
  return scanner.finish();
}

/** The streaming pass over a pair of the same size; null when it is not that (the usual path compares it). */
function scanPair(p: ScanPair, blockSize: number, heads: boolean): SameSizeScan | null {
  const e = openListed(p.expected, p.expectedSize);
  if (e === null) return null;
  const a = openListed(p.actual, p.actualSize);
  try {
    return a === null || a.size !== e.size ? null : scanOpen(e.fd, a.fd, e.size, blockSize, heads);
  } catch {
    return null;
  } finally {
    closeSync(e.fd);
    if (a !== null) closeSync(a.fd);
  }
}

/** A listed host file as a tree entry, each open checked as the scan's are. */
function hostEntry(file: string, size: number): TreeEntry {
  const openIt = (): number => {
    const o = openListed(file, size);
    if (o === null) throw new Error(`${file}: no longer the file listed`);
    return o.fd;
  };
  return {
    path: file,
    kind: 'file',
    size,
    read: async () => {
      const fd = openIt();
      try {
        const buf = Buffer.allocUnsafe(size);
        return buf.subarray(0, fill(fd, buf, 0));
      } finally {
        closeSync(fd);
      }
    },
    openReader: async () => {
      const fd = openIt();
      return { read: async (buf, position) => fill(fd, buf, position), close: async () => closeSync(fd) };
    },
  };
}

/**
 * The pair judged from its scan, or null when the main thread should (reading failed, or, on a
 * worker, a rescue may revise it: what revising needs does not cross threads; the calling thread
 * keeps it).
 */
async function judgePair(p: ScanPair, blockSize: number, scan: SameSizeScan, calling: boolean): Promise<FileResult | null> {
  try {
    const r = await compareFile(hostEntry(p.expected, scan.size), hostEntry(p.actual, scan.size), blockSize, { scan });
    if (r.refinish && !calling) return null;
    // The heads travel once, with the scan (and not `delete`d: a dictionary-mode object is slower to send).
    r.expectedHeads = undefined;
    return r;
  } catch {
    return null;
  }
}

/** One pair scanned and, when it differs, judged; null: compare it the usual way. `calling`: on the calling thread. */
export async function answerPair(p: ScanPair, blockSize: number, heads: boolean, calling: boolean): Promise<Scanned | null> {
  const scan = scanPair(p, blockSize, heads);
  if (!scan) return null;
  return { scan, result: scan.runs.length === 0 ? null : await judgePair(p, blockSize, scan, calling) };
}

/**
 * A job: every pair of one scan, sent to every thread at once. Each thread claims its next pair
 * itself (nobody waits for anybody to be handed work, and a thread left with a large file is
 * never also left with the pairs after it): workers from the front of the list, the calling
 * thread from the back. So the two ends work in different directories (opening, reading and
 * closing files of one directory on two threads at once contend in the kernel: two threads did
 * a tree of 20,000 small files only 10% faster than one), and the calling thread, which also
 * makes every pair's report, is not handed the cost of a worker's answers for the files it can
 * scan about as cheaply itself. Where the two ends meet, the pair's `owner` decides.
 */
export interface ScanJob {
  job: number;
  pairs: ScanPair[];
  blockSize: number;
  /** Whether to record the expected files' block heads. */
  heads: boolean;
  /** Int32Array [next pair from the front, next pair from the back], shared by every thread. */
  claim: SharedArrayBuffer;
  /** Int32Array, one per pair: 0 unclaimed, else the claiming thread's number. */
  owner: SharedArrayBuffer;
  /** This thread's number in `owner`. */
  me: number;
  /** Whether this thread claims from the back. */
  fromBack: boolean;
  /** Whether this is the calling thread, which keeps its results whole (judgePair). */
  calling: boolean;
}

/**
 * The next pair of a job for thread `me`, or -1 when none is left at its end: an index from its
 * end's counter, taken when no thread owns it yet. The first one owned already is where the other
 * end has come to (it claims in order too), and everything past it is that end's.
 */
export function claimPair(claim: Int32Array, owner: Int32Array, me: number, fromBack: boolean): number {
  const i = fromBack ? Atomics.sub(claim, 1, 1) : Atomics.add(claim, 0, 1);
  if (i < 0 || i >= owner.length) return -1;
  return Atomics.compareExchange(owner, i, 0, me) === 0 ? i : -1;
}

/**
 * Claim and answer pairs of `job` until ANSWER_PAIRS or ANSWER_BYTES are answered, or none is
 * left: what was answered (empty when nothing was left), and the heads' buffers to transfer.
 */
export async function answerSome(j: ScanJob, claim: Int32Array, owner: Int32Array, me: number): Promise<{ answer: ScanAnswer; transfer: ArrayBuffer[] }> {
  const same: SameAnswers = { pairs: [], sizes: [], sha256: [], heads: null, at: [0] };
  const answer: ScanAnswer = { same, pairs: [], results: [] };
  const transfer: ArrayBuffer[] = [];
  const heads: Uint32Array[] = [];
  let headBlocks = 0;
  let bytes = 0;
  for (let n = 0; n < ANSWER_PAIRS && bytes < ANSWER_BYTES; n++) {
    const i = claimPair(claim, owner, me, j.fromBack);
    if (i < 0) break;
    const s = await answerPair(j.pairs[i]!, j.blockSize, j.heads, j.calling);
    bytes += s?.scan.size ?? 0;
    if (s && s.scan.runs.length === 0) {
      same.pairs.push(i);
      same.sizes.push(s.scan.size);
      same.sha256.push(s.scan.expectedSha256);
      if (s.scan.heads) heads.push(s.scan.heads);
      headBlocks += s.scan.heads?.length ?? 0;
      same.at.push(headBlocks);
      continue;
    }
    if (s?.scan.heads) transfer.push(s.scan.heads.buffer as ArrayBuffer);
    answer.pairs.push(i);
    answer.results.push(s);
  }
  if (j.heads && same.pairs.length > 0) {
    // One pair's (a large file, most often, alone in its answer) go as they are: a copy would be
    // garbage of 8 KiB a MiB of file.
    let all = heads[0]!;
    if (heads.length > 1) {
      all = new Uint32Array(headBlocks);
      let o = 0;
      for (const h of heads) {
        all.set(h, o);
        o += h.length;
      }
    }
    same.heads = all;
    transfer.push(all.buffer as ArrayBuffer);
  }
  return { answer, transfer };
}

/** Whether an answer answers no pair (nothing was left to claim). */
export function emptyAnswer(a: ScanAnswer): boolean {
  return a.pairs.length === 0 && a.same.pairs.length === 0;
}

if (parentPort && isWorkerOf('classify/scan-worker')) {
  const port = parentPort;
  port.on('message', (j: ScanJob) => {
    const claim = new Int32Array(j.claim);
    const owner = new Int32Array(j.owner);
    void (async () => {
      for (;;) {
        const { answer, transfer } = await answerSome(j, claim, owner, j.me);
        if (emptyAnswer(answer)) return;
        port.postMessage({ job: j.job, answer }, transfer);
      }
    })();
  });
}
