// The Results screen, fed by real reports: the verdict banner with summary and advice, the
// files damaged first with sizes, class and provenance, filtering, and export.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import type { DiagnoseResult } from '../../src/diagnose/types.js';
import { exportReports } from '../../src/tui/export.js';
import { LAYER_ID, buildFixture, deps, init, type Fixture } from './fixtures.js';
import { ReplayRun } from './replay.js';
import { resultOf } from './recording.js';
import { KEY, press, waitFor } from './ink-helpers.js';

let fx: Fixture;
let out: string;
beforeAll(async () => {
  fx = await buildFixture();
  out = await mkdtemp(join(tmpdir(), 'lf-tui-export-'));
});
afterAll(async () => {
  await fx?.remove();
  await rm(out, { recursive: true, force: true });
});
afterEach(() => cleanup());

async function openResults(result: DiagnoseResult, over: Parameters<typeof deps>[1] = {}, size = { columns: 100, rows: 30 }) {
  const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result }), over)} init={init({ layer: LAYER_ID, expected: fx.expected, exportDir: out })} size={size} />);
  await waitFor(() => r.lastFrame()!.includes('Sources'));
  await press(r.stdin, KEY.enter);
  await waitFor(() => r.lastFrame()!.includes('Results'));
  return r;
}

const rows = (frame: string) => frame.split('\n').filter((l) => /^[▶ ] \S/.test(l) && !l.includes('FILE'));

describe('Results screen', () => {
  it('the incident: a red banner with the verdict, its summary and advice; damaged files first', async () => {
    const r = await openResults(fx.incident);
    const f = r.lastFrame()!;
    expect(f).toContain(' SOFT-UPDATES DATA LOSS ');
    expect(f).toContain('layer 1a3b60d28d33');
    expect(f).toContain(fx.incident.report.verdict.summary.slice(0, 40));
    expect(f).toMatch(/→ Delete the layer/);
    expect(f).toMatch(/FILE\s+EXPECTED\s+ACTUAL\s+CLASS\s+PROVENANCE/);
    const lines = rows(f);
    expect(lines.map((l) => l.slice(2).split(/\s+/)[0])).toEqual(['tls-async.opam', 'tls-lwt.opam', 'tls.opam', 'tls-mirage.opam']);
    expect(lines[0]).toMatch(/^▶ tls-async\.opam\s+230\s+230\s+foreign-text\s+corpus: packages\/zxcvbn\/zxcvbn\.2\.4\+1\/opam/);
    expect(lines[1]).toMatch(/tls-lwt\.opam\s+224\s+224\s+zeros/);
    expect(lines[2]).toMatch(/tls\.opam\s+241\s+241\s+directory-block\s+a directory block \(ffs-le\): \., \.\./);
    expect(lines[3]).toMatch(/tls-mirage\.opam\s+248\s+248\s+match/);
    expect(f).toContain('booted under TCG');
    expect(f).toContain('layer unchanged');
  });

  it('a recorded boot of the sample: how the files were read (TCG, and why), guest provenance', async () => {
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-failed'))} init={init({ layer: LAYER_ID, expected: fx.expected })} size={{ columns: 100, rows: 30 }} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('Results'));
    const f = r.lastFrame()!;
    expect(f).toMatch(/booted under TCG · 6 files, 6\.8 KiB from \/home\/opam\/src · layer unchanged · KVM failed\s+\(qemu-system-x86_64 exited at start/);
    expect(rows(f)[0]).toMatch(/^▶ tls-async\.opam\s+1052\s+1052\s+foreign-text\s+guest: .*zxcvbn\.2\.4\+1\/opam/);
  });

  it('a recorded direct reading: the partition and filesystem it read', async () => {
    const r = await openResults(resultOf('direct'));
    const f = r.lastFrame()!;
    expect(f).toMatch(/the disk read directly \(no boot\) · 6 files, 6\.8 KiB from \/home\/opam\/src · layer unchanged · mbr\s+partition 2 \(ufs1\) mounted on \/home, at byte 42991616: ufs1, 8\.0 KiB blocks, 1\.0 KiB fragments/);
    expect(f).not.toContain('booted');
  });

  it('every class, damaged first; names from the layer escaped', async () => {
    const r = await openResults(fx.corrupt, {}, { columns: 100, rows: 40 });
    const f = r.lastFrame()!;
    expect(f).toContain(' OTHER CORRUPTION ');
    let classes = rows(f).map((l) => l.match(/(directory-block|foreign-text|foreign-binary|zeros|partial|size-mismatch|missing|modified|extra|match)/)?.[1]);
    expect(classes).not.toContain(undefined);
    // (Where an edit, `modified`, sorts is the report's business: left out of the order here.)
    classes = classes.filter((c) => c !== 'modified');
    const firstOther = classes.findIndex((c) => c === 'size-mismatch' || c === 'missing');
    expect(classes.slice(0, firstOther).every((c) => ['directory-block', 'foreign-text', 'foreign-binary', 'zeros', 'partial'].includes(c!))).toBe(true);
    expect(classes.slice(-2)).toEqual(['extra', 'match']);
    expect(f).toContain('evil\\e[31m.opam');
    expect(f).not.toContain('\x1b');
  });

  it('moves, filters with /, and opens a file with Enter', async () => {
    const r = await openResults(fx.corrupt);
    const order = rows(r.lastFrame()!).map((l) => l.slice(2).split(/\s+/)[0]);
    await press(r.stdin, 'j', 'j');
    expect(rows(r.lastFrame()!).find((l) => l.startsWith('▶'))).toContain(order[2]);
    await press(r.stdin, '/', 't', 'l', 's');
    await waitFor(() => r.lastFrame()!.includes('4 of 11 files'));
    await press(r.stdin, KEY.enter, KEY.down, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('File tls-lwt.opam (2 of 4)'));
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes('Results'));
    expect(r.lastFrame()).toContain('filter: tls');
    await press(r.stdin, KEY.esc);
    await waitFor(() => r.lastFrame()!.includes(' 11 files'));
  });

  it('keys read in one chunk (a fast typist, a held key, tmux send-keys) each count', async () => {
    const r = await openResults(fx.incident);
    r.stdin.write('jj\r');
    await waitFor(() => r.lastFrame()!.includes('File tls.opam (3 of 4)'));
    r.stdin.write('\x1b');
    await waitFor(() => r.lastFrame()!.includes('Results'));
    r.stdin.write('/mirage\r\r');
    await waitFor(() => r.lastFrame()!.includes('File tls-mirage.opam (1 of 1)'));
  });

  it('e exports the JSON and Markdown reports and says where', async () => {
    const r = await openResults(fx.incident, { exportReports });
    await press(r.stdin, 'e');
    await waitFor(() => r.lastFrame()!.includes('Exported '));
    const files = (await readdir(out)).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^layer-forensics-1a3b60d28d33-\d{8}T\d{6}Z\.json$/);
    expect(files[1]).toMatch(/^layer-forensics-1a3b60d28d33-\d{8}T\d{6}Z\.md$/);
    expect(r.lastFrame()).toContain(join(out, files[0]!).slice(0, 30));
    const doc = JSON.parse(readFileSync(join(out, files[0]!), 'utf8'));
    expect(doc.verdict.kind).toBe('soft-updates-data-loss');
    expect(readFileSync(join(out, files[1]!), 'utf8')).toContain('| tls.opam |');
    // A second export in the same second does not overwrite the first.
    await press(r.stdin, 'e');
    await waitFor(() => r.lastFrame()!.includes('Exported ') && readdirSyncCount(out) === 4);
  });

  it('a clean layer: a green CLEAN banner', async () => {
    const r = await openResults(fx.clean);
    expect(r.lastFrame()).toContain(' CLEAN ');
    expect(rows(r.lastFrame()!).every((l) => /\bmatch\b/.test(l))).toBe(true);
  });

  it('an export that fails says why', async () => {
    const r = await openResults(fx.incident, { exportReports: async () => Promise.reject(new Error('EACCES: permission denied, open /ro/x.json')) });
    await press(r.stdin, 'e');
    await waitFor(() => r.lastFrame()!.includes('export failed: EACCES: permission denied'));
  });
});

function readdirSyncCount(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).length : 0;
}

describe('a held key', () => {
  it('a long run of j in one read moves to the end without nesting renders', async () => {
    const r = render(<App deps={deps(new ReplayRun('boot-kvm-unusable', { result: fx.corrupt }))} init={init({ layer: LAYER_ID, expected: fx.expected })} size={{ columns: 100, rows: 30 }} />);
    await waitFor(() => r.lastFrame()!.includes('Sources'));
    await press(r.stdin, KEY.enter);
    await waitFor(() => r.lastFrame()!.includes('Results'));
    r.stdin.write('j'.repeat(80));
    await waitFor(() => r.lastFrame()!.split('\n').some((l) => l.startsWith('▶ tls-mirage.opam')), 'the last file', 10_000);
  });
});
