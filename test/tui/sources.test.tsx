// The Sources screen: prefilled, editable, a directory that does not exist refused on the spot,
// and Enter starts the run with what is on the screen.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import { checkGuestPath, completeDirectory } from '../../src/tui/screens/sources.js';
import { CLEAN_ID, FakeRun, LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { KEY, press, waitFor } from './ink-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
  await mkdir(join(fx.dir, 'sources-one'), { recursive: true });
  await mkdir(join(fx.dir, 'sources-two'), { recursive: true });
});
afterAll(() => fx?.remove());
afterEach(() => cleanup());

const size = { columns: 100, rows: 24 };
const jobLog = () => ({ file: '/x/job.log', step: 2, copyIndex: 2, layerId: LAYER_ID, dst: '/home/opam/src', src: ['tls.opam', 'tls-async.opam'] });

describe('Sources screen', () => {
  it('is prefilled from the flags and the job log, and Enter starts the run with them', async () => {
    const run = new FakeRun(fx.corrupt, { hold: true });
    const r = render(<App deps={deps(run)} init={init({ layer: LAYER_ID, jobLog: jobLog(), expected: fx.expected, dst: '/home/opam/src' })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    const f = r.lastFrame()!;
    expect(f).toContain(fx.expected);
    expect(f).toMatch(/✓ directory, \d+ entries/);
    expect(f).toContain('/home/opam/src');
    expect(f).toContain('from the job log /x/job.log, copy step 2');
    expect(f).toContain('Copied by the step: tls.opam tls-async.opam');
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('Run'));
    expect(run.calls).toHaveLength(1);
    // The job log's layer: the run gets the job log (its src list selects the expected files).
    expect(run.calls[0]).toMatchObject({ layer: LAYER_ID, expected: fx.expected, dst: '/home/opam/src', jobLog: '/x/job.log', step: 2, store: '/store' });
  });

  it('refuses a directory that does not exist, as it is typed and on Enter', async () => {
    const run = new FakeRun(fx.corrupt, { hold: true });
    const r = render(<App deps={deps(run)} init={init({ layer: CLEAN_ID, expected: fx.expected })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, 'X', 'q');
    await waitFor(() => r.lastFrame()!.includes('✗ does not exist'));
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes(`expected-sources directory ${fx.expected}Xq: does not exist`));
    expect(run.calls).toHaveLength(0);
    // A file is not a directory.
    await press(r.stdin, KEY.backspace, KEY.backspace, '/', 't', 'l', 's', '.', 'o', 'p', 'a', 'm');
    await waitFor(() => r.lastFrame()!.includes('✗ is not a directory'));
    // Ctrl-U clears; a path typed anew works.
    await press(r.stdin, KEY.ctrlU);
    await waitFor(() => r.lastFrame()!.includes('✗ is empty'));
    r.stdin.write(fx.expected);
    await waitFor(() => r.lastFrame()!.includes('✓ directory'));
    // The guest destination must be absolute.
    await press(r.stdin, KEY.down, KEY.ctrlU, 's', 'r', 'c', KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('guest destination src: must be an absolute guest path'));
    expect(run.calls).toHaveLength(0);
    // A paste followed by Enter, read in one chunk.
    await press(r.stdin, KEY.ctrlU);
    r.stdin.write('/home/opam/other\r');
    await waitFor(() => run.calls.length === 1);
    // Another layer than the job log's: no job log passed to the pipeline.
    expect(run.calls[0]).toMatchObject({ layer: CLEAN_ID, expected: fx.expected, dst: '/home/opam/other' });
    expect(run.calls[0]!.jobLog).toBeUndefined();
  });

  it('completes directory names with Tab', async () => {
    expect(completeDirectory(join(fx.dir, 'exp'))).toEqual({ value: `${join(fx.dir, 'expected')}/`, candidates: [] });
    expect(completeDirectory(join(fx.dir, 'sources-'))).toEqual({ value: join(fx.dir, 'sources-'), candidates: ['sources-one', 'sources-two'] });
    const r = render(<App deps={deps(new FakeRun(fx.corrupt, { hold: true }))} init={init({ layer: CLEAN_ID, expected: join(fx.dir, 'sou') })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, KEY.tab);
    await waitFor(() => r.lastFrame()!.includes('sources-one  sources-two'));
    await press(r.stdin, 't', KEY.tab);
    await waitFor(() => r.lastFrame()!.includes(`${join(fx.dir, 'sources-two')}/`));
    expect(r.lastFrame()).toContain('✓ directory, 0 entries');
  });

  it('guest paths: absolute POSIX or Windows', () => {
    expect(checkGuestPath('/home/opam/src')).toBeNull();
    expect(checkGuestPath('C:\\Users\\opam\\src')).toBeNull();
    expect(checkGuestPath('src')).toMatch(/absolute/);
    expect(checkGuestPath(' ')).toBe('is empty');
  });

  it('Esc goes back to the layers', async () => {
    const r = render(<App deps={deps(new FakeRun(fx.corrupt))} init={init({ layer: LAYER_ID, expected: fx.expected })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
  });
});
