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
