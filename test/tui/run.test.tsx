// The Run screen, fed the events of recorded runs of the real pipeline: steps with a spinner, then
// a tick or a cross and a duration; SSH attempts against the boot time; accel and the KVM
// fallback; the console (escaped); a failed boot, retry, and reading the disk directly instead;
// the direct steps; Esc, q and Ctrl-C abort and wait for the clean-up.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App, type Outcome } from '../../src/tui/app.js';
import type { DiagnoseEvent, DiagnoseOptions, DiagnoseResult, RunControl } from '../../src/diagnose/types.js';
import { LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { KEY, press, waitFor } from './ink-helpers.js';
import { eventsOf, resultOf } from './recording.js';
import { ReplayRun, after } from './replay.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(() => fx?.remove());
afterEach(() => cleanup());

const size = { columns: 100, rows: 30 };
const SPIN = /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
const inSsh = (s: Parameters<typeof after>[0], n = 2) => after(s, (e) => e.type === 'ssh-attempt', n);

/** A run driven event by event from the test. */
class ManualRun {
  emit: (e: DiagnoseEvent) => void = () => {};
  resolve: (r: DiagnoseResult) => void = () => {};
  run = (_o: DiagnoseOptions, ctl: RunControl) =>
    new Promise<DiagnoseResult>((resolve) => {
      this.emit = (e) => ctl.onEvent?.(e);
      this.resolve = resolve;
    });
}

function stepLine(frame: string, label: string): string {
  return frame.split('\n').find((l) => l.includes(label)) ?? '';
}

async function startAt(d: ReturnType<typeof deps>, onExit?: (o: Outcome) => void) {
  const r = render(<App deps={d} init={init({ layer: LAYER_ID, expected: fx.expected })} size={size} onExit={onExit} />);
  await waitFor(() => r.lastFrame()!.includes('Sources'));
  await press(r.stdin, KEY.enter);
  // A replayed run may finish before a frame of the Run screen is seen: its results count too.
  await waitFor(() => /· Run ·|· Results ·/.test(r.lastFrame()!));
  return r;
}

describe('Run screen', () => {
  it('a boot where KVM failed: each step as it goes, the restart under TCG and why, SSH attempts, progress', async () => {
    const m = new ManualRun();
    const r = await startAt(deps({ run: m.run }));
    const events = eventsOf('boot-kvm-failed');
    await waitFor(() => stepLine(r.lastFrame()!, 'Resolve the layer').startsWith('·'));
    m.emit(events[0]!);
    await waitFor(() => SPIN.test(stepLine(r.lastFrame()!, 'Resolve the layer')));
    const upTo = inSsh('boot-kvm-failed', 2);
    for (const e of events.slice(1, upTo)) m.emit(e);
    await waitFor(() => /attempt 2, \d+\.\d s of 120 s/.test(stepLine(r.lastFrame()!, 'Wait for SSH')));
    let f = r.lastFrame()!;
    expect(stepLine(f, 'Resolve the layer')).toMatch(/^✓ Resolve the layer\s+\d+ ms\s+layer 1a3b60d28d33, chain of 4/);
    expect(stepLine(f, 'Create the overlay')).toMatch(/^✓ Create the overlay\s+\d+ ms/);
    expect(stepLine(f, 'Start QEMU')).toMatch(/^✓ Start QEMU\s+\d+ ms\s+accel tcg, port \d+, attempt 2/);
    expect(SPIN.test(stepLine(f, 'Wait for SSH'))).toBe(true);
    expect(f).toMatch(/Accel: TCG \(emulation: slower boot\)\s+KVM failed \(qemu-system-x86_64 exited at start: [^\n]*\); fell back\s+to TCG/);
    // The rest: extraction and classification progress, then the results by themselves.
    const rest = events.slice(upTo);
    const classify = rest.findIndex((e) => e.type === 'classify-progress');
    for (const e of rest.slice(0, classify + 1)) m.emit(e);
    await waitFor(() => stepLine(r.lastFrame()!, 'Classify').includes('1 of 6 files'));
    f = r.lastFrame()!;
    // The recording's last SSH attempt (its count depends on how fast the guest came up).
    const attempts = events.filter((e) => e.type === 'ssh-attempt').length;
    expect(stepLine(f, 'Wait for SSH')).toMatch(new RegExp(`^✓ Wait for SSH\\s+\\d+\\.\\d s\\s+attempt ${attempts}, \\d+\\.\\d s of 120 s`));
    expect(stepLine(f, 'Extract the files')).toMatch(/^✓ Extract the files/);
    for (const e of rest.slice(classify + 1)) m.emit(e);
    m.resolve(resultOf('boot-kvm-failed'));
    await waitFor(() => r.lastFrame()!.includes('Results'));
    // Esc goes back to the finished run, Enter to the results again.
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Enter shows the results'));
    expect(stepLine(r.lastFrame()!, 'Stop QEMU, remove overlay')).toMatch(/^✓/);
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('Results'));
  });

  it('c toggles the serial console; raw bytes in it are escaped', async () => {
    // The sample guest's console is quiet: a hostile line is added to the recorded boot.
    const hostile: DiagnoseEvent = { type: 'console-line', line: 'evil console \x1b[2J\x1b]0;owned\x07 line' };
    const r = await startAt(deps(new ReplayRun('boot-kvm-unusable', { holdAt: inSsh('boot-kvm-unusable', 3) })));
    await waitFor(() => stepLine(r.lastFrame()!, 'Wait for SSH').includes('attempt 3'));
    expect(r.lastFrame()).not.toContain('Serial console');
    await press(r.stdin, 'c');
    await waitFor(() => r.lastFrame()!.includes('Serial console'));
    expect(r.lastFrame()).toContain('SYSLINUX 6.04');
    cleanup();
    const r2 = await startAt(deps(new ReplayRun('boot-timeout', { extra: [hostile] })));
    await press(r2.stdin, 'c');
    await waitFor(() => r2.lastFrame()!.includes('evil console'));
    const f = r2.lastFrame()!;
    expect(f).toContain('evil console \\e[2J\\e]0;owned\\x07 line');
    expect(f).not.toMatch(/\x1b\]0;owned/);
    expect(f).not.toContain('\x07');
    await press(r2.stdin, 'c');
    await waitFor(() => !r2.lastFrame()!.includes('Serial console'));
  });

  it('a boot that timed out: the cross and the one-line reason; r runs again', async () => {
    const run = new ReplayRun('boot-timeout');
    const r = await startAt(deps(run));
    await waitFor(() => r.lastFrame()!.includes('✗ The run failed:'));
    const f = r.lastFrame()!;
    expect(f).toMatch(/✗ The run failed: layer 1a3b60d28d33: guest did not answer SSH on 127\.0\.0\.1:\d+ within 4 s/);
    expect(stepLine(f, 'Wait for SSH')).toMatch(/^✗ Wait for SSH.*guest did not answer SSH/);
    expect(f).toContain('r run again · d read the disk directly instead (no boot)');
    await press(r.stdin, 'r');
    await waitFor(() => run.calls.length === 2);
    expect(run.calls[1]!.via).toBe('boot');
  });

  it('after a failed boot, d reads the disk directly: the direct steps, then the results say how', async () => {
    const run = new ReplayRun('boot-timeout').andThen('direct');
    const r = await startAt(deps(run));
    await waitFor(() => r.lastFrame()!.includes('✗ The run failed:'));
    await press(r.stdin, 'd');
    await waitFor(() => r.lastFrame()!.includes('Results'));
    expect(run.calls).toHaveLength(2);
    expect(run.calls[1]).toMatchObject({ via: 'direct', layer: LAYER_ID });
    expect(run.calls[1]!.partition).toBeUndefined();
    expect(r.lastFrame()).toMatch(/the disk read directly \(no boot\) · 6 files[\s\S]*mbr\s+partition 2 \(ufs1\) mounted on \/home/);
    // Back on the Run screen: the direct steps, all done, no QEMU.
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Enter shows the results'));
    const f = r.lastFrame()!;
    for (const label of ['Open the image chain', 'Find the partition', 'Read the files', 'Classify', 'Close the image']) expect(stepLine(f, label), label).toMatch(/^✓/);
    expect(stepLine(f, 'Find the partition')).toContain('mbr partition 2, ufs1 on /home');
    expect(f).not.toContain('Start QEMU');
    expect(f).not.toContain('Accel:');
    expect(f).toContain('disk read directly');
    // And the Sources screen now says so too.
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    expect(r.lastFrame()).toContain('(•) reading its disk directly');
  });

  it('a failed direct run offers no direct reading again', async () => {
    const run = new ReplayRun('direct-failed');
    const r = render(<App deps={deps(run)} init={init({ layer: LAYER_ID, expected: fx.expected, options: { ...init().options, via: 'direct', partition: '9' } })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('✗ The run failed:'));
    const f = r.lastFrame()!;
    expect(stepLine(f, 'Find the partition')).toMatch(/^✗ Find the partition/);
    expect(f).not.toContain('d read the disk directly');
    await press(r.stdin, 'd');
    await press(r.stdin, 'r');
    await waitFor(() => run.calls.length === 2);
    expect(run.calls.map((c) => [c.via, c.partition])).toEqual([
      ['direct', '9'],
      ['direct', '9'],
    ]);
  });

  it('Esc during the boot stops it, waits for the pipeline to stop QEMU and remove the overlay, then goes back', async () => {
    const run = new ReplayRun('boot-kvm-unusable', { holdAt: inSsh('boot-kvm-unusable', 2) });
    const d = deps(run);
    const r = await startAt(d);
    await waitFor(() => stepLine(r.lastFrame()!, 'Wait for SSH').includes('attempt 2'));
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
    const run = new ReplayRun('boot-kvm-failed', { holdAt: inSsh('boot-kvm-failed', 4) });
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
    await waitFor(() => r.lastFrame()!.includes('Stopping QEMU and removing the overlay before exiting…') || exited !== null);
    await waitFor(() => exited !== null);
    expect(exited).toEqual(outcome);
    expect(run.aborted).toBe(1);
    expect(order[0]).toBe('cleanup (pipeline cleaned up: 1)');
    expect(order[order.length - 1]).toBe('exit');
  });

  it('q after the verdict exits with it', async () => {
    let exited: Outcome | null = null;
    const r = await startAt(deps(new ReplayRun('boot-kvm-unusable')), (o) => (exited = o));
    await waitFor(() => r.lastFrame()!.includes('Results'));
    await press(r.stdin, 'q');
    await waitFor(() => exited !== null);
    expect(exited).toEqual({ kind: 'verdict', verdict: 'soft-updates-data-loss' });
  });

  it('q after a failed run exits with the failure', async () => {
    let exited: Outcome | null = null;
    const r = await startAt(deps(new ReplayRun('boot-timeout')), (o) => (exited = o));
    await waitFor(() => r.lastFrame()!.includes('✗ The run failed:'));
    await press(r.stdin, 'q');
    await waitFor(() => exited !== null);
    expect(exited).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/did not answer SSH/) });
  });
});
