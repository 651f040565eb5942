// The run on show: started from the Sources screen (or again from the Run screen), its events
// reduced into what the Run screen draws, its result or its one-line failure, and its abort:
// stopping waits for the pipeline to stop QEMU and remove the overlay (or close the image).

import { useCallback, useReducer, useRef, useState } from 'react';
import type { DiagnoseEvent, DiagnoseOptions, DiagnoseResult } from '../../diagnose/types.js';
import { oneLine } from '../../util/errors.js';
import { initialRunState, runReducer, type RunState } from '../run-state.js';
import type { RunStatus } from '../screens/run.js';
import type { RunSources, TuiDeps, TuiInit } from '../types.js';
import { useBatched } from './use-batched.js';

const EVENT_FLUSH_MS = 40;

/** Resolve when `p` settles or after `ms`, whichever comes first. */
export function settle(p: Promise<unknown> | null, ms: number): Promise<void> {
  if (!p) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    p.then(done, done);
  });
}

/** The pipeline's options for a run of layer `id` with what the Sources screen holds. */
export function runOptions(init: TuiInit, id: string, s: RunSources): DiagnoseOptions {
  const fromJobLog = init.jobLog !== undefined && init.jobLog.layerId === id;
  const { partition: _p, via: _v, ...options } = init.options;
  return {
    ...options,
    layer: id,
    expected: s.expected,
    dst: s.dst,
    via: s.via,
    ...(s.via === 'direct' && s.partition.trim() ? { partition: s.partition.trim() } : {}),
    ...(fromJobLog ? { jobLog: init.jobLog!.file, step: init.jobLog!.step } : {}),
  };
}

export interface RunHandle {
  state: RunState;
  status: RunStatus;
  error: string | null;
  result: DiagnoseResult | null;
  /** How the run on show reads the layer. */
  via: RunSources['via'];
  /** Whether a run is in progress (not yet settled). */
  active(): boolean;
  start(id: string, s: RunSources, onResult: (r: DiagnoseResult) => void): void;
  /** Abort the run in progress and wait for its cleanup (and the process-wide one). */
  stop(): Promise<void>;
}

function batchReducer(s: RunState, batch: DiagnoseEvent[] | null): RunState {
  return batch ? batch.reduce((acc, e) => runReducer(acc, e), s) : initialRunState();
}

export function useRun(deps: TuiDeps, init: TuiInit, abortWaitMs: number): RunHandle {
  const [state, dispatch] = useReducer(batchReducer, undefined, initialRunState);
  const events = useBatched<DiagnoseEvent>(dispatch, EVENT_FLUSH_MS);
  const [status, setStatus] = useState<RunStatus>('running');
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<DiagnoseResult | null>(null);
  const [via, setVia] = useState<RunSources['via']>('boot');
  const abortRef = useRef<AbortController | null>(null);
  const runRef = useRef<Promise<unknown> | null>(null);

  const start = (id: string, s: RunSources, onResult: (r: DiagnoseResult) => void) => {
    const ac = new AbortController();
    abortRef.current = ac;
    events.clear();
    dispatch(null);
    setStatus('running');
    setError(null);
    setResult(null);
    setVia(s.via);
    const p = deps.run(runOptions(init, id, s), { onEvent: events.push, signal: ac.signal });
    runRef.current = p;
    p.then(
      (res) => {
        if (ac.signal.aborted) return;
        events.flush();
        setResult(res);
        setStatus('done');
        onResult(res);
      },
      (err: unknown) => {
        if (ac.signal.aborted) return;
        events.flush();
        setStatus('failed');
        setError(oneLine(err));
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
    await deps.cleanup().catch(() => {});
    setStatus('stopped');
  }, [deps, abortWaitMs]);

  return { state, status, error, result, via, active: () => runRef.current !== null, start, stop };
}
