// Progress events of the VM and extraction layers, consumed by the diagnose pipeline and the TUI.
//
// Every long-running function here takes `onEvent?: OnEvent` and reports through it; nothing in
// src/vm or src/extract writes to stdout or stderr itself. Events are plain data (JSON-safe).
//
//   step-start        a step began ('overlay', 'qemu', 'ssh', 'extract', 'cleanup')
//   step-done         it ended well after `ms` milliseconds; `info` is a short human note
//                     (e.g. "tcg, port 40123" for 'qemu', "6 files, 9876 bytes" for 'extract')
//   step-fail         it failed; `reason` is the one-line error
//   ssh-attempt       one `ssh ... exit` probe while waiting for the guest: attempt number (1-based),
//                     elapsed time since QEMU started, the boot time allowed (ms), and what the
//                     probe saw ('not-up': connection refused/reset/timeout, or 'ok')
//   extract-progress  running totals of regular files and bytes parsed from the guest's tar stream
//   console-line      one line of the guest's serial console. RAW GUEST BYTES (decoded latin1):
//                     escape control characters before showing them on a terminal
//   note              anything the user should be told: accel fallbacks and why, privilege
//                     fallbacks, tar's stderr, skipped entries

export type Step = 'overlay' | 'qemu' | 'ssh' | 'extract' | 'cleanup';

export type PipelineEvent =
  | { type: 'step-start'; step: Step; info?: string }
  | { type: 'step-done'; step: Step; ms: number; info?: string }
  | { type: 'step-fail'; step: Step; reason: string }
  | { type: 'ssh-attempt'; attempt: number; elapsedMs: number; bootTimeMs: number; result: 'not-up' | 'ok' }
  | { type: 'extract-progress'; files: number; bytes: number }
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
