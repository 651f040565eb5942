// The FFS reader against The Sleuth Kit on UFS1 images made by NetBSD makefs: the tree (fls),
// file bytes (icat and the source files), block lists (istat), inode locations (istat after a
// patch at inodeOffset), the reverse map (ifind -d, ffind), holes and triple indirect blocks
// made by patching copies.

import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfsFilesystem, findOwners } from '../../src/fs/ffs/index.js';
import { UserError } from '../../src/util/errors.js';
import { FileDevice } from './file-device.js';
import {
  copyImage,
  ffindAll,
  fragmentsOf,
  i32,
  KIND_CHAR,
  patch,
  TYPE_CHAR,
  fls,
  icat,
  ifindData,
  istat,
  makefs,
  pseudoRandom,
  readSource,
  readSourceTree,
  tempDir,
  tskName,
  writeSourceTree,
  type SourceEntry,
} from './images.js';

const FSTYPE = 'ufs1';

const GEOMETRIES = [
  { name: 'bsize 4096, fsize 512 (double indirect)', bsize: 4096, fsize: 512 },
  { name: 'bsize 16384, fsize 2048 (OpenBSD defaults)', bsize: 16384, fsize: 2048 },
  { name: 'bsize 8192, fsize 1024 (makefs defaults)', bsize: 8192, fsize: 1024 },
];

describe.each(GEOMETRIES)('UFS1 from makefs, $name, against The Sleuth Kit', ({ bsize, fsize }) => {
  let tmp: ReturnType<typeof tempDir>;
  let src: string;
  let image: string;
  let dev: FileDevice;
  let fs: FfsFilesystem;
  let source: SourceEntry[];

  beforeAll(async () => {
    tmp = tempDir();
    src = join(tmp.dir, 'src');
    await execa('mkdir', [src]);
    await writeSourceTree(src, { bsize, ptrSize: 4 });
    source = readSourceTree(src);
    image = join(tmp.dir, 'ufs1.img');
    await makefs(image, src, `version=1,bsize=${bsize},fsize=${fsize}`);
    dev = new FileDevice(image);
    fs = FfsFilesystem.open(dev);
  });

  afterAll(() => {
    dev?.close();
    tmp?.remove();
  });

  it('reads the superblock as fsstat does', async () => {
    const out = (await execa('fsstat', ['-f', FSTYPE, image])).stdout;
    const num = (re: RegExp): number => Number(re.exec(out)?.[1]);
    expect(fs.info).toMatchObject({
      type: 'ufs1',
      superblockOffset: 8192,
      blockSize: num(/^Block Size: (\d+)/m),
      fragmentSize: num(/^Fragment Size: (\d+)/m),
      cylinderGroups: num(/^Number of Cylinder Groups: (\d+)/m),
      inodesPerGroup: num(/^Inodes per group: (\d+)/m),
      fragmentsPerGroup: num(/^Fragments per group: (\d+)/m),
      fragments: num(/^Fragment Range: 0 - (\d+)/m) + 1,
      inodeSize: 128,
    });
    // Inode tables where fsstat puts them.
    const tables = [...out.matchAll(/Inode Table: (\d+) - (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(fs.inodeTables().map((t) => [t.offset / fsize, (t.offset + t.length) / fsize - 1])).toEqual(tables);
  });

  it('walks the same tree as fls -r -p', async () => {
    const tsk = (await fls(image, FSTYPE)).map((e) => `${e.type} ${e.ino} ${e.path.toString('latin1')}`).sort();
    const mine = fs.walk().map((e) => `${TYPE_CHAR[e.type] ?? '-'}/${KIND_CHAR[e.kind] ?? '-'} ${e.ino} ${tskName(e.path).toString('latin1')}`).sort();
    expect(mine).toEqual(tsk);
    // And the same tree as the source directory.
    const fromSource = source.map((s) => `${s.kind} ${s.path.toString('latin1')}`).sort();
    const fromImage = fs.walk().map((e) => `${e.kind} ${e.path.toString('latin1')}`).sort();
    expect(fromImage).toEqual(fromSource);
    expect(fs.walk().length).toBeGreaterThan(650);
  });

  it('reads every file as icat does, and as the source holds it', async () => {
    let checked = 0;
    for (const e of fs.walk()) {
      if (e.kind !== 'file') continue;
      const mine = fs.readFile(e.ino);
      expect(mine.equals(readSource(src, e.path)), e.display).toBe(true);
      if (e.size > 0 && (checked < 40 || e.size > 1000)) expect(mine.equals(await icat(image, FSTYPE, e.ino)), e.display).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(600);
  });

  it('streams a large file through positioned reads into a small buffer', () => {
    const ino = fs.lookup('blocks/big');
    const expected = readSource(src, Buffer.from('blocks/big'));
    const reader = fs.openFile(ino);
    const chunk = Buffer.alloc(7777);
    const parts: Buffer[] = [];
    for (let pos = 0; ; ) {
      const n = reader.read(chunk, pos);
      if (n === 0) break;
      parts.push(Buffer.from(chunk.subarray(0, n)));
      pos += n;
    }
    expect(Buffer.concat(parts).equals(expected)).toBe(true);
    // Unaligned reads across block boundaries.
    for (const pos of [0, 1, bsize - 3, 12 * bsize - 5, expected.length - 10, expected.length]) {
      const buf = Buffer.alloc(100);
      const n = reader.read(buf, pos);
      expect(n).toBe(Math.max(0, Math.min(100, expected.length - pos)));
      expect(buf.subarray(0, n).equals(expected.subarray(pos, pos + n))).toBe(true);
    }
  });

  it('lists the same data and indirect blocks as istat', async () => {
    let checked = 0;
    for (const e of fs.walk()) {
      if (e.kind === 'fifo' || (e.kind === 'file' && e.size === 0)) continue;
      const inode = fs.inode(e.ino);
      if (e.kind === 'symlink' && fs.blockMap.isFastSymlink(inode)) continue;
      if (e.kind === 'file' && checked > 60 && e.size < 4096) continue;
      const t = await istat(image, FSTYPE, e.ino);
      expect(fragmentsOf(fs.extents(inode), fsize), e.display).toEqual(t.direct);
      const meta = fs.metadataBlocks(inode).flatMap((m) => Array.from({ length: m.fragments }, (_, i) => m.fragment + i));
      expect(meta.sort((a, b) => a - b), e.display).toEqual([...t.indirect].sort((a, b) => a - b));
      checked++;
    }
    expect(checked).toBeGreaterThan(60);
    const big = fs.metadataBlocks(fs.lookup('blocks/big'));
    if (bsize === 4096) expect(big.map((m) => m.level)).toEqual([1, 2, 1]);
  });

  it('finds tail fragments where fragroundup(size) says', () => {
    const tail = fs.inode(fs.lookup('blocks/tail-3'));
    const ext = fs.extents(tail);
    const last = ext[ext.length - 1]!;
    expect(last.fileOffset + last.length).toBe(3 * bsize + 1500);
    const frags = fragmentsOf(ext, fsize);
    expect(frags.length).toBe(3 * (bsize / fsize) + Math.ceil(1500 / fsize));
  });

  it('reads symlinks, fast and slow, as the source and istat have them', async () => {
    for (const s of source.filter((x) => x.kind === 'symlink')) {
      const ino = fs.lookup(s.path);
      const inode = fs.inode(ino);
      expect(fs.readLink(ino).equals(s.link!), s.path.toString()).toBe(true);
      expect(fs.blockMap.isFastSymlink(inode)).toBe(s.link!.length < 60);
      expect((await istat(image, FSTYPE, ino)).symlink).toBe(s.link!.toString('latin1'));
    }
  });

  it('keeps a hard link as one inode with two names', () => {
    expect(fs.lookup('hard/original')).toBe(fs.lookup('hard/second-name'));
    expect(fs.inode(fs.lookup('hard/original')).nlink).toBe(2);
  });

  it('reads a directory that spans several blocks', () => {
    const many = fs.inode(fs.lookup('many'));
    expect(many.size).toBeGreaterThan(bsize);
    const entries = fs.readDir(many);
    expect(entries.length).toBe(602);
    expect(entries.filter((e) => e.name.toString() === '.' || e.name.toString() === '..').length).toBe(2);
    expect(entries.every((e) => e.offset % 4 === 0)).toBe(true);
  });

  it('keeps names as bytes and shows them escaped', () => {
    const odd = fs.readDir(fs.lookup('odd'));
    const ctl = odd.find((e) => e.name.subarray(0, 3).toString() === 'ctl')!;
    expect(ctl.name).toEqual(Buffer.concat([Buffer.from('ctl'), Buffer.from([1, 0x1b]), Buffer.from('[31mred')]));
    expect(ctl.display).toBe('ctl\\x01\\e[31mred');
    const latin = odd.find((e) => e.name.subarray(0, 6).toString() === 'latin1')!;
    expect(latin.display).toBe('latin1-\\xe9\\xff\\xfe');
    expect(odd.find((e) => e.name.length === 255)).toBeDefined();
    expect(fs.tryLookup(Buffer.concat([Buffer.from('odd/latin1-'), Buffer.from([0xe9, 0xff, 0xfe])]))).toBe(latin.ino);
  });

  it('puts each inode at inodeOffset, as istat sees after a patch there', async () => {
    const copy = copyImage(image, join(tmp.dir, 'inode-patch.img'));
    const picked = new Set(
      fs
        .walk()
        .filter((_, i) => i % 53 === 0)
        .map((e) => e.ino),
    );
    const lastCg = (fs.info.cylinderGroups - 1) * fs.info.inodesPerGroup;
    const inLastCg = fs.walk().find((e) => e.ino >= lastCg);
    if (inLastCg) picked.add(inLastCg.ino);
    const inos = [...picked];
    expect(inos.length).toBeGreaterThan(8);
    // di_uid of a UFS1 inode is at byte 112.
    inos.forEach((ino, i) => patch(copy, fs.inodeOffset(ino) + 112, i32(40000 + i)));
    for (const [i, ino] of inos.entries()) {
      const t = await istat(copy, FSTYPE, ino);
      expect(t.uid, `inode ${ino}`).toBe(40000 + i);
      expect(t.size).toBe(fs.inode(ino).size);
    }
    const patched = FfsFilesystem.open(new FileDevice(copy));
    expect(inos.map((ino) => patched.inode(ino).uid)).toEqual(inos.map((_, i) => 40000 + i));
  });

  it('tells which inode owns a fragment as ifind -d does, and its names as ffind -a', async () => {
    const g = fs.geometry;
    const frags = new Set<number>();
    for (const e of fs.walk()) {
      if (e.kind === 'fifo') continue;
      const inode = fs.inode(e.ino);
      if (!fs.blockMap.hasBlocks(inode) || (e.kind === 'file' && e.size < 2048 && e.ino % 17 !== 0)) continue;
      for (const x of fs.extents(inode)) {
        if (x.diskOffset === null) continue;
        frags.add(x.diskOffset / fsize);
        frags.add((x.diskOffset + x.length - 1) / fsize | 0);
      }
      for (const m of fs.metadataBlocks(inode)) frags.add(m.fragment + 1);
    }
    // Metadata, free space, the boot area, the primary superblock.
    for (let c = 0; c < g.ncg; c++) for (const f of [g.cgsblock(c), g.cgtod(c), g.cgimin(c) + 1, g.cgdmin(c) - 1]) frags.add(f);
    frags.add(1);
    frags.add(8192 / fsize);
    frags.add(g.size - 1);
    frags.add(g.size - 2 * g.frag);
    const list = [...frags];
    const result = findOwners(fs, list, { allPaths: true });
    expect(result.problems).toEqual([]);
    let inodes = 0;
    for (const owner of result.owners) {
      const t = await ifindData(image, FSTYPE, owner.fragment);
      if (owner.kind === 'inode') {
        inodes++;
        expect(t, `fragment ${owner.fragment}`).toBe(owner.ino);
        expect(owner.free).toBe(false);
        const names = (await ffindAll(image, FSTYPE, owner.ino))
          .map((n) => n.toString('latin1'))
          .filter((n) => !/\/\.\.?$/.test(n)) // ffind also names a directory by its "." and ".."
          .sort();
        expect(owner.paths.map((p) => tskName(p.path).toString('latin1')).sort()).toEqual(names);
      } else if (owner.kind === 'metadata') {
        const c = g.dtog(owner.fragment);
        const tskMeta = owner.fragment >= g.cgsblock(c) && owner.fragment < g.cgdmin(c);
        expect(t, `fragment ${owner.fragment} (${owner.what})`).toBe(tskMeta ? 'meta' : null);
      } else {
        expect(t, `fragment ${owner.fragment}`).toBe(null);
      }
    }
    expect(inodes).toBeGreaterThan(40);
    expect(result.owners.filter((o) => o.kind === 'unowned' && o.free).length).toBeGreaterThan(0);
  });

  it('says which component of a path is a symlink or not a directory', () => {
    expect(() => fs.lookup('links/to-dir/x')).toThrow(UserError);
    expect(() => fs.lookup('links/to-dir/x')).toThrow(/\/links\/to-dir is a symbolic link \(to \.\.\/many\), not followed/);
    expect(() => fs.lookup('small/s1/x')).toThrow(/\/small\/s1 is a regular file, not a directory/);
    expect(fs.tryLookup('small/nope')).toBeNull();
    expect(() => fs.lookup('small/nope')).toThrow(/small\/nope: not found/);
    expect(fs.lookup('/small/./s1')).toBe(fs.lookup('small/s1'));
    expect(fs.lookup('links/to-dir')).toBe(fs.walk().find((e) => e.path.toString() === 'links/to-dir')!.ino);
    expect(fs.lookup('/')).toBe(2);
  });

  it('reads holes as zeros, as icat does, and lists them as istat does', async () => {
    const copy = copyImage(image, join(tmp.dir, 'holes.img'));
    const g = fs.geometry;
    const tail = fs.inode(fs.lookup('blocks/tail-3'));
    const big = fs.inode(fs.lookup('blocks/big'));
    // tail-3: block 1 becomes a hole. big: the 4th block mapped by its single indirect block.
    patch(copy, tail.offset + 40 + 4, i32(0));
    patch(copy, big.ib[0]! * fsize + 3 * 4, i32(0));
    const holes = FfsFilesystem.open(new FileDevice(copy));
    const expectTail = readSource(src, Buffer.from('blocks/tail-3'));
    expectTail.fill(0, bsize, 2 * bsize);
    const expectBig = readSource(src, Buffer.from('blocks/big'));
    expectBig.fill(0, 15 * bsize, 16 * bsize);
    for (const [name, ino, expected] of [
      ['tail-3', tail.ino, expectTail],
      ['big', big.ino, expectBig],
    ] as const) {
      expect(holes.readFile(ino).equals(expected), name).toBe(true);
      expect((await icat(copy, FSTYPE, ino)).equals(expected), name).toBe(true);
      const ext = holes.extents(ino);
      expect(ext.some((x) => x.diskOffset === null)).toBe(true);
      expect(fragmentsOf(ext, fsize)).toEqual((await istat(copy, FSTYPE, ino)).direct);
    }
    expect(holes.extents(tail.ino)[1]).toEqual({ fileOffset: bsize, length: bsize, diskOffset: null });
    void g;
  });

  it.runIf(bsize === 4096)('follows a triple indirect block planted in a copy', async () => {
    const copy = copyImage(image, join(tmp.dir, 'triple.img'));
    const g = fs.geometry;
    // Free blocks: triple, double, single indirect, two data blocks apart from each other.
    const free: number[] = [];
    for (let f = g.cgdmin(0); free.length < 6 && f + g.frag <= g.size; f += g.frag) {
      if (f % g.frag === 0 && Array.from({ length: g.frag }, (_, i) => fs.isFragmentFree(f + i)).every(Boolean) && !g.badExtent(f, g.frag)) free.push(f);
    }
    expect(free.length).toBe(6);
    const [t, d, s, x, , y] = free as [number, number, number, number, number, number];
    const n = g.nindir;
    const firstTriple = 12 + n + n * n;
    const size = (firstTriple + 2) * bsize - 100;
    const victim = fs.inode(fs.lookup('small/s1'));
    const ino = Buffer.alloc(128);
    fs.device.read(ino, victim.offset);
    ino.fill(0, 40, 100); // db[] and ib[]
    ino.writeInt32LE(t, 88 + 8); // ib[2]
    ino.writeUInt32LE(size % 2 ** 32, 8);
    ino.writeUInt32LE(Math.floor(size / 2 ** 32), 12);
    ino.writeInt32LE(5 * (bsize / 512) * 1, 104); // di_blocks
    patch(copy, victim.offset, ino);
    patch(copy, t * fsize, i32(d));
    patch(copy, d * fsize, i32(s));
    patch(copy, s * fsize, Buffer.concat([i32(x), i32(y)]));
    const dataX = pseudoRandom(bsize, 11);
    const dataY = pseudoRandom(bsize, 12);
    patch(copy, x * fsize, dataX);
    patch(copy, y * fsize, dataY);

    const tri = FfsFilesystem.open(new FileDevice(copy));
    const inode = tri.inode(victim.ino);
    expect(inode.size).toBe(size);
    expect(tri.extents(inode)).toEqual([
      { fileOffset: 0, length: firstTriple * bsize, diskOffset: null },
      { fileOffset: firstTriple * bsize, length: bsize, diskOffset: x * fsize },
      { fileOffset: (firstTriple + 1) * bsize, length: bsize - 100, diskOffset: y * fsize },
    ]);
    expect(tri.metadataBlocks(inode).map((m) => [m.level, m.fragment])).toEqual([
      [3, t],
      [2, d],
      [1, s],
    ]);
    const r = tri.openFile(inode);
    const buf = Buffer.alloc(2 * bsize);
    expect(r.read(buf, firstTriple * bsize)).toBe(2 * bsize - 100);
    expect(buf.subarray(0, bsize).equals(dataX)).toBe(true);
    expect(buf.subarray(bsize, 2 * bsize - 100).equals(dataY.subarray(0, bsize - 100))).toBe(true);
    const zeros = Buffer.alloc(4096, 1);
    r.read(zeros, 3_000_000_000);
    expect(zeros.every((b) => b === 0)).toBe(true);
    // (The Sleuth Kit walks the 4 GiB of holes block by block: ifind -d takes minutes here, so
    // the planted chain itself is the reference.)
    const owners = findOwners(tri, [t, d, s, x, y + 3]).owners;
    expect(owners.map((o) => (o.kind === 'inode' ? [o.ino, o.role, o.level] : o.kind))).toEqual([
      [victim.ino, 'indirect', 3],
      [victim.ino, 'indirect', 2],
      [victim.ino, 'indirect', 1],
      [victim.ino, 'data', 0],
      [victim.ino, 'data', 0],
    ]);
    const o = owners[4]!;
    expect(o.kind === 'inode' && o.fileOffset).toBe((firstTriple + 1) * bsize + 3 * fsize);
    expect(o.kind === 'inode' && o.free).toBe(true); // the patch did not mark it used
  });
});
