// A bounded number of async tasks at a time over a list, results in input order: the one pool
// the store listing, tree comparison and corpus indexing share.

export interface PoolOptions {
  /** How many run at once (at least 1). */
  concurrency: number;
  /** Called after each item finishes, with the count done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Stop starting new items once aborted (running ones finish). */
  signal?: AbortSignal;
}

export async function mapPool<T, R>(items: readonly T[], opts: PoolOptions, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !opts.signal?.aborted) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
      done++;
      opts.onProgress?.(done, items.length);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

/**
 * Run tasks as they come, at most `concurrency` at a time (the others wait their turn, in order):
 * for work that arrives piecemeal, where mapPool wants the whole list first.
 */
export function limiter(concurrency: number): <R>(fn: () => Promise<R>) => Promise<R> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <R>(fn: () => Promise<R>): Promise<R> => {
    if (active >= concurrency) await new Promise<void>((res) => waiting.push(res));
    else active++;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next in line, or is freed.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
