import { describe, expect, it } from 'vitest';
import { decodeDirectoryBlock, directoryChunks } from '../../src/classify/directory-block.js';
import { classifyContent } from '../../src/classify/content.js';
import { ext4Directory, ffsDirectory, names } from '../helpers/fs-images.js';
import { ufs2Directory } from './ufs2-image.js';

describe('FFS directory blocks cut from makefs images with The Sleuth Kit', () => {
  it.each(['le', 'be'] as const)('decodes a UFS1 %s directory block and its names', async (endian) => {
    const want = names(30);
    const d = await ffsDirectory(want, endian);
    const dec = decodeDirectoryBlock(d.blocks.subarray(0, d.dirSize));
    expect(dec?.format).toBe(endian === 'le' ? 'ffs-le' : 'ffs-be');
    expect(dec!.entries.slice(0, 2)).toEqual(['.', '..']);
    expect(new Set(dec!.entries)).toEqual(new Set(['.', '..', ...want]));
  });

  it('decodes the whole fragment, the zero tail after the directory included', async () => {
    const d = await ffsDirectory(names(3));
    // Three names fit in one 512-byte chunk; the rest of the 1 KiB fragment is zeros.
    expect(d.dirSize).toBe(512);
    const dec = decodeDirectoryBlock(d.blocks);
    expect(dec?.entries).toHaveLength(5);
  });

  it.each([24, 100, 333, 700, 1520])('a file of %i bytes holding the start of the block is recognised', async (len) => {
    const d = await ffsDirectory(names(40));
    const stale = d.blocks.subarray(0, len);
    expect(decodeDirectoryBlock(stale)).not.toBeNull();
    const c = await classifyContent(stale, Buffer.alloc(len, 0x61));
    expect(c.class).toBe('directory-block');
    expect((c.detail.entries as string[])[0]).toBe('.');
  });

  it('records chain within each 512-byte chunk', async () => {
    const d = await ffsDirectory(names(40));
    const chunks = directoryChunks(d.blocks.subarray(0, d.dirSize));
    expect(chunks.every(Boolean)).toBe(true);
    // Cutting a chunk in the middle of its chain breaks that chunk only.
    const broken = Buffer.from(d.blocks.subarray(0, d.dirSize));
    broken.writeUInt16LE(12, 512 + 4);
    expect(directoryChunks(broken)[1]).toBe(false);
    expect(directoryChunks(broken)[0]).toBe(true);
  });
});

describe('ext4 directory blocks cut from mke2fs images with The Sleuth Kit', () => {
  it.each([1024, 4096])('decodes a %i-byte block whose records cross 512-byte boundaries', async (bs) => {
    const want = names(bs === 1024 ? 20 : 60, 'a-rather-long-file-name-so-records-cross-boundaries-');
    const d = await ext4Directory(want, bs);
    const block = d.blocks.subarray(0, bs);
    const dec = decodeDirectoryBlock(block);
    expect(dec?.format).toBe('ext4');
    expect(dec!.entries.slice(0, 2)).toEqual(['.', '..']);
    // mke2fs fills the first block in its own order: every name decoded is one of ours.
    expect(dec!.entries.length).toBeGreaterThan(10);
    for (const n of dec!.entries.slice(2)) expect(want).toContain(n);
    // At least one record crosses a 512-byte boundary, and every chunk is still covered.
    const crosses = dec!.records.some((r) => Math.floor(r.offset / 512) !== Math.floor((r.offset + r.reclen - 1) / 512));
    expect(crosses).toBe(true);
    expect(directoryChunks(block).every(Boolean)).toBe(true);
  });

  it('a short file holding only the first records of an ext4 block', async () => {
    const d = await ext4Directory(names(10), 4096);
    for (const len of [16, 60, 257, 900]) {
      const c = await classifyContent(d.blocks.subarray(0, len), Buffer.alloc(len, 0x62));
      expect(c.class, `length ${len}`).toBe('directory-block');
    }
  });

  it('a whole directory over several ext4 blocks', async () => {
    const d = await ext4Directory(names(200, 'name-long-enough-to-need-several-blocks-'), 1024);
    expect(d.dirSize).toBeGreaterThan(2048);
    const dec = decodeDirectoryBlock(d.blocks.subarray(0, d.dirSize));
    expect(dec?.entries.length).toBe(202);
  });
});

describe('things that are not directory blocks', () => {
  it('zeros, text, and random bytes are not decoded', () => {
    expect(decodeDirectoryBlock(Buffer.alloc(1024))).toBeNull();
    expect(decodeDirectoryBlock(Buffer.from('opam-version: "2.0"\nname: "tls"\n'.repeat(30)))).toBeNull();
    let seed = 7;
    const rnd = Buffer.alloc(4096);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    expect(decodeDirectoryBlock(rnd)).toBeNull();
  });

  it('random blocks: at most 1 in 20,000 passes as a directory (one ext4 record whose length runs past the data)', () => {
    let seed = 11;
    let decoded = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const b = Buffer.alloc(512 << (i % 4));
      for (let j = 0; j < b.length; j++) b[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      if (decodeDirectoryBlock(b)) decoded++;
    }
    // Before lone records had to look real (a file type, a UTF-8 name) this was about 1 in 300.
    expect(decoded).toBeLessThanOrEqual(1);
  });

  it('a lone ext4 record with a real name and type still decodes, cut by the end of the data', () => {
    const b = Buffer.alloc(700, 0xa5);
    b.writeUInt32LE(1234, 0);
    b.writeUInt16LE(4096, 4);
    b[6] = 8;
    b[7] = 1;
    b.write('tls.opam', 8, 'latin1');
    expect(decodeDirectoryBlock(b)?.entries).toEqual(['tls.opam']);
    b[7] = 0;
    expect(decodeDirectoryBlock(b)).toBeNull();
  });

  it('a short FFS block never covers more than its bytes', () => {
    const b = Buffer.alloc(379);
    b.writeUInt32LE(2, 0);
    b.writeUInt16LE(512, 4);
    b[6] = 4;
    b[7] = 1;
    b.write('.', 8, 'latin1');
    const dec = decodeDirectoryBlock(b);
    expect(dec?.format).toBe('ffs-le');
    expect(dec!.coveredBytes).toBe(379);
  });

  it('names with control characters are escaped in the entries', async () => {
    const d = await ffsDirectory(['evil\x1b[31mred.opam', 'plain.opam']);
    const dec = decodeDirectoryBlock(d.blocks.subarray(0, d.dirSize));
    expect(dec!.entries).toContain('evil\\e[31mred.opam');
    expect(dec!.entries.join('')).not.toContain('\x1b');
  });
});

describe('UFS2 directory blocks (OpenBSD newfs layout: superblock at 65536), cut with The Sleuth Kit', () => {
  // NetBSD makefs writes UFS2 with its superblock at 8192, where TSK cannot read it; the sample
  // tooling's UFS2 writer (samples/lib/ffs, OpenBSD's newfs layout) puts it at 65536.
  it('decodes the fragment TSK reads for a UFS2 directory, and its `.` entry names the directory inode', async () => {
    const want = names(40);
    const d = await ufs2Directory(want);
    expect(d.unit).toBe(2048);
    const dec = decodeDirectoryBlock(d.blocks.subarray(0, d.dirSize));
    expect(dec?.format).toBe('ffs-le');
    expect(dec!.entries.slice(0, 2)).toEqual(['.', '..']);
    expect(new Set(dec!.entries)).toEqual(new Set(['.', '..', ...want]));
    expect(dec!.records[0]!.ino).toBe(d.inode);
    // In a file of the right size, it is a directory block.
    const stale = d.blocks.subarray(0, 1500);
    const c = await classifyContent(stale, Buffer.alloc(1500, 0x61));
    expect(c.class).toBe('directory-block');
  });
});
