import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  copySteps,
  normaliseGuestPath,
  parseJobLog,
  parseSexp,
  pickCopyStep,
  readJobLog,
  stripAnsi,
} from '../../src/store/job-log.js';
import { fakeId, userError } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'job-logs');
const fx = (name: string): string => path.join(FIXTURES, name);
// The fixtures' layer ids are sha256 of these words.
const ID = {
  from: fakeId('from'),
  opamrepo: fakeId('opamrepo'),
  copy1: fakeId('copy1'),
  run1: fakeId('run1'),
  copy2: fakeId('copy2'),
  run2: fakeId('run2'),
};

describe('an ocaml-ci log (OpenBSD, wrapped ops, two copy steps)', () => {
  test('worker, base and every step with its layer', async () => {
    const log = await readJobLog(fx('ocaml-ci-openbsd.log'));
    expect(log.worker).toBe('openbsd-amd64-1.ocamllabs.io');
    expect(log.base).toBe('openbsd-78-amd64-ocaml-5.5');
    expect(log.steps.map((s) => [s.index, s.op, s.layerId, s.cached])).toEqual([
      [1, 'from', ID.from, true],
      [2, 'comment', null, null],
      [3, 'user', null, null],
      [4, 'run', ID.opamrepo, true],
      [5, 'copy', ID.copy1, false],
      [6, 'run', ID.run1, false],
      [7, 'copy', ID.copy2, false],
      [8, 'run', null, null],
    ]);
  });

  test('the "Using OBuilder spec" dump is not taken for steps', async () => {
    const log = await readJobLog(fx('ocaml-ci-openbsd.log'));
    expect(log.steps[0]!.line).toBe(33);
    expect(copySteps(log)).toHaveLength(2);
  });

  test('a copy op wrapped over two lines: src list, normalised dst, its line', async () => {
    const log = await readJobLog(fx('ocaml-ci-openbsd.log'));
    const c = copySteps(log)[0]!;
    expect(c).toMatchObject({
      copyIndex: 1,
      workdir: '/',
      src: ['tls.opam', 'tls-async.opam', 'tls-lwt.opam', 'tls-mirage.opam', 'tls-eio.opam', 'tls-miou-unix.opam'],
      dst: '/home/opam/src',
      dstRaw: '/home/opam/src/./',
      dstIsDir: true,
      line: 46,
      from: 'openbsd-78-amd64-ocaml-5.5',
    });
    expect(c.text).toBe(
      '(copy (src tls.opam tls-async.opam tls-lwt.opam tls-mirage.opam tls-eio.opam tls-miou-unix.opam) (dst /home/opam/src/./))',
    );
  });

  test('a wrapped run op whose quoted shell string holds parens and escaped quotes', async () => {
    const log = await readJobLog(fx('ocaml-ci-openbsd.log'));
    const r = log.steps[5]!;
    expect(r.op).toBe('run');
    expect(r.workdir).toBe('/home/opam/src');
    expect(r.text).toBe('(run (network host) (shell "opam pin add -yn tls.dev \'./\' && \\"echo (done)\\""))');
    expect(r.layerId).toBe(ID.run1);
  });

  test('pickCopyStep: the last copy step with a layer by default; --step N counts copy steps from 1', async () => {
    const file = fx('ocaml-ci-openbsd.log');
    const log = await readJobLog(file);
    expect(pickCopyStep(log, file).layerId).toBe(ID.copy2);
    expect(pickCopyStep(log, file, 1).layerId).toBe(ID.copy1);
    expect(pickCopyStep(log, file, 2).layerId).toBe(ID.copy2);
    expect(() => pickCopyStep(log, file, 3)).toThrow(`job log ${file}: copy step 3 not found (it has 2 copy steps)`);
    expect(() => pickCopyStep(log, file, 0)).toThrow(/copy step 0 is not valid \(steps count from 1\)/);
  });
});

describe('ANSI colour codes, CRLF line ends and a cached copy step', () => {
  test('are read like a plain log', async () => {
    const file = fx('ansi-crlf-cached.log');
    const log = await readJobLog(file);
    expect(log.worker).toBe('x86-bm-c7.sw.ocaml.org');
    expect(log.base).toMatch(/^ocaml\/opam:debian-12-ocaml-5\.2@sha256:0{64}$/);
    const step = pickCopyStep(log, file);
    expect(step).toMatchObject({ layerId: ID.copy2, cached: true, src: ['a.opam', 'b.opam'], dst: '/home/opam/src', line: 6 });
    expect(step.text).toBe('(copy (src a.opam b.opam) (dst /home/opam/src/./))');
    for (const s of log.steps) {
      expect(s.text).not.toMatch(/[\x1b\r]/);
    }
    expect(log.steps[2]).toMatchObject({ op: 'run', layerId: ID.run2, cached: false });
  });
});

describe('errors', () => {
  test('a log with no copy step', async () => {
    const file = fx('no-copy.log');
    const log = await readJobLog(file);
    expect(log.steps.map((s) => s.op)).toEqual(['from', 'run']);
    expect(() => pickCopyStep(log, file)).toThrow(`job log ${file}: no copy step found`);
    expect(() => pickCopyStep(log, file, 1)).toThrow(`job log ${file}: no copy step found`);
  });

  test('a copy step with no layer id (the job stopped during it)', async () => {
    const file = fx('unfinished-copy.log');
    const log = await readJobLog(file);
    const copies = copySteps(log);
    expect(copies[1]).toMatchObject({ layerId: null, src: ['odd (name).opam', 'y.opam'], dst: '/home/opam/src' });
    expect(pickCopyStep(log, file).layerId).toBe(ID.copy1);
    const err = (() => {
      try {
        pickCopyStep(log, file, 2);
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err?.message).toMatch(new RegExp(`^job log ${file.replace(/[.]/g, '\\.')}: copy step 2 has no layer id`));
  });

  test('when no copy step has a layer id, the last one is named', () => {
    const log = parseJobLog('/: (copy (src a) (dst /x/))\n');
    expect(() => pickCopyStep(log, 'j.log')).toThrow(/^job log j\.log: copy step 1 has no layer id/);
  });

  test('a missing job log and a directory', async () => {
    expect((await userError(readJobLog(fx('nope.log')))).message).toBe(`job log ${fx('nope.log')}: does not exist`);
    expect((await userError(readJobLog(FIXTURES))).message).toBe(`job log ${FIXTURES}: is a directory`);
  });
});

describe('parsing details', () => {
  test('an unbalanced op stops at the next step instead of swallowing the log', () => {
    const id = 'c'.repeat(64);
    const log = parseJobLog(
      ['/: (run (shell "broken"', '/: (copy (src a.opam) (dst /home/opam/src/./))', `2026-01-01 00:00.00 ---> saved as "${id}"`].join('\n'),
    );
    expect(log.steps.map((s) => [s.op, s.layerId])).toEqual([
      ['run', null],
      ['copy', id],
    ]);
  });

  test('a relative dst is taken from the workdir; a single source to a file path', () => {
    const log = parseJobLog('/home/opam: (copy (src x.opam) (dst src/x.opam))\n');
    expect(copySteps(log)[0]).toMatchObject({ dst: '/home/opam/src/x.opam', dstIsDir: false });
  });

  test('exclude lists', () => {
    const log = parseJobLog('/: (copy (src .) (dst /src/) (exclude .git _build))\n');
    expect(copySteps(log)[0]).toMatchObject({ src: ['.'], exclude: ['.git', '_build'], dstIsDir: true });
  });

  test('normaliseGuestPath', () => {
    expect(normaliseGuestPath('/home/opam/src/./')).toBe('/home/opam/src');
    expect(normaliseGuestPath('/home//opam/./src/../src')).toBe('/home/opam/src');
    expect(normaliseGuestPath('/')).toBe('/');
    expect(normaliseGuestPath('/..')).toBe('/');
  });

  test('stripAnsi and parseSexp', () => {
    expect(stripAnsi('\x1b[1;31mred\x1b[0m\r')).toBe('red');
    expect(stripAnsi('\x1b]0;title\x07ok')).toBe('ok');
    expect(parseSexp('(copy (src "a b" c) (dst /x))')).toEqual(['copy', ['src', 'a b', 'c'], ['dst', '/x']]);
    expect(parseSexp('(shell "a \\"(q)\\" b")')).toEqual(['shell', 'a "(q)" b']);
  });
});
