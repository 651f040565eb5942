// `diagnose` on the corrupted sample layer, per phase, next to the same steps done by hand
// (bench/hand-procedure.sh: qemu-img, qemu-system, ssh, tar) and next to `guestfish --ro`
// copying the same files out (libguestfs forced to TCG). Rounds alternate so that machine
// load affects all three alike; medians are reported.

import { execa } from 'execa';
import { mkdtemp, mkdir, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

interface Phases {
  overlayMs: number;
  bootMs: number;
  extractMs: number;
  totalMs: number;
  wallMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export interface DiagnoseFigures {
  rounds: number;
  tool: Phases;
  hand: Phases;
  guestfishMs: number;
  toolOverHand: number;
  guestfishOverTool: number;
  samples: { tool: number[]; hand: number[]; guestfish: number[] };
}

export async function runDiagnoseBench(log: (s: string) => void, rounds = 5): Promise<DiagnoseFigures> {
  const sample = JSON.parse(await readFile(join(ROOT, 'samples', 'out', 'layers.json'), 'utf8'));
  const id: string = sample.layers.copyCorrupt;
  const image = join(sample.store, 'result', id, 'rootfs', 'image.qcow2');
  const tmp = await mkdtemp(join(tmpdir(), 'lf-bench-'));
  const tool: Phases[] = [];
  const hand: Phases[] = [];
  const gf: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      let t = performance.now();
      const r = await execa(join(ROOT, 'bin', 'layer-forensics'), ['diagnose', '--store', sample.store, '--layer', id, '--expected', sample.expected, '--ssh-key', sample.sshKey, '--qemu-accel', 'tcg', '--json', '--quiet'], { reject: false });
      const wall = performance.now() - t;
      if (r.exitCode !== 1) throw new Error(`diagnose exited ${r.exitCode}: ${r.stderr}`);
      const tm = JSON.parse(r.stdout).timings;
      tool.push({ overlayMs: tm.overlayMs, bootMs: tm.bootMs, extractMs: tm.extractMs, totalMs: tm.totalMs, wallMs: wall });

      t = performance.now();
      const h = await execa(join(ROOT, 'bench', 'hand-procedure.sh'), [image, sample.sshKey, sample.dst, join(tmp, `hand-${i}`)]);
      const hw = performance.now() - t;
      const hp = JSON.parse(h.stdout.trim().split('\n').at(-1)!);
      hand.push({ overlayMs: hp.overlayMs, bootMs: hp.bootMs, extractMs: hp.extractMs, totalMs: hp.totalMs, wallMs: hw });

      const out = join(tmp, `gf-${i}`);
      await mkdir(out);
      t = performance.now();
      await execa('guestfish', ['--ro', '--format=qcow2', '-a', image, 'run', ':', 'mount-vfs', 'ro,ufstype=44bsd', 'ufs', '/dev/sda2', '/', ':', 'copy-out', '/opam/src', out], {
        env: { LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' },
      });
      gf.push(performance.now() - t);
      log(`round ${i + 1}/${rounds}: tool ${Math.round(wall)} ms, hand ${Math.round(hw)} ms, guestfish ${Math.round(gf[i]!)} ms`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const med = (ps: Phases[]): Phases => ({
    overlayMs: median(ps.map((p) => p.overlayMs)),
    bootMs: median(ps.map((p) => p.bootMs)),
    extractMs: median(ps.map((p) => p.extractMs)),
    totalMs: median(ps.map((p) => p.totalMs)),
    wallMs: median(ps.map((p) => p.wallMs)),
  });
  const T = med(tool);
  const H = med(hand);
  const G = median(gf);
  return {
    rounds,
    tool: T,
    hand: H,
    guestfishMs: G,
    toolOverHand: T.wallMs / H.wallMs,
    guestfishOverTool: G / T.wallMs,
    samples: { tool: tool.map((p) => Math.round(p.wallMs)), hand: hand.map((p) => Math.round(p.wallMs)), guestfish: gf.map(Math.round) },
  };
}
