// The Run screen's model on recorded runs of the real pipeline (test/tui/fixtures/*.json).

import { describe, expect, it } from 'vitest';
import { replay, runReducer, initialRunState, stepState, MAX_CONSOLE } from '../../src/tui/run-state.js';
import { eventsOf } from './recording.js';
import { after } from './replay.js';

const ids = (s: ReturnType<typeof replay>) => s.plan.map((p) => p.id);

describe('run state (pipeline events → what the Run screen draws)', () => {
  it('a boot where KVM was tried and failed: QEMU started twice, TCG, the reason', () => {
    const events = eventsOf('boot-kvm-failed');
    const s = replay(events.slice(0, after('boot-kvm-failed', (e) => e.type === 'ssh-attempt', 2)), 1000);
    expect(ids(s)).toEqual(['resolve', 'overlay', 'qemu', 'ssh', 'extract', 'corpus', 'classify', 'cleanup']);
    expect(s.steps.resolve).toMatchObject({ status: 'done' });
    expect(s.steps.overlay).toMatchObject({ status: 'done', attempts: 2 });
    expect(s.steps.qemu).toMatchObject({ status: 'done', attempts: 2 });
    expect(s.accel).toBe('tcg');
    // KVM's QEMU exited at start (a step failure, not a start): the one QEMU started is TCG's.
    const started = events.filter((e) => e.type === 'qemu-started');
    expect(started).toHaveLength(1);
    expect(s.port).toBe(started[0]!.type === 'qemu-started' ? started[0]!.port : -1);
    expect(s.accelFallback).toMatch(/^KVM failed \(.+\); fell back to TCG$/);
    expect(s.steps.ssh?.status).toBe('running');
    expect(s.ssh).toMatchObject({ attempt: 2, result: 'not-up' });
    expect(s.console.some((l) => l.startsWith('SYSLINUX'))).toBe(true);
  });

  it('a boot where auto found KVM unusable: TCG from the start, and why', () => {
    const s = replay(eventsOf('boot-kvm-unusable'));
    expect(s.accel).toBe('tcg');
    expect(s.accelFallback).toMatch(/^KVM not usable \(.+\); using TCG$/);
    expect(s.steps.qemu).toMatchObject({ status: 'done', attempts: 1 });
    for (const p of s.plan) expect(stepState(s, p.id).status, p.id).toBe('done');
    expect(s.classify).toEqual({ done: 6, total: 6 });
    expect(s.ssh?.result).toBe('ok');
  });

  it('a boot that timed out: the SSH step failed with the reason, the boot cleaned up, later steps never started', () => {
    const s = replay(eventsOf('boot-timeout'), 1000);
    expect(s.steps.ssh).toMatchObject({ status: 'failed', reason: expect.stringMatching(/did not answer SSH .* within 4 s/) });
    expect(stepState(s, 'cleanup').status).toBe('done');
    for (const id of ['extract', 'classify']) expect(stepState(s, id).status, id).toBe('pending');
  });

  it('a direct run: its own steps, no QEMU, no accelerator', () => {
    const s = replay(eventsOf('direct'));
    expect(s.plan.map((p) => p.label)).toEqual(['Resolve the layer', 'Open the image chain', 'Find the partition', 'Read the files', 'Classify', 'Close the image']);
    for (const p of s.plan) expect(stepState(s, p.id).status, p.id).toBe('done');
    expect(s.steps.volume?.info).toMatch(/^mbr partition 2, ufs1 on \/home/);
    expect(s.accel).toBeUndefined();
    expect(s.console).toEqual([]);
  });

  it('before the plan arrives, only the first step is known', () => {
    const s = replay(eventsOf('direct').slice(0, 1));
    expect(ids(s)).toEqual(['resolve']);
    expect(s.steps.resolve?.status).toBe('running');
  });

  it('times a failed step from its start', () => {
    let s = runReducer(initialRunState(), { type: 'step-start', step: 'ssh' }, 1000);
    s = runReducer(s, { type: 'step-fail', step: 'ssh', reason: 'no answer in 90 s' }, 91_000);
    expect(s.steps.ssh).toMatchObject({ status: 'failed', ms: 90_000, reason: 'no answer in 90 s' });
  });

  it('keeps a bounded console', () => {
    let s = initialRunState();
    for (let i = 0; i < MAX_CONSOLE + 10; i++) s = runReducer(s, { type: 'console-line', line: `l${i}` });
    expect(s.console).toHaveLength(MAX_CONSOLE);
    expect(s.consoleDropped).toBe(10);
    expect(s.console[0]).toBe('l10');
  });
});
