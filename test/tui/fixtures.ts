// Real reports for the TUI's component tests: fixture directories on disk (with a directory block
// cut by The Sleuth Kit out of a real makefs FFS image), classified by the real classifier, for
// every class; the store's layers; the UI's dependencies around a run (replay.ts replays
// recorded runs of the real pipeline).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDirectoryTree } from '../../src/extract/directory-tree.js';
import { classifyDirectories } from '../../src/diagnose/classify-directories.js';
import type { DiagnoseOptions, DiagnoseResult, RunControl } from '../../src/diagnose/types.js';
import type { Layer } from '../../src/store/store.js';
import { BOOT_DEFAULTS } from '../../src/vm/guest.js';
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

const STALE_PROSE = 'The repository index lists every package once; mirrors refresh it hourly and keep the last seven copies.\n'.repeat(8);

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
    // Stale text from another file (of the corpus) ending with escape sequences, NUL-padded to
    // the block's end as a stale block is.
    'evil.opam': `${STALE_PROSE.slice(0, (expectedFiles['evil.opam'] as string).length - EVIL.length - 64)}${EVIL}${'\0'.repeat(64)}`,
    'partial.opam': partialActual,
    'blob.bin': binary(700, 99),
    'short.opam': 'opam-version',
    'long.opam': longText.replace('line 60:', 'LINE 60:'),
    [EVIL_NAME]: 'stray\n',
  };
  await writeTree(p('actual'), actualFiles);
  await writeTree(p('corpus'), { 'packages/zxcvbn/zxcvbn.2.4+1/opam': ZX, 'index/README': STALE_PROSE });
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

export function deps(run: { run: (o: DiagnoseOptions, c: RunControl) => Promise<DiagnoseResult> }, over: Partial<TuiDeps> = {}): TuiDeps & { exports: string[]; cleanups: number } {
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
    cachedAudits: async () => new Map(),
    auditStore: async () => Promise.reject(new Error('no audit in this test')),
    ...over,
  };
  return d;
}

export function init(over: Partial<TuiInit> = {}): TuiInit {
  return {
    store: '/store',
    options: { store: '/store', ...BOOT_DEFAULTS },
    expected: '/',
    dst: '/home/opam/src',
    exportDir: '/tmp',
    ...over,
  };
}
