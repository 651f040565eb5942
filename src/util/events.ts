// Progress events of every pipeline (boot, direct reading, classification, audit), consumed by
// the stderr progress lines and the terminal UI. Producers say which steps their run has (a
// `plan`), then report each step; nothing below the CLI writes to stdout or stderr itself.
// Events are plain data (JSON-safe), so real runs can be recorded and replayed in tests.
//
//   plan              the steps of this run, in order, with their labels (boot: overlay, qemu,
//                     ssh, extract, cleanup; direct: image, volume, filesystem, extract, close)
//   step-start/done/fail
//                     a step began / ended well after `ms` / failed with a one-line `reason`
//   accel             the accelerator QEMU runs under, and why (a fallback's reason), as data
//   qemu-started      QEMU is up: accelerator, the SSH forward's port, its pid
//   ssh-attempt       one SSH readiness probe while the guest boots
//   extract-progress  running totals of regular files and bytes taken out of the layer
//   classify-progress files classified so far, of how many
//   console-line      one line of the guest's serial console. RAW GUEST BYTES (latin1): escape
//                     control characters before showing them on a terminal
//   note              anything the user should be told (fallbacks, tar's stderr, skipped entries)

export type Accel = 'kvm' | 'tcg';

export interface PlannedStep {
  id: string;
  label: string;
}

export type PipelineEvent =
  | { type: 'plan'; steps: PlannedStep[] }
  | { type: 'step-start'; step: string; info?: string }
  | { type: 'step-done'; step: string; ms: number; info?: string }
  | { type: 'step-fail'; step: string; reason: string }
  | { type: 'accel'; accel: Accel; note: string | null }
  | { type: 'qemu-started'; accel: Accel; port: number; pid: number }
  | { type: 'ssh-attempt'; attempt: number; elapsedMs: number; bootTimeMs: number; result: 'not-up' | 'ok' }
  | { type: 'extract-progress'; files: number; bytes: number }
  | { type: 'classify-progress'; done: number; total: number }
  | { type: 'console-line'; line: string }
  | { type: 'note'; message: string };

export type OnEvent = (e: PipelineEvent) => void;

/** Call `onEvent` if given; a throwing listener never breaks the pipeline. */
export function emit(onEvent: OnEvent | undefined, e: PipelineEvent): void {
  if (!onEvent) return;
  try {
    onEvent(e);
  } catch {
    // listeners are observers only
  }
}

/**
 * Run `fn` as step `step`: start, then done (with `info` from the result) or fail (with the
 * error's message), so no producer forgets one of the three.
 */
export async function runStep<T>(
  onEvent: OnEvent | undefined,
  step: string,
  fn: () => Promise<T>,
  info?: { start?: string; done?: (r: T) => string | undefined },
): Promise<T> {
  emit(onEvent, { type: 'step-start', step, ...(info?.start ? { info: info.start } : {}) });
  const t0 = Date.now();
  try {
    const r = await fn();
    const doneInfo = info?.done?.(r);
    emit(onEvent, { type: 'step-done', step, ms: Date.now() - t0, ...(doneInfo ? { info: doneInfo } : {}) });
    return r;
  } catch (err) {
    emit(onEvent, { type: 'step-fail', step, reason: err instanceof Error ? err.message.replace(/\s*\n\s*/g, ' ') : String(err) });
    throw err;
  }
}
