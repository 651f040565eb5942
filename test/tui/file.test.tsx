// The File screen, fed by real reports and trees: a directory block's entries, a coloured diff,
// hex beside expected bytes, the block strip, escaped stale bytes, scrolling, next/previous; for
// a direct reading (a recorded run), which chain element holds each block, and parent-layer
// provenance with the ancestor layer and the offset.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import type { DiagnoseResult } from '../../src/diagnose/types.js';
import { LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { ReplayRun } from './replay.js';
import { resultOf } from './recording.js';
import { KEY, press, waitFor } from './ink-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(() => fx?.remove());
afterEach(() => cleanup());

/** Open `path` from the Results screen (found with the `/` filter). */
async function openFile(result: DiagnoseResult, path: string, size = { columns: 100, rows: 30 }) {
  const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result }))} init={init({ layer: LAYER_ID, expected: fx.expected })} size={size} />);
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

  it('partial: the strip of blocks by class, the regions, then the bytes; scrolls', async () => {
    const r = await openFile(fx.corrupt, 'partial.opam', { columns: 100, rows: 24 });
    let f = r.lastFrame()!;
    expect(f).toMatch(/partial\.opam\s+partial/);
    expect(f).toContain('Blocks of 512 B, 8 in all');
    expect(f).toMatch(/\n {2}==00==dd\n/);
    expect(f).toMatch(/ {2}= match {2}0 zeros {2}d directory-block/);
    expect(f).toMatch(/offset\s+length\s+class/);
    const where = /lines 1–(\d+) of (\d+)/.exec(f);
    expect(where).not.toBeNull();
    await press(r.stdin, 'j', 'j', KEY.down);
    await waitFor(() => /lines 4–/.test(r.lastFrame()!));
    await press(r.stdin, 'G');
    await waitFor(() => new RegExp(`lines \\d+–${where![2]} of ${where![2]}`).test(r.lastFrame()!));
    f = r.lastFrame()!;
    // The end of the hex dump: the directory block's bytes beside the expected text.
    expect(f).toMatch(/≠ 00000f[0-9a-f]0 /);
    await press(r.stdin, 'g');
    await waitFor(() => /lines 1–/.test(r.lastFrame()!));
    // Sideways.
    await press(r.stdin, 'l');
    await waitFor(() => r.lastFrame()!.includes('col 9'));
  });

  it('escape sequences in the stale bytes are shown escaped, never sent raw', async () => {
    // Wide enough for the stale line whole.
    const r = await openFile(fx.corrupt, 'evil.opam', { columns: 400, rows: 30 });
    const f = r.lastFrame()!;
    expect(f).toContain('\\e[2J\\e]0;pwned\\x07\\e[31mred\\e[0m\\0 ×64');
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

describe('File screen, disk read directly', () => {
  it('where each block is: the chain element that holds it, with a legend', async () => {
    const r = await openFile(resultOf('direct'), 'tls.opam');
    const f = r.lastFrame()!;
    expect(f).toMatch(/tls\.opam\s+directory-block/);
    expect(f).toContain("Where the bytes are: inode 12, 1 extent; 5 blocks of 512 B; all from this layer's own image");
    expect(f).toMatch(/\n {2}00000\n {2}0 1a3b60d28d33 \(this layer\)/);
    // The bytes are read from the image again, as the run read them.
    expect(f).toMatch(/directory block: \d+ entries/);
  });

  it('the OpenBSD-shaped sample: blocks its ancestors hold, provenance traced to the layer that owned them', async () => {
    const res = resultOf('direct-openbsd');
    const wide = { columns: 140, rows: 30 };
    const [, parent, grandparent] = res.report.layer!.chain.map((p) => /\/result\/([0-9a-f]{12})/.exec(p)?.[1]);
    // A directory block of the parent's filesystem: every block from the parent's image.
    let r = await openFile(res, 'tls.opam', wide);
    let f = r.lastFrame()!;
    expect(f).toMatch(/came from layer [0-9a-f]{12}, byte 0 of \/home\/opam\/opam-repository\/packages\/ocaml-base-compiler/);
    expect(f).toContain("1 extent; 5 blocks of 512 B; 5 not from this layer's own image");
    expect(f).toMatch(new RegExp(`\\n {2}11111\\n {2}1 ${parent} \\(parent\\)`));
    expect(f).toMatch(/directory block: \d+ entries/);
    cleanup();
    // Another package's opam file, from the grandparent's image.
    r = await openFile(res, 'tls-async.opam', wide);
    f = r.lastFrame()!;
    expect(f).toMatch(new RegExp(`\\n {2}222\\n {2}2 ${grandparent}\\n`));
    expect(f).toMatch(/came from layer [0-9a-f]{12}, byte 0 of \/home\/opam\/opam-repository\/packages\/zxcvbn\/zxcvbn\.2\.4\+1\/opam/);
    cleanup();
    // Zeros: no image of the chain holds the bytes.
    r = await openFile(res, 'tls-eio.opam', wide);
    expect(r.lastFrame()).toMatch(/\n {2}·· {0,2}\n {2}· no image: reads as zeros/);
    cleanup();
    // A partial file: this layer's blocks, then its grandparent's at the end.
    r = await openFile(res, 'tests/vectors.json', wide);
    f = r.lastFrame()!;
    const lines = f.split('\n');
    const from = lines.findIndex((l) => l.startsWith('Where the bytes are')) + 1;
    const legend = lines.findIndex((l, i) => i >= from && !/^ {2}[0-9·_]+$/.test(l));
    expect(lines[from - 1]).toContain("4 extents; 586 blocks of 512 B; 82 not from this layer's own image");
    // 504 blocks of this layer's image (the last 120 of them stale bytes it carried along), then
    // the grandparent's: one mark per block, the same rows as the class strip below.
    expect(lines.slice(from, legend).map((l) => l.trim()).join('')).toBe(`${'0'.repeat(504)}${'2'.repeat(82)}`);
    expect(lines[legend]).toMatch(new RegExp(`^ {2}0 [0-9a-f]{12} \\(this layer\\) {2}2 ${grandparent}$`));
    expect(f).toMatch(/came from layer [0-9a-f]{12}, byte 196608 of \/home\/opam\/\.cache\/download\/ocaml-tls-1\.0\.4\.tbz/);
    // The Results screen names the ancestor too.
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Results'));
    expect(r.lastFrame()).toMatch(/the disk read directly \(no boot\)[\s\S]*disklabel\s+partition e \(ufs2\) mounted on \/home/);
    expect(r.lastFrame()).toMatch(new RegExp(`vectors\\.json\\s+300000\\s+300000\\s+partial\\s+parent-layer ${grandparent}: `));
  });
});
