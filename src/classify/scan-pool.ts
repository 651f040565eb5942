// Scanning pairs of host files: most files of a layer hold exactly their expected bytes, and the
// streaming pass that shows it (read both, compare, sha256, the block heads the provenance step
// wants) is most of what a classification costs; judging the runs of the others is most of the
// rest. Pairs of host files of the same size are scanned and judged in batches (scan-worker.ts),
// with synchronous reads, by worker threads and by the calling thread between its own work, so
// every core does it; the calling thread compares the other pairs itself, the usual way.
//
// Every thread is sent all the batches of a scan at once and claims the next one itself (an atomic
// counter shared by all): a worker never waits for the calling thread, busy with a batch of its
// own, to hand it work. A worker that fails is not an error of the run: the batches it claimed and
// did not answer are answered null (compare them the usual way); the others go on being claimed.

import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { TreeEntry } from '../tree/tree.js';
import { spawnWorker } from '../util/worker-thread.js';
import type { FileResult, ProvenanceRequest } from './file-compare.js';
import { answerBatch, claimBatch, type ScanAnswer, type ScanBatch, type ScanJob, type Scanned } from './scan-worker.js';

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

/** The calling thread's number in a job's `owner` (workers are 2, 3, ...; 0 is unclaimed). */
const HERE = 1;

/** Told of each pair of a scan as its batch is answered (k: the pair's index; null: compare it the usual way). */
export type OnScanned = (k: number, s: Scanned | null) => void;

/** The batches of one scan, and what is left to answer. */
class Job {
  readonly claim = new Int32Array(new SharedArrayBuffer(4));
  readonly owner: Int32Array;
  /** Resolved when every batch is answered; rejected with what `each` threw, if it did. */
  readonly finished: Promise<void>;
  private readonly answered: Uint8Array;
  private left: number;
  private failure: unknown = null;
  private finish!: () => void;
  private fail!: (err: unknown) => void;
  constructor(
    readonly id: number,
    readonly batches: ScanBatch[],
    /** Index of each batch's first pair. */
    private readonly firsts: number[],
    private readonly each: OnScanned,
  ) {
    this.owner = new Int32Array(new SharedArrayBuffer(4 * batches.length));
    this.answered = new Uint8Array(batches.length);
    this.left = batches.length;
    this.finished = new Promise((res, rej) => {
      this.finish = res;
      this.fail = rej;
    });
    if (this.left === 0) this.finish();
  }

  get done(): boolean {
    return this.left === 0;
  }

  message(me: number): ScanJob {
    return { job: this.id, batches: this.batches, claim: this.claim.buffer as SharedArrayBuffer, owner: this.owner.buffer as SharedArrayBuffer, me };
  }

  answer(i: number, results: (Scanned | null)[] | null): void {
    if (this.answered[i]) return;
    this.answered[i] = 1;
    this.left--;
    const first = this.firsts[i]!;
    for (let k = 0; k < this.batches[i]!.pairs.length; k++) {
      try {
        this.each(first + k, results ? revive(results[k] ?? null) : null);
      } catch (err) {
        // Told once the scan is over: this may run in a worker's message handler.
        this.failure ??= err;
      }
    }
    if (this.left > 0) return;
    if (this.failure === null) this.finish();
    else this.fail(this.failure);
  }

  /** Batches thread `me` claimed, or may have claimed as it died, and did not answer: null. */
  handBack(me: number): void {
    const claimed = Math.min(Atomics.load(this.claim, 0), this.batches.length);
    for (let i = 0; i < claimed; i++) {
      const o = Atomics.load(this.owner, i);
      if (o === me || o === 0) this.answer(i, null);
    }
  }

  /** No batch claimed any more; every one not answered yet: null. */
  stop(): void {
    Atomics.store(this.claim, 0, this.batches.length);
    for (let i = 0; i < this.batches.length; i++) this.answer(i, null);
  }
}

/** Threads scanning batches of pairs: workers and the calling thread claim them in order. */
export class ScanPool {
  private readonly jobs = new Map<number, Job>();
  private readonly live = new Set<Worker>();
  private readonly workers = new Map<Worker, number>();
  private nextJob = 0;
  private closed = false;

  constructor(workers: number) {
    for (let i = 0; i < workers; i++) this.start(HERE + 1 + i);
  }

  /**
   * Scan `pairs`, all handed out at once: `each` is told of every pair as its batch is answered,
   * and the promise resolves when all are.
   */
  scan(pairs: { e: TreeEntry; a: TreeEntry }[], blockSize: number, heads: boolean, each: OnScanned): Promise<void> {
    const batches: ScanBatch[] = [];
    const firsts: number[] = [];
    let bytes = 0;
    for (let k = 0; k < pairs.length; k++) {
      const { e, a } = pairs[k]!;
      let cur = batches[batches.length - 1];
      if (!cur || cur.pairs.length >= BATCH_PAIRS || bytes >= BATCH_BYTES) {
        cur = { id: batches.length, pairs: [], blockSize, heads };
        batches.push(cur);
        firsts.push(k);
        bytes = 0;
      }
      cur.pairs.push({ expected: e.hostFile!, actual: a.hostFile!, size: e.size });
      bytes += e.size;
    }
    const job = new Job(this.nextJob++, batches, firsts, each);
    if (this.closed) job.stop();
    if (job.done) return job.finished;
    this.jobs.set(job.id, job);
    for (const [w, me] of this.workers) w.postMessage(job.message(me));
    void this.scanHere(job);
    return job.finished;
  }

  /** Stop the workers; whatever is still asked is answered null. */
  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.jobs.values()) j.stop();
    this.jobs.clear();
    await Promise.all([...this.live].map((w) => w.terminate()));
    this.live.clear();
    this.workers.clear();
  }

  /** The calling thread scans batches too, one at a time, yielding to its own work between them. */
  private async scanHere(job: Job): Promise<void> {
    for (;;) {
      await new Promise((res) => setImmediate(res));
      const i = this.closed ? -1 : claimBatch(job.claim, job.owner, HERE);
      if (i < 0) return;
      const { answer } = await answerBatch(job.batches[i]!);
      this.answered(job, i, answer.results);
    }
  }

  /** Batch `i` of `job` answered; a job with none left is forgotten. */
  private answered(job: Job, i: number, results: (Scanned | null)[]): void {
    job.answer(i, results);
    if (job.done) this.jobs.delete(job.id);
  }

  private start(me: number): void {
    const w = spawnWorker('classify/scan-worker', { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 1 });
    this.live.add(w);
    this.workers.set(w, me);
    // A worker gone mid-batch: the batches it claimed are compared the usual way; the others go on.
    const gone = (): void => {
      if (!this.live.delete(w)) return;
      this.workers.delete(w);
      for (const j of this.jobs.values()) j.handBack(me);
    };
    w.on('message', (m: { job: number; answer: ScanAnswer }) => {
      const job = this.jobs.get(m.job);
      if (job) this.answered(job, m.answer.id, m.answer.results);
    });
    w.on('error', gone);
    w.on('exit', gone);
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
