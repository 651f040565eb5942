// The Layers screen, inside the App: newest first, filter by typing, the job log's layer
// preselected, broken layers refused, Enter goes on to the Sources.

import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import { CLEAN_ID, FakeRun, LAYER_ID, PARENT_ID, deps, init, layers } from './fixtures.js';
import { KEY, press, waitFor } from './ink-helpers.js';
import { fakeResult } from './fake-result.js';

afterEach(() => cleanup());

const size = { columns: 100, rows: 24 };
const selectedLine = (frame: string) => frame.split('\n').find((l) => l.startsWith('▶'));

describe('Layers screen', () => {
  it('lists the layers newest first with id, created, parent, depth and bytes held', async () => {
    const r = render(<App deps={deps(new FakeRun(fakeResult))} init={init()} size={size} />);
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
    const r = render(<App deps={deps(new FakeRun(fakeResult))} init={init({ jobLog })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
    expect(selectedLine(r.lastFrame()!)).toMatch(/1a3b60d28d33.*◀ job log/);
  });

  it('moves with arrows and j/k; typing hex filters by id; / filters by any text', async () => {
    const r = render(<App deps={deps(new FakeRun(fakeResult))} init={init()} size={size} />);
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
    // `/` takes any text: the base name matches the layers sitting on it.
    await press(r.stdin, '/', 'l', 'i', 'n', 'u', 'x', KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('6 of 6') || r.lastFrame()!.includes(' 6 layers'));
    await press(r.stdin, KEY.esc, '/', 'z', 'q', 'z');
    await waitFor(() => r.lastFrame()!.includes('No layer matches “zqz”'));
    await press(r.stdin, KEY.esc);
    await waitFor(() => !r.lastFrame()!.includes('filter:'));
    // q typed after `/` went into the filter and did not quit: the screen is still here.
    expect(r.lastFrame()).toContain('Layers');
  });

  it('refuses a layer whose chain is broken, and goes on to the Sources with a good one', async () => {
    const r = render(<App deps={deps(new FakeRun(fakeResult))} init={init()} size={size} />);
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
    const r = render(<App deps={deps(new FakeRun(fakeResult))} init={init({ layer: LAYER_ID })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    expect(r.lastFrame()).toContain(`Layer ${LAYER_ID}`);
  });

  it('says so when the store cannot be read', async () => {
    const d = deps(new FakeRun(fakeResult), { listLayers: async () => Promise.reject(new Error('store /nope: does not exist')) });
    const r = render(<App deps={d} init={init()} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('store /nope: does not exist'));
  });
});
