// The layout at 80x24 and 200x50, and across a resize: nothing that matters is cut off (the
// verdict, the class column, the step names), and nothing runs past the terminal's edge.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../src/tui/app.js';
import type { DiagnoseResult } from '../../src/diagnose/types.js';
import { LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { ReplayRun, after } from './replay.js';
import { KEY, press, renderAt, stripAnsi, waitFor } from './ink-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(() => fx?.remove());

const CLASSES = /\b(directory-block|foreign-text|foreign-binary|zeros|partial|size-mismatch|missing|modified|extra|match)\b/;

function checkFits(frame: string, columns: number, rows: number) {
  const lines = stripAnsi(frame).split('\n');
  // One line short of the terminal, so ink never has to clear the screen.
  expect(lines.length).toBeLessThanOrEqual(rows - 1);
  for (const l of lines) expect([...l].length).toBeLessThanOrEqual(columns);
}

async function results(result: DiagnoseResult, columns: number, rows: number) {
  const r = renderAt(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result }))} init={init({ layer: LAYER_ID, expected: fx.expected })} />, columns, rows);
  await waitFor(() => r.lastFrame().includes('Sources'));
  await press(r.stdin, KEY.enter);
  await waitFor(() => r.lastFrame().includes('Results'));
  return r;
}

describe.each([
  [80, 24],
  [200, 50],
])('at %ix%i', (columns, rows) => {
  it('the Results screen keeps the verdict and every class visible', async () => {
    const r = await results(fx.incident, columns, rows);
    const f = stripAnsi(r.lastFrame());
    checkFits(f, columns, rows);
    expect(f).toContain(' SOFT-UPDATES DATA LOSS ');
    expect(f).toMatch(/→ Delete the layer/);
    for (const file of fx.incident.report.files) {
      const line = f.split('\n').find((l) => l.includes(file.path.slice(0, 10)) && CLASSES.test(l));
      expect(line, file.path).toBeDefined();
      expect(line).toContain(file.class);
    }
    r.unmount();
  });

  it('with many files, the class column stays whole and the table scrolls', async () => {
    const r = await results(fx.corrupt, columns, rows);
    const f = stripAnsi(r.lastFrame());
    checkFits(f, columns, rows);
    expect(f).toContain(' OTHER CORRUPTION ');
    const table = f.split('\n').filter((l) => /^[▶ ] \S/.test(l) && CLASSES.test(l));
    expect(table.length).toBeGreaterThanOrEqual(3);
    for (const l of table) expect(l).toMatch(/ (directory-block|foreign-text |foreign-binary |zeros {11}|partial {9}|size-mismatch {3}|missing {9}|modified {7}|extra {11}|match {11})/);
    await press(r.stdin, 'G');
    await waitFor(() => stripAnsi(r.lastFrame()).includes('▶ tls-mirage.opam'));
    checkFits(r.lastFrame(), columns, rows);
    r.unmount();
  });

  it('the Layers, Run, File and help screens fit', async () => {
    const r = renderAt(<App deps={deps(new ReplayRun('boot-kvm-failed', { holdAt: after('boot-kvm-failed', (e) => e.type === 'ssh-attempt', 4), result: fx.corrupt }))} init={init({ expected: fx.expected })} />, columns, rows);
    await waitFor(() => r.lastFrame().includes('6 layers'));
    checkFits(r.lastFrame(), columns, rows);
    expect(stripAnsi(r.lastFrame())).toMatch(columns < 100 ? /1a3b60d28d33\s+06-29 \d\d:\d\d\s+10d4dd93b2fc\s+4\s+256 KiB\s+-/ : /1a3b60d28d33[0-9a-f]*\s+2026-06-29 \d\d:\d\d\s+10d4dd93b2fc.*256 KiB/);
    await press(r.stdin, 'j', KEY.enter);
    await waitFor(() => r.lastFrame().includes('Sources'));
    checkFits(r.lastFrame(), columns, rows);
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame().includes('attempt 4'));
    await press(r.stdin, 'c');
    await waitFor(() => r.lastFrame().includes('Serial console'));
    const run = stripAnsi(r.lastFrame());
    checkFits(run, columns, rows);
    for (const label of ['Resolve the layer', 'Create the overlay', 'Start QEMU', 'Wait for SSH', 'Extract the files', 'Classify', 'Stop QEMU, remove overlay']) expect(run).toContain(label);
    await press(r.stdin, '?');
    await waitFor(() => r.lastFrame().includes('Help'));
    checkFits(r.lastFrame(), columns, rows);
    r.unmount();
  });
});

it('follows a resize: 200x50 down to 80x24 and back', async () => {
  const r = await results(fx.corrupt, 200, 50);
  expect(stripAnsi(r.lastFrame())).toContain('tls-async.opam');
  r.stdout.resize(80, 24);
  await waitFor(() => stripAnsi(r.lastFrame()).split('\n').length <= 23);
  checkFits(r.lastFrame(), 80, 24);
  expect(stripAnsi(r.lastFrame())).toContain(' OTHER CORRUPTION ');
  r.stdout.resize(200, 50);
  await waitFor(() => stripAnsi(r.lastFrame()).split('\n').length > 30);
  checkFits(r.lastFrame(), 200, 50);
  r.unmount();
});
