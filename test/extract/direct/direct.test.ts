// `diagnose --via direct` on the bootable sample store (MBR: FAT boot partition + UFS1 /home, no
// fstab on disk: the partition is found by searching dst), and the ways it refuses what it
// cannot read. No QEMU: the tests run with a PATH that has no qemu-system at all.

import { execa } from 'execa';
import { mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { loadSample, storeFingerprint, type Sample } from '../../helpers/sample.js';

let S: Sample;
let before: Map<string, string>;
let scratch: string;
/** A PATH with node only: nothing QEMU-related can start. */
let bareBin: string;

beforeAll(async () => {
  S = loadSample();
  before = storeFingerprint(S.store);
  scratch = await mkdtemp(join(tmpdir(), 'lf-direct-'));
  bareBin = join(scratch, 'bin');
  await mkdir(bareBin);
  await symlink(process.execPath, join(bareBin, 'node'));
}, 300_000);

afterEach(() => {
  // The layers are evidence.
  expect(storeFingerprint(S.store)).toEqual(before);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const direct = (args: string[]) =>
  runCli(['diagnose', '--via', 'direct', '--store', `qemu:${S.store}`, '--expected', S.expected, ...args], { env: { PATH: bareBin, TMPDIR: scratch } });

describe('diagnose --via direct on the bootable sample', () => {
  it('finds the same three stale files the boot path finds, with storage, without QEMU (exit 1)', async () => {
    const r = await direct(['--layer', S.layers.copyCorrupt, '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const doc = JSON.parse(String(r.stdout));
    expect(doc.extraction).toMatchObject({
      via: 'direct',
      accel: null,
      dst: '/home/opam/src',
      files: 6,
      partition: { scheme: 'mbr', name: '2', fs: 'ufs1', mountpoint: '/home' },
    });
    expect(doc.verdict.kind).toBe('soft-updates-data-loss');
    const classes = Object.fromEntries(doc.files.map((f: { path: string; class: string }) => [f.path, f.class]));
    for (const [name, cls] of Object.entries(S.corrupted)) expect(classes[name]).toBe(cls);
    expect(Object.values(classes).filter((c) => c === 'match')).toHaveLength(3);
    // Every file says where its bytes are and which layer holds them: the copy layer wrote them.
    for (const f of doc.files) {
      expect(f.storage.inode).toBeGreaterThan(2);
      expect(f.storage.blocks.length).toBeGreaterThan(0);
      for (const b of f.storage.blocks) {
        expect(b.disk).toBeGreaterThan(doc.extraction.partition.offset);
        expect(b.layer).toBe(S.layers.copyCorrupt);
      }
      const covered = f.storage.blocks.reduce((n: number, b: { length: number }) => n + b.length, 0);
      expect(covered).toBe(f.actualSize);
    }
  });

  it('the clean sibling is clean (exit 0), and the job log gives the same layer', async () => {
    const r = await direct(['--layer', S.layers.copyClean]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(/^Verdict: clean/);
    expect(String(r.stdout)).toMatch(/Read the disk directly \(no boot\): mbr partition 2 \(ufs1\) mounted on \/home/);
    const j = await direct(['--job-log', S.jobLog, '--json']);
    expect(j.exitCode).toBe(1);
    expect(JSON.parse(String(j.stdout)).layer.id).toBe(S.layers.copyCorrupt);
  });

  it('--partition picks the partition; one that holds no FFS is refused in one line naming it and --via boot', async () => {
    const ok = await direct(['--layer', S.layers.copyClean, '--partition', '2']);
    expect(ok.exitCode, String(ok.stderr)).toBe(0);
    const fat = await direct(['--layer', S.layers.copyClean, '--partition', '1']);
    expect(fat.exitCode).toBe(2);
    expect(String(fat.stderr).trim().split('\n').at(-1)).toMatch(/^layer-forensics: mbr partition 1 holds FAT\S* .*use --via boot$/);
    const none = await direct(['--layer', S.layers.copyClean, '--partition', 'z']);
    expect(none.exitCode).toBe(2);
    expect(String(none.stderr)).toMatch(/--partition z: no such partition on the layer's disk \(partitions: 1, 2\)/);
  });

  it('a dst that is on no partition, and --partition without --via direct, are one-line errors', async () => {
    const r = await direct(['--layer', S.layers.copyClean, '--dst', '/no/such/place', '--quiet']);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr).trim()).toMatch(/^layer-forensics: --dst \/no\/such\/place: not found on any FFS partition of the layer \(mbr partition 2\)$/);
    const b = await runCli(['diagnose', '--store', S.store, '--layer', S.layers.copyClean, '--expected', S.expected, '--partition', '2', '--quiet']);
    expect(b.exitCode).toBe(2);
    expect(String(b.stderr).trim()).toBe('layer-forensics: --partition 2: only means something with --via direct');
  });
});

describe('diagnose --via direct on a disk it cannot read', () => {
  it('an ext4 layer: one line naming ext4 and pointing to --via boot', async () => {
    const store = join(scratch, 'ext4-store');
    await mkdir(join(store, 'base-image'), { recursive: true });
    const raw = join(scratch, 'ext4.raw');
    await execa('truncate', ['-s', '16M', raw]);
    await execa('mke2fs', ['-q', '-t', 'ext4', '-F', raw]);
    await execa('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, join(store, 'base-image', 'ext4.qcow2')]);
    const id = 'e'.repeat(64);
    await mkdir(join(store, 'result', id, 'rootfs'), { recursive: true });
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(store, 'base-image', 'ext4.qcow2'), '-F', 'qcow2', join(store, 'result', id, 'rootfs', 'image.qcow2')]);
    const r = await runCli(['diagnose', '--via', 'direct', '--store', store, '--layer', id, '--expected', S.expected, '--quiet'], { env: { PATH: bareBin } });
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr).trim()).toMatch(/^layer-forensics: the layer's disk has no FFS partition the direct reader can read \(the whole disk: ext4\); use --via boot$/);
  });
});

describe('a direct tree after the run', () => {
  it('stays readable after runDiagnose returns (each read opens the image again) and leaks no descriptor', async () => {
    const { runDiagnose } = await import('../../../src/diagnose/run-diagnose.js');
    const { BOOT_DEFAULTS } = await import('../../../src/vm/guest.js');
    const { readdirSync, readFileSync } = await import('node:fs');
    const r = await runDiagnose({ ...BOOT_DEFAULTS, store: S.store, layer: S.layers.copyClean, expected: S.expected, dst: S.dst, via: 'direct' });
    const fds = readdirSync('/proc/self/fd').length;
    const e = r.actual.get('tls.opam')!;
    expect((await e.read()).equals(readFileSync(join(S.expected, 'tls.opam')))).toBe(true);
    const reader = await e.openReader!();
    const head = Buffer.alloc(12);
    expect(await reader.read(head, 0)).toBe(12);
    await reader.close();
    expect(head.toString()).toBe('opam-version');
    expect(readdirSync('/proc/self/fd').length).toBe(fds);
  });
});
