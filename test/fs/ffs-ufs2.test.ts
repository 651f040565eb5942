// UFS2. NetBSD makefs -o version=2 writes the superblock at 8192, where The Sleuth Kit does not
// look for UFS2: the whole tree and every file's bytes are checked against the source directory
// makefs was given, and the block map against the bytes it points at. A copy with the superblock
// moved to 65536 (where OpenBSD's newfs puts it) is readable by TSK too, and checked against it.

import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfsFilesystem, findOwners, type FileReader } from '../../src/fs/ffs/index.js';
import { SUPERBLOCK } from '../../src/fs/ffs/superblock.js';
import { FileDevice } from './file-device.js';
import {
  copyImage,
  fls,
  fragmentsOf,
  icat,
  ifindData,
  istat,
  KIND_CHAR,
  makefs,
  patch,
  readSource,
  readSourceTree,
  tempDir,
  tskName,
  TYPE_CHAR,
  writeSourceTree,
  type SourceEntry,
} from './images.js';

function readAll(r: FileReader, chunk = 65536): Buffer {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(chunk);
  for (let pos = 0; ; ) {
    const n = r.read(buf, pos);
    if (n === 0) return Buffer.concat(parts);
    parts.push(Buffer.from(buf.subarray(0, n)));
    pos += n;
  }
}

describe.each([
  { name: 'bsize 4096, fsize 512 (double indirect)', bsize: 4096, fsize: 512 },
  { name: 'bsize 16384, fsize 2048', bsize: 16384, fsize: 2048 },
])('UFS2 from makefs (superblock at 8192), $name, against its source tree', ({ bsize, fsize }) => {
  let tmp: ReturnType<typeof tempDir>;
  let src: string;
  let dev: FileDevice;
  let fs: FfsFilesystem;
  let source: SourceEntry[];

  beforeAll(async () => {
    tmp = tempDir();
    src = join(tmp.dir, 'src');
    await execa('mkdir', [src]);
    await writeSourceTree(src, { bsize, ptrSize: 8 });
    source = readSourceTree(src);
    const image = join(tmp.dir, 'ufs2.img');
    await makefs(image, src, `version=2,bsize=${bsize},fsize=${fsize}`);
    dev = new FileDevice(image);
    fs = FfsFilesystem.open(dev);
  });

  afterAll(() => {
    dev?.close();
    tmp?.remove();
  });

  it('finds the UFS2 superblock at 8192', () => {
    expect(fs.info).toMatchObject({ type: 'ufs2', version: 2, superblockOffset: 8192, blockSize: bsize, fragmentSize: fsize, inodeSize: 256, maxSymlinkLength: 120 });
  });

  it('walks the tree of the source directory: names, kinds, sizes, link targets, hard links', () => {
    const walked = fs.walk();
    const show = (p: Buffer): string => p.toString('latin1');
    expect(walked.map((e) => `${e.kind} ${show(e.path)} ${e.kind === 'file' ? e.size : ''}`).sort()).toEqual(
      source.map((s) => `${s.kind} ${show(s.path)} ${s.kind === 'file' ? s.size : ''}`).sort(),
    );
    // Same inode in the image exactly where the source shares one.
    const bySourceIno = new Map<number, number>();
    const byPath = new Map(walked.map((e) => [show(e.path), e.ino]));
    for (const s of source) {
      const ino = byPath.get(show(s.path))!;
      if (s.kind !== 'file') continue;
      const prev = bySourceIno.get(s.ino);
      if (prev !== undefined) expect(ino).toBe(prev);
      else bySourceIno.set(s.ino, ino);
    }
    for (const s of source.filter((x) => x.kind === 'symlink')) {
      const ino = byPath.get(show(s.path))!;
      expect(fs.readLink(ino).equals(s.link!), show(s.path)).toBe(true);
      expect(fs.blockMap.isFastSymlink(fs.inode(ino))).toBe(s.link!.length < 120);
    }
  });

  it("reads every file's bytes as the source holds them, and the extents point at the same bytes", () => {
    let files = 0;
    for (const e of fs.walk()) {
      if (e.kind !== 'file') continue;
      const expected = readSource(src, e.path);
      expect(readAll(fs.openFile(e.ino), 5000).equals(expected), e.display).toBe(true);
      // The extents (the block walk) and the reads (bmap) are separate paths to the same bytes.
      const viaExtents = Buffer.alloc(e.size);
      let covered = 0;
      for (const x of fs.extents(e.ino)) {
        expect(x.fileOffset).toBe(covered);
        covered += x.length;
        if (x.diskOffset !== null) dev.read(viaExtents.subarray(x.fileOffset, x.fileOffset + x.length), x.diskOffset);
      }
      expect(covered).toBe(e.size);
      expect(viaExtents.equals(expected), e.display).toBe(true);
      files++;
    }
    expect(files).toBeGreaterThan(600);
  });

  it('maps the big file through a double indirect block when the geometry needs one', () => {
    const levels = fs.metadataBlocks(fs.lookup('blocks/big')).map((m) => m.level);
    expect(levels).toEqual(bsize === 4096 ? [1, 2, 1] : [1]);
  });

  it('names each file as the owner of its first and last fragments', () => {
    const want = new Map<number, number>();
    for (const e of fs.walk()) {
      if (e.kind !== 'file' || e.size === 0) continue;
      const ext = fs.extents(e.ino);
      want.set(ext[0]!.diskOffset! / fsize, e.ino);
      const last = ext[ext.length - 1]!;
      want.set(Math.floor((last.diskOffset! + last.length - 1) / fsize), e.ino);
    }
    const r = findOwners(fs, [...want.keys()]);
    expect(r.problems).toEqual([]);
    for (const o of r.owners) {
      expect(o.kind).toBe('inode');
      if (o.kind !== 'inode') continue;
      expect(o.ino).toBe(want.get(o.fragment));
      expect(fs.lookup(o.paths[0]!.path)).toBe(o.ino);
    }
  });
});

describe('UFS2 with the superblock at 65536 (a makefs image, superblock moved), against The Sleuth Kit', () => {
  const bsize = 4096;
  const fsize = 512;
  let tmp: ReturnType<typeof tempDir>;
  let src: string;
  let image: string;
  let fs: FfsFilesystem;

  beforeAll(async () => {
    tmp = tempDir();
    src = join(tmp.dir, 'src');
    await execa('mkdir', [src]);
    // Few inodes, so that the bytes at 65536 (in cg 0's inode table) are unused inodes.
    await writeSourceTree(src, { bsize, ptrSize: 8, manyEntries: 40 });
    const made = join(tmp.dir, 'made.img');
    await makefs(made, src, `version=2,bsize=${bsize},fsize=${fsize}`, ['-f', '400']);
    const orig = FfsFilesystem.open(new FileDevice(made));
    const g = orig.geometry;
    const first = (65536 - g.cgimin(0) * fsize) / 256;
    const sbInodes = Array.from({ length: Math.ceil(SUPERBLOCK.size / 256) }, (_, i) => first + i);
    expect(65536).toBeGreaterThanOrEqual(g.cgimin(0) * fsize);
    expect(65536 + SUPERBLOCK.size).toBeLessThanOrEqual(g.cgdmin(0) * fsize);
    expect(sbInodes.some((i) => orig.isInodeAllocated(i))).toBe(false);
    const sb = Buffer.alloc(SUPERBLOCK.size);
    orig.device.read(sb, 8192);
    sb.writeUInt32LE(65536, SUPERBLOCK.offsetOf('sblockloc'));
    sb.writeUInt32LE(0, SUPERBLOCK.offsetOf('sblockloc') + 4);
    image = copyImage(made, join(tmp.dir, 'at65536.img'));
    patch(image, 65536, sb);
    patch(image, 8192, Buffer.alloc(SUPERBLOCK.size)); // only the one at 65536 is left
    fs = FfsFilesystem.open(new FileDevice(image));
  });

  afterAll(() => tmp?.remove());

  it('finds the superblock at 65536', async () => {
    expect(fs.info.superblockOffset).toBe(65536);
    const out = (await execa('fsstat', ['-f', 'ufs2', image])).stdout;
    expect(out).toMatch(/File System Type: UFS 2/);
    expect(fs.info.cylinderGroups).toBe(Number(/^Number of Cylinder Groups: (\d+)/m.exec(out)?.[1]));
  });

  it('walks the same tree as fls -r -p', async () => {
    const tsk = (await fls(image, 'ufs2')).map((e) => `${e.type} ${e.ino} ${e.path.toString('latin1')}`).sort();
    const mine = fs.walk().map((e) => `${TYPE_CHAR[e.type] ?? '-'}/${KIND_CHAR[e.kind] ?? '-'} ${e.ino} ${tskName(e.path).toString('latin1')}`).sort();
    expect(mine).toEqual(tsk);
    expect(mine.length).toBeGreaterThan(80);
  });

  it('reads the bytes icat reads and lists the blocks istat lists', async () => {
    let n = 0;
    for (const e of fs.walk()) {
      if (e.kind === 'fifo' || e.kind === 'directory' || e.size === 0) continue;
      const inode = fs.inode(e.ino);
      if (e.kind === 'file') {
        const bytes = fs.readFile(inode);
        expect(bytes.equals(await icat(image, 'ufs2', e.ino)), e.display).toBe(true);
        expect(bytes.equals(readSource(src, e.path)), e.display).toBe(true);
      }
      if (fs.blockMap.isFastSymlink(inode)) continue;
      const t = await istat(image, 'ufs2', e.ino);
      expect(fragmentsOf(fs.extents(inode), fsize), e.display).toEqual(t.direct);
      const meta = fs.metadataBlocks(inode).flatMap((m) => Array.from({ length: m.fragments }, (_, i) => m.fragment + i));
      expect(meta.sort((a, b) => a - b)).toEqual([...t.indirect].sort((a, b) => a - b));
      n++;
    }
    expect(n).toBeGreaterThan(30);
  });

  it('agrees with ifind -d on the owners of data and indirect fragments', async () => {
    const frags: number[] = [];
    for (const name of ['blocks/big', 'blocks/tail-3', 'links/slow', 'many', 'small/s2049']) {
      const inode = fs.inode(fs.lookup(name));
      for (const x of fs.extents(inode)) if (x.diskOffset !== null) frags.push(x.diskOffset / fsize, Math.floor((x.diskOffset + x.length - 1) / fsize));
      for (const m of fs.metadataBlocks(inode)) frags.push(m.fragment + 2);
    }
    const r = findOwners(fs, frags);
    for (const o of r.owners) {
      expect(o.kind).toBe('inode');
      expect(await ifindData(image, 'ufs2', o.fragment)).toBe(o.kind === 'inode' ? o.ino : -1);
    }
  });
});
