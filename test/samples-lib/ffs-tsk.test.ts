// The FFS writer against The Sleuth Kit: images of UFS2 (OpenBSD-shaped, superblock at 65536)
// and UFS1 built with every kind of object and operation, read back by fsstat, fls, icat, istat.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Disk } from '../../samples/lib/disk.js';
import { checkFs, newfs, type NewfsOptions } from '../../samples/lib/ffs/index.js';
import { expectTskSeesModel, Tracked } from './model.js';
import { fsstat, istat } from './tsk.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lf-ffs-tsk-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Distinct bytes per block, so a misplaced block shows. */
function blocks(n: number, bsize: number, extra = 0): Buffer {
  const b = randomBytes(n * bsize + extra);
  for (let i = 0; i < n; i++) b.writeUInt32LE(i, i * bsize);
  return b;
}

/** Every kind of object, then deletions, renames and new writes into the freed space. */
function populate(t: Tracked, repoFiles = 300): void {
  const g = t.fs.g;
  const B = g.bsize;
  t.mkdir('/opam');
  t.mkdir('/opam/src');
  t.mkdir('/opam/.opam');
  for (const size of [0, 1, 100, g.fsize - 1, g.fsize, g.fsize + 1, 5000, B - 1]) {
    t.writeFile(`/opam/src/small-${size}`, randomBytes(size));
  }
  t.writeFile('/opam/src/one-block', blocks(1, B));
  t.writeFile('/opam/src/tail-frags', blocks(1, B, 3000));
  t.writeFile('/opam/src/twelve-blocks', blocks(12, B));
  t.writeFile('/opam/src/single-indirect', blocks(13, B, 77));
  t.writeFile('/opam/src/double-indirect', blocks(12 + g.nindir + 3, B, 1234));
  t.symlink('/opam/src/fast-link', 'tls.opam');
  t.symlink('/opam/src/slow-link', '../'.repeat(40) + 'x'.repeat(200));
  t.writeFile('/opam/src/tls.opam', Buffer.from('opam-version: "2.0"\nname: "tls"\n'));
  t.link('/opam/src/tls.opam', '/opam/.opam/tls.opam.hardlink');
  // Sparse: a hole inside the direct blocks, and data past the first indirect block's reach.
  t.writeFile('/opam/sparse', Buffer.from('start'));
  t.pwrite('/opam/sparse', 4 * B + 10, Buffer.from('after a hole'));
  t.pwrite('/opam/sparse', (12 + g.nindir + 2) * B + 5, Buffer.from('in the double indirect range'));
  // A directory of several blocks (DIRBLKSIZ chunks in several fs blocks).
  t.mkdir('/opam/repo');
  for (let i = 0; i < repoFiles; i++) t.writeFile(`/opam/repo/${'package-with-a-rather-long-name-'.repeat(3)}${String(i).padStart(4, '0')}.opam`, Buffer.from(`p${i}\n`));
  // Appends that grow a tail fragment in place and across a block.
  t.writeFile('/opam/log', Buffer.from('line 1\n'));
  for (let i = 2; i < 600; i++) t.append('/opam/log', Buffer.from(`line ${i} ${'.'.repeat(i % 50)}\n`));
  t.truncate('/opam/src/tail-frags', B + 10);
  t.truncate('/opam/src/small-100', 3 * B + 1);

  // Deletions: files, a hard link's other name, a subtree; entries removed mid-chunk and at a chunk's start.
  for (let i = 0; i < repoFiles; i += 3) t.unlink(`/opam/repo/${'package-with-a-rather-long-name-'.repeat(3)}${String(i).padStart(4, '0')}.opam`);
  t.unlink('/opam/src/tls.opam');
  t.unlink('/opam/src/twelve-blocks');
  t.mkdir('/opam/tmp');
  t.mkdir('/opam/tmp/a');
  t.writeFile('/opam/tmp/a/f', blocks(3, B));
  t.symlink('/opam/tmp/a/l', 'f');
  t.rmTree('/opam/tmp');
  // Renames within and across directories, of files and of a directory.
  t.rename('/opam/src/one-block', '/opam/src/one-block.renamed');
  t.rename('/opam/src/small-5000', '/opam/.opam/small-5000');
  t.rename('/opam/repo', '/opam/.opam/repo');
  t.writeFile('/opam/over', Buffer.from('to be replaced'));
  t.rename('/opam/src/small-1', '/opam/over');
  // New files land in the freed space.
  t.writeFile('/opam/src/after-delete', blocks(5, B, 999));
  t.writeFile('/opam/.opam/config', Buffer.from('opam-version: "2.0"\n'), { replace: 'unlink' });
  t.writeFile('/opam/.opam/config', Buffer.from('rewritten in place\n'));
  t.fs.chmod('/opam/.opam/config', 0o600);
  t.fs.chown('/opam', 1000, 1000);
  t.fs.utimes('/opam/log', 1700000000, 1700000001.5);
}

async function build(name: string, opts: NewfsOptions, diskSize: number, repoFiles?: number): Promise<{ img: string; t: Tracked }> {
  const disk = Disk.create(diskSize);
  const t = new Tracked(newfs(disk, { ...opts, lostFound: true }));
  populate(t, repoFiles);
  const report = checkFs(disk, opts.offset ?? 0);
  expect(report.errors).toEqual([]);
  const img = join(dir, name);
  disk.saveRaw(img);
  return { img, t };
}

describe('FFS writer, read back by The Sleuth Kit', () => {
  it(
    'UFS2 at a partition offset (OpenBSD newfs defaults): fsstat, fls -r -p, icat, istat agree with what was written',
    async () => {
      const offset = 1 << 20;
      const { img, t } = await build('ufs2.raw', { offset, size: 64 << 20, time: 1767225600 }, (66 << 20) + offset);
      const o = { sectors: offset / 512, fstype: 'ufs2' };
      const st = await fsstat(img, o);
      expect(st).toMatch(/File System Type: UFS 2/);
      expect(st).toMatch(/Block Size: 16384/);
      expect(st).toMatch(/Fragment Size: 2048/);
      expect(st).toMatch(/Number of Cylinder Groups: 4/);
      // TSK needs the offset: without it there is no file system at the start of the disk.
      await expect(fsstat(img)).rejects.toThrow();
      const seen = await expectTskSeesModel(img, t, o);
      expect(seen.files).toBeGreaterThan(200);
      // Several blocks of directory chunks.
      expect(t.fs.stat('/opam/.opam/repo').size).toBeGreaterThan(2 * t.fs.g.bsize);
      // The inode keeps its owner, mode and times.
      const opam = await istat(img, t.fs.lookup('/opam'), o);
      expect([opam.uid, opam.gid]).toEqual([1000, 1000]);
      expect((await istat(img, t.fs.lookup('/opam/.opam/config'), o)).mode).toBe('rrw-------');
    },
    300_000,
  );

  it(
    'UFS1 (superblock at 8192, 4 KiB blocks, 512-byte fragments) the same way',
    async () => {
      const { img, t } = await build('ufs1.raw', { ufs: 1, bsize: 4096, fsize: 512, time: 1767225600 }, 24 << 20);
      const st = await fsstat(img);
      expect(st).toMatch(/File System Type: UFS 1/);
      expect(st).toMatch(/Block Size: 4096/);
      expect(st).toMatch(/Fragment Size: 512/);
      await expectTskSeesModel(img, t, { fstype: 'ufs1' });
    },
    300_000,
  );

  it(
    'other geometries: 4 fragments per block, 1 fragment per block, many small cylinder groups, cluster maps',
    async () => {
      const cases: Array<[string, NewfsOptions, number]> = [
        ['frag4.raw', { bsize: 8192, fsize: 2048 }, 40 << 20],
        ['frag1.raw', { ufs: 1, bsize: 4096, fsize: 4096 }, 40 << 20],
        ['manycg.raw', { bsize: 4096, fsize: 1024, fpg: 2048 }, 40 << 20],
        ['clusters.raw', { maxcontig: 8 }, 48 << 20],
      ];
      for (const [name, opts, size] of cases) {
        const { img, t } = await build(name, opts, size, 60);
        await expectTskSeesModel(img, t, { fstype: opts.ufs === 1 ? 'ufs1' : 'ufs2' });
      }
    },
    300_000,
  );
});
