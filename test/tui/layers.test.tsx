// The Layers screen, inside the App: newest first, filter by typing, the job log's layer
// preselected, broken layers refused, Enter goes on to the Sources; the audit's cached verdicts,
// and `A` auditing the store from here, with progress; q, Ctrl-C and Esc stop it cleanly.

import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App, type Outcome } from '../../src/tui/app.js';
import { FakeAudit, auditLines } from './audit-fake.js';
import { CLEAN_ID, LAYER_ID, PARENT_ID, deps, init, layers } from './fixtures.js';
import { ReplayRun } from './replay.js';
import { KEY, press, waitFor } from './ink-helpers.js';
import { fakeResult } from './fake-result.js';

afterEach(() => cleanup());

const size = { columns: 100, rows: 24 };
const selectedLine = (frame: string) => frame.split('\n').find((l) => l.startsWith('▶'));

describe('Layers screen', () => {
  it('lists the layers newest first with id, created, parent, depth and bytes held', async () => {
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }))} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    const f = r.lastFrame()!;
    expect(f).toMatch(/LAYER\s+CREATED\s+PARENT\s+DEPTH\s+HOLDS/);
    const rows = f.split('\n').filter((l) => /^[▶ ] [0-9a-f]{12} /.test(l));
    expect(rows.map((l) => l.slice(2, 14))).toEqual(layers().map((l) => l.id.slice(0, 12)));
    expect(rows[1]).toMatch(/1a3b60d28d33\s+2026-06-29 \d\d:\d\d\s+10d4dd93b2fc\s+4\s+256 KiB/);
    expect(rows[4]).toContain('base linux-sa');
    expect(rows[5]).toContain('✗ backing file /gone/base.q');
    // The first (newest) is selected when there is no job log.
    expect(selectedLine(f)).toContain('a5d476bed47e');
  });

  it('preselects and marks the layer of the job log', async () => {
    const jobLog = { file: '/x/job.log', layerId: LAYER_ID, dst: '/home/opam/src', src: ['tls.opam'] };
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }))} init={init({ jobLog })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    expect(selectedLine(r.lastFrame()!)).toMatch(/1a3b60d28d33.*◀ job log/);
  });

  it('moves with arrows and j/k; typing hex filters by id; / filters by any text', async () => {
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }))} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    await press(r.stdin, 'j', 'j');
    expect(selectedLine(r.lastFrame()!)).toContain(CLEAN_ID.slice(0, 12));
    await press(r.stdin, 'k', KEY.up);
    expect(selectedLine(r.lastFrame()!)).toContain('a5d476bed47e');
    await press(r.stdin, '8', '5');
    await waitFor(() => r.lastFrame()!.includes('1 of 6 layers'));
    expect(r.lastFrame()).toContain('filter: 85');
    expect(selectedLine(r.lastFrame()!)).toContain(CLEAN_ID.slice(0, 12));
    await press(r.stdin, KEY.backspace, KEY.backspace);
    await waitFor(() => r.lastFrame()!.includes(' 6 layers'));
    // `/` takes any text: the base name matches the layers sitting on it (all six here)...
    await press(r.stdin, '/', 'l', 'i', 'n', 'u', 'x', KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('filter: linux'));
    expect(r.lastFrame()).toMatch(/Layers · \/store\s+6 layers\n/);
    // ... a date only the layers of that day.
    await press(r.stdin, KEY.esc, '/', '0', '6', '-', '0', '1', KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('1 of 6 layers'));
    expect(selectedLine(r.lastFrame()!)).toContain('ffff00000000');
    await press(r.stdin, KEY.esc, '/', 'z', 'q', 'z');
    await waitFor(() => r.lastFrame()!.includes('No layer matches “zqz”'));
    await press(r.stdin, KEY.esc);
    await waitFor(() => !r.lastFrame()!.includes('filter:'));
    // q typed after `/` went into the filter and did not quit: the screen is still here.
    expect(r.lastFrame()).toContain('Layers');
  });

  it('refuses a layer whose chain is broken, and goes on to the Sources with a good one', async () => {
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }))} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    await press(r.stdin, 'G', KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('layer ffff00000000: backing file /gone/base.qcow2: does not exist'));
    await press(r.stdin, 'g', 'j', 'j', 'j', KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    expect(r.lastFrame()).toContain(`Layer ${PARENT_ID}`);
    // Back, and the selection is kept.
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    expect(selectedLine(r.lastFrame()!)).toContain(PARENT_ID.slice(0, 12));
  });

  it('a layer given on the command line skips the Layers screen', async () => {
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }))} init={init({ layer: LAYER_ID })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    expect(r.lastFrame()).toContain(`Layer ${LAYER_ID}`);
  });

  it('says so when the store cannot be read', async () => {
    const d = deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }), { listLayers: async () => Promise.reject(new Error('store /nope: does not exist')) });
    const r = render(<App deps={d} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('store /nope: does not exist'));
  });
});

describe('Layers screen: the audit', () => {
  const rowOf = (frame: string, id: string) => frame.split('\n').find((l) => l.slice(2, 14) === id.slice(0, 12)) ?? '';

  it('shows each layer’s cached audit verdict in a column, and what was found in the selected one', async () => {
    const audit = new FakeAudit({ cached: auditLines() });
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }), audit)} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('DATA LOSS'));
    const f = r.lastFrame()!;
    expect(f).toMatch(/DEPTH\s+HOLDS\s+AUDIT/);
    expect(rowOf(f, LAYER_ID)).toMatch(/256 KiB\s+DATA LOSS/);
    expect(rowOf(f, CLEAN_ID)).toMatch(/256 KiB\s+clean/);
    expect(rowOf(f, 'a5d476bed47e')).toMatch(/\s+inconclusive/);
    // The broken layer keeps its reason where the verdict would be.
    expect(rowOf(f, 'ffff00000000')).toContain('✗ backing file /gone/base.qco');
    await press(r.stdin, 'j');
    await waitFor(() => r.lastFrame()!.includes('audit: 3 damaged files: /home/opam/src/tls.opam (directory-block), /home/opam/src/tls-async.opam'));
    expect(audit.started).toBe(0);
    // The help names the audit's keys.
    await press(r.stdin, '?');
    await waitFor(() => r.lastFrame()!.includes('Help · Layers'));
    expect(r.lastFrame()).toMatch(/A\s+audit the whole store/);
    expect(r.lastFrame()).toMatch(/Esc\s+clear the filter; else stop the audit/);
  });

  it('A audits the whole store: progress, rows updating as lines arrive, the totals at the end', async () => {
    const audit = new FakeAudit({ holdAfter: 2 });
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }), audit)} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    expect(rowOf(r.lastFrame()!, LAYER_ID)).toMatch(/256 KiB\s+-/);
    await press(r.stdin, 'A');
    await waitFor(() => r.lastFrame()!.includes('Auditing the store: 2 of 6 layers'));
    let f = r.lastFrame()!;
    expect(f).toMatch(/Auditing the store: 2 of 6 layers · \d+\.\d layers\/s · about .* left · Esc stops/);
    expect(rowOf(f, LAYER_ID)).toMatch(/DATA LOSS/);
    expect(rowOf(f, CLEAN_ID)).toMatch(/256 KiB\s+-/);
    // A second A while it runs says so.
    await press(r.stdin, 'A');
    await waitFor(() => r.lastFrame()!.includes('The audit is already running'));
    expect(audit.started).toBe(1);
    audit.release();
    await waitFor(() => r.lastFrame()!.includes('Audit done: 6 layers, 3 clean, 1 corrupt, 1 inconclusive, 1 errors'));
    f = r.lastFrame()!;
    expect(rowOf(f, CLEAN_ID)).toMatch(/256 KiB\s+clean/);
    expect(rowOf(f, 'ffff00000000')).toContain('✗ backing file');
  });

  it('Esc stops the audit with the lines so far', async () => {
    const audit = new FakeAudit({ holdAfter: 3 });
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }), audit)} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    await press(r.stdin, 'A');
    await waitFor(() => r.lastFrame()!.includes('3 of 6 layers'));
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Audit stopped: 3 layers, 1 clean, 1 corrupt, 1 inconclusive, 0 errors'));
    expect(audit.aborted).toBe(1);
    expect(rowOf(r.lastFrame()!, PARENT_ID)).toMatch(/\s+-\s*$/);
  });

  it.each([
    ['q', 'q', { kind: 'quit' }],
    ['Ctrl-C', KEY.ctrlC, { kind: 'interrupted' }],
  ])('%s during the audit stops it before exiting', async (_name, key, outcome) => {
    const audit = new FakeAudit({ holdAfter: 1 });
    const d = deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }), audit);
    const order: string[] = [];
    const cleanup0 = d.cleanup;
    d.cleanup = async () => {
      order.push(`cleanup (audit stopped: ${audit.aborted})`);
      await cleanup0();
    };
    let exited: Outcome | null = null;
    const r = render(<App deps={d} init={init()} size={size} onExit={(o) => ((exited = o), order.push('exit'))} />);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    await press(r.stdin, 'A');
    await waitFor(() => r.lastFrame()!.includes('1 of 6 layers'));
    await press(r.stdin, key);
    await waitFor(() => exited !== null);
    expect(exited).toEqual(outcome);
    expect(audit.aborted).toBe(1);
    expect(order).toEqual(['cleanup (audit stopped: 1)', 'exit']);
  });

  it('an audit that fails says why; the cache that cannot be read is said too', async () => {
    const audit = new FakeAudit({ fail: 'store /store: permission denied' });
    const d = deps(new ReplayRun('boot-kvm-unusable', { result: fakeResult }), { auditStore: audit.auditStore, cachedAudits: async () => Promise.reject(new Error('cache: not a directory')) });
    const r = render(<App deps={d} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('no audit verdicts: cache: not a directory'));
    await press(r.stdin, 'A');
    await waitFor(() => r.lastFrame()!.includes('The audit failed: store /store: permission denied'));
    // The lines that came before the failure stay.
    expect(rowOf(r.lastFrame()!, LAYER_ID)).toMatch(/DATA LOSS/);
  });
});
