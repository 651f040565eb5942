// A whole store's audit (design.md section 10), the scheduler behind `layer-forensics audit` and
// the terminal UI's `A` key: select the layers (all, by id prefix, created since a date), serve
// what the result cache still holds, audit the rest in worker threads (each opens its own chains;
// results stream back as each layer finishes), write each new result to the cache, and count.
//
// Memory stays bounded whatever the store's size: the cache is checked from the layer ids alone,
// and the store's full listing (every chain resolved, a few hundred bytes per layer) is read only
// when some layer is left to audit; each worker holds one layer's chains at a time, with a smaller
// L2 table cache than the default and a capped heap; results are handed to `onLine` and dropped.
// Aborting (Ctrl-C) stops handing out layers, stops the workers, and returns the summary of the
// lines given so far, `interrupted` set.

import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { openStore, type Layer, type Store } from '../store/store.js';
import { UserError } from '../util/errors.js';
import { mapPool } from '../util/pool.js';
import { spawnWorker } from '../util/worker-thread.js';
import type { WorkerReady, WorkerResult, WorkerTask } from './audit-worker.js';
import { defaultCacheDir, imageKey, readEntry, writeEntry, type ImageKey } from './cache.js';
import { AUDIT_SCHEMA, isCorrupt, type AuditLine, type AuditSummary } from './types.js';

export interface RunAuditOptions {
  /** `qemu:/path` or `/path`. */
  store: string;
  /** Id prefixes: only the layers whose id starts with one of them (each must match one at least). */
  layers?: string[];
  /** Only layers created at or after this time (ISO 8601 or YYYY-MM-DD, UTC). */
  since?: string;
  /** Worker threads (default: the number of cores). */
  jobs?: number;
  /** Neither read nor write the result cache. */
  noCache?: boolean;
  /** The cache directory (default `$XDG_CACHE_HOME/layer-forensics`). */
  cacheDir?: string;
}

export interface AuditProgress {
  /** Layers with a line so far, of `total` selected; `cached` of them from the cache. */
  done: number;
  total: number;
  cached: number;
}

export interface RunAuditControl {
  /** Each layer's line, as it finishes. */
  onLine?(line: AuditLine): void;
  onProgress?(p: AuditProgress): void;
  /** Stop: no more layers are started; the summary says `interrupted`. */
  signal?: AbortSignal;
  /** Once the layers are selected, before any line: how many, in which store (its absolute root). */
  onStart?(info: { total: number; root: string }): void;
  /** Problems met reading the store's metadata (an unreadable db, ...), once, before any line. */
  onWarnings?(warnings: readonly string[]): void;
}

/** L2 table cache per open chain in a worker: 4 MiB (maps 32 GiB of a chain with 64 KiB clusters). */
export const WORKER_CACHE_BYTES = 4 * 1024 * 1024;
/**
 * A worker's heap: the old generation capped (a pathological layer fails alone, an `error` line,
 * instead of growing the process), the young one small: most of a worker's memory is short-lived
 * buffers (L2 tables, inode and cylinder-group blocks) released when their wrappers are scavenged,
 * so frequent small scavenges keep the resident size down (1000 generated layers, 2 workers: 276 MB → 175 MB).
 */
export const WORKER_HEAP_MB = 128;
export const WORKER_YOUNG_MB = 2;

/** `--since`: a date or an ISO 8601 time, UTC unless it names its zone; as milliseconds. */
export function parseSince(since: string): number {
  let s = since.trim().replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T');
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00';
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s += 'Z';
  const t = /^\d{4}-\d{2}-\d{2}T/.test(s) ? Date.parse(s) : NaN;
  if (Number.isNaN(t)) throw new UserError(`--since ${JSON.stringify(since)}: not a date (YYYY-MM-DD or an ISO 8601 time)`);
  return t;
}

/** The ids the prefixes name (each prefix must name one at least); all of them without prefixes. */
export function selectIds(all: readonly string[], prefixes: readonly string[] | undefined, root: string): string[] {
  if (!prefixes || prefixes.length === 0) return [...all];
  const want = prefixes.map((p) => p.trim().toLowerCase());
  for (const p of want) {
    if (!/^[0-9a-f]{1,64}$/.test(p)) throw new UserError(`--layer ${JSON.stringify(p)}: not a layer id prefix (up to 64 hex digits)`);
    if (!all.some((id) => id.startsWith(p))) throw new UserError(`--layer ${p}: no layer of store ${root} starts with it`);
  }
  return all.filter((id) => want.some((p) => id.startsWith(p)));
}

/** Whether a creation time passes --since. A layer whose creation time is unknown cannot be said to be recent. */
function isSince(created: string | null, since: number | null): boolean {
  return since === null || (created !== null && Date.parse(created) >= since);
}

/** The layers to audit: by prefix (each prefix must match) and creation time; store order (newest first). */
export function selectLayers(all: readonly Layer[], prefixes: readonly string[] | undefined, since: string | undefined, root: string): Layer[] {
  const ids = new Set(selectIds(all.map((l) => l.id), prefixes, root));
  const t = since === undefined ? null : parseSince(since);
  return all.filter((l) => ids.has(l.id) && isSince(l.created, t));
}

/** The line of a layer, from a worker's result or an error. */
function lineOf(l: Layer, r: Pick<WorkerResult, 'verdict' | 'files' | 'notes' | 'error' | 'ms'>, auditedAt: string): AuditLine {
  return {
    schema: AUDIT_SCHEMA,
    type: 'layer',
    layer: l.id,
    parent: l.parent,
    verdict: r.verdict,
    files: r.files,
    error: r.error,
    cached: false,
    ms: r.ms,
    created: l.created,
    chainDepth: l.chainDepth,
    notes: r.notes,
    auditedAt,
    auditMs: r.ms,
  };
}

class Tally {
  readonly summary: AuditSummary;

  constructor(selected: number) {
    this.summary = { schema: AUDIT_SCHEMA, type: 'summary', layers: 0, clean: 0, corrupt: 0, inconclusive: 0, errors: 0, ms: 0, selected, cached: 0, interrupted: false };
  }

  add(line: AuditLine): void {
    const s = this.summary;
    s.layers++;
    if (line.cached) s.cached++;
    if (line.verdict === 'clean') s.clean++;
    else if (isCorrupt(line.verdict)) s.corrupt++;
    else if (line.verdict === 'inconclusive') s.inconclusive++;
    else s.errors++;
  }
}

interface Pending {
  layer: Layer;
  key: ImageKey | null;
}

interface Looked {
  key: ImageKey | null;
  hit: AuditLine | null;
  ms: number;
}

/** Each layer's image key and its valid cache entry, if any (none under --no-cache). */
async function lookUp(store: Store, ids: readonly string[], opts: RunAuditOptions, signal?: AbortSignal): Promise<Map<string, Looked>> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const out = new Map<string, Looked>();
  await mapPool(ids, { concurrency: 16, signal }, async (id) => {
    const t0 = performance.now();
    const key = await imageKey(store.imagePath(id));
    const hit = key && !opts.noCache ? await readEntry(cacheDir, id, key) : null;
    out.set(id, { key, hit, ms: Math.round(performance.now() - t0) });
  });
  return out;
}

interface Work {
  /** Lines served from the cache. */
  cached: AuditLine[];
  /** Layers left to audit (or to report as broken). */
  pending: Pending[];
}

/**
 * What to serve from the cache and what to audit. The store's full listing (every chain resolved)
 * is read only when some layer is not cached: an audit of a store already audited reads no chain.
 */
async function plan(store: Store, opts: RunAuditOptions, signal?: AbortSignal): Promise<Work> {
  const ids = selectIds(await store.matchIds(''), opts.layers, store.root);
  const since = opts.since === undefined ? null : parseSince(opts.since);
  const looked = await lookUp(store, ids, opts, signal);
  const served = (l: Looked, layer?: Layer): AuditLine => ({ ...l.hit!, ...(layer ? { parent: layer.parent, created: layer.created, chainDepth: layer.chainDepth } : {}), ms: l.ms });
  if (ids.every((id) => looked.get(id)?.hit)) {
    const cached = ids.map((id) => looked.get(id)!).filter((l) => isSince(l.hit!.created, since)).map((l) => served(l));
    // Newest first, as the store lists its layers.
    cached.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.layer.localeCompare(b.layer));
    return { cached, pending: [] };
  }
  const layers = selectLayers(await store.listLayers(), opts.layers, opts.since, store.root);
  const work: Work = { cached: [], pending: [] };
  for (const layer of layers) {
    const l = looked.get(layer.id);
    if (l?.hit) work.cached.push(served(l, layer));
    else work.pending.push({ layer, key: l?.key ?? null });
  }
  return work;
}

/** A worker thread with the audit's heap caps. */
function spawnAuditWorker(): Worker {
  return spawnWorker('audit/audit-worker', { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: WORKER_YOUNG_MB });
}

type OnResult = (p: Pending, r: WorkerResult) => void;

/** Workers that die before they are ready, in a row, before the audit gives up (they cannot start). */
const MAX_START_FAILURES = 3;

/**
 * Run `tasks` on `n` workers, one layer each at a time; resolves when all are done or on abort.
 * A worker that dies mid-layer (its heap cap reached, a crash) makes that layer an `error` line and
 * is replaced; workers that die before they are ready (they cannot start) put their layer back,
 * and after a few the audit stops with a UserError.
 */
function runWorkers(tasks: Pending[], n: number, onResult: OnResult, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const queue = [...tasks];
    const live = new Set<Worker>();
    let finished = false;
    let startFailures = 0;
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      void Promise.all([...live].map((w) => w.terminate())).then(() => (err ? reject(err) : resolve()));
    };
    const start = (): void => {
      const w = spawnAuditWorker();
      live.add(w);
      let current: Pending | null = null;
      let ready = false;
      const feed = (): void => {
        if (finished) return;
        if (signal?.aborted || queue.length === 0) {
          live.delete(w);
          void w.terminate();
          if (live.size === 0) finish();
          return;
        }
        current = queue.shift()!;
        const task: WorkerTask = { type: 'audit', id: current.layer.id, links: current.layer.links.map((k) => ({ image: k.image, format: k.format })), cacheBytes: WORKER_CACHE_BYTES };
        w.postMessage(task);
      };
      const gone = (why: string): void => {
        if (!live.has(w)) return;
        live.delete(w);
        if (finished) return;
        if (!ready) {
          if (current) queue.unshift(current);
          if (++startFailures >= MAX_START_FAILURES) return finish(new UserError(`the audit's worker threads do not start: ${why}`));
        } else if (current) {
          onResult(current, { type: 'result', id: current.layer.id, verdict: 'error', files: [], notes: [], error: `the audit worker stopped: ${why}`, ms: 0 });
        }
        current = null;
        if (!signal?.aborted && queue.length > 0) start();
        else if (live.size === 0) finish();
      };
      w.on('message', (m: WorkerResult | WorkerReady) => {
        if (m.type === 'ready') {
          ready = true;
          startFailures = 0;
          return;
        }
        const p = current;
        current = null;
        if (p && !finished) onResult(p, m);
        feed();
      });
      w.on('error', (err) => gone(err.message.replace(/\s*\n\s*/g, ' ')));
      w.on('exit', (code) => gone(`exit status ${code}`));
      feed();
    };
    if (tasks.length === 0 || signal?.aborted) return finish();
    signal?.addEventListener('abort', () => finish(), { once: true });
    for (let i = 0; i < Math.min(n, tasks.length); i++) start();
  });
}

/**
 * Audit a store. Throws UserError when it cannot run at all (no such store, a bad --layer or
 * --since); a layer that cannot be read is a line with verdict `error`, and the audit goes on.
 */
export async function runAudit(opts: RunAuditOptions, ctl: RunAuditControl = {}): Promise<AuditSummary> {
  const t0 = performance.now();
  const store = await openStore(opts.store);
  const work = await plan(store, opts, ctl.signal);
  const total = work.cached.length + work.pending.length;
  ctl.onWarnings?.(store.warnings);
  ctl.onStart?.({ total, root: store.root });
  const tally = new Tally(total);
  const emit = (line: AuditLine): void => {
    if (ctl.signal?.aborted) return;
    tally.add(line);
    ctl.onLine?.(line);
    ctl.onProgress?.({ done: tally.summary.layers, total, cached: tally.summary.cached });
  };
  for (const line of work.cached) emit(line);
  for (const p of work.pending.filter((x) => x.layer.chainError !== undefined)) {
    emit(lineOf(p.layer, { verdict: 'error', files: [], notes: [], error: p.layer.chainError ?? null, ms: 0 }, new Date().toISOString()));
  }
  const tasks = work.pending.filter((x) => x.layer.chainError === undefined);
  const jobs = Math.max(1, Math.floor(opts.jobs ?? availableParallelism()));
  const writes: Promise<void>[] = [];
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  await runWorkers(tasks, jobs, (p, r) => {
    const line = lineOf(p.layer, r, new Date().toISOString());
    emit(line);
    // A cache that cannot be written costs the next run time, not this run its result.
    if (!opts.noCache && p.key && line.verdict !== 'error') writes.push(writeEntry(cacheDir, p.layer.id, p.key, line).catch(() => {}));
  }, ctl.signal);
  await Promise.all(writes);
  tally.summary.interrupted = ctl.signal?.aborted ?? false;
  tally.summary.ms = Math.round(performance.now() - t0);
  return tally.summary;
}
