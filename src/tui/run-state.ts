// The Run screen's model: a pure reducer from pipeline events (the same events `diagnose`
// prints on stderr) to what the screen draws. Console lines are kept raw here and escaped when
// drawn; everything else that came from the guest (notes, reasons) is escaped when drawn too.

import type { DiagnoseEvent, DiagnoseStep } from '../diagnose/types.js';

export const STEPS: readonly DiagnoseStep[] = ['resolve', 'overlay', 'qemu', 'ssh', 'extract', 'classify', 'cleanup'];

export const STEP_LABEL: Record<DiagnoseStep, string> = {
  resolve: 'Resolve the layer',
  overlay: 'Create the overlay',
  qemu: 'Start QEMU',
  ssh: 'Wait for SSH',
  extract: 'Extract the files',
  classify: 'Classify',
  cleanup: 'Stop QEMU, remove overlay',
};

export type StepStatus = 'pending' | 'running' | 'done' | 'failed';

export interface StepState {
  status: StepStatus;
  /** When the step (last) started, by the reducer's clock. */
  startedAt?: number;
  ms?: number;
  info?: string;
  reason?: string;
  /** How many times the step started (QEMU restarts under TCG after a KVM failure). */
  attempts: number;
}

export interface RunState {
  steps: Record<DiagnoseStep, StepState>;
  ssh?: { attempt: number; elapsedMs: number; bootTimeMs: number; result: 'not-up' | 'ok' };
  extract?: { files: number; bytes: number };
  classify?: { done: number; total: number };
  /** The accelerator QEMU runs (or last tried) under. */
  accel?: string;
  /** The QEMU host port of the SSH forward. */
  port?: string;
  /** Set when KVM could not be used and TCG was used instead. */
  accelFallback?: string;
  notes: string[];
  /** Raw guest console lines (the most recent MAX_CONSOLE). */
  console: string[];
  /** Console lines dropped from the front. */
  consoleDropped: number;
}

export const MAX_CONSOLE = 2000;
const MAX_NOTES = 50;

export function initialRunState(): RunState {
  const steps = {} as Record<DiagnoseStep, StepState>;
  for (const s of STEPS) steps[s] = { status: 'pending', attempts: 0 };
  return { steps, notes: [], console: [], consoleDropped: 0 };
}

/** `tcg, port 40123, pid 77` → accel and port. */
function parseQemuInfo(info: string | undefined): { accel?: string; port?: string } {
  if (!info) return {};
  const accel = /^(kvm|tcg)\b/.exec(info)?.[1];
  const port = /\bport (\d+)/.exec(info)?.[1];
  return { accel, port };
}

export function runReducer(state: RunState, e: DiagnoseEvent, now: number = Date.now()): RunState {
  switch (e.type) {
    case 'step-start': {
      const prev = state.steps[e.step];
      const next: RunState = {
        ...state,
        steps: { ...state.steps, [e.step]: { status: 'running', startedAt: now, info: e.info, attempts: prev.attempts + 1 } },
      };
      if (e.step === 'qemu') Object.assign(next, dropUndefined(parseQemuInfo(e.info)));
      return next;
    }
    case 'step-done': {
      const prev = state.steps[e.step];
      const next: RunState = { ...state, steps: { ...state.steps, [e.step]: { ...prev, status: 'done', ms: e.ms, info: e.info ?? prev.info } } };
      if (e.step === 'qemu') Object.assign(next, dropUndefined(parseQemuInfo(e.info)));
      return next;
    }
    case 'step-fail': {
      const prev = state.steps[e.step];
      const ms = prev.startedAt !== undefined ? now - prev.startedAt : undefined;
      return { ...state, steps: { ...state.steps, [e.step]: { ...prev, status: 'failed', ms, reason: e.reason } } };
    }
    case 'ssh-attempt':
      return { ...state, ssh: { attempt: e.attempt, elapsedMs: e.elapsedMs, bootTimeMs: e.bootTimeMs, result: e.result } };
    case 'extract-progress':
      return { ...state, extract: { files: e.files, bytes: e.bytes } };
    case 'classify-progress':
      return { ...state, classify: { done: e.done, total: e.total } };
    case 'console-line': {
      const console = state.console.length >= MAX_CONSOLE ? [...state.console.slice(1), e.line] : [...state.console, e.line];
      return { ...state, console, consoleDropped: state.consoleDropped + (state.console.length >= MAX_CONSOLE ? 1 : 0) };
    }
    case 'note': {
      const notes = [...state.notes, e.message].slice(-MAX_NOTES);
      const fallback = /\bKVM\b/.test(e.message) && /\bTCG\b/.test(e.message) ? e.message : state.accelFallback;
      return { ...state, notes, accelFallback: fallback };
    }
    default:
      return state;
  }
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Apply a batch of events (tests, and replaying a finished run). */
export function replay(events: DiagnoseEvent[], now = Date.now()): RunState {
  return events.reduce((s, e) => runReducer(s, e, now), initialRunState());
}
