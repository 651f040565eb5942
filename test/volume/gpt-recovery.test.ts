// A GPT made by sfdisk, then damaged the ways a disk gets damaged: the primary header, the primary
// entry array, the backup, both, an image truncated or grown after partitioning.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeImageFile } from '../../samples/lib/disk-layout.js';
import { UserError } from '../../src/util/errors.js';
import { readVolumes, type VolumeSystem } from '../../src/volume/index.js';
import { MemDevice, removeAll, sfdisk, tempDir } from './helpers.js';

let dir: string;
let pristine: Buffer;
const SIZE = 8 * 2 ** 20;
const LAST = SIZE - 512; // the backup header's byte offset
const PRIMARY_ENTRIES = 1024;

beforeAll(async () => {
  dir = await tempDir();
  const img = path.join(dir, 'gpt.img');
  await writeImageFile(img, SIZE, []);
  await sfdisk(
    img,
    ['label: gpt', 'size=2048, type=uefi, name="esp"', 'size=4096, type=linux, name="root"', 'type=swap, name="swap"'].join('\n'),
  );
  pristine = await readFile(img);
});

afterAll(async () => {
  await removeAll(dir);
});

function damaged(...edits: [offset: number, value: number][]): MemDevice {
  const b = Buffer.from(pristine);
  for (const [at, v] of edits) b[at] = v;
  return new MemDevice(b, 'disk.img');
}

function shape(vs: VolumeSystem): unknown {
  return vs.partitions.map((p) => [p.name, p.offset, p.size, p.type, p.label, p.guid]);
}

describe('GPT recovery', () => {
  let good: VolumeSystem;
  beforeAll(() => {
    good = readVolumes(new MemDevice(pristine, 'disk.img'));
  });

  test('the pristine table reads without warnings', () => {
    expect(good.scheme).toBe('gpt');
    expect(good.warnings).toEqual([]);
    expect(good.partitions.map((p) => p.label)).toEqual(['esp', 'root', 'swap']);
  });

  test('a corrupt primary header: the backup is used, and the warning says so', () => {
    const vs = readVolumes(damaged([512 + 60, pristine[512 + 60]! ^ 0xff])); // a byte of the disk GUID
    expect(shape(vs)).toEqual(shape(good));
    expect(vs.warnings).toHaveLength(1);
    expect(vs.warnings[0]).toMatch(/^disk\.img: primary GPT at LBA 1 is corrupt \(header CRC32 mismatch .*\); using the backup at LBA 16383$/);
  });

  test('a zeroed primary header (protective MBR intact): the backup', () => {
    const b = Buffer.from(pristine);
    b.fill(0, 512, 1024);
    const vs = readVolumes(new MemDevice(b, 'disk.img'));
    expect(shape(vs)).toEqual(shape(good));
    expect(vs.warnings[0]).toMatch(/primary GPT at LBA 1 is corrupt \(no "EFI PART" signature\); using the backup/);
  });

  test('a corrupt primary entry array: its CRC fails, the backup is used', () => {
    const vs = readVolumes(damaged([PRIMARY_ENTRIES + 56, 0x41])); // entry 1's name: 'e' → 'A'
    expect(shape(vs)).toEqual(shape(good));
    expect(vs.warnings).toEqual([expect.stringMatching(/primary GPT at LBA 1 is corrupt \(entry array at LBA 2 fails its CRC32 .*\); using the backup at LBA 16383/)]);
  });

  test('both entry arrays corrupt: read anyway, with a warning naming both', () => {
    const backupEntries = LAST - 32 * 512;
    const vs = readVolumes(damaged([PRIMARY_ENTRIES + 56, 0x41], [backupEntries + 56, 0x42]));
    expect(vs.partitions.map((p) => p.label)).toEqual(['Asp', 'root', 'swap']);
    expect(vs.warnings).toEqual([expect.stringMatching(/primary GPT entry array at LBA 2 fails its CRC32 .*backup at LBA 16383 is no better \(entry array at LBA 16351 fails.*read anyway/)]);
  });

  test('both headers corrupt: a one-line UserError', () => {
    const dev = damaged([512 + 60, 0], [LAST + 60, 0]);
    expect(() => readVolumes(dev)).toThrow(UserError);
    expect(() => readVolumes(dev)).toThrow(/^disk\.img: no usable GPT: primary at LBA 1: header CRC32 mismatch .*; backup at LBA 16383: header CRC32 mismatch .*$/);
  });

  test('a corrupt backup only: the primary is used, the backup reported', () => {
    const vs = readVolumes(damaged([LAST + 60, pristine[LAST + 60]! ^ 1]));
    expect(shape(vs)).toEqual(shape(good));
    expect(vs.warnings).toEqual([expect.stringMatching(/^disk\.img: backup GPT header at LBA 16383 is unusable \(header CRC32 mismatch/)]);
  });

  test('an image cut short: the backup is gone, partitions past the end are cut or left out', () => {
    const cut = new MemDevice(pristine.subarray(0, 5 * 2 ** 20), 'disk.img');
    const vs = readVolumes(cut);
    expect(vs.partitions.map((p) => [p.label, p.offset, p.size])).toEqual([
      ['esp', 2048 * 512, 2048 * 512],
      ['root', 4096 * 512, 4096 * 512],
      ['swap', 8192 * 512, 2 ** 20],
    ]);
    const text = vs.warnings.join('\n');
    expect(text).toMatch(/names its backup at LBA 16383, outside the device \(last LBA 10239\)/);
    expect(text).toMatch(/last usable LBA 16350 is past the end of the device/);
    expect(text).toMatch(/GPT partition 3 \(3145728 bytes at 4194304\) runs past the end of the device \(5242880 bytes\); cut to 1048576 bytes/);

    const shorter = readVolumes(new MemDevice(pristine.subarray(0, 4 * 2 ** 20), 'disk.img'));
    expect(shorter.partitions.map((p) => p.label)).toEqual(['esp', 'root']);
    expect(shorter.warnings.join('\n')).toMatch(/GPT partition 3 starts at byte 4194304, past the end of the device \(4194304 bytes\); left out/);
  });

  test('an image grown after partitioning, with a bad primary array: the backup is found where the primary says', () => {
    const b = Buffer.concat([pristine, Buffer.alloc(2 ** 20)]);
    b[PRIMARY_ENTRIES + 56] = 0x41;
    const vs = readVolumes(new MemDevice(b, 'grown.img'));
    expect(shape(vs)).toEqual(shape(good));
    expect(vs.warnings).toEqual([expect.stringMatching(/using the backup at LBA 16383$/)]);
  });
});
