// The Sources screen: prefilled, editable, a directory that does not exist refused on the spot,
// how to read the layer (boot, or the disk directly, and the partition), and Enter starts the run
// with what is on the screen.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import { checkGuestPath, checkPartition, completeDirectory } from '../../src/tui/screens/sources.js';
import { CLEAN_ID, LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { KEY, press, waitFor } from './ink-helpers.js';
import { ReplayRun } from './replay.js';

const held = () => new ReplayRun('boot-kvm-unusable', { holdAt: 3 });

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
    const run = held();
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
    expect(run.calls[0]).toMatchObject({ layer: LAYER_ID, expected: fx.expected, dst: '/home/opam/src', jobLog: '/x/job.log', step: 2, store: '/store', via: 'boot' });
    expect(run.calls[0]!.partition).toBeUndefined();
  });

  it('refuses a directory that does not exist, as it is typed and on Enter', async () => {
    const run = held();
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
    const r = render(<App deps={deps(held())} init={init({ layer: CLEAN_ID, expected: join(fx.dir, 'sou') })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, KEY.tab);
    await waitFor(() => r.lastFrame()!.includes('sources-one  sources-two'));
    await press(r.stdin, 't', KEY.tab);
    await waitFor(() => r.lastFrame()!.includes(`${join(fx.dir, 'sources-two')}/`));
    expect(r.lastFrame()).toContain('✓ directory, 0 entries');
  });

  it('offers reading the disk directly, and the partition (optional); the run gets them', async () => {
    const run = held();
    const r = render(<App deps={deps(run)} init={init({ layer: LAYER_ID, expected: fx.expected })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    let f = r.lastFrame()!;
    // Boot is the default; no partition field then.
    expect(f).toMatch(/Read the layer by\s+\(•\) booting it under QEMU\s+\( \) reading its disk directly/);
    expect(f).not.toContain('Partition');
    await press(r.stdin, KEY.down, KEY.down);
    await waitFor(() => r.lastFrame()!.includes('▶ Read the layer by'));
    // Letters typed on the choice do not go anywhere else (q does not quit here).
    await press(r.stdin, 'q', ' ');
    await waitFor(() => r.lastFrame()!.includes('(•) reading its disk directly'));
    f = r.lastFrame()!;
    expect(f).toContain('Partition');
    expect(f).toContain('empty: found from /etc/fstab, or by looking for the destination');
    expect(f).toContain('no QEMU, nothing written');
    // The partition: a bad name is refused on the spot and on Enter.
    await press(r.stdin, KEY.down, 'x', 'y');
    await waitFor(() => r.lastFrame()!.includes('✗ must be a partition number or a disklabel letter'));
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('partition xy: must be a partition number'));
    expect(run.calls).toHaveLength(0);
    await press(r.stdin, KEY.ctrlU, 'e', KEY.enter);
    await waitFor(() => run.calls.length === 1);
    expect(run.calls[0]).toMatchObject({ layer: LAYER_ID, via: 'direct', partition: 'e' });
  });

  it('b and d, ← and → choose too; back to boot, the partition is not passed', async () => {
    const run = held();
    const r = render(<App deps={deps(run)} init={init({ layer: CLEAN_ID, expected: fx.expected, options: { ...init().options, via: 'direct', partition: '2' } })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    // Prefilled from --via and --partition.
    expect(r.lastFrame()).toContain('(•) reading its disk directly');
    expect(r.lastFrame()).toMatch(/Partition\s+2/);
    await press(r.stdin, KEY.down, KEY.down);
    await waitFor(() => r.lastFrame()!.includes('▶ Read the layer by'));
    await press(r.stdin, 'b');
    await waitFor(() => r.lastFrame()!.includes('(•) booting it under QEMU'));
    await press(r.stdin, KEY.right);
    await waitFor(() => r.lastFrame()!.includes('(•) reading its disk directly'));
    await press(r.stdin, KEY.left, KEY.enter);
    await waitFor(() => run.calls.length === 1);
    expect(run.calls[0]).toMatchObject({ via: 'boot' });
    expect(run.calls[0]!.partition).toBeUndefined();
  });

  it('partition names', () => {
    for (const ok of ['', ' ', '2', 'e', '12']) expect(checkPartition(ok), ok).toBeNull();
    for (const bad of ['x', 'E', '2e', '/dev/wd0e']) expect(checkPartition(bad), bad).toMatch(/partition number or a disklabel letter/);
  });

  it('guest paths: absolute POSIX or Windows', () => {
    expect(checkGuestPath('/home/opam/src')).toBeNull();
    expect(checkGuestPath('C:\\Users\\opam\\src')).toBeNull();
    expect(checkGuestPath('src')).toMatch(/absolute/);
    expect(checkGuestPath(' ')).toBe('is empty');
  });

  it('Esc goes back to the layers', async () => {
    const r = render(<App deps={deps(new ReplayRun('direct'))} init={init({ layer: LAYER_ID, expected: fx.expected })} size={size} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('6 layers'));
  });
});
