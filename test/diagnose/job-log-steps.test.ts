// What a job log's copy step says about which files to compare: its `exclude` list, and a single
// source copied to a file path (another name). Read with --via direct on the OpenBSD-shaped sample.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectExpected } from '../../src/diagnose/run-diagnose.js';
import { contentless } from '../../src/tree/tree.js';
import { runCli } from '../helpers/cli.js';
import { loadSample, ROOT } from '../helpers/sample.js';

let O: { store: string; layers: Record<string, string>; expected: string };
const dir = mkdtempSync(join(tmpdir(), 'lf-job-steps-'));

beforeAll(() => {
  loadSample();
  O = JSON.parse(readFileSync(join(ROOT, 'samples', 'out', 'openbsd.json'), 'utf8'));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function log(op: string, id: string): string {
  const file = join(dir, `${Math.random().toString(16).slice(2)}.log`);
  writeFileSync(file, `Building on test\n(from openbsd-78-amd64-sample)\n/: ${op}\n2026-06-29 16:02.38 ---> saved as "${id}"\n`);
  return file;
}

describe('selectExpected', () => {
  const tree = new Map(['a.opam', 'b.opam', '_build/x', 'docs/.git/y', 'docs/z.md'].map((p) => [p, contentless(p, 'special')]));
  it('keeps the src entries, less what exclude names at any depth', () => {
    expect([...selectExpected(tree, { src: ['.'], exclude: ['_build', '.git'] }).keys()]).toEqual(['a.opam', 'b.opam', 'docs/z.md']);
    expect([...selectExpected(tree, { src: ['docs', 'a.opam'] }).keys()]).toEqual(['a.opam', 'docs/.git/y', 'docs/z.md']);
  });
  it('a single source copied to a file path is expected under that name', () => {
    const t = selectExpected(tree, { src: ['b.opam'], renamed: { from: 'b.opam', to: 'c.opam' } });
    expect([...t.keys()]).toEqual(['c.opam']);
    expect(t.get('c.opam')?.path).toBe('c.opam');
  });
});

describe('diagnose with such a job log', () => {
  it('(exclude tests CHANGES.md): only the .opam files are compared', async () => {
    const file = log('(copy (src .) (dst /home/opam/src/./) (exclude tests CHANGES.md))', O.layers.copyCorrupt!);
    const r = await runCli(['diagnose', '--via', 'direct', '--store', O.store, '--job-log', file, '--expected', O.expected, '--json', '--quiet']);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const paths = JSON.parse(String(r.stdout)).files.map((f: { path: string }) => f.path).sort();
    expect(paths).toEqual(['tls-async.opam', 'tls-eio.opam', 'tls-lwt.opam', 'tls-miou-unix.opam', 'tls-mirage.opam', 'tls.opam']);
  });

  it('(copy (src tls-mirage.opam) (dst /home/opam/src/tls-mirage.opam)): one file, at its path', async () => {
    const file = log('(copy (src tls-mirage.opam) (dst /home/opam/src/tls-mirage.opam))', O.layers.copyCorrupt!);
    const r = await runCli(['diagnose', '--via', 'direct', '--store', O.store, '--job-log', file, '--expected', O.expected, '--json', '--quiet']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const doc = JSON.parse(String(r.stdout));
    expect(doc.extraction.dst).toBe('/home/opam/src');
    expect(doc.files.map((f: { path: string; class: string }) => [f.path, f.class])).toEqual([['tls-mirage.opam', 'match']]);
  });
});
