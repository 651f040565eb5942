// Real reports for the TUI's component tests: fixture directories on disk (with a directory block
// cut by The Sleuth Kit out of a real makefs FFS image), classified by the real classifier.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readDirectoryTree } from '../../src/classify/read-tree.js';
import { classifyDirectories } from '../../src/diagnose/classify-directories.js';
import type { DiagnoseEvent, DiagnoseOptions, DiagnoseResult, RunControl } from '../../src/diagnose/types.js';
import type { Layer } from '../../src/store/store.js';
import { UserError } from '../../src/util/errors.js';
import type { TuiDeps, TuiInit } from '../../src/tui/app.js';
import { ffsDirectory, names } from '../helpers/fs-images.js';
import { OPAM, writeTree } from '../helpers/trees.js';

export const LAYER_ID = '1a3b60d28d3309586f5ab1437469ceff4a6a6b87638e0ac083963c497816bbd1';
export const PARENT_ID = '10d4dd93b2fc5e39e8ac6f7545070782466f87b3a2806fecd0bca6f0663a8a5c';
export const CLEAN_ID = '85d16de26114b64d6e29728b41602e8d3e9baa7f537be61c6dc85c89f1ac94c6';
export const BASE_ID = '9ad30d0e95b14a182ccd80ed07ac14c7e3139a8bbbb69a614ab3a812ceecb2a6';

/** The stale bytes of `evil.opam`: terminal escape sequences (clear screen, set title, colour). */
export const EVIL = '\x1b[2J\x1b]0;pwned\x07\x1b[31mred\x1b[0m';
export const EVIL_NAME = 'evil\x1b[31m.opam';

export interface Fixture {
  dir: string;
  expected: string;
  actual: string;
  corpus: string;
  corrupt: DiagnoseResult;
  clean: DiagnoseResult;
  /** The incident of the seed: three .opam files with soft-updates data loss, one intact. */
  incident: DiagnoseResult;
  remove(): Promise<void>;
}

const ZX = 'opam-version: "2.0"\nname: "zxcvbn"\nsynopsis: "Password strength estimation"\nmaintainer: "x@example.org"\n'.repeat(12);

function binary(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}

async function result(expected: string, actual: string, corpus: string | undefined, layerId: string): Promise<DiagnoseResult> {
  const report = await classifyDirectories({ expected, actual, corpus: corpus ? [corpus] : [] });
  report.layer = { id: layerId, image: `/store/result/${layerId}/rootfs/image.qcow2`, chain: [`/store/result/${layerId}/rootfs/image.qcow2`, '/store/base-image/linux-sample.qcow2'] };
  report.extraction = { ...report.extraction, via: 'boot', accel: 'tcg', accelNote: 'KVM not usable (/dev/kvm missing); using TCG', guestOs: 'linux', dst: '/home/opam/src' };
  report.layerUnchanged = true;
  return {
    report,
    expected: await readDirectoryTree(expected, 'expected-sources directory'),
    actual: await readDirectoryTree(actual, 'actual directory'),
  };
}

export async function buildFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'lf-tui-'));
  const p = (...s: string[]) => join(dir, ...s);
  const dirNames = names(40);
  const dirBlock = (await ffsDirectory(dirNames)).blocks;
  const longText = Array.from({ length: 120 }, (_, i) => `line ${i + 1}: "depends" {>= "${i}.0"}\n`).join('');
  const partialExpected = Buffer.from(longText.slice(0, 4096).padEnd(4096, '#'));
  const partialActual = Buffer.concat([partialExpected.subarray(0, 1024), Buffer.alloc(1024), partialExpected.subarray(2048, 3072), dirBlock.subarray(0, 1024)]);
  const expectedFiles: Record<string, string | Buffer> = {
    ...OPAM,
    'tls-mirage.opam': OPAM['tls.opam'].replace(/tls/g, 'tls-mirage'),
    'evil.opam': 'opam-version: "2.0"\nname: "evil"\n'.padEnd(400, ' '),
    'partial.opam': partialExpected,
    'blob.bin': binary(700, 7),
    'gone.opam': 'opam-version: "2.0"\n',
    'short.opam': 'opam-version: "2.0"\nname: "short"\n',
    'long.opam': longText,
  };
  await writeTree(p('expected'), expectedFiles);
  await writeTree(p('clean'), expectedFiles);
  const actualFiles: Record<string, string | Buffer> = {
    'tls.opam': dirBlock.subarray(0, OPAM['tls.opam'].length),
    'tls-async.opam': Buffer.concat([Buffer.from(ZX.slice(0, OPAM['tls-async.opam'].length - 40)), Buffer.alloc(40)]),
    'tls-lwt.opam': Buffer.alloc(OPAM['tls-lwt.opam'].length),
    'tls-mirage.opam': expectedFiles['tls-mirage.opam']!,
    'evil.opam': `${EVIL}${'x'.repeat((expectedFiles['evil.opam'] as string).length - EVIL.length)}`,
    'partial.opam': partialActual,
    'blob.bin': binary(700, 99),
    'short.opam': 'opam-version',
    'long.opam': longText.replace('line 60:', 'LINE 60:'),
    [EVIL_NAME]: 'stray\n',
  };
  await writeTree(p('actual'), actualFiles);
  await writeTree(p('corpus'), { 'packages/zxcvbn/zxcvbn.2.4+1/opam': ZX });
  const incidentExpected = { ...OPAM, 'tls-mirage.opam': expectedFiles['tls-mirage.opam']! };
  await writeTree(p('incident-expected'), incidentExpected);
  await writeTree(p('incident-actual'), {
    'tls.opam': actualFiles['tls.opam']!,
    'tls-async.opam': actualFiles['tls-async.opam']!,
    'tls-lwt.opam': actualFiles['tls-lwt.opam']!,
    'tls-mirage.opam': incidentExpected['tls-mirage.opam'],
  });
  const incident = await result(p('incident-expected'), p('incident-actual'), p('corpus'), LAYER_ID);
  const corrupt = await result(p('expected'), p('actual'), p('corpus'), LAYER_ID);
  const clean = await result(p('expected'), p('clean'), undefined, CLEAN_ID);
  return {
    dir,
    expected: p('expected'),
    actual: p('actual'),
    corpus: p('corpus'),
    corrupt,
    clean,
    incident,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export function layers(): Layer[] {
  const mk = (id: string, parent: string | null, created: string, depth: number, bytes: number, extra: Partial<Layer> = {}): Layer => ({
    id,
    parent,
    base: 'linux-sample',
    created,
    chainDepth: depth,
    image: `/store/result/${id}/rootfs/image.qcow2`,
    chain: [],
    links: [],
    bytes,
    log: null,
    rc: 0,
    used: created,
    inDb: true,
    ...extra,
  });
  return [
    mk('a5d476bed47e64f21662aa4728dcce484efd9455dca4287cc68fd93c01bf5b8c', LAYER_ID, '2026-06-29T16:02:51Z', 5, 196608),
    mk(LAYER_ID, PARENT_ID, '2026-06-29T16:02:38Z', 4, 262144),
    mk(CLEAN_ID, PARENT_ID, '2026-06-29T15:59:00Z', 4, 262144),
    mk(PARENT_ID, BASE_ID, '2026-06-29T15:58:11Z', 3, 1048576),
    mk(BASE_ID, null, '2026-06-29T15:58:10Z', 2, 65536),
    mk('ffff000000000000000000000000000000000000000000000000000000000000', null, '2026-06-01T10:00:00Z', 1, 0, {
      chainError: 'backing file /gone/base.qcow2: does not exist',
    }),
  ];
}

/** The events of a boot under TCG after KVM failed, with raw console bytes. */
export const BOOT_EVENTS: DiagnoseEvent[] = [
  { type: 'step-start', step: 'resolve' },
  { type: 'step-done', step: 'resolve', ms: 12, info: 'layer 1a3b60d28d33, chain of 4' },
  { type: 'step-start', step: 'overlay' },
  { type: 'step-done', step: 'overlay', ms: 31, info: '/tmp/lf-ov/overlay.qcow2' },
  { type: 'step-start', step: 'qemu', info: 'kvm, port 40111' },
  { type: 'step-fail', step: 'qemu', reason: 'qemu-system-x86_64: failed to initialize kvm: No such file or directory' },
  { type: 'note', message: 'KVM failed (failed to initialize kvm); fell back to TCG' },
  { type: 'step-start', step: 'qemu', info: 'tcg, port 40123' },
  { type: 'step-done', step: 'qemu', ms: 210, info: 'tcg, port 40123, pid 4242' },
  { type: 'console-line', line: 'Linux version 6.1.0 (debian)' },
  { type: 'console-line', line: 'evil console \x1b[2J\x1b]0;owned\x07 line' },
  { type: 'step-start', step: 'ssh', info: '127.0.0.1:40123' },
  { type: 'ssh-attempt', attempt: 1, elapsedMs: 1200, bootTimeMs: 90_000, result: 'not-up' },
  { type: 'ssh-attempt', attempt: 4, elapsedMs: 7200, bootTimeMs: 90_000, result: 'not-up' },
];

export const FINISH_EVENTS: DiagnoseEvent[] = [
  { type: 'ssh-attempt', attempt: 5, elapsedMs: 8400, bootTimeMs: 90_000, result: 'ok' },
  { type: 'step-done', step: 'ssh', ms: 8400, info: '5 attempts' },
  { type: 'step-start', step: 'extract', info: '/home/opam/src' },
  { type: 'extract-progress', files: 6, bytes: 7000 },
  { type: 'step-done', step: 'extract', ms: 300, info: '6 files, 7000 bytes' },
  { type: 'step-start', step: 'classify' },
  { type: 'classify-progress', done: 3, total: 6 },
  { type: 'classify-progress', done: 6, total: 6 },
  { type: 'step-done', step: 'classify', ms: 20, info: '6 files' },
  { type: 'step-start', step: 'cleanup' },
  { type: 'step-done', step: 'cleanup', ms: 150, info: 'QEMU stopped, overlay removed' },
];

/**
 * A stand-in for runDiagnose: emits BOOT_EVENTS, waits for `release()` (or not at all), emits
 * FINISH_EVENTS and resolves with `result`. Aborting emits the cleanup step and rejects, as the
 * real pipeline does once QEMU is stopped and the overlay removed.
 */
export class FakeRun {
  calls: DiagnoseOptions[] = [];
  aborted = 0;
  cleanedUp = 0;
  private releaseFn: (() => void) | null = null;
  constructor(
    private result: DiagnoseResult | (() => DiagnoseResult),
    private opts: { hold?: boolean; fail?: string } = {},
  ) {}

  release(): void {
    this.releaseFn?.();
  }

  run = async (o: DiagnoseOptions, ctl: RunControl): Promise<DiagnoseResult> => {
    this.calls.push(o);
    const emit = (e: DiagnoseEvent) => ctl.onEvent?.(e);
    const aborted = new Promise<never>((_, reject) => {
      ctl.signal?.addEventListener('abort', () => {
        this.aborted++;
        void sleep(30).then(() => {
          emit({ type: 'step-start', step: 'cleanup' });
          emit({ type: 'step-done', step: 'cleanup', ms: 30, info: 'QEMU stopped, overlay removed' });
          this.cleanedUp++;
          reject(new UserError('interrupted'));
        });
      });
    });
    aborted.catch(() => {});
    const work = (async () => {
      for (const e of BOOT_EVENTS) {
        emit(e);
        await sleep(1);
      }
      if (this.opts.fail) {
        emit({ type: 'step-fail', step: 'ssh', reason: this.opts.fail });
        throw new UserError(this.opts.fail);
      }
      if (this.opts.hold) await new Promise<void>((r) => (this.releaseFn = r));
      for (const e of FINISH_EVENTS) emit(e);
      return typeof this.result === 'function' ? this.result() : this.result;
    })();
    return Promise.race([work, aborted]);
  };
}

export function deps(run: FakeRun, over: Partial<TuiDeps> = {}): TuiDeps & { exports: string[]; cleanups: number } {
  const d = {
    exports: [] as string[],
    cleanups: 0,
    listLayers: async () => layers(),
    run: run.run,
    exportReports: async () => {
      d.exports.push('x');
      return { json: '/out/x.json', markdown: '/out/x.md' };
    },
    cleanup: async () => {
      d.cleanups++;
    },
    ...over,
  };
  return d;
}

export function init(over: Partial<TuiInit> = {}): TuiInit {
  return {
    store: '/store',
    options: {
      store: '/store',
      cpus: 2,
      memoryGb: 2,
      guestOs: 'linux',
      guestArch: 'amd64',
      bootTimeSec: 30,
      accel: 'auto',
      sshUser: 'opam',
    },
    expected: '/',
    dst: '/home/opam/src',
    exportDir: '/tmp',
    ...over,
  };
}
