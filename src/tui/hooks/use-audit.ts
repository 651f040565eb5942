// `A` on the Layers screen: audit the whole store, with progress (layers done of the total, how
// many came from the cache, the rate), each line handed on as it arrives so the rows update.
// Stopping (Esc, q, Ctrl-C) aborts the audit and waits for it to settle with the lines so far.

import { useCallback, useRef, useState } from 'react';
import { oneLine } from '../../util/errors.js';
import type { AuditProgress, AuditTotals, LayerAudit, TuiDeps } from '../types.js';
import { useBatched } from './use-batched.js';
import { settle } from './use-run.js';

const AUDIT_FLUSH_MS = 100;

export type AuditStatus = 'idle' | 'running' | 'stopping' | 'done' | 'stopped' | 'failed';

export interface AuditRun {
  status: AuditStatus;
  progress: AuditProgress | null;
  /** When the audit started (Date.now()), for the rate. */
  startedAt: number | null;
  totals: AuditTotals | null;
  error: string | null;
  active(): boolean;
  start(): void;
  stop(): Promise<void>;
}

export function useAudit(deps: TuiDeps, onLines: (lines: LayerAudit[]) => void, abortWaitMs: number): AuditRun {
  const [status, setStatus] = useState<AuditStatus>('idle');
  const [progress, setProgress] = useState<AuditProgress | null>(null);
  const [startedAt, setStartedAt] = useState<number | null>(null);
  const [totals, setTotals] = useState<AuditTotals | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Lines and progress go through one queue, so the count on show matches the rows.
  const queue = useBatched<LayerAudit | AuditProgress>((batch) => {
    const lines = batch.filter((x): x is LayerAudit => 'layer' in x);
    const last = batch.filter((x): x is AuditProgress => !('layer' in x)).pop();
    if (lines.length) onLines(lines);
    if (last) setProgress(last);
  }, AUDIT_FLUSH_MS);
  const abortRef = useRef<AbortController | null>(null);
  const runRef = useRef<Promise<unknown> | null>(null);

  const start = () => {
    if (runRef.current) return;
    const ac = new AbortController();
    abortRef.current = ac;
    setStatus('running');
    setProgress(null);
    setTotals(null);
    setError(null);
    setStartedAt(Date.now());
    const p = deps.auditStore({ onLine: queue.push, onProgress: queue.push, signal: ac.signal });
    runRef.current = p;
    p.then(
      (t) => {
        queue.flush();
        setTotals(t);
        setStatus(ac.signal.aborted ? 'stopped' : 'done');
      },
      (err: unknown) => {
        queue.flush();
        setStatus(ac.signal.aborted ? 'stopped' : 'failed');
        if (!ac.signal.aborted) setError(oneLine(err));
      },
    ).finally(() => {
      if (runRef.current === p) runRef.current = null;
    });
  };

  const stop = useCallback(async (): Promise<void> => {
    const p = runRef.current;
    if (!p) return;
    setStatus('stopping');
    abortRef.current?.abort();
    await settle(p, abortWaitMs);
  }, [abortWaitMs]);

  return { status, progress, startedAt, totals, error, active: () => runRef.current !== null, start, stop };
}
