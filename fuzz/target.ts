// What a fuzz target is: a parser that reads evidence or guest output, its seeds (valid inputs
// made by real tools where there are some), and how one input is run through it.
//
// An input passes when the parser returns (and the target's own checks of the result hold) or
// throws a `UserError` (one line as printed: messages carry guest bytes raw and are escaped where
// they are printed). Anything else is a crash: another exception, a multi-line
// message, a broken invariant. A run that takes longer than the time limit is a hang (the runner
// watches it from outside the worker), and one that grows the heap or external memory past the
// bound is a memory failure.

import type { Seed } from './mutate.js';

export interface RunContext {
  /** A scratch directory of this worker (on tmpfs when there is one). */
  work: string;
}

export interface FuzzTarget {
  name: string;
  /** The code it exercises, for the report. */
  parser: string;
  /** Inputs run by default (scaled by --scale). */
  inputs: number;
  /** Longest input made. */
  maxLength: number;
  /** Tokens the mutator may insert. */
  dictionary?: string[];
  /** Probability of overwriting only (no length change), default 0.3. */
  inPlace?: number;
  /** Valid inputs to start from. Runs once per worker, in `ctx.work`. */
  seeds(ctx: RunContext): Promise<Seed[]>;
  /** Make a mutated input pass cheap integrity checks (checksums) now and then, to get deeper. */
  fixup?(input: Buffer, coin: number): Buffer;
  run(input: Buffer, ctx: RunContext): void | Promise<void>;
}

/** A broken invariant: always a crash. */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

export function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new InvariantError(what);
}
