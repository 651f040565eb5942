// Triple indirect blocks, generation numbers, times and the superblock's mount point, and file
// systems made by another tool (NetBSD makefs) opened and edited.

import { mkdir, mkdtemp, rm, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Disk } from '../../samples/lib/disk.js';
import { checkFs, Ffs, newfs } from '../../samples/lib/ffs/index.js';
import { fls, fsstat, icat, istat } from './tsk.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lf-ffs-more-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('more of the format', () => {
  for (const ufs of [2, 1] as const) {
    it(`UFS${ufs}: a sparse file reaching the triple indirect block`, async () => {
      const disk = Disk.create(16 << 20);
      const fs = newfs(disk, { ufs, bsize: 4096, fsize: 512 });
      const g = fs.g;
      const N = g.nindir;
      const lbn = 12 + N + N * N + 5 * N + 3;
      const p = fs.writeFile('/sparse', 'head');
      expect(p.blocks).toHaveLength(1);
      const pl = fs.pwrite('/sparse', lbn * g.bsize + 7, 'deep');
      expect(pl.indirect.map((r) => r.level)).toEqual([3, 2, 1]);
      expect(fs.stat('/sparse').size).toBe(lbn * g.bsize + 11);
      expect(checkFs(disk).errors).toEqual([]);
      // Follow di_ib[2] by hand through the raw blocks.
      const ip = fs.readInode(fs.lookup('/sparse'));
      const ptr = (addr: number, i: number) => {
        const b = disk.readBytes(addr * g.fsize + i * g.ptrSize, g.ptrSize);
        return g.ptrSize === 8 ? Number(b.readBigInt64LE(0)) : b.readInt32LE(0);
      };
      const l = lbn - (12 + N + N * N);
      const l2 = ptr(ip.ib[2]!, Math.floor(l / (N * N)));
      const l1 = ptr(l2, Math.floor(l / N) % N);
      const data = ptr(l1, l % N);
      expect(data).toBe(pl.blocks.at(-1)!.fsAddr);
      expect(disk.readBytes(data * g.fsize + 7, 4).toString()).toBe('deep');
      expect(fs.readData(ip, lbn * g.bsize, 11).subarray(7).toString()).toBe('deep');
      // TSK lists it (reading it whole would walk a gigabyte of holes).
      const img = join(dir, `triple-${ufs}.raw`);
      disk.saveRaw(img);
      expect((await fls(img, { fstype: `ufs${ufs}` })).map((e) => e.path)).toEqual(['sparse']);
      // Shrinking it back frees the whole indirect tree.
      fs.truncate('/sparse', 4);
      expect(fs.indirectBlocks('/sparse')).toEqual([]);
      expect(fs.stat('/sparse').blocks).toBe(g.fsize / 512);
      expect(checkFs(disk).errors).toEqual([]);
    });
  }

  it('generation numbers: a reused inode gets a new one; metadata-only changes keep it', () => {
    const fs = newfs(Disk.create(8 << 20));
    const a = fs.writeFile('/a', 'one');
    fs.chmod('/a', 0o600);
    fs.rename('/a', '/b');
    fs.link('/b', '/c');
    fs.append('/b', 'more');
    expect(fs.stat('/c').gen).toBe(a.gen);
    expect(fs.stat('/c').ino).toBe(a.ino);
    fs.unlink('/b');
    fs.unlink('/c');
    const b = fs.writeFile('/d', 'two');
    expect(b.ino).toBe(a.ino);
    expect(b.gen).not.toBe(a.gen);
    // Replacing like tar (unlink, create) gives a new inode; truncating in place keeps it.
    const c = fs.writeFile('/d', 'three', { replace: 'truncate' });
    expect([c.ino, c.gen]).toEqual([b.ino, b.gen]);
    const d = fs.writeFile('/d', 'four', { replace: 'unlink' });
    expect(`${d.ino}/${d.gen}`).not.toBe(`${b.ino}/${b.gen}`);
  });

  it('times come from the caller; the superblock says where it was mounted', async () => {
    const disk = Disk.create(8 << 20);
    const fs = newfs(disk, { time: 1_600_000_000, mountPoint: '/home' });
    fs.now = 1_650_000_000;
    fs.mkdir('/opam', { uid: 1000, gid: 1000 });
    fs.writeFile('/opam/f', 'x', { mtime: 1_234_567_890, atime: 1_234_567_000, uid: 1000, gid: 1000, mode: 0o640 });
    const st = fs.stat('/opam/f');
    expect([st.mtime, st.atime, st.ctime, st.birthtime]).toEqual([1_234_567_890, 1_234_567_000, 1_650_000_000, 1_650_000_000]);
    expect(fs.stat('/opam').mtime).toBe(1_650_000_000);
    expect(fs.stat('/').mtime).toBe(1_650_000_000);
    const img = join(dir, 'times.raw');
    disk.saveRaw(img);
    expect(await fsstat(img, { fstype: 'ufs2' })).toMatch(/Last Mount Point: \/home/);
    const is = await istat(img, st.ino, { fstype: 'ufs2' });
    expect([is.uid, is.gid, is.mode]).toEqual([1000, 1000, 'rrw-r-----']);
    expect(is.times['File Modified']).toBe('2009-02-13 23:31:30 (UTC)');
    expect(is.times['Inode Modified']).toBe('2022-04-15 05:20:00 (UTC)');
  });

  it('opens file systems NetBSD makefs made (UFS1, and UFS2 with its superblock at 8192), finds them consistent, edits them', async () => {
    const src = join(dir, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    const big = Buffer.alloc(100_000);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i * 2654435761 >>> 0, i);
    await writeFile(join(src, 'big'), big);
    await writeFile(join(src, 'sub', 'a.txt'), 'hello\n');
    await symlink('a.txt', join(src, 'sub', 'l'));
    for (const version of [1, 2]) {
      const img = join(dir, `makefs-${version}.raw`);
      await execa('makefs', ['-t', 'ffs', '-o', `version=${version}`, '-s', '8m', img, src]);
      const disk = Disk.fromFile(img);
      const fs = Ffs.open(disk);
      expect(fs.g.ufs).toBe(version);
      expect(fs.g.sblockloc).toBe(8192);
      expect(checkFs(disk).errors).toEqual([]);
      expect(fs.walkTree().map((e) => e.path)).toEqual(['/big', '/sub/', '/sub/a.txt', '/sub/l']);
      expect(fs.readFile('/big').equals(big)).toBe(true);
      expect(fs.readlink('/sub/l')).toBe('a.txt');
      fs.unlink('/big');
      const p = fs.writeFile('/sub/new', Buffer.alloc(40_000, 9));
      fs.rename('/sub/a.txt', '/a.txt');
      expect(checkFs(disk).errors).toEqual([]);
      const out = join(dir, `makefs-${version}-edited.raw`);
      disk.saveRaw(out);
      disk.close();
      if (version === 1) {
        // TSK reads UFS1 wherever; it does not look for UFS2 at 8192.
        expect((await fls(out)).filter((e) => !e.deleted).map((e) => e.path).sort()).toEqual(['a.txt', 'sub', 'sub/l', 'sub/new']);
        expect((await icat(out, p.ino)).equals(Buffer.alloc(40_000, 9))).toBe(true);
      }
    }
  });
});
