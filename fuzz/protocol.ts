// What the runner and a worker share: the worker's parameters, its outcomes, the shared-memory layout.

export interface WorkerData {
  target: string;
  from: number;
  to: number;
  runSeed: number;
  work: string;
  /** [0] index being run, [1] its length, [2] 1 while running; then the input bytes. */
  shared: SharedArrayBuffer;
  /** Memory bound: heap plus external bytes. */
  memoryLimitBytes: number;
  /** Replay these indexes only. */
  only?: number[];
  /** Run these exact bytes once (--input). */
  exact?: Uint8Array;
}

export interface Outcome {
  index: number;
  kind: 'crash' | 'memory';
  message: string;
  stack: string;
  input: Uint8Array;
}

export const HEADER_INTS = 3;
