// Hostile and odd tables, built with the writer and patched: looping and endless EBR chains,
// partitions off the device or on top of each other, disklabels with bad checksums, too many
// entries, the wrong byte order, 48-bit offsets past 2 TiB, and disks with no table at all.

import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  applyToBuffer,
  bareOpenbsdLabel,
  ebr,
  extendedChain,
  FS_BSDFFS,
  FS_SWAP,
  mbr,
  openbsdDisk,
  openbsdLabelSector,
  SECTOR,
  writeImageFile,
  type Patch,
} from '../../samples/lib/disk-layout.js';
import { UserError } from '../../src/util/errors.js';
import { readVolumes } from '../../src/volume/index.js';
import { MemDevice, removeAll, SparseDevice, tempDir } from './helpers.js';

const MiB = 2 ** 20;

function disk(size: number, patches: Patch[]): MemDevice {
  return new MemDevice(applyToBuffer(new Uint8Array(size), patches), 'disk.img');
}

const LABEL_PARTS = { a: { offset: 64, size: 1000, fstype: FS_BSDFFS }, e: { offset: 1064, size: 2000, fstype: FS_BSDFFS } };

describe('EBR chains', () => {
  test('logicals in chain order, numbered from 5', () => {
    const dev = disk(4 * MiB, [
      mbr([{ type: 0x83, start: 63, sectors: 937 }, { type: 0x05, start: 1000, sectors: 7000 }]),
      ...extendedChain(1000, [
        { type: 0x83, start: 1063, sectors: 937, ebrGap: 63 },
        { type: 0x82, start: 3063, sectors: 937, ebrGap: 63 },
        { type: 0x0c, start: 5063, sectors: 2937, ebrGap: 63 },
      ]),
    ]);
    const vs = readVolumes(dev);
    expect(vs.warnings).toEqual([]);
    expect(vs.partitions.map((p) => [p.name, p.index, p.offset / SECTOR, p.size / SECTOR, p.parent ?? null])).toEqual([
      ['1', 0, 63, 937, null],
      ['2', 1, 1000, 7000, null],
      ['5', 4, 1063, 937, '2'],
      ['6', 5, 3063, 937, '2'],
      ['7', 6, 5063, 2937, '2'],
    ]);
  });

  test('an EBR linking to itself: one logical, a warning, no hang', () => {
    const dev = disk(MiB, [mbr([{ type: 0x0f, start: 100, sectors: 1000 }]), ebr(100, { type: 0x83, start: 10, sectors: 50 }, { type: 0x05, start: 0, sectors: 1000 })]);
    const vs = readVolumes(dev);
    expect(vs.partitions.map((p) => p.name)).toEqual(['1', '5']);
    expect(vs.warnings).toEqual(['disk.img: extended partition 1: the EBR chain loops back to sector 100; stopped there']);
  });

  test('two EBRs linking to each other', () => {
    const dev = disk(MiB, [
      mbr([{ type: 0x05, start: 100, sectors: 1000 }]),
      ebr(100, { type: 0x83, start: 10, sectors: 50 }, { type: 0x05, start: 200, sectors: 100 }),
      ebr(300, { type: 0x83, start: 10, sectors: 50 }, { type: 0x05, start: 0, sectors: 100 }),
    ]);
    const vs = readVolumes(dev);
    expect(vs.partitions.map((p) => p.offset / SECTOR)).toEqual([100, 110, 310]);
    expect(vs.warnings).toEqual(['disk.img: extended partition 1: the EBR chain loops back to sector 100; stopped there']);
  });

  test('a chain longer than OpenBSD follows (256 EBRs) stops there', () => {
    const patches: Patch[] = [mbr([{ type: 0x05, start: 1, sectors: 2 * 400 }])];
    for (let i = 0; i < 400; i++) {
      patches.push(ebr(1 + 2 * i, { type: 0x83, start: 1, sectors: 1 }, i < 399 ? { type: 0x05, start: 2 * (i + 1), sectors: 2 } : null));
    }
    const dev = disk(MiB, patches);
    const vs = readVolumes(dev);
    expect(dev.reads).toBeLessThan(300); // the MBR, 256 EBRs, and nothing more
    expect(vs.partitions).toHaveLength(1 + 256);
    expect(vs.warnings).toEqual(['disk.img: extended partition 1: more than 256 EBRs in the chain; the rest are not read']);
  });

  test('a broken link and a logical outside its extended partition', () => {
    const dev = disk(MiB, [
      mbr([{ type: 0x05, start: 100, sectors: 100 }]),
      ebr(100, { type: 0x83, start: 50, sectors: 500 }, { type: 0x05, start: 20, sectors: 10 }),
    ]);
    const vs = readVolumes(dev);
    expect(vs.partitions.map((p) => p.name)).toEqual(['1', '5']);
    expect(vs.warnings).toEqual([
      'disk.img: extended partition 1: logical partition at sector 150 (500 sectors) lies outside it',
      'disk.img: extended partition 1: EBR at sector 120 is not one (no 0x55AA signature (0x0000)); the chain stops there',
    ]);
  });
});

describe('MBR entries that do not fit', () => {
  test('past the end: left out; running past it: cut; overlapping: reported', () => {
    const dev = disk(MiB, [
      mbr([
        { type: 0x83, start: 100, sectors: 1000 },
        { type: 0x83, start: 1000, sectors: 5000 },
        { type: 0x07, start: 0xfffffff0, sectors: 0xffffffff },
      ]),
    ]);
    const vs = readVolumes(dev);
    expect(vs.partitions.map((p) => [p.name, p.offset, p.size, p.device.size])).toEqual([
      ['1', 100 * SECTOR, 1000 * SECTOR, 1000 * SECTOR],
      ['2', 1000 * SECTOR, MiB - 1000 * SECTOR, MiB - 1000 * SECTOR],
    ]);
    expect(vs.warnings).toEqual([
      'disk.img: MBR partition 2 (2560000 bytes at 512000) runs past the end of the device (1048576 bytes); cut to 536576 bytes',
      'disk.img: MBR partition 3 starts at byte 2199023247360, past the end of the device (1048576 bytes); left out',
      'disk.img: partitions 1 (bytes 51200-563199) and 2 (from byte 512000) overlap',
    ]);
  });

  test('a boot flag other than 0x00/0x80 is boot code, not a table (a FAT boot sector)', async () => {
    const dir = await tempDir();
    try {
      const img = path.join(dir, 'fat.img');
      await writeImageFile(img, 4 * MiB, []);
      await execa('mkfs.fat', [img]);
      const vs = readVolumes(new MemDevice(await readFile(img), 'fat.img'));
      expect(vs.scheme).toBe('none');
      expect(vs.partitions).toHaveLength(1);
      expect(vs.partitions[0]).toMatchObject({ scheme: 'none', name: 'whole', offset: 0, size: 4 * MiB, container: false });
    } finally {
      await removeAll(dir);
    }
  });

  test('a hybrid MBR: the GPT is read, the MBR entries are named in a warning', async () => {
    const dir = await tempDir();
    try {
      const img = path.join(dir, 'gpt.img');
      await writeImageFile(img, 4 * MiB, []);
      await execa('sfdisk', ['-q', img], { input: 'label: gpt\nstart=2048, size=2048, type=linux\n' });
      const b = await readFile(img);
      b.set(mbr([{ type: 0xee, start: 1, sectors: 2047 }, { type: 0x0c, start: 2048, sectors: 2048 }]).bytes.subarray(446), 446);
      const vs = readVolumes(new MemDevice(b, 'gpt.img'));
      expect(vs.scheme).toBe('gpt');
      expect(vs.partitions.map((p) => p.offset / SECTOR)).toEqual([2048]);
      expect(vs.warnings).toEqual(['gpt.img: hybrid MBR (entries 2 beside the 0xee one); the GPT is read, the MBR entries are not']);
    } finally {
      await removeAll(dir);
    }
  });

  test('a protective MBR with no GPT behind it: a one-line UserError', () => {
    const dev = disk(MiB, [mbr([{ type: 0xee, start: 1, sectors: 2047 }])]);
    expect(() => readVolumes(dev)).toThrow(UserError);
    expect(() => readVolumes(dev)).toThrow(/^disk\.img: no usable GPT: primary at LBA 1: no "EFI PART" signature; backup at LBA 2047: no "EFI PART" signature$/);
  });
});

describe('OpenBSD disklabels', () => {
  const obsd = (extra: Partial<Parameters<typeof openbsdLabelSector>[0]> = {}): MemDevice =>
    disk(2 * MiB, [
      mbr([null, null, null, { type: 0xa6, start: 64, sectors: 4032, bootable: true }]),
      { offset: 64 * SECTOR + 512, bytes: openbsdLabelSector({ diskSectors: 4096, boundStart: 64, boundEnd: 4096, duid: '0123456789abcdef', partitions: LABEL_PARTS, ...extra }) },
    ]);

  test('a bad d_checksum: a warning, not a refusal', () => {
    const vs = readVolumes(obsd({ checksum: 0x1234 }));
    expect(vs.partitions.map((p) => p.name)).toEqual(['4', 'a', 'c', 'e']);
    expect(vs.warnings).toEqual([
      expect.stringMatching(/^disk\.img: disklabel at byte 33280: d_checksum is 0x1234 but the label sums to 0x[0-9a-f]{4}; read anyway \(OpenBSD would refuse it\)$/),
    ]);
  });

  test('d_npartitions beyond MAXPARTITIONS (16): the first 16 are read', () => {
    const vs = readVolumes(obsd({ npartitions: 0xffff }));
    expect(vs.partitions.map((p) => p.name)).toEqual(['4', 'a', 'c', 'e']);
    expect(vs.warnings).toEqual([
      'disk.img: disklabel at byte 33280: d_npartitions is 65535, more than 16; only the first 16 are read',
      'disk.img: disklabel at byte 33280: d_checksum cannot be verified over 65535 partitions',
    ]);
  });

  test('a version 0 label: read with the old partition layout, said so', () => {
    const vs = readVolumes(obsd({ version: 0 }));
    expect(vs.warnings).toEqual(['disk.img: disklabel at byte 33280: version 0 label (32-bit offsets, read with the old partition layout)']);
    expect(vs.partitions.find((p) => p.name === 'e')!.offset).toBe(1064 * SECTOR);
  });

  test('an 0xA6 partition without a label stays a candidate filesystem', () => {
    const dev = disk(MiB, [mbr([{ type: 0xa6, start: 64, sectors: 1000 }])]);
    const vs = readVolumes(dev);
    expect(vs.partitions).toEqual([expect.objectContaining({ name: '1', container: false, fsHint: 'ffs' })]);
    expect(vs.warnings).toEqual(['disk.img: MBR partition 1 (OpenBSD) holds no disklabel at its sector 1: no disklabel magic (d_magic 0x0)']);
  });

  test('a second 0xA6 partition: its label is not read, as OpenBSD does not', () => {
    const dev = disk(2 * MiB, [
      mbr([{ type: 0xa6, start: 64, sectors: 2000 }, { type: 0xa6, start: 2064, sectors: 2000 }]),
      { offset: 64 * SECTOR + 512, bytes: openbsdLabelSector({ diskSectors: 4096, boundStart: 64, boundEnd: 2064, duid: '0123456789abcdef', partitions: { a: { offset: 64, size: 2000, fstype: FS_BSDFFS } } }) },
    ]);
    const vs = readVolumes(dev);
    expect(vs.partitions.map((p) => [p.name, p.container])).toEqual([
      ['1', true],
      ['a', false],
      ['c', true],
      ['2', false],
    ]);
    expect(vs.warnings).toEqual(["disk.img: MBR partition 2 is a second OpenBSD (0xa6) partition; OpenBSD reads only 1's label, and so does this"]);
  });

  test('big-endian: refused in a bare label, a warning inside an 0xA6 partition', () => {
    const swapped = Buffer.from(openbsdLabelSector({ diskSectors: 4096, boundStart: 0, boundEnd: 4096, duid: '0123456789abcdef', partitions: LABEL_PARTS }));
    swapped.writeUInt32BE(0x82564557, 0);
    swapped.writeUInt32BE(0x82564557, 132);
    expect(() => readVolumes(disk(MiB, [{ offset: 512, bytes: swapped }]))).toThrow(
      /^disk\.img: disklabel at sector 1 cannot be read: it is big-endian \(a sparc64 or other big-endian label\), which is not supported$/,
    );
    const vs = readVolumes(disk(MiB, [mbr([{ type: 0xa6, start: 64, sectors: 1000 }]), { offset: 64 * SECTOR + 512, bytes: swapped }]));
    expect(vs.partitions.map((p) => p.name)).toEqual(['1']);
    expect(vs.warnings[0]).toMatch(/holds no disklabel at its sector 1: it is big-endian/);
  });

  test('an odd d_secsize is replaced by 512, and unprintable d_packname bytes are escaped', () => {
    const vs = readVolumes(obsd({ secsize: 0, packname: 'evil\x1b[2J' }));
    expect(vs.warnings).toEqual([
      'disk.img: disklabel at byte 33280: d_secsize 0 is not a power of two from 512 to 65536; 512 assumed',
      'disk.img: disklabel at byte 33280: d_packname holds unprintable bytes: evil\\e[2J',
    ]);
    expect(vs.partitions.find((p) => p.name === 'e')!.offset).toBe(1064 * SECTOR);
  });

  test('48-bit offsets: partitions past 2 TiB through p_offseth/p_sizeh', () => {
    const sectors = 2 ** 34; // 8 TiB
    const e = { offset: 2 ** 32 + 64, size: 2 ** 33, fstype: FS_BSDFFS };
    const dev = new SparseDevice(sectors * SECTOR, openbsdDisk({ diskSectors: sectors, duid: 'a1b2c3d4e5f60718', partitions: { a: LABEL_PARTS.a, b: { offset: 1064, size: 2 ** 20, fstype: FS_SWAP }, e } }), 'big.img');
    const vs = readVolumes(dev);
    expect(vs.warnings).toEqual([]);
    expect(vs.partitions.map((p) => [p.name, p.offset / SECTOR, p.size / SECTOR])).toEqual([
      ['4', 64, 0xffffffff],
      ['a', 64, 1000],
      ['b', 1064, 2 ** 20],
      ['c', 0, sectors],
      ['e', 2 ** 32 + 64, 2 ** 33],
    ]);
  });

  test('a bare OpenBSD label says where its partitions are on the disk', () => {
    const vs = readVolumes(disk(2 * MiB, [bareOpenbsdLabel({ diskSectors: 4096, duid: 'ffffffffffffffff', partitions: LABEL_PARTS })]));
    expect(vs.scheme).toBe('disklabel');
    expect(vs.partitions.map((p) => `${p.duid}.${p.name}`)).toEqual(['ffffffffffffffff.a', 'ffffffffffffffff.c', 'ffffffffffffffff.e']);
  });
});

describe('no partition table', () => {
  test('zeros: one entry over the whole device', () => {
    const vs = readVolumes(disk(MiB, []));
    expect(vs).toMatchObject({ scheme: 'none', warnings: [] });
    expect(vs.partitions.map((p) => [p.name, p.offset, p.size, p.device.size])).toEqual([['whole', 0, MiB, MiB]]);
  });

  test('a device smaller than a sector, or empty', () => {
    expect(readVolumes(disk(100, [])).warnings).toEqual(['disk.img: 100 bytes, less than one sector; no partition table']);
    expect(readVolumes(disk(0, []))).toEqual({ scheme: 'none', partitions: [], warnings: ['disk.img: empty device (0 bytes)'] });
  });
});
