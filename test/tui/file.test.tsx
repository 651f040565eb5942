// The File screen, fed by real reports and trees: a directory block's entries, a coloured diff,
// hex beside expected bytes, the block strip, escaped stale bytes, scrolling, next/previous.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import type { DiagnoseResult } from '../../src/diagnose/types.js';
import { FakeRun, LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { KEY, press, waitFor } from './ink-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(() => fx?.remove());
afterEach(() => cleanup());

/** Open `path` from the Results screen (found with the `/` filter). */
async function openFile(result: DiagnoseResult, path: string, size = { columns: 100, rows: 30 }) {
  const r = render(<App deps={deps(new FakeRun(result))} init={init({ layer: LAYER_ID, expected: fx.expected })} size={size} />);
  await waitFor(() => r.lastFrame()!.includes('Sources'));
  await press(r.stdin, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes('Results'));
  await press(r.stdin, '/');
  r.stdin.write(path);
  await waitFor(() => r.lastFrame()!.includes(`filter: ${path}`));
  await press(r.stdin, KEY.enter, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes(`File ${path}`) && !r.lastFrame()!.includes('reading…'));
  return r;
}

describe('File screen', () => {
  it('a directory block: its decoded entries', async () => {
    const r = await openFile(fx.incident, 'tls.opam');
    const f = r.lastFrame()!;
    expect(f).toMatch(/tls\.opam\s+directory-block/);
    expect(f).toMatch(/expected 241 B, in the layer 241 B\s+holds a directory block \(ffs-le\)/);
    expect(f).toMatch(/FFS \(UFS1\/UFS2\) little-endian directory block: \d+ entries/);
    expect(f).toMatch(/offset\s+inode\s+type\s+reclen\s+name/);
    expect(f).toMatch(/\n\s+0\s+\d+\s+dir\s+12\s+\.\n/);
    expect(f).toMatch(/\n\s+12\s+\d+\s+dir\s+\d+\s+\.\.\n/);
    const entries = fx.incident.report.files.find((x) => x.path === 'tls.opam')!.detail.entries as string[];
    for (const e of entries.slice(2)) expect(f).toContain(e);
    // Back to the files.
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Results'));
  });

  it('text: a unified diff, provenance named', async () => {
    const r = await openFile(fx.incident, 'tls-async.opam');
    const f = r.lastFrame()!;
    expect(f).toMatch(/came from corpus: .*packages\/zxcvbn\/zxcvbn\.2\.4\+1\/opam/);
    expect(f).toContain('--- expected/tls-async.opam');
    expect(f).toContain('+++ layer/tls-async.opam');
    expect(f).toMatch(/@@ -1,\d+ \+1,\d+ @@/);
    expect(f).toContain('-name: "tls-async"');
    expect(f).toContain('+name: "zxcvbn"');
  });

  it('binary: the actual bytes in hex beside the expected ones', async () => {
    const r = await openFile(fx.corrupt, 'blob.bin');
    const f = r.lastFrame()!;
    expect(f).toMatch(/offset\s+in the layer\s+expected/);
    expect(f).toMatch(/≠ 00000000 {2}([0-9a-f]{2} ){8} .{8}│ ([0-9a-f]{2} ){8}/);
  });

  it('partial: the strip of blocks by class, then the diff; scrolls', async () => {
    const r = await openFile(fx.corrupt, 'long.opam', { columns: 100, rows: 24 });
    let f = r.lastFrame()!;
    expect(f).toContain('Blocks of 512 B, 8 in all');
    expect(f).toMatch(/\n {2}=+t=+\n/);
    expect(f).toMatch(/offset\s+length\s+class/);
    const where = /lines 1–(\d+) of (\d+)/.exec(f);
    expect(where).not.toBeNull();
    await press(r.stdin, 'j', 'j', KEY.down);
    await waitFor(() => /lines 4–/.test(r.lastFrame()!));
    await press(r.stdin, 'G');
    await waitFor(() => new RegExp(`lines \\d+–${where![2]} of ${where![2]}`).test(r.lastFrame()!));
    f = r.lastFrame()!;
    expect(f).toContain('+LINE 60:');
    expect(f).toContain('-line 60:');
    await press(r.stdin, 'g');
    await waitFor(() => /lines 1–/.test(r.lastFrame()!));
    // Sideways.
    await press(r.stdin, 'l');
    await waitFor(() => r.lastFrame()!.includes('col 9'));
  });

  it('escape sequences in the stale bytes are shown escaped, never sent raw', async () => {
    const r = await openFile(fx.corrupt, 'evil.opam');
    const f = r.lastFrame()!;
    expect(f).toContain('+\\e[2J\\e]0;pwned\\x07\\e[31mred\\e[0m');
    expect(f).not.toContain('\x1b]0;pwned');
    expect(f).not.toContain('\x07');
    expect(f).not.toMatch(/\x1b\[2J/);
  });

  it('zeros, missing, size-mismatch', async () => {
    let r = await openFile(fx.corrupt, 'tls-lwt.opam');
    expect(r.lastFrame()).toMatch(/Every one of the 224 bytes is NUL/);
    cleanup();
    r = await openFile(fx.corrupt, 'gone.opam');
    expect(r.lastFrame()).toMatch(/Not in the layer at all[\s\S]*Expected content[\s\S]*opam-version: "2.0"/);
    cleanup();
    r = await openFile(fx.corrupt, 'short.opam');
    expect(r.lastFrame()).toMatch(/size-mismatch[\s\S]*\+opam-version/);
  });

  it('n and p go to the next and previous file', async () => {
    const r = await openFile(fx.incident, 'tls');
    expect(r.lastFrame()).toContain('File tls-async.opam (1 of 4)');
    await press(r.stdin, 'n');
    await waitFor(() => r.lastFrame()!.includes('File tls-lwt.opam (2 of 4)'));
    await press(r.stdin, 'p');
    await waitFor(() => r.lastFrame()!.includes('File tls-async.opam (1 of 4)'));
  });
});
