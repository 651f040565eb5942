// Quitting (q, Ctrl-C) at any step: the run in progress is aborted and waited for (QEMU stopped,
// overlay removed, image closed), an audit in progress is stopped, the process-wide cleanups run,
// and only then does the UI exit, with how it ended.

import { useRef, useState } from 'react';
import { useApp } from 'ink';
import type { DiagnoseResult } from '../../diagnose/types.js';
import type { Outcome, TuiDeps } from '../types.js';
import type { AuditRun } from './use-audit.js';
import type { RunHandle } from './use-run.js';

export interface Quit {
  /** What is being stopped, while quitting; null before. */
  quitting: string | null;
  isQuitting(): boolean;
  quit(kind: 'quit' | 'interrupted'): Promise<void>;
}

function outcomeOf(kind: 'quit' | 'interrupted', result: DiagnoseResult | null, failure: string | null): Outcome {
  if (kind === 'interrupted') return { kind: 'interrupted' };
  if (result) return { kind: 'verdict', verdict: result.report.verdict.kind };
  if (failure) return { kind: 'failed', reason: failure };
  return { kind: 'quit' };
}

function stoppingText(run: RunHandle, audit: AuditRun): string {
  const what: string[] = [];
  if (run.active()) what.push(run.via === 'direct' ? 'Closing the image' : 'Stopping QEMU and removing the overlay');
  if (audit.active()) what.push(what.length ? 'stopping the audit' : 'Stopping the audit');
  return what.length ? `${what.join(' and ')} before exiting…` : 'Cleaning up before exiting…';
}

export function useQuit(deps: TuiDeps, run: RunHandle, audit: AuditRun, closeHelp: () => void, onExit?: (o: Outcome) => void): Quit {
  const { exit } = useApp();
  const [quitting, setQuitting] = useState<string | null>(null);
  const started = useRef(false);
  // Read after the awaits below: always the latest render's.
  const latest = useRef({ run, audit });
  latest.current = { run, audit };

  const quit = async (kind: 'quit' | 'interrupted') => {
    if (started.current) return;
    started.current = true;
    setQuitting(stoppingText(run, audit));
    closeHelp();
    try {
      await Promise.all([run.active() ? run.stop() : null, audit.active() ? audit.stop() : null]);
      await deps.cleanup();
    } catch {
      // exit anyway
    }
    const r = latest.current.run;
    onExit?.(outcomeOf(kind, r.result, r.error));
    exit();
  };
  return { quitting, isQuitting: () => started.current, quit };
}
