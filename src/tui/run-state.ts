// The Run screen's model: a pure reducer from pipeline events (the same events `diagnose`
// prints on stderr) to what the screen draws. The steps come from the run's `plan` event (boot and
// direct runs have different steps); the accelerator and port come from structured events. Console
// lines are kept raw here and escaped when drawn; everything else from the guest is escaped when
// drawn too.

import type { PipelineEvent, PlannedStep } from '../util/events.js';

/** Shown until the run announces its plan (resolving the layer comes first in every plan). */
const INITIAL_PLAN: PlannedStep[] = [{ id: 'resolve', label: 'Resolve the layer' }];

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
  /** The run's steps in order, with their labels. */
  plan: PlannedStep[];
  steps: Record<string, StepState>;
  ssh?: { attempt: number; elapsedMs: number; bootTimeMs: number; result: 'not-up' | 'ok' };
  extract?: { files: number; bytes: number };
  classify?: { done: number; total: number };
  /** The accelerator QEMU runs (or last tried) under. */
  accel?: 'kvm' | 'tcg';
  /** The QEMU host port of the SSH forward. */
  port?: number;
  /** Why that accelerator: set when KVM could not be used and TCG was used instead. */
  accelFallback?: string;
  notes: string[];
  /** Raw guest console lines (the most recent MAX_CONSOLE). */
  console: string[];
  /** Console lines dropped from the front. */
  consoleDropped: number;
}

export const MAX_CONSOLE = 2000;
const MAX_NOTES = 50;

const pending = (): StepState => ({ status: 'pending', attempts: 0 });

export function initialRunState(): RunState {
  return { plan: INITIAL_PLAN, steps: Object.fromEntries(INITIAL_PLAN.map((s) => [s.id, pending()])), notes: [], console: [], consoleDropped: 0 };
}

/** A step's state, pending when the reducer has not heard of it. */
export function stepState(state: RunState, id: string): StepState {
  return state.steps[id] ?? pending();
}

function withStep(state: RunState, id: string, s: StepState): RunState {
  return { ...state, steps: { ...state.steps, [id]: s } };
}

function onStepEvent(state: RunState, e: Extract<PipelineEvent, { type: 'step-start' | 'step-done' | 'step-fail' }>, now: number): RunState {
  const prev = stepState(state, e.step);
  switch (e.type) {
    case 'step-start':
      return withStep(state, e.step, { status: 'running', startedAt: now, info: e.info, attempts: prev.attempts + 1 });
    case 'step-done':
      return withStep(state, e.step, { ...prev, status: 'done', ms: e.ms, info: e.info ?? prev.info });
    case 'step-fail':
      return withStep(state, e.step, { ...prev, status: 'failed', ms: prev.startedAt !== undefined ? now - prev.startedAt : undefined, reason: e.reason });
  }
}

export function runReducer(state: RunState, e: PipelineEvent, now: number = Date.now()): RunState {
  switch (e.type) {
    case 'plan': {
      // Steps already heard of keep their state; the plan gives the order and the labels.
      const steps = Object.fromEntries(e.steps.map((s) => [s.id, stepState(state, s.id)]));
      return { ...state, plan: e.steps, steps: { ...state.steps, ...steps } };
    }
    case 'step-start':
    case 'step-done':
    case 'step-fail':
      return onStepEvent(state, e, now);
    case 'accel':
      return { ...state, accel: e.accel, accelFallback: e.note ?? state.accelFallback };
    case 'qemu-started':
      return { ...state, accel: e.accel, port: e.port };
    case 'ssh-attempt':
      return { ...state, ssh: { attempt: e.attempt, elapsedMs: e.elapsedMs, bootTimeMs: e.bootTimeMs, result: e.result } };
    case 'extract-progress':
      return { ...state, extract: { files: e.files, bytes: e.bytes } };
    case 'classify-progress':
      return { ...state, classify: { done: e.done, total: e.total } };
    case 'console-line': {
      const full = state.console.length >= MAX_CONSOLE;
      return { ...state, console: full ? [...state.console.slice(1), e.line] : [...state.console, e.line], consoleDropped: state.consoleDropped + (full ? 1 : 0) };
    }
    case 'note':
      return { ...state, notes: [...state.notes, e.message].slice(-MAX_NOTES) };
  }
}

/** Apply a batch of events (tests, and replaying a finished run). */
export function replay(events: PipelineEvent[], now = Date.now()): RunState {
  return events.reduce((s, e) => runReducer(s, e, now), initialRunState());
}
