// What is on a partition, on images made by the real tools (makefs, mke2fs, mkfs.fat, mkswap)
// and on hand-made boot sectors where no tool is at hand (NTFS, exFAT).

import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFilesystem, requireSupported } from '../../src/fs/detect.js';
import { SUPERBLOCK } from '../../src/fs/ffs/superblock.js';
import { UserError } from '../../src/util/errors.js';
import { MemoryDevice } from './file-device.js';
import { makefs, tempDir } from './images.js';

let tmp: ReturnType<typeof tempDir>;
const images = new Map<string, Buffer>();

async function make(name: string, cmd: string, args: (path: string) => string[], size = 8 << 20): Promise<void> {
  const path = join(tmp.dir, name);
  await execa('truncate', ['-s', String(size), path]);
  await execa(cmd, args(path));
  images.set(name, readFileSync(path));
}

function bootSector(oem: string): Buffer {
  const b = Buffer.alloc(1 << 20);
  b[0] = 0xeb;
  b[1] = 0x52;
  b[2] = 0x90;
  b.write(oem, 3, 'latin1');
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

beforeAll(async () => {
  tmp = tempDir();
  const src = join(tmp.dir, 'src');
  await execa('mkdir', [src]);
  await execa('sh', ['-c', `echo hello > ${src}/a`]);
  for (const v of [1, 2]) {
    const p = join(tmp.dir, `ufs${v}`);
    await makefs(p, src, `version=${v}`, ['-s', '4m']);
    images.set(`ufs${v}`, readFileSync(p));
  }
  for (const t of ['ext2', 'ext3', 'ext4']) await make(t, 'mke2fs', (p) => ['-q', '-F', '-t', t, p]);
  await make('fat12', 'mkfs.fat', (p) => ['-F', '12', p], 4 << 20);
  await make('fat16', 'mkfs.fat', (p) => ['-F', '16', p], 32 << 20);
  await make('fat32', 'mkfs.fat', (p) => ['-F', '32', p], 64 << 20);
  await make('swap', 'mkswap', (p) => [p], 4 << 20);
  images.set('ntfs', bootSector('NTFS    '));
  images.set('exfat', bootSector('EXFAT   '));
  images.set('zeros', Buffer.alloc(4 << 20));
}, 120_000);

afterAll(() => tmp?.remove());

const dev = (name: string): MemoryDevice => new MemoryDevice(images.get(name)!, `partition ${name}`);

describe('detectFilesystem', () => {
  it.each([
    ['ufs1', 'ufs1', true],
    ['ufs2', 'ufs2', true],
    ['ext2', 'ext2', false],
    ['ext3', 'ext3', false],
    ['ext4', 'ext4', false],
    ['fat12', 'fat12', false],
    ['fat16', 'fat16', false],
    ['fat32', 'fat32', false],
    ['swap', 'swap', false],
    ['ntfs', 'ntfs', false],
    ['exfat', 'exfat', false],
    ['zeros', 'unknown', false],
  ])('tells %s', (name, kind, supported) => {
    const d = detectFilesystem(dev(name));
    expect(d.kind).toBe(kind);
    expect(d.supported).toBe(supported);
    expect(d.others).toEqual([]);
    if (supported) expect(d.superblockOffset).toBe(8192);
  });

  it('finds a UFS superblock at any of the search locations', () => {
    const img = images.get('ufs2')!;
    // makefs's UFS2 superblock moved to 65536 (sblockloc says so): found there first.
    const moved = Buffer.from(img);
    const sb = Buffer.from(img.subarray(8192, 8192 + SUPERBLOCK.size));
    sb.writeUInt32LE(65536, SUPERBLOCK.offsetOf('sblockloc'));
    sb.copy(moved, 65536);
    expect(detectFilesystem(new MemoryDevice(moved)).superblockOffset).toBe(65536);
    // A UFS2 superblock whose sblockloc names another place is not taken at face value.
    const misplaced = Buffer.from(img);
    img.copy(misplaced, 65536, 8192, 8192 + SUPERBLOCK.size);
    misplaced.fill(0, 8192, 8192 + SUPERBLOCK.size);
    const d = detectFilesystem(new MemoryDevice(misplaced));
    expect(d.problem).toMatch(/superblock at 65536 says it belongs at 8192/);
  });

  it('names what a UFS magic with an insane superblock is, and why it is unusable', () => {
    const img = Buffer.from(images.get('ufs1')!);
    img.writeInt32LE(-1, 8192 + SUPERBLOCK.offsetOf('ipg'));
    const d = detectFilesystem(new MemoryDevice(img, 'partition a'));
    expect(d).toMatchObject({ kind: 'ufs1', supported: true, superblockOffset: 8192 });
    expect(d.problem).toMatch(/inodes per group/);
    expect(() => requireSupported(new MemoryDevice(img, 'partition a'))).toThrow(/^partition a: UFS1 superblock at 8192 is unusable: .*; use --via boot$/);
  });

  it('lists a leftover signature beside the filesystem in use', () => {
    // A UFS1 partition that was ext4 before: the ext4 superblock at 1024 survives makefs's layout.
    const img = Buffer.from(images.get('ufs1')!);
    images.get('ext4')!.copy(img, 1024, 1024, 2048);
    const d = detectFilesystem(new MemoryDevice(img));
    expect(d.kind).toBe('ufs1');
    expect(d.others).toEqual(['ext4']);
  });
});

describe('requireSupported', () => {
  it('returns FFS detections', () => {
    expect(requireSupported(dev('ufs1')).kind).toBe('ufs1');
    expect(requireSupported(dev('ufs2')).kind).toBe('ufs2');
  });

  it.each(['ext4', 'fat32', 'ntfs', 'swap'])('refuses %s in one line that names it and points at --via boot', (name) => {
    let err: unknown;
    try {
      requireSupported(dev(name));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).not.toMatch(/\n/);
    expect(msg).toMatch(new RegExp(`^partition ${name}: \\S.* filesystem is not supported by the direct reader \\(FFS only\\); use --via boot$`));
    expect(msg).toContain({ ext4: 'ext4', fat32: 'FAT32', ntfs: 'NTFS', swap: 'Linux swap' }[name]!);
  });

  it('says when nothing is recognised (OpenBSD swap looks like this)', () => {
    expect(() => requireSupported(dev('zeros'))).toThrow(/^partition zeros: no UFS1, UFS2, ext2\/3\/4, NTFS, FAT or swap signature .*use --via boot$/);
  });

  it('escapes a device name that carries control characters', () => {
    expect(() => requireSupported(new MemoryDevice(images.get('ext4')!, 'disk\x1b[2J'))).toThrow(/^disk\\e\[2J: ext4/);
  });
});
