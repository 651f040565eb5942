// A scan worker thread (scan-pool.ts): for each pair of host files of the same size it is sent,
// the streaming pass (stream-pass.ts: both read, compared, hashed, the expected file's block heads
// recorded, the differing runs found) and, where they differ, the runs judged (file-compare.ts),
// as the main thread would. Reads are synchronous into reused buffers: on this thread nothing else
// waits, and a small cached file costs four system calls, not four trips through libuv's pool.
//
// A pair it cannot read is answered null and the main thread compares it the usual way, reporting
// what it finds there: a file that cannot be opened, one that is no longer a regular file of the
// listed size, one that changed size while read. A pair whose judging may still be revised by
// the provenance step (a rescue: compare-trees.ts) is answered with its scan only, and judged on
// the main thread, which keeps what revising needs.

import { closeSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { TreeEntry } from '../tree/tree.js';
import { openListedSync } from '../util/open-listed.js';
import { isWorkerOf } from '../util/worker-thread.js';
import { compareFile, type FileResult } from './file-compare.js';
import { CHUNK, SameSizeScanner, type SameSizeScan } from './stream-pass.js';

export interface ScanPair {
  expected: string;
  actual: string;
  /** The size both were listed with. */
  size: number;
}

export interface ScanBatch {
  id: number;
  pairs: ScanPair[];
  blockSize: number;
  /** Whether to record the expected file's block heads. */
  heads: boolean;
}

/** A pair scanned: what the pass found and, when they differ, the file judged (null: judge it on the main thread). */
export interface Scanned {
  scan: SameSizeScan;
  result: FileResult | null;
}

export interface ScanAnswer {
  /** The batch's index in its job. */
  id: number;
  /** Per pair, in order: scanned, or null (compare it on the main thread). */
  results: (Scanned | null)[];
}

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

/** Open a listed file for reading, or null when it is not (any more) a regular file of `size` bytes. */
function openListed(file: string, size: number): number | null {
  try {
    return openListedSync(file, size);
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
    // Shorter than listed: it changed while read; the main thread reports what it finds.
    if (fill(ef, e, pos) !== want || fill(af, a, pos) !== want) return null;
    scanner.feed(pos, e, a);
  }
  return scanner.finish();
}

function scanPair(p: ScanPair, blockSize: number, heads: boolean): SameSizeScan | null {
  const ef = openListed(p.expected, p.size);
  if (ef === null) return null;
  const af = openListed(p.actual, p.size);
  try {
    return af === null ? null : scanOpen(ef, af, p.size, blockSize, heads);
  } catch {
    return null;
  } finally {
    closeSync(ef);
    if (af !== null) closeSync(af);
  }
}

/** A listed host file as a tree entry, each open checked as the scan's are. */
function hostEntry(file: string, size: number): TreeEntry {
  const openIt = (): number => {
    const fd = openListed(file, size);
    if (fd === null) throw new Error(`${file}: no longer the file listed`);
    return fd;
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

/** The pair judged from its scan, or null when the main thread should (a rescue may revise it, or reading failed). */
async function judgePair(p: ScanPair, blockSize: number, scan: SameSizeScan): Promise<FileResult | null> {
  try {
    const r = await compareFile(hostEntry(p.expected, p.size), hostEntry(p.actual, p.size), blockSize, { scan });
    if (r.refinish) return null;
    // The heads travel once, with the scan (and not `delete`d: a dictionary-mode object is slower to send).
    r.expectedHeads = undefined;
    return r;
  } catch {
    return null;
  }
}

export async function answerBatch(b: ScanBatch): Promise<{ answer: ScanAnswer; transfer: ArrayBuffer[] }> {
  const results: (Scanned | null)[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const p of b.pairs) {
    const scan = scanPair(p, b.blockSize, b.heads);
    if (!scan) {
      results.push(null);
      continue;
    }
    if (scan.heads) transfer.push(scan.heads.buffer as ArrayBuffer);
    results.push({ scan, result: scan.runs.length === 0 ? null : await judgePair(p, b.blockSize, scan) });
  }
  return { answer: { id: b.id, results }, transfer };
}

/**
 * A job: every batch of one scan, sent to every thread at once. Each thread claims the next batch
 * with one atomic add on `claim` and writes its own number into `owner` (so the batches of a
 * thread that dies can be handed back), and nobody waits for anybody to be handed work.
 */
export interface ScanJob {
  job: number;
  batches: ScanBatch[];
  /** Int32Array [next batch to claim], shared by every thread. */
  claim: SharedArrayBuffer;
  /** Int32Array, one per batch: 0 unclaimed, else the claiming thread's number. */
  owner: SharedArrayBuffer;
  /** This thread's number in `owner`. */
  me: number;
}

/** The next batch of a job for thread `me` to scan, or -1 when none is left. */
export function claimBatch(claim: Int32Array, owner: Int32Array, me: number): number {
  const i = Atomics.add(claim, 0, 1);
  if (i >= owner.length) return -1;
  Atomics.store(owner, i, me);
  return i;
}

if (parentPort && isWorkerOf('classify/scan-worker')) {
  const port = parentPort;
  port.on('message', (j: ScanJob) => {
    const claim = new Int32Array(j.claim);
    const owner = new Int32Array(j.owner);
    void (async () => {
      for (let i = claimBatch(claim, owner, j.me); i >= 0; i = claimBatch(claim, owner, j.me)) {
        const { answer, transfer } = await answerBatch(j.batches[i]!);
        port.postMessage({ job: j.job, answer }, transfer);
      }
    })();
  });
}
