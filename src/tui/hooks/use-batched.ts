// Pipeline events and audit lines come in bursts (a booting guest prints hundreds of console
// lines; a cached audit answers a thousand layers at once): they are queued and applied together
// at most every `ms`, so the screen redraws once per batch.

import { useCallback, useLayoutEffect, useRef } from 'react';

export interface Batched<T> {
  /** Queue one item; the batch is applied within `ms`. */
  push(item: T): void;
  /** Apply what is queued now (before reading the state it builds). */
  flush(): void;
  /** Drop what is queued. */
  clear(): void;
}

export function useBatched<T>(apply: (batch: T[]) => void, ms: number): Batched<T> {
  const queue = useRef<T[]>([]);
  const timer = useRef<NodeJS.Timeout | null>(null);
  const applyRef = useRef(apply);
  applyRef.current = apply;

  const clear = useCallback(() => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    queue.current = [];
  }, []);
  const flush = useCallback(() => {
    const batch = queue.current;
    clear();
    if (batch.length) applyRef.current(batch);
  }, [clear]);
  const push = useCallback(
    (item: T) => {
      queue.current.push(item);
      timer.current ??= setTimeout(flush, ms);
    },
    [flush, ms],
  );
  useLayoutEffect(() => clear, [clear]);
  return { push, flush, clear };
}
