import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { BIN, runCli } from '../helpers/cli.js';
import { OPAM, writeTree } from '../helpers/trees.js';
import { ffsDirectory, names } from '../helpers/fs-images.js';

let dir: string;
const p = (...s: string[]) => join(dir, ...s);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lf-cli-'));
  await chmod(dir, 0o755);
  await writeTree(p('expected'), OPAM);
  await writeTree(p('clean'), OPAM);
  // The incident: a directory block, another package's opam file, zeros; sizes right.
  const dirBlock = (await ffsDirectory(names(40))).blocks;
  const zx = 'opam-version: "2.0"\nname: "zxcvbn"\nsynopsis: "Password strength estimation"\n'.repeat(8);
  await writeTree(p('corrupt'), {
    'tls.opam': dirBlock.subarray(0, OPAM['tls.opam'].length),
    'tls-async.opam': zx.slice(0, OPAM['tls-async.opam'].length),
    'tls-lwt.opam': Buffer.alloc(OPAM['tls-lwt.opam'].length),
  });
  await writeTree(p('corpus'), { 'packages/zxcvbn/zxcvbn.3.0/opam': zx });
  await writeTree(p('truncated'), { ...OPAM, 'tls.opam': OPAM['tls.opam'].slice(0, 10) });
  await mkdir(p('empty-expected'));
  await writeTree(p('escapes'), { 'tls.opam': '\x1b[2J\x1b]0;pwned\x07' + 'x'.repeat(OPAM['tls.opam'].length - 12) });
  await writeTree(p('evil-names'), { 'evil\x1b[31m.opam': 'text\n' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('layer-forensics classify (real executable)', () => {
  it('clean tree: exit 0', async () => {
    const r = await runCli(['classify', '--expected', p('expected'), '--actual', p('clean')]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Verdict: clean');
  });

  it('the incident: exit 1, pure JSON on stdout with classes, provenance and the verdict', async () => {
    const r = await runCli(['classify', '--expected', p('expected'), '--actual', p('corrupt'), '--corpus', p('corpus'), '--json']);
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(String(r.stdout));
    expect(doc.schema).toBe('layer-forensics.report/v1');
    expect(doc.layer).toBeUndefined();
    expect(doc.extraction.via).toBe('directory');
    const by = Object.fromEntries(doc.files.map((f: { path: string }) => [f.path, f]));
    expect(by['tls.opam'].class).toBe('directory-block');
    expect(by['tls.opam'].detail.entries.slice(0, 2)).toEqual(['.', '..']);
    expect(by['tls-async.opam'].class).toBe('foreign-text');
    expect(by['tls-async.opam'].provenance).toMatchObject({ source: 'corpus', path: 'packages/zxcvbn/zxcvbn.3.0/opam', root: p('corpus') });
    expect(by['tls-lwt.opam'].class).toBe('zeros');
    expect(doc.verdict.kind).toBe('soft-updates-data-loss');
    expect(Object.keys(doc.timings)).toEqual(['overlayMs', 'bootMs', 'extractMs', 'classifyMs', 'totalMs']);
  });

  it('the Markdown table is ready for an issue', async () => {
    const r = await runCli(['classify', '--expected', p('expected'), '--actual', p('corrupt'), '--corpus', p('corpus'), '--markdown']);
    expect(r.exitCode).toBe(1);
    const out = String(r.stdout);
    expect(out).toContain('| File | Expected size | Actual size | Class | Holds instead | Where it came from |');
    expect(out).toMatch(/\| tls\.opam \| \d+ \| \d+ \| directory-block \| a directory block/);
    expect(out).toContain('packages/zxcvbn/zxcvbn.3.0/opam');
  });

  it('a truncated file is other corruption: exit 1', async () => {
    const r = await runCli(['classify', '--expected', p('expected'), '--actual', p('truncated'), '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(String(r.stdout)).verdict.kind).toBe('other-corruption');
  });

  it('nothing to compare against: inconclusive, exit 3', async () => {
    const r = await runCli(['classify', '--expected', p('empty-expected'), '--actual', p('clean')]);
    expect(r.exitCode).toBe(3);
  });

  it.each([
    [['--expected', 'NOPE', '--actual', 'clean'], /^layer-forensics: expected-sources directory .*NOPE: does not exist$/],
    [['--expected', 'expected', '--actual', 'NOPE'], /^layer-forensics: actual directory .*NOPE: does not exist$/],
    [['--expected', 'expected/tls.opam', '--actual', 'clean'], /is not a directory$/],
    [['--expected', 'expected'], /Missing required argument: actual/],
    [['--expected', 'expected', '--actual', 'clean', '--block-size', '1000'], /--block-size 1000: must be a power of two/],
    [['--expected', 'expected', '--actual', 'clean', '--corpus', 'NOPE'], /corpus directory .*NOPE: does not exist/],
  ])('bad input %j: one line on stderr, exit 2, nothing on stdout', async (args, re) => {
    const abs = args.map((a, i) => (i > 0 && !a.startsWith('--') && !/^\d+$/.test(a) ? p(a) : a));
    const r = await runCli(['classify', ...abs]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    const lines = String(r.stderr).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(re);
  });

  it('an unreadable directory: one line, exit 2', async () => {
    await mkdir(p('locked'), { mode: 0o700 });
    await writeFile(p('locked', 'x'), 'x');
    await chmod(p('locked'), 0o000);
    // Root reads everything: run as nobody where we are root.
    const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', BIN] : [BIN];
    const r = await execa(asNobody[0]!, [...asNobody.slice(1), 'classify', '--expected', p('locked'), '--actual', p('clean')], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr).trim()).toMatch(/^layer-forensics: expected-sources directory .*locked: cannot be read \(permission denied\)$/);
  });

  it('bytes from files never reach the terminal raw', async () => {
    for (const args of [
      ['--expected', p('expected'), '--actual', p('escapes')],
      ['--expected', p('expected'), '--actual', p('escapes'), '--markdown'],
      ['--expected', p('expected'), '--actual', p('evil-names')],
      ['--expected', p('expected'), '--actual', p('evil-names'), '--markdown'],
    ]) {
      const r = await runCli(['classify', ...args]);
      expect(String(r.stdout)).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    }
    const r = await runCli(['classify', '--expected', p('expected'), '--actual', p('evil-names')]);
    expect(String(r.stdout)).toContain('evil\\e[31m.opam');
  });

  it('--help for the command', async () => {
    const r = await runCli(['classify', '--help']);
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toContain('--corpus');
  });
});
