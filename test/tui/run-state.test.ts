import { describe, expect, it } from 'vitest';
import { replay, runReducer, initialRunState, MAX_CONSOLE } from '../../src/tui/run-state.js';
import { BOOT_EVENTS, FINISH_EVENTS } from './fixtures.js';

describe('run state (pipeline events → what the Run screen draws)', () => {
  it('follows a boot that fell back from KVM to TCG', () => {
    const s = replay(BOOT_EVENTS, 1000);
    expect(s.steps.resolve).toMatchObject({ status: 'done', ms: 12 });
    expect(s.steps.overlay.status).toBe('done');
    // QEMU was started twice: KVM failed, TCG runs.
    expect(s.steps.qemu).toMatchObject({ status: 'done', attempts: 2 });
    expect(s.accel).toBe('tcg');
    expect(s.port).toBe('40123');
    expect(s.accelFallback).toMatch(/KVM failed.*TCG/);
    expect(s.steps.ssh.status).toBe('running');
    expect(s.ssh).toEqual({ attempt: 4, elapsedMs: 7200, bootTimeMs: 90_000, result: 'not-up' });
    expect(s.console).toHaveLength(2);
  });

  it('ends with every step done, extraction and classification counted', () => {
    const s = replay([...BOOT_EVENTS, ...FINISH_EVENTS]);
    for (const step of Object.values(s.steps)) expect(step.status).toBe('done');
    expect(s.extract).toEqual({ files: 6, bytes: 7000 });
    expect(s.classify).toEqual({ done: 6, total: 6 });
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
