// Scanning pairs of host files: most files of a layer hold exactly their expected bytes, and the
// streaming pass that shows it (read both, compare, sha256, the block heads the provenance step
// wants) is most of what a classification costs; judging the runs of the others is most of the
// rest. Pairs of host files of the same size are scanned and judged in batches (scan-worker.ts),
// with synchronous reads, by worker threads and by the calling thread between its own work, so
// every core does it; the calling thread compares the other pairs itself, the usual way.
//
// A worker that fails is not an error of the run: the pairs it held are answered null (compare
// them the usual way) and the others go to the workers left and to the calling thread.

import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { TreeEntry } from '../tree/tree.js';
import { spawnWorker } from '../util/worker-thread.js';
import type { FileResult, ProvenanceRequest } from './file-compare.js';
import { answerBatch, type ScanAnswer, type ScanBatch, type Scanned } from './scan-worker.js';

export type { Scanned };

/** A batch ends at this many pairs or this many bytes: few messages, and no thread left idle long. */
const BATCH_PAIRS = 64;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Below this much, starting threads costs more than it saves. */
const AUTO_MIN_BYTES = 64 * 1024 * 1024;
const AUTO_MIN_FILES = 2000;
/** Threads scanning at most, the calling one included. */
const AUTO_MAX_THREADS = 4;

/** Whether a pair can be scanned: two regular host files listed at the same size. */
export function scannable(e: TreeEntry | undefined, a: TreeEntry | undefined): boolean {
  return !!e && !!a && e.kind === 'file' && a.kind === 'file' && !e.unreadable && !a.unreadable && !!e.hostFile && !!a.hostFile && e.size === a.size;
}

/**
 * Worker threads to start for `pairs`, besides the calling thread: 'auto' makes one thread a core
 * when there is enough to share (a 2-core machine: one worker), a number that many workers.
 */
export function scanWorkers(setting: number | 'auto' | undefined, pairs: { size: number }[]): number {
  if (typeof setting === 'number') return Math.max(0, Math.floor(setting));
  const bytes = pairs.reduce((s, p) => s + p.size, 0);
  if (bytes < AUTO_MIN_BYTES && pairs.length < AUTO_MIN_FILES) return 0;
  return Math.min(availableParallelism(), AUTO_MAX_THREADS) - 1;
}

interface Waiting {
  batch: ScanBatch;
  resolve: ((r: Scanned | null) => void)[];
}

/** Threads scanning batches of pairs, handed out in the order they were asked. */
export class ScanPool {
  private readonly queue: Waiting[] = [];
  private readonly live = new Set<Worker>();
  /** Workers waiting for a batch: how to hand them one. */
  private idle: (() => void)[] = [];
  private nextId = 0;
  private closed = false;

  constructor(workers: number) {
    for (let i = 0; i < workers; i++) this.start();
  }

  /** One promise per pair, all asked at once (null: compare that pair the usual way). */
  ask(pairs: { e: TreeEntry; a: TreeEntry }[], blockSize: number, heads: boolean): Promise<Scanned | null>[] {
    const out: Promise<Scanned | null>[] = [];
    let cur: Waiting | null = null;
    let bytes = 0;
    for (const { e, a } of pairs) {
      if (!cur || cur.batch.pairs.length >= BATCH_PAIRS || bytes >= BATCH_BYTES) {
        cur = { batch: { id: this.nextId++, pairs: [], blockSize, heads }, resolve: [] };
        this.queue.push(cur);
        bytes = 0;
      }
      const w = cur;
      w.batch.pairs.push({ expected: e.hostFile!, actual: a.hostFile!, size: e.size });
      bytes += e.size;
      out.push(new Promise((res) => w.resolve.push(res)));
    }
    for (const feed of this.idle.splice(0)) feed();
    void this.scanHere();
    return out;
  }

  /** Stop the workers; whatever is still asked is answered null. */
  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.resolve.forEach((r) => r(null));
    await Promise.all([...this.live].map((w) => w.terminate()));
    this.live.clear();
  }

  /** The calling thread scans batches too, one at a time, yielding to its own work between them. */
  private async scanHere(): Promise<void> {
    for (;;) {
      await new Promise((res) => setImmediate(res));
      const w = this.closed ? undefined : this.queue.shift();
      if (!w) return;
      const { answer } = await answerBatch(w.batch);
      w.resolve.forEach((r, i) => r(revive(answer.results[i] ?? null)));
    }
  }

  private start(): void {
    const w = spawnWorker('classify/scan-worker', { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 1 });
    this.live.add(w);
    let current: Waiting | null = null;
    const feed = (): void => {
      current = this.closed ? null : (this.queue.shift() ?? null);
      if (current) w.postMessage(current.batch);
      else this.idle.push(feed);
    };
    // A worker gone mid-batch: its pairs are compared the usual way; the queue goes on without it.
    const gone = (): void => {
      if (!this.live.delete(w)) return;
      this.idle = this.idle.filter((f) => f !== feed);
      current?.resolve.forEach((r) => r(null));
      current = null;
    };
    w.on('message', (m: ScanAnswer) => {
      const done = current;
      if (done && done.batch.id === m.id) done.resolve.forEach((r, i) => r(revive(m.results[i] ?? null)));
      feed();
    });
    w.on('error', gone);
    w.on('exit', gone);
    feed();
  }
}

/**
 * A result as this thread uses it: Buffers come back from another thread as plain Uint8Arrays
 * (the requests' bytes made Buffers again), and the heads travel once, with the scan.
 */
function revive(s: Scanned | null): Scanned | null {
  if (!s?.result) return s;
  const buf = (u: Uint8Array | null): Buffer | null => (u ? Buffer.from(u.buffer, u.byteOffset, u.byteLength) : null);
  const requests: ProvenanceRequest[] = s.result.requests.map((q) => ({ ...q, head: buf(q.head)!, before: buf(q.before), after: buf(q.after) }));
  const result: FileResult = { ...s.result, requests, expectedHeads: s.scan.heads ?? undefined };
  return { scan: s.scan, result };
}
