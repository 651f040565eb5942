// `diagnose --via direct` (the disk read in-process) on the OpenBSD-shaped sample's corrupt layer,
// in the same run as `diagnose --via boot` on the bootable sample and `guestfish --ro ... copy-out`
// of the same OpenBSD layer (libguestfs, direct backend, TCG). Figures: the in-process time of
// runDiagnose (warm, median), the whole process (median wall clock), peak RSS, and the ratios.

import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDiagnose } from '../src/diagnose/run-diagnose.js';
import type { DiagnoseOptions } from '../src/diagnose/types.js';
import { BOOT_DEFAULTS } from '../src/vm/guest.js';
import { withPeakRss } from './peak-rss.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'layer-forensics');

export interface DirectFigures {
  inProcessMs: number;
  inProcessRuns: number[];
  processMs: number;
  processRuns: number[];
  peakRssMb: number;
  bootMs: number;
  bootRuns: number[];
  guestfishMs: number;
  guestfishRuns: number[];
  files: number;
  verdict: string;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface OpenbsdSample {
  store: string;
  layers: { copyCorrupt: string };
  dst: string;
  expected: string;
}

/** runDiagnose in this process, after one warm-up run: what a TUI or an audit pays per layer. */
async function inProcess(o: OpenbsdSample, rounds: number): Promise<{ runs: number[]; files: number; verdict: string }> {
  const opts: DiagnoseOptions = {
    ...BOOT_DEFAULTS,
    guestArch: BOOT_DEFAULTS.guestArch,
    store: o.store,
    layer: o.layers.copyCorrupt,
    expected: o.expected,
    dst: o.dst,
    via: 'direct',
  };
  const first = await runDiagnose(opts);
  const runs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await runDiagnose(opts);
    runs.push(Math.round(performance.now() - t));
  }
  return { runs, files: first.report.files.length, verdict: first.report.verdict.kind };
}

/** The whole process, as a user runs it; peak RSS from GNU time. */
async function wholeProcess(o: OpenbsdSample, rounds: number): Promise<{ runs: number[]; rssMb: number }> {
  const runs: number[] = [];
  let rss = 0;
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    const { result: r, peakRssKb } = await withPeakRss(BIN, ['diagnose', '--via', 'direct', '--store', o.store, '--layer', o.layers.copyCorrupt, '--expected', o.expected, '--json', '--quiet']);
    runs.push(Math.round(performance.now() - t));
    if (r.exitCode !== 1) throw new Error(`diagnose --via direct exited ${r.exitCode}: ${String(r.stderr)}`);
    rss = Math.max(rss, peakRssKb);
  }
  return { runs, rssMb: Math.round(rss / 1024) };
}

async function bootLinuxSample(rounds: number): Promise<number[]> {
  const s = JSON.parse(await readFile(join(ROOT, 'samples', 'out', 'layers.json'), 'utf8'));
  const runs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    const r = await execa(BIN, ['diagnose', '--store', s.store, '--layer', s.layers.copyCorrupt, '--expected', s.expected, '--ssh-key', s.sshKey, '--qemu-accel', 'tcg', '--json', '--quiet'], { reject: false });
    runs.push(Math.round(performance.now() - t));
    if (r.exitCode !== 1) throw new Error(`diagnose --via boot exited ${r.exitCode}: ${r.stderr}`);
  }
  return runs;
}

/** guestfish copying /home/opam/src out of the same layer: the disklabel's `e` is /dev/sda7 in the appliance. */
async function guestfish(o: OpenbsdSample, rounds: number): Promise<number[]> {
  const image = join(o.store, 'result', o.layers.copyCorrupt, 'rootfs', 'image.qcow2');
  const tmp = await mkdtemp(join(tmpdir(), 'lf-bench-gf-'));
  const runs: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const out = join(tmp, String(i));
      await execa('mkdir', [out]);
      const t = performance.now();
      await execa('guestfish', ['--ro', '--format=qcow2', '-a', image, 'run', ':', 'mount-vfs', 'ro,ufstype=ufs2', 'ufs', '/dev/sda7', '/', ':', 'copy-out', '/opam/src', out], {
        env: { LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' },
      });
      runs.push(Math.round(performance.now() - t));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return runs;
}

export async function runDirectBench(log: (s: string) => void, rounds = 10): Promise<DirectFigures> {
  const o = JSON.parse(await readFile(join(ROOT, 'samples', 'out', 'openbsd.json'), 'utf8')) as OpenbsdSample;
  log('direct: in-process runs');
  const ip = await inProcess(o, rounds);
  log('direct: whole-process runs');
  const wp = await wholeProcess(o, Math.min(rounds, 5));
  log('direct: boot of the bootable sample (2 rounds)');
  const boot = await bootLinuxSample(2);
  log('direct: guestfish copy-out (2 rounds)');
  const gf = await guestfish(o, 2);
  return {
    inProcessMs: median(ip.runs),
    inProcessRuns: ip.runs,
    processMs: median(wp.runs),
    processRuns: wp.runs,
    peakRssMb: wp.rssMb,
    bootMs: median(boot),
    bootRuns: boot,
    guestfishMs: median(gf),
    guestfishRuns: gf,
    files: ip.files,
    verdict: ip.verdict,
  };
}
