// The Run screen: steps with a spinner, then a tick or a cross and a duration; SSH attempts
// against the boot time; extraction and classification progress; accel and KVM fallback; the
// console (escaped); failure, retry; Esc, q and Ctrl-C abort and wait for the clean-up.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App, type Outcome } from '../../src/tui/app.js';
import type { DiagnoseEvent, DiagnoseOptions, DiagnoseResult, RunControl } from '../../src/diagnose/types.js';
import { BOOT_EVENTS, FINISH_EVENTS, FakeRun, LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { KEY, press, waitFor } from './ink-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(() => fx?.remove());
afterEach(() => cleanup());

const size = { columns: 100, rows: 30 };

/** A run driven step by step from the test. */
class ManualRun {
  emit: (e: DiagnoseEvent) => void = () => {};
  resolve: (r: DiagnoseResult) => void = () => {};
  reject: (e: Error) => void = () => {};
  signal: AbortSignal | undefined;
  run = (_o: DiagnoseOptions, ctl: RunControl) =>
    new Promise<DiagnoseResult>((resolve, reject) => {
      this.emit = (e) => ctl.onEvent?.(e);
      this.resolve = resolve;
      this.reject = reject;
      this.signal = ctl.signal;
    });
}

function stepLine(frame: string, label: string): string {
  return frame.split('\n').find((l) => l.includes(label)) ?? '';
}

async function startAt(d: ReturnType<typeof deps>, onExit?: (o: Outcome) => void) {
  const r = render(<App deps={d} init={init({ layer: LAYER_ID, expected: fx.expected })} size={size} onExit={onExit} />);
  await waitFor(() => r.lastFrame()!.includes('Sources'));
  await press(r.stdin, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes('Run'));
  return r;
}

describe('Run screen', () => {
  it('shows each step as it goes: spinner, tick or cross, durations, SSH attempts, progress, accel', async () => {
    const m = new ManualRun();
    const r = await startAt(deps(new FakeRun(fx.corrupt), { run: m.run }));
    await waitFor(() => stepLine(r.lastFrame()!, 'Resolve the layer').startsWith('·'));
    m.emit({ type: 'step-start', step: 'resolve' });
    await waitFor(() => /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Resolve the layer/.test(stepLine(r.lastFrame()!, 'Resolve the layer')));
    for (const e of BOOT_EVENTS.slice(1)) m.emit(e);
    await waitFor(() => stepLine(r.lastFrame()!, 'Wait for SSH').includes('attempt 4, 7.2 s of 90 s'));
    let f = r.lastFrame()!;
    expect(stepLine(f, 'Resolve the layer')).toMatch(/^✓ Resolve the layer\s+12 ms\s+layer 1a3b60d28d33, chain of 4/);
    expect(stepLine(f, 'Create the overlay')).toMatch(/^✓ Create the overlay\s+31 ms/);
    expect(stepLine(f, 'Start QEMU')).toMatch(/^✓ Start QEMU\s+210 ms\s+accel tcg, port 40123, attempt 2/);
    expect(stepLine(f, 'Wait for SSH')).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Wait for SSH/);
    expect(f).toMatch(/Accel: TCG \(emulation: slower boot\)\s+KVM failed \(failed to initialize kvm\); fell back to TCG/);
    // Extraction and classification progress.
    m.emit(FINISH_EVENTS[0]!);
    m.emit(FINISH_EVENTS[1]!);
    m.emit({ type: 'step-start', step: 'extract', info: '/home/opam/src' });
    m.emit({ type: 'extract-progress', files: 3, bytes: 4096 });
    await waitFor(() => stepLine(r.lastFrame()!, 'Extract the files').includes('3 files, 4.0 KiB'));
    m.emit({ type: 'step-done', step: 'extract', ms: 300 });
    m.emit({ type: 'step-start', step: 'classify' });
    m.emit({ type: 'classify-progress', done: 2, total: 6 });
    await waitFor(() => stepLine(r.lastFrame()!, 'Classify').includes('2 of 6 files'));
    f = r.lastFrame()!;
    expect(stepLine(f, 'Wait for SSH')).toMatch(/^✓ Wait for SSH\s+8\.4 s\s+attempt 5, 8\.4 s of 90 s/);
    expect(stepLine(f, 'Extract the files')).toMatch(/^✓ Extract the files\s+300 ms/);
    // Done: the results come up by themselves.
    for (const e of FINISH_EVENTS.slice(-3)) m.emit(e);
    m.resolve(fx.corrupt);
    await waitFor(() => r.lastFrame()!.includes('Results'));
    // Esc goes back to the finished run, Enter to the results again.
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Enter shows the results'));
    expect(stepLine(r.lastFrame()!, 'Stop QEMU, remove overlay')).toMatch(/^✓/);
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('Results'));
  });

  it('c toggles the serial console; its raw bytes are escaped', async () => {
    const m = new ManualRun();
    const r = await startAt(deps(new FakeRun(fx.corrupt), { run: m.run }));
    for (const e of BOOT_EVENTS) m.emit(e);
    await waitFor(() => r.lastFrame()!.includes('attempt 4'));
    expect(r.lastFrame()).not.toContain('Serial console');
    await press(r.stdin, 'c');
    await waitFor(() => r.lastFrame()!.includes('Serial console'));
    const f = r.lastFrame()!;
    expect(f).toContain('Linux version 6.1.0 (debian)');
    expect(f).toContain('evil console \\e[2J\\e]0;owned\\x07 line');
    expect(f).not.toMatch(/\x1b\]0;owned/);
    expect(f).not.toContain('\x07');
    await press(r.stdin, 'c');
    await waitFor(() => !r.lastFrame()!.includes('Serial console'));
  });

  it('a failed run shows the cross and the one-line reason; r runs again', async () => {
    const run = new FakeRun(fx.corrupt, { fail: 'guest did not answer SSH within 90 s' });
    const r = await startAt(deps(run));
    await waitFor(() => r.lastFrame()!.includes('✗ The run failed: guest did not answer SSH within 90 s'));
    expect(stepLine(r.lastFrame()!, 'Wait for SSH')).toMatch(/^✗ Wait for SSH.*guest did not answer SSH within 90 s/);
    await press(r.stdin, 'r');
    await waitFor(() => run.calls.length === 2);
  });

  it('Esc during the run stops it, waits for QEMU to stop and the overlay to go, then goes back', async () => {
    const run = new FakeRun(fx.corrupt, { hold: true });
    const d = deps(run);
    const r = await startAt(d);
    await waitFor(() => r.lastFrame()!.includes('Wait for SSH'));
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    expect(run.aborted).toBe(1);
    expect(run.cleanedUp).toBe(1);
    expect(d.cleanups).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['q', 'q', { kind: 'quit' }],
    ['Ctrl-C', KEY.ctrlC, { kind: 'interrupted' }],
  ])('%s during the boot aborts the run and exits only after the clean-up', async (_name, key, outcome) => {
    const run = new FakeRun(fx.corrupt, { hold: true });
    const d = deps(run);
    const order: string[] = [];
    const cleanup0 = d.cleanup;
    d.cleanup = async () => {
      order.push(`cleanup (pipeline cleaned up: ${run.cleanedUp})`);
      await cleanup0();
    };
    let exited: Outcome | null = null;
    const r = await startAt(d, (o) => {
      order.push('exit');
      exited = o;
    });
    await waitFor(() => stepLine(r.lastFrame()!, 'Wait for SSH').includes('attempt 4'));
    await press(r.stdin, key);
    await waitFor(() => exited !== null);
    expect(exited).toEqual(outcome);
    expect(run.aborted).toBe(1);
    expect(order[0]).toBe('cleanup (pipeline cleaned up: 1)');
    expect(order[order.length - 1]).toBe('exit');
  });

  it('q after the verdict exits with it', async () => {
    let exited: Outcome | null = null;
    const r = await startAt(deps(new FakeRun(fx.corrupt)), (o) => (exited = o));
    await waitFor(() => r.lastFrame()!.includes('Results'));
    await press(r.stdin, 'q');
    await waitFor(() => exited !== null);
    expect(exited).toEqual({ kind: 'verdict', verdict: fx.corrupt.report.verdict.kind });
  });
});
