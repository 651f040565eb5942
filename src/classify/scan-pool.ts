// Scanning pairs of host files: most files of a layer hold exactly their expected bytes, and the
// streaming pass that shows it (read both, compare, sha256, the block heads the provenance step
// wants) is most of what a classification costs; judging the runs of the others is most of the
// rest. Pairs of host files that may be the same size are scanned and judged (scan-worker.ts),
// with synchronous reads, by worker threads and by the calling thread between its own work, so
// every core does it; the calling thread compares the other pairs itself, the usual way.
//
// Every thread is sent all the pairs of a scan at once and claims the next one itself (atomic
// counters shared by all, workers from the front, the calling thread from the back: ScanJob): a
// worker never waits for the calling thread, busy with pairs of its own, to hand it work, and
// claiming pair by pair needs no sizes to balance the threads (a host directory's listing does
// not know them; the scan's open learns them). A worker that fails is not an error of the run:
// the pairs it claimed and did not answer are answered null (compare them the usual way); the
// others go on being claimed.

import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { TreeEntry } from '../tree/tree.js';
import { spawnWorker } from '../util/worker-thread.js';
import type { FileResult, ProvenanceRequest } from './file-compare.js';
import { answerSome, emptyAnswer, type ScanAnswer, type ScanJob, type ScanPair, type Scanned } from './scan-worker.js';

export type { Scanned };

/** Below this much, starting threads costs more than it saves. */
const AUTO_MIN_BYTES = 64 * 1024 * 1024;
const AUTO_MIN_FILES = 2000;
/** Threads scanning at most, the calling one included. */
const AUTO_MAX_THREADS = 4;

/** A size the entry knows without asking the filesystem (undefined: not yet known). */
function knownSize(e: TreeEntry): number | undefined {
  return e.peekSize ? e.peekSize() : e.size;
}

/**
 * Whether a pair can be scanned: two regular host files that may be the same size (both listed
 * with one, and the same; or one not known yet: the scan's open tells).
 */
export function scannable(e: TreeEntry | undefined, a: TreeEntry | undefined): boolean {
  if (!e || !a || e.kind !== 'file' || a.kind !== 'file' || e.unreadable || a.unreadable || !e.hostFile || !a.hostFile) return false;
  const es = knownSize(e);
  const as = knownSize(a);
  return es === undefined || as === undefined || es === as;
}

/**
 * Worker threads to start for `pairs`, besides the calling thread: 'auto' makes one thread a core
 * when there is enough to share (a 2-core machine: one worker), a number that many workers.
 * Enough files decide it without their sizes (which a listing may not know: each asked is a stat).
 */
export function scanWorkers(setting: number | 'auto' | undefined, pairs: { size: number }[]): number {
  if (typeof setting === 'number') return Math.max(0, Math.floor(setting));
  const enough = pairs.length >= AUTO_MIN_FILES || pairs.reduce((s, p) => s + p.size, 0) >= AUTO_MIN_BYTES;
  if (!enough) return 0;
  return Math.min(availableParallelism(), AUTO_MAX_THREADS) - 1;
}

/** The calling thread's number in a job's `owner` (workers are 2, 3, ...; 0 is unclaimed). */
const HERE = 1;

/** Told of each pair of a scan as it is answered (k: the pair's index; null: compare it the usual way). */
export type OnScanned = (k: number, s: Scanned | null) => void;

/**
 * Told instead of each pair that holds the same bytes: its size, sha256 and, when asked for, its
 * expected file's block heads, heads[from, to).
 */
export type OnSame = (k: number, size: number, sha256: string, heads: Uint32Array | null, from: number, to: number) => void;

/** What is told of a scan's pairs. */
export interface ScanListener {
  each: OnScanned;
  same: OnSame;
}

/** The pairs of one scan, and what is left to answer. */
class Job {
  /** [next from the front, next from the back] (ScanJob). */
  readonly claim = new Int32Array(new SharedArrayBuffer(8));
  readonly owner: Int32Array;
  /** Resolved when every pair is answered; rejected with what `each` threw, if it did. */
  readonly finished: Promise<void>;
  private readonly answered: Uint8Array;
  private left: number;
  private failure: unknown = null;
  private finish!: () => void;
  private fail!: (err: unknown) => void;
  constructor(
    readonly id: number,
    readonly pairs: ScanPair[],
    readonly blockSize: number,
    readonly heads: boolean,
    private readonly tell: ScanListener,
  ) {
    this.owner = new Int32Array(new SharedArrayBuffer(4 * pairs.length));
    this.answered = new Uint8Array(pairs.length);
    this.claim[1] = pairs.length - 1;
    this.left = pairs.length;
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
    return { job: this.id, pairs: this.pairs, blockSize: this.blockSize, heads: this.heads, claim: this.claim.buffer as SharedArrayBuffer, owner: this.owner.buffer as SharedArrayBuffer, me, fromBack: me === HERE, calling: me === HERE };
  }

  /** Pair `k` answered (null: compare it the usual way); a pair answered twice is told once. */
  answer(k: number, s: Scanned | null): void {
    if (!this.first(k)) return;
    try {
      this.tell.each(k, s ? revive(s) : null);
    } catch (err) {
      // Told once the scan is over: this may run in a worker's message handler.
      this.failure ??= err;
    }
    this.settle();
  }

  /** The pairs of an answer that hold the same bytes. */
  answerSame(a: ScanAnswer['same']): void {
    for (let n = 0; n < a.pairs.length; n++) {
      const k = a.pairs[n]!;
      if (!this.first(k)) continue;
      try {
        this.tell.same(k, a.sizes[n]!, a.sha256[n]!, a.heads, a.at[n]!, a.at[n + 1]!);
      } catch (err) {
        this.failure ??= err;
      }
      this.settle();
    }
  }

  /** Whether pair `k` is answered now for the first time (and counted). */
  private first(k: number): boolean {
    if (this.answered[k]) return false;
    this.answered[k] = 1;
    this.left--;
    return true;
  }

  /** With every pair answered: done, or failed with what a listener threw. */
  private settle(): void {
    if (this.left > 0) return;
    if (this.failure === null) this.finish();
    else this.fail(this.failure);
  }

  /**
   * Pairs thread `me` claimed, or may have claimed as it died (handed out by a counter, owned by
   * nobody yet), and did not answer: null. A pair a live thread then takes after all is told once.
   */
  handBack(me: number): void {
    const front = Atomics.load(this.claim, 0);
    const back = Atomics.load(this.claim, 1);
    for (let k = 0; k < this.pairs.length; k++) {
      const o = Atomics.load(this.owner, k);
      if (o === me || (o === 0 && (k < front || k > back))) this.answer(k, null);
    }
  }

  /** No pair claimed any more; every one not answered yet: null. */
  stop(): void {
    Atomics.store(this.claim, 0, this.pairs.length);
    Atomics.store(this.claim, 1, -1);
    for (let k = 0; k < this.pairs.length; k++) this.answer(k, null);
  }
}

/** Threads scanning pairs: workers and the calling thread claim them, from the two ends. */
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
   * Scan `pairs`, all handed out at once: `tell` is told of every pair as it is answered, and the
   * promise resolves when all are.
   */
  scan(pairs: { e: TreeEntry; a: TreeEntry }[], blockSize: number, heads: boolean, tell: ScanListener): Promise<void> {
    const sent = pairs.map(({ e, a }): ScanPair => ({ expected: e.hostFile!, actual: a.hostFile!, expectedSize: knownSize(e) ?? -1, actualSize: knownSize(a) ?? -1 }));
    const job = new Job(this.nextJob++, sent, blockSize, heads, tell);
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

  /** The calling thread scans pairs too, a few at a time, yielding to its own work between them. */
  private async scanHere(job: Job): Promise<void> {
    const msg = job.message(HERE);
    for (;;) {
      await new Promise((res) => setImmediate(res));
      if (this.closed) return;
      const { answer } = await answerSome(msg, job.claim, job.owner, HERE);
      if (emptyAnswer(answer)) return;
      this.answered(job, answer);
    }
  }

  /** Pairs of `job` answered; a job with none left is forgotten. */
  private answered(job: Job, a: ScanAnswer): void {
    job.answerSame(a.same);
    for (let n = 0; n < a.pairs.length; n++) job.answer(a.pairs[n]!, a.results[n] ?? null);
    if (job.done) this.jobs.delete(job.id);
  }

  private start(me: number): void {
    const w = spawnWorker('classify/scan-worker', { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 1 });
    this.live.add(w);
    this.workers.set(w, me);
    // A worker gone mid-job: the pairs it claimed are compared the usual way; the others go on.
    const gone = (): void => {
      if (!this.live.delete(w)) return;
      this.workers.delete(w);
      for (const j of this.jobs.values()) j.handBack(me);
    };
    w.on('message', (m: { job: number; answer: ScanAnswer }) => {
      const job = this.jobs.get(m.job);
      if (job) this.answered(job, m.answer);
    });
    w.on('error', gone);
    w.on('exit', gone);
  }
}

/**
 * A result as this thread uses it: Buffers come back from another thread as plain Uint8Arrays
 * (the requests' bytes made Buffers again), and the heads travel once, with the scan.
 */
function revive(s: Scanned): Scanned {
  if (!s.result) return s;
  const buf = (u: Uint8Array | null): Buffer | null => (u ? Buffer.from(u.buffer, u.byteOffset, u.byteLength) : null);
  const requests: ProvenanceRequest[] = s.result.requests.map((q) => ({ ...q, head: buf(q.head)!, before: buf(q.before), after: buf(q.after) }));
  const result: FileResult = { ...s.result, requests, expectedHeads: s.scan.heads ?? undefined };
  return { scan: s.scan, result };
}
