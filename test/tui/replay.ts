// A stand-in for runDiagnose in the TUI's tests that replays a recorded run of the real pipeline
// (recording.ts, test/tui/fixtures/*.json): its events in order (without the waits between them),
// then its recorded outcome: the result it returned, or its one-line failure. A test may hold the
// replay before a given event (to act while the run is under way) and release it.
//
// Aborting replays what the real pipeline did when a recorded boot was aborted (boot-aborted:
// the events after the abort, then the `interrupted` failure), after the run's own events so far.

import { setTimeout as sleep } from 'node:timers/promises';
import type { DiagnoseEvent, DiagnoseOptions, DiagnoseResult, RunControl } from '../../src/diagnose/types.js';
import { UserError } from '../../src/util/errors.js';
import { eventsOf, loadRecording, resultOf, type Scenario } from './recording.js';

export interface ReplayOptions {
  /** Hold before the event at this index until release(). */
  holdAt?: number;
  /** Resolve with this result instead of the recorded one (a report with every class, say). */
  result?: DiagnoseResult | (() => DiagnoseResult);
  /** Events added at the end of the recorded ones, before the outcome (a hostile console line). */
  extra?: DiagnoseEvent[];
}

/** Index just after the `n`th event (1-based) of the recording that satisfies `pred`. */
export function after(s: Scenario, pred: (e: DiagnoseEvent) => boolean, n = 1): number {
  const events = eventsOf(s);
  let seen = 0;
  for (let i = 0; i < events.length; i++) if (pred(events[i]!) && ++seen === n) return i + 1;
  throw new Error(`the ${s} recording has fewer than ${n} such events`);
}

/** What the real pipeline emitted after it was aborted, and how it failed. */
function abortTail(): { events: DiagnoseEvent[]; message: string } {
  const r = loadRecording('boot-aborted');
  const events = r.events.filter((e) => e.at >= (r.abortedAt ?? Infinity)).map((e) => e.event);
  // The abort's own trigger (the first SSH attempt) came before the abort: not part of the tail.
  return { events: events.filter((e) => e.type !== 'ssh-attempt'), message: r.outcome.kind === 'error' ? r.outcome.message : 'interrupted' };
}

export class ReplayRun {
  calls: DiagnoseOptions[] = [];
  aborted = 0;
  /** Runs whose abort was replayed to the end (the pipeline's cleanup done). */
  cleanedUp = 0;
  private releaseFn: (() => void) | null = null;
  private next: { s: Scenario; opts: ReplayOptions }[] = [];

  constructor(
    private scenario: Scenario,
    private opts: ReplayOptions = {},
  ) {}

  /** The scenario of the next run (after a failed boot, `d` runs again reading the disk directly). */
  andThen(s: Scenario, opts: ReplayOptions = {}): this {
    this.next.push({ s, opts });
    return this;
  }

  release(): void {
    this.releaseFn?.();
  }

  run = async (o: DiagnoseOptions, ctl: RunControl): Promise<DiagnoseResult> => {
    this.calls.push(o);
    if (this.calls.length > 1 && this.next.length) ({ s: this.scenario, opts: this.opts } = this.next.shift()!);
    const { scenario, opts } = this;
    const emit = (e: DiagnoseEvent) => ctl.onEvent?.(structuredClone(e));
    const aborted = new Promise<never>((_, reject) => {
      ctl.signal?.addEventListener('abort', () => {
        this.aborted++;
        void (async () => {
          const tail = abortTail();
          for (const e of tail.events) {
            await sleep(5);
            emit(e);
          }
          this.cleanedUp++;
          reject(new UserError(tail.message));
        })();
      });
    });
    aborted.catch(() => {});
    const work = (async () => {
      const events = [...eventsOf(scenario), ...(opts.extra ?? [])];
      for (let i = 0; i <= events.length; i++) {
        if (i === opts.holdAt) await new Promise<void>((r) => (this.releaseFn = r));
        if (ctl.signal?.aborted) return new Promise<never>(() => {});
        if (i === events.length) break;
        emit(events[i]!);
        // A turn of the event loop between events, as between the pipeline's awaits.
        await new Promise((r) => setImmediate(r));
      }
      const out = loadRecording(scenario).outcome;
      if (out.kind === 'error') throw new UserError(out.message);
      return typeof opts.result === 'function' ? opts.result() : (opts.result ?? resultOf(scenario));
    })();
    return Promise.race([work, aborted]);
  };
}
