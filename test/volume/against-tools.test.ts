// readVolumes against The Sleuth Kit's mmls and util-linux's partx (libblkid) on images made by
// sfdisk/fdisk (MBR with logicals, GPT, 4Kn GPT) and by samples/lib/disk-layout.ts (OpenBSD
// 0xA6 + disklabel, bare disklabel, FreeBSD 0xA5 + bsdlabel both ways): same starts, same lengths.
//
// mmls -t bsd -o S prints each label entry's p_offset as recorded, and TSK then reads it at
// S + p_offset. That is right for a FreeBSD label with relative offsets (c at 0) and wrong for
// absolute ones (OpenBSD always, FreeBSD's bsdlabel(8)), so for those the recorded value is the
// absolute sector and it is what readVolumes must give. partx (libblkid) resolves both as we do.

import { execa } from 'execa';
import { copyFile, open } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  FS_BSDFFS,
  FS_SWAP,
  freebsdDisk,
  openbsdDisk,
  openbsdLabelSector,
  bareOpenbsdLabel,
  SECTOR,
  writeImageFile,
} from '../../samples/lib/disk-layout.js';
import { readVolumes } from '../../src/volume/index.js';
import type { Partition, VolumeSystem } from '../../src/volume/index.js';
import { mmls, removeAll, sfdisk, sfdiskJson, tempDir, withFile } from './helpers.js';

let dir: string;
const img = (name: string): string => path.join(dir, name);

/** The incident's disk: 40 GiB, OpenBSD 7.8's fdisk -i (0xA6 from 64), / on a, /home on e. */
const OBSD_DISK = (40 * 2 ** 30) / SECTOR;
const OBSD_PARTS = {
  a: { offset: 64, size: 2_097_152, fstype: FS_BSDFFS, cpg: 12960 },
  b: { offset: 2_097_216, size: 1_048_576, fstype: FS_SWAP },
  d: { offset: 3_145_792, size: 1_048_576, fstype: FS_BSDFFS, fsize: 2048, frag: 8 },
  e: { offset: 4_194_368, size: OBSD_DISK - 4_194_368, fstype: FS_BSDFFS, fsize: 4096, frag: 8 },
};
const DUID = '3fa1c2b4d5e6f708';

const SMALL = 65_536; // 32 MiB in sectors
const FBSD_PARTS = { a: { offset: 16, size: 30_000, fstype: FS_BSDFFS }, b: { offset: 30_016, size: 4000, fstype: FS_SWAP } };

beforeAll(async () => {
  dir = await tempDir();
  await writeImageFile(img('obsd.img'), OBSD_DISK * SECTOR, openbsdDisk({ diskSectors: OBSD_DISK, duid: DUID, partitions: OBSD_PARTS }));
  await writeImageFile(img('bare.img'), SMALL * SECTOR, [bareOpenbsdLabel({ diskSectors: SMALL, duid: '0011223344556677', partitions: FBSD_PARTS })]);
  for (const absolute of [true, false]) {
    await writeImageFile(
      img(`fbsd-${absolute ? 'abs' : 'rel'}.img`),
      SMALL * SECTOR,
      freebsdDisk({ sliceStart: 63, sliceSectors: SMALL - 63, absolute, partitions: FBSD_PARTS }),
    );
  }
  await writeImageFile(img('ext.img'), SMALL * SECTOR, []);
  await sfdisk(
    img('ext.img'),
    [
      'label: dos',
      'start=2048, size=4096, type=83, bootable',
      'start=6144, size=4096, type=82',
      'start=10240, type=5',
      'start=12288, size=4096, type=83',
      'start=18432, size=4096, type=7',
      'start=24576, type=c',
    ].join('\n'),
  );
  await writeImageFile(img('gpt.img'), SMALL * SECTOR, []);
  await sfdisk(
    img('gpt.img'),
    [
      'label: gpt',
      'start=2048, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"',
      'start=6144, size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"',
      'size=4096, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swäp"',
      'type=824CC7A0-36A8-11E3-890A-952519AD3F61, name="OpenBSD Area"',
    ].join('\n'),
  );
  // OpenBSD on a GPT disk (a UEFI install): its label at sector 1 of the OpenBSD partition.
  const area = { start: 18_432, end: 63_488 };
  const label = openbsdLabelSector({
    diskSectors: SMALL,
    boundStart: area.start,
    boundEnd: area.end,
    duid: 'feedfacecafe0001',
    partitions: { a: { offset: area.start, size: 20_000, fstype: FS_BSDFFS }, e: { offset: area.start + 20_000, size: 25_056, fstype: FS_BSDFFS } },
  });
  await copyFile(img('gpt.img'), img('gpt-obsd.img'));
  const fh = await open(img('gpt-obsd.img'), 'r+');
  await fh.write(label, 0, label.length, area.start * SECTOR + 512);
  await fh.close();
  await writeImageFile(img('g4k.img'), 64 * 2 ** 20, []);
  await execa('fdisk', ['-b', '4096', img('g4k.img')], { input: 'g\nn\n1\n\n+8M\nn\n2\n\n\nw\n' });
});

afterAll(async () => {
  await removeAll(dir);
});

function read(name: string): VolumeSystem {
  return withFile(img(name), (dev) => readVolumes(dev));
}

type Extent = { start: number; length: number };
const byStart = (a: Extent, b: Extent): number => a.start - b.start || a.length - b.length;

function ours(parts: readonly Partition[], unit = SECTOR): Extent[] {
  return parts.map((p) => ({ start: p.offset / unit, length: p.size / unit })).sort(byStart);
}

async function mmlsExtents(file: string, args: string[] = [], shift = 0): Promise<Extent[]> {
  const { rows } = await mmls(file, args);
  return rows.map((r) => ({ start: r.start + shift, length: r.length })).sort(byStart);
}

/** partx --show: every partition libblkid finds, nested ones numbered from 5. */
async function partx(file: string): Promise<Extent[]> {
  const { stdout } = await execa('partx', ['--show', '--noheadings', '-o', 'START,SECTORS', file]);
  return stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .map(([start, length]) => ({ start: start!, length: length! }))
    .sort(byStart);
}

const isExtended = (p: Partition): boolean => p.scheme === 'mbr' && ['0x05', '0x0f', '0x85'].includes(p.type);

describe('MBR (sfdisk)', () => {
  test('primaries and an extended partition with logicals', async () => {
    const vs = read('ext.img');
    expect(vs.scheme).toBe('mbr');
    expect(vs.warnings).toEqual([]);
    expect(vs.partitions.map((p) => [p.name, p.type, p.container, p.parent ?? null])).toEqual([
      ['1', '0x83', false, null],
      ['2', '0x82', false, null],
      ['3', '0x05', true, null],
      ['5', '0x83', false, '3'],
      ['6', '0x07', false, '3'],
      ['7', '0x0c', false, '3'],
    ]);
    expect(vs.partitions.map((p) => p.fsHint)).toEqual(['ext', 'swap', null, 'ext', 'ntfs', 'fat']);
    expect(vs.partitions[0]!.bootable).toBe(true);
    // mmls lists the extended partition as metadata, the rest as allocated volumes.
    expect(ours(vs.partitions.filter((p) => !isExtended(p)))).toEqual(await mmlsExtents(img('ext.img')));
    expect(ours(vs.partitions)).toEqual(await partx(img('ext.img')));
    // Each partition's window reads the device at its offset.
    const logical = vs.partitions.find((p) => p.name === '5')!;
    expect(logical.device.size).toBe(4096 * SECTOR);
    expect(logical.device.start).toBe(12_288 * SECTOR);
  });
});

describe('GPT (sfdisk, fdisk)', () => {
  test('entries, names, GUIDs', async () => {
    const vs = read('gpt.img');
    expect(vs.scheme).toBe('gpt');
    // Partition 4 has OpenBSD's type but nothing written in it yet.
    expect(vs.warnings).toEqual(['gpt.img: GPT partition 4 (OpenBSD data) holds no disklabel at its sector 1: no disklabel magic (d_magic 0x0)']);
    const json = await sfdiskJson(img('gpt.img'));
    expect(vs.partitions.map((p) => ({ type: p.type, guid: p.guid, label: p.label, start: p.offset / SECTOR, size: p.size / SECTOR }))).toEqual(
      json.partitiontable.partitions.map((p) => ({ type: p.type, guid: p.uuid, label: p.name, start: p.start, size: p.size })),
    );
    expect(vs.partitions.map((p) => [p.name, p.typeName, p.fsHint])).toEqual([
      ['1', 'EFI system', 'fat'],
      ['2', 'Linux filesystem', 'ext'],
      ['3', 'Linux swap', 'swap'],
      ['4', 'OpenBSD data', 'ffs'],
    ]);
    expect(ours(vs.partitions)).toEqual(await mmlsExtents(img('gpt.img')));
    expect(ours(vs.partitions)).toEqual(await partx(img('gpt.img')));
  });

  test('an OpenBSD partition holding a disklabel (a UEFI install)', async () => {
    const vs = read('gpt-obsd.img');
    expect(vs.scheme).toBe('gpt');
    expect(vs.duid).toBe('feedfacecafe0001');
    const area = vs.partitions.find((p) => p.name === '4')!;
    expect(area.container).toBe(true);
    const label = vs.partitions.filter((p) => p.scheme === 'disklabel');
    expect(label.map((p) => [p.name, p.parent, p.offset / SECTOR])).toEqual([
      ['a', '4', 18_432],
      ['c', '4', 0],
      ['e', '4', 38_432],
    ]);
    expect(ours(label)).toEqual(await mmlsExtents(img('gpt-obsd.img'), ['-t', 'bsd', '-o', '18432']));
  });

  test('4096-byte sectors (fdisk -b 4096)', async () => {
    const vs = read('g4k.img');
    expect(vs.scheme).toBe('gpt');
    expect(ours(vs.partitions, 4096)).toEqual(await mmlsExtents(img('g4k.img'), ['-b', '4096']));
  });
});

describe('OpenBSD: MBR + 0xA6 + disklabel (the incident disk)', () => {
  test('the 0xA6 container, then a, b, c, d, e at their absolute offsets', async () => {
    const vs = read('obsd.img');
    expect(vs.scheme).toBe('mbr');
    expect(vs.warnings).toEqual([]);
    expect(vs.duid).toBe(DUID);
    const [a6, ...label] = vs.partitions;
    expect(a6).toMatchObject({ scheme: 'mbr', name: '4', type: '0xa6', typeName: 'OpenBSD', container: true, fsHint: null, bootable: true });
    expect(label.map((p) => [p.name, p.type, p.fsHint, p.container, p.parent])).toEqual([
      ['a', 'FS_BSDFFS', 'ffs', false, '4'],
      ['b', 'FS_SWAP', 'swap', false, '4'],
      ['c', 'FS_UNUSED', null, true, '4'],
      ['d', 'FS_BSDFFS', 'ffs', false, '4'],
      ['e', 'FS_BSDFFS', 'ffs', false, '4'],
    ]);
    const e = label.find((p) => p.name === 'e')!;
    expect(e.offset).toBe(4_194_368 * SECTOR);
    expect(e.size).toBe((OBSD_DISK - 4_194_368) * SECTOR);
    expect(`${e.duid}.${e.name}`).toBe(`${DUID}.e`); // the fstab spelling
    expect(e.ffs).toEqual({ fsize: 4096, bsize: 32768, cpg: 16 });
    expect(label[0]!.ffs).toEqual({ fsize: 2048, bsize: 16384, cpg: 12960 });
    expect(label.find((p) => p.name === 'c')!.size).toBe(OBSD_DISK * SECTOR);

    // The MBR as mmls reads it.
    expect(ours([a6!])).toEqual(await mmlsExtents(img('obsd.img')));
    // The label as mmls -t bsd reads it at the 0xA6 partition: the recorded sectors are absolute.
    const m = await mmls(img('obsd.img'), ['-t', 'bsd', '-o', '64']);
    expect(m.type).toBe('BSD Disk Label');
    expect(ours(label)).toEqual(await mmlsExtents(img('obsd.img'), ['-t', 'bsd', '-o', '64']));
    // libblkid: the same absolute offsets (it leaves out c).
    expect(ours([a6!, ...label.filter((p) => p.name !== 'c')])).toEqual(await partx(img('obsd.img')));
  });

  test('the writer run as a command (tsx samples/lib/disk-layout.ts openbsd FILE SIZE)', async () => {
    const file = img('cli.img');
    const { stdout } = await execa(path.resolve('node_modules/.bin/tsx'), ['samples/lib/disk-layout.ts', 'openbsd', file, '1G', '00000000000000ff']);
    const layout = JSON.parse(stdout) as { partitions: Record<string, { offset: number; size: number }> };
    const vs = read('cli.img');
    expect(vs.warnings).toEqual([]);
    expect(vs.duid).toBe('00000000000000ff');
    const label = vs.partitions.filter((p) => p.scheme === 'disklabel');
    expect(label.map((p) => p.name)).toEqual(['a', 'b', 'c', 'e']);
    for (const p of label.filter((q) => q.name !== 'c')) {
      expect([p.offset / SECTOR, p.size / SECTOR]).toEqual([layout.partitions[p.name]!.offset, layout.partitions[p.name]!.size]);
    }
    expect(ours(label)).toEqual(await mmlsExtents(file, ['-t', 'bsd', '-o', '64']));
  });

  test('a bare disklabel at sector 1 (no MBR)', async () => {
    const vs = read('bare.img');
    expect(vs.scheme).toBe('disklabel');
    expect(vs.duid).toBe('0011223344556677');
    expect(vs.partitions.map((p) => p.name)).toEqual(['a', 'b', 'c']);
    const auto = await mmls(img('bare.img'));
    expect(auto.type).toBe('BSD Disk Label');
    expect(ours(vs.partitions)).toEqual(await mmlsExtents(img('bare.img')));
    expect(ours(vs.partitions.filter((p) => !p.container))).toEqual(await partx(img('bare.img')));
  });
});

describe('FreeBSD: MBR + 0xA5 + bsdlabel', () => {
  for (const style of ['abs', 'rel'] as const) {
    test(`offsets ${style === 'abs' ? 'absolute, c at the slice (bsdlabel(8))' : 'relative, c at 0 (gpart)'}`, async () => {
      const vs = read(`fbsd-${style}.img`);
      expect(vs.scheme).toBe('mbr');
      expect(vs.warnings).toEqual([]);
      expect(vs.duid).toBeUndefined();
      const label = vs.partitions.filter((p) => p.scheme === 'disklabel');
      expect(label.map((p) => [p.name, p.offset / SECTOR, p.size / SECTOR, p.container, p.device.name])).toEqual([
        ['a', 79, 30_000, false, `fbsd-${style}.img partition s1a`],
        ['b', 30_079, 4000, false, `fbsd-${style}.img partition s1b`],
        ['c', 63, SMALL - 63, true, `fbsd-${style}.img partition s1c`],
      ]);
      // TSK reads p_offset at -o + p_offset: right for relative labels; for absolute ones the
      // recorded value already is the disk sector.
      const shift = style === 'rel' ? 63 : 0;
      expect(ours(label)).toEqual(await mmlsExtents(img(`fbsd-${style}.img`), ['-t', 'bsd', '-o', '63'], shift));
      expect(ours(vs.partitions.filter((p) => !p.container || p.scheme === 'mbr'))).toEqual(await partx(img(`fbsd-${style}.img`)));
    });
  }
});
