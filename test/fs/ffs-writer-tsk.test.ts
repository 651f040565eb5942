// The FFS reader on OpenBSD-shaped UFS2 (superblock at 65536, where OpenBSD's newfs puts it and
// where The Sleuth Kit looks for it) inside a partition of a raw disk. The images are built by the
// independent FFS writer (samples/lib/ffs) with every shape the reader must handle and the
// operations that shape a real layer (unlinks, a subtree removed, renames across directories,
// appends, truncations, a file whose data blocks were never written and hold a deleted file's
// bytes). TSK reads the partition with -o, the reader through a SliceDevice; the writer's model
// of what was written is the third opinion. TSK calls are batched in one shell each, and sampled
// where an image holds hundreds of small files.

import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Disk } from '../../samples/lib/disk.js';
import { checkFs, newfs, type Placement } from '../../samples/lib/ffs/index.js';
import { FfsFilesystem, findOwners, type FragmentOwner } from '../../src/fs/ffs/index.js';
import { pathsByParentGroup } from '../../src/fs/ffs/inode-paths.js';
import { SliceDevice } from '../../src/image/block-device.js';
import { Tracked, type Node } from '../samples-lib/model.js';
import { FileDevice } from './file-device.js';
import {
  flsNames,
  fragmentsOf,
  fsstatOf,
  i32,
  icatEach,
  ifindEach,
  istatEach,
  KIND_CHAR,
  patch,
  pseudoRandom,
  tempDir,
  tskName,
  TYPE_CHAR,
  type Istat,
  type TskVolume,
} from './images.js';

interface Case {
  name: string;
  bsize: number;
  fsize: number;
  /** Byte offset of the partition in the disk, and the file system's size. */
  offset: number;
  fsBytes: number;
  /** Fill the whole disk with old bytes before newfs (a reused disk): free space is not zeros. */
  reused: boolean;
}

const CASES: Case[] = [
  { name: 'OpenBSD defaults (16 KiB blocks, 2 KiB fragments), partition at 1 MiB', bsize: 16384, fsize: 2048, offset: 1 << 20, fsBytes: 72 << 20, reused: false },
  { name: '8 KiB blocks, 1 KiB fragments, partition at sector 63 of a reused disk', bsize: 8192, fsize: 1024, offset: 63 * 512, fsBytes: 40 << 20, reused: true },
];

/** Text that reads as an opam file, tagged, so a misplaced block shows. */
function text(n: number, tag: string): Buffer {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${tag} line ${i}: opam-version "2.0" depends [ "ocaml" {>= "4.08"} ]\n`;
  return Buffer.from(s.slice(0, n));
}

/** What a file written with `lose` reads as: the intended bytes, lost blocks as `before` held them. */
function afterLoss(before: Disk, intended: Buffer, p: Placement): Buffer {
  const out = Buffer.from(intended);
  for (const b of p.blocks) if (b.lost) before.readBytes(b.disk, b.length).copy(out, b.fileOffset);
  return out;
}

const MANY = 560;
const manyName = (i: number): string => `package-file-with-a-rather-long-name-for-a-directory-entry-${String(i).padStart(4, '0')}.opam`;
/** Made through the writer as "latin1-XYZ", then patched in the directory block to invalid UTF-8. */
const LATIN1_BYTES = Buffer.concat([Buffer.from('latin1-'), Buffer.from([0xe9, 0xff, 0xfe])]);

/** The bytes of a model path as the image holds it (the one patched name differs). */
function diskPath(key: string): Buffer {
  const p = Buffer.from(key.slice(1), 'utf8');
  return key === '/odd/latin1-XYZ' ? Buffer.concat([Buffer.from('odd/'), LATIN1_BYTES]) : p;
}

interface Lost {
  path: string;
  placement: Placement;
  intended: Buffer;
  /** What it reads as: the intended bytes with the lost blocks' old contents. */
  expected: Buffer;
}

interface Built {
  t: Tracked;
  disk: Disk;
  /** The deleted file whose blocks the lost file reuses, as placed when it was written. */
  old: { data: Buffer; placement: Placement };
  lost: Lost;
  partial: Lost;
  /** Fragments of files that were deleted (or truncated away) and whose blocks are still free. */
  freed: number[];
  /** Data fragments of the subtree removed by rmTree, before it was removed. */
  removed: number[];
}

/** Every shape and operation, through the writer and its model. */
function populate(t: Tracked, disk: Disk): Built {
  const w = t.fs;
  const g = w.g;
  const B = g.bsize;
  const F = g.fsize;
  const N = g.nindir;
  let seed = 1;
  const data = (n: number): Buffer => pseudoRandom(n, seed++ * 7919);

  for (const d of ['/small', '/blocks', '/links', '/hard', '/many', '/odd', '/src', '/dst']) t.mkdir(d);
  // A directory (and so its files) in the last cylinder group, one in group 1 for the lost data.
  w.mkdir('/far', { cg: g.ncg - 1 });
  t.model.set('/far', { kind: 'dir' });
  w.mkdir('/lose', { cg: 1 });
  t.model.set('/lose', { kind: 'dir' });

  for (const n of [0, 1, 100, F - 1, F, F + 1, 3 * F + 5, B - 1]) t.writeFile(`/small/s${n}`, data(n));
  t.writeFile('/blocks/exact-block', data(B));
  t.writeFile('/blocks/tail-1', data(B + 904));
  t.writeFile('/blocks/tail-3', data(3 * B + 1500));
  t.writeFile('/blocks/all-direct', data(12 * B));
  t.writeFile('/blocks/single-indirect', data(40 * B + 777));
  t.writeFile('/blocks/double-indirect', data((12 + N + 3) * B + 1234));
  // Holes: in the direct blocks, in the single indirect range, and all of the double indirect
  // range but one block (its single indirect blocks are missing but one).
  t.writeFile('/blocks/sparse', Buffer.from('start'));
  t.pwrite('/blocks/sparse', 4 * B + 10, Buffer.from('after a hole'));
  t.pwrite('/blocks/sparse', 20 * B + 3, Buffer.from('in the single indirect range'));
  t.pwrite('/blocks/sparse', (12 + N + 2) * B + 5, Buffer.from('in the double indirect range'));
  // Grown by truncate: only the last byte's block is allocated.
  t.writeFile('/blocks/grown', Buffer.from('x'));
  t.truncate('/blocks/grown', 5 * B + 3);

  t.symlink('/links/fast', '../small/s100');
  t.symlink('/links/fast-119', 'L'.repeat(119));
  t.symlink('/links/slow-120', 'L'.repeat(120));
  t.symlink('/links/slow', '../'.repeat(40) + 'x'.repeat(200));
  t.symlink('/links/to-dir', '../many');

  t.writeFile('/hard/original', data(3000));
  t.link('/hard/original', '/hard/second-name');
  t.link('/hard/original', '/odd/third name');

  for (let i = 0; i < MANY; i++) t.writeFile(`/many/${manyName(i)}`, Buffer.from(`entry ${i}\n`));

  t.writeFile('/odd/name with spaces', Buffer.from('spaces'));
  t.writeFile('/odd/ctl\x01\x1b[31mred', Buffer.from('control bytes'));
  t.writeFile('/odd/del\x7f', Buffer.from('delete'));
  t.writeFile('/odd/tab\there', Buffer.from('tab'));
  t.writeFile('/odd/new\nline', Buffer.from('newline'));
  t.writeFile('/odd/café.txt', Buffer.from('utf-8'));
  t.writeFile('/odd/' + 'n'.repeat(255), Buffer.from('longest name'));
  t.writeFile('/odd/latin1-XYZ', Buffer.from('invalid utf-8'));

  t.writeFile('/far/file', data(2 * B + 100));
  t.mkdir('/far/sub');
  t.writeFile('/far/sub/deeper', data(13 * B + 5));

  // Deletions: every third entry of the big directory, a small file, a subtree.
  for (let i = 0; i < MANY; i += 3) t.unlink(`/many/${manyName(i)}`);
  t.unlink('/small/s1');
  t.mkdir('/gone');
  t.mkdir('/gone/a');
  t.writeFile('/gone/a/f', data(3 * B));
  t.writeFile('/gone/a/indirect', data(14 * B + 5));
  t.symlink('/gone/a/slow', 'y'.repeat(300));
  t.writeFile('/gone/b', data(100));
  const removed = ['/gone/a/f', '/gone/a/indirect', '/gone/b'].flatMap((p) => w.extents(p).map((e) => e.fsAddr));
  t.rmTree('/gone');
  // Renames across directories: a file, a directory with its contents, a file over another.
  t.writeFile('/src/moving', data(5000));
  t.rename('/src/moving', '/dst/moved');
  t.mkdir('/src/subdir');
  t.writeFile('/src/subdir/inner', data(100));
  t.rename('/src/subdir', '/dst/subdir-renamed');
  t.writeFile('/dst/victim', Buffer.from('to be replaced'));
  t.writeFile('/src/replacer', data(2 * F + 1));
  t.rename('/src/replacer', '/dst/victim');
  // Appends that grow a tail in place and move it; truncations that shrink and grow.
  t.writeFile('/blocks/log', Buffer.from('line 1\n'));
  for (let i = 2; i < 300; i++) t.append('/blocks/log', Buffer.from(`line ${i} ${'.'.repeat(i % 50)}\n`));
  t.truncate('/blocks/tail-3', B + 10);
  t.truncate('/blocks/single-indirect', 12 * B + 1);
  t.truncate('/small/s100', 3 * B + 1);

  // The soft-updates failure, in cylinder group 1: a file is deleted, and a new one's blocks
  // (allocated lowest first, so the deleted file's come back) are never written.
  const oldData = text(3 * B + 1000, 'zxcvbn.opam');
  const oldPl = w.writeFile('/lose/zxcvbn.opam', oldData);
  w.unlink('/lose/zxcvbn.opam');
  let before = disk.snapshot();
  const intended = text(5 * B + 300, 'tls.opam');
  const lostPl = t.writeFile('/lose/tls.opam', intended, { lose: true });
  const lost: Lost = { path: '/lose/tls.opam', placement: lostPl, intended, expected: afterLoss(before, intended, lostPl) };
  before = disk.snapshot();
  const partialData = text(4 * B, 'partial.opam');
  const partialPl = t.writeFile('/lose/partial', partialData, { lose: (lbn) => lbn === 1 });
  const partial: Lost = { path: '/lose/partial', placement: partialPl, intended: partialData, expected: afterLoss(before, partialData, partialPl) };
  for (const l of [lost, partial]) (t.model.get(l.path) as { data: Buffer }).data = l.expected;
  // Freed and left free.
  const freedPl = w.writeFile('/lose/freed', data(2 * B + 3 * F));
  w.unlink('/lose/freed');
  const freed = freedPl.blocks.flatMap((b) => Array.from({ length: b.allocated / F }, (_, i) => b.fsAddr + i));

  return { t, disk, old: { data: oldData, placement: oldPl }, lost, partial, freed, removed };
}

/** Rename "latin1-XYZ" in /odd's directory blocks to bytes that are not UTF-8 (the writer takes strings). */
function patchLatin1Name(b: Built): void {
  const from = Buffer.from('latin1-XYZ');
  let hits = 0;
  for (const e of b.t.fs.extents('/odd')) {
    const block = b.disk.readBytes(e.disk, e.length);
    for (let at = block.indexOf(from); at >= 0; at = block.indexOf(from, at + 1)) {
      LATIN1_BYTES.copy(block, at);
      hits++;
    }
    b.disk.write(block, e.disk);
  }
  expect(hits).toBe(1);
}

/** `fsstat`'s per-group layout: for each group, each kind of line's ranges [first, last]. */
function fsstatGroups(out: string): Map<number, Map<string, Array<[number, number]>>> {
  const groups = new Map<number, Map<string, Array<[number, number]>>>();
  for (const part of out.split(/^Group (?=\d+:$)/m).slice(1)) {
    const c = Number(/^(\d+):/.exec(part)![1]);
    const m = new Map<string, Array<[number, number]>>();
    for (const line of part.split('\n')) {
      const x = /^ {2,4}(Inode Range|Fragment Range|Boot Block|Super Block|Group Desc|Inode Table|Data Fragments): (.*)$/.exec(line);
      if (!x) continue;
      const ranges = x[2]!.split(', ').map((r) => r.split(' - ').map(Number) as [number, number]);
      m.set(x[1]!, [...(m.get(x[1]!) ?? []), ...ranges]);
    }
    groups.set(c, m);
  }
  return groups;
}

describe.each(CASES)('UFS2 at 65536 written by the FFS writer, $name: the reader against The Sleuth Kit', (c) => {
  let tmp: ReturnType<typeof tempDir>;
  let raw: string;
  let vol: TskVolume;
  let fileDev: FileDevice;
  let fs: FfsFilesystem;
  let b: Built;
  /** Each path in the image (latin1 of its bytes, no leading "/") -> the model's path. */
  let modelByDisk: Map<string, string>;
  /** The inodes the per-inode TSK calls look at: all but most of the big directory's files. */
  let sample: number[];
  let stats: Map<number, Istat>;
  const F = c.fsize;

  beforeAll(async () => {
    tmp = tempDir('lf-ffs-writer-');
    const disk = Disk.create(c.offset + c.fsBytes + (1 << 20));
    // Old bytes before the partition and after it; on a reused disk, inside it too.
    disk.write(pseudoRandom(c.offset, 0x5eed), 0);
    disk.write(pseudoRandom(1 << 20, 0x7a11), c.offset + c.fsBytes);
    if (c.reused) disk.write(pseudoRandom(c.fsBytes, 0x01d), c.offset);
    const t = new Tracked(newfs(disk, { offset: c.offset, size: c.fsBytes, bsize: c.bsize, fsize: c.fsize, time: 1767225600 }));
    b = populate(t, disk);
    expect(checkFs(disk, c.offset).errors).toEqual([]);
    patchLatin1Name(b);
    raw = join(tmp.dir, 'disk.raw');
    disk.saveRaw(raw);
    vol = { image: raw, fstype: 'ufs2', sectors: c.offset / 512 };
    fileDev = new FileDevice(raw);
    fs = FfsFilesystem.open(new SliceDevice(fileDev, c.offset, c.fsBytes, 'partition a'));
    modelByDisk = new Map([...t.model.keys()].filter((k) => k !== '/').map((k) => [diskPath(k).toString('latin1'), k]));
    const walked = fs.walk();
    const picked = new Set<number>([2]);
    let manyFiles = 0;
    for (const e of walked) {
      if (e.kind === 'file' && e.path.subarray(0, 5).toString() === 'many/' && manyFiles++ % 16 !== 0) continue;
      picked.add(e.ino);
    }
    sample = [...picked];
    stats = await istatEach(vol, sample);
  });

  afterAll(() => {
    fileDev?.close();
    tmp?.remove();
  });

  it('finds the superblock at 65536 of the partition, with the geometry fsstat and the writer give', async () => {
    const out = await fsstatOf(vol);
    const num = (re: RegExp): number => Number(re.exec(out)?.[1]);
    const g = fs.geometry;
    const w = b.t.fs.g;
    expect(out).toMatch(/^File System Type: UFS 2$/m);
    expect(fs.info).toMatchObject({
      type: 'ufs2',
      version: 2,
      superblockOffset: 65536,
      blockSize: num(/^Block Size: (\d+)/m),
      fragmentSize: num(/^Fragment Size: (\d+)/m),
      cylinderGroups: num(/^Number of Cylinder Groups: (\d+)/m),
      inodesPerGroup: num(/^Inodes per group: (\d+)/m),
      fragmentsPerGroup: num(/^Fragments per group: (\d+)/m),
      fragments: num(/^Fragment Range: 0 - (\d+)/m) + 1,
      inodeSize: 256,
      maxSymlinkLength: 120,
    });
    expect([fs.info.blockSize, fs.info.fragmentSize]).toEqual([c.bsize, c.fsize]);
    expect(fs.info.cylinderGroups).toBeGreaterThanOrEqual(4);
    // Only at the partition's offset: the disk itself holds no file system, for either reader.
    expect(() => FfsFilesystem.open(fileDev)).toThrow(/no UFS1 or UFS2 superblock/);
    await expect(fsstatOf({ ...vol, sectors: 0 })).rejects.toThrow();
    // TSK's last inode number is its virtual $OrphanFiles directory, one past the real ones.
    expect(num(/^Inode Range: 0 - (\d+)/m)).toBe(fs.info.inodeCount);
    // The writer's numbers.
    expect([g.sblkno, g.cblkno, g.iblkno, g.dblkno, g.ncg, g.fpg, g.ipg, g.size, g.csaddr, g.cssize, g.nindir]).toEqual([
      w.sblkno,
      w.cblkno,
      w.iblkno,
      w.dblkno,
      w.ncg,
      w.fpg,
      w.ipg,
      w.size,
      w.csaddr,
      w.cssize,
      w.nindir,
    ]);
    // Each group's layout as fsstat prints it (it prints a superblock and a group descriptor as
    // one block each, and the inode table in whole fragments).
    const groups = fsstatGroups(out);
    expect(groups.size).toBe(g.ncg);
    const tables = fs.inodeTables();
    for (let cg = 0; cg < g.ncg; cg++) {
      const m = groups.get(cg)!;
      const end = Math.min(g.cgbase(cg) + g.fpg, g.size) - 1;
      const t = tables[cg]!;
      expect(t.cg).toBe(cg);
      expect(m.get('Inode Range'), `group ${cg}`).toEqual([[cg * g.ipg, (cg + 1) * g.ipg - 1]]);
      expect(m.get('Fragment Range'), `group ${cg}`).toEqual([[g.cgbase(cg), end]]);
      // Group 0 also gets a "Boot Block" and a "Super Block" at 8192 (UFS1's place, hard-wired in
      // TSK's ffs_fsstat whatever the version): not where this superblock is.
      const sbs = m.get('Super Block')!;
      if (cg === 0) {
        expect(m.get('Boot Block')).toEqual([[0, Math.floor((15 * 512) / F)]]);
        expect(sbs[0]).toEqual([8192 / F, 8192 / F + g.frag - 1]);
      }
      expect(sbs[sbs.length - 1], `group ${cg}`).toEqual([g.cgsblock(cg), g.cgsblock(cg) + g.frag - 1]);
      expect(g.cgtod(cg) - g.cgsblock(cg)).toBe(g.frag);
      expect(m.get('Group Desc'), `group ${cg}`).toEqual([[g.cgtod(cg), g.cgtod(cg) + g.frag - 1]]);
      expect(m.get('Inode Table'), `group ${cg}`).toEqual([[t.offset / F, (t.offset + t.length) / F - 1]]);
      expect(t.offset / F).toBe(g.cgimin(cg));
      expect([t.firstInode, t.count]).toEqual([cg * g.ipg, g.ipg]);
      expect(g.cgdmin(cg)).toBe(g.cgimin(cg) + (g.ipg * 256) / F);
      expect(m.get('Data Fragments'), `group ${cg}`).toEqual(cg === 0 ? [[g.cgdmin(cg), end]] : [[g.cgbase(cg), g.cgsblock(cg) - 1], [g.cgdmin(cg), end]]);
    }
  });

  it('walks exactly the tree fls -r -p lists, which is the tree the writer was told to make', async () => {
    const names = await flsNames(vol);
    const walked = fs.walk();
    const show = (type: string, ino: number, path: Buffer): string => `${type} ${ino} ${tskName(path).toString('latin1')}`;
    const tsk = names.filter((n) => !n.deleted).map((n) => show(n.type, n.ino, n.path));
    const mine = walked.map((e) => show(`${TYPE_CHAR[e.type] ?? '-'}/${KIND_CHAR[e.kind] ?? '-'}`, e.ino, e.path));
    expect(mine.sort()).toEqual(tsk.sort());
    // The names the unlinks, the rmTree and the renames left in directory free space: TSK lists
    // them as deleted; the reader's walk has none of them.
    const deleted = names.filter((n) => n.deleted).map((n) => n.path.toString('latin1'));
    expect(deleted).toContain(`many/${manyName(0)}`);
    expect(deleted).toContain('src/replacer');
    expect(deleted).toContain('gone');
    // The writer's model: every path, kind and size; symlink targets.
    const kinds: Record<Node['kind'], string> = { file: 'file', dir: 'directory', symlink: 'symlink' };
    const want = [...modelByDisk].map(([p, k]) => {
      const n = b.t.model.get(k)!;
      return `${kinds[n.kind]} ${p} ${n.kind === 'file' ? n.data.length : n.kind === 'symlink' ? Buffer.byteLength(n.target) : ''}`;
    });
    expect(walked.map((e) => `${e.kind} ${e.path.toString('latin1')} ${e.kind === 'directory' ? '' : e.size}`).sort()).toEqual(want.sort());
    expect(walked.length).toBeGreaterThan(MANY * (2 / 3));
    for (const e of walked) {
      if (e.kind !== 'symlink') continue;
      const n = b.t.model.get(modelByDisk.get(e.path.toString('latin1'))!) as { target: string };
      expect(fs.readLink(e.ino).toString(), e.display).toBe(n.target);
      expect(fs.blockMap.isFastSymlink(fs.inode(e.ino)), e.display).toBe(Buffer.byteLength(n.target) < 120);
      expect(stats.get(e.ino)!.symlink, e.display).toBe(n.target);
    }
    // One inode, three names; a directory of several blocks.
    const hard = fs.lookup('hard/original');
    expect([fs.lookup('hard/second-name'), fs.lookup('odd/third name')]).toEqual([hard, hard]);
    expect(fs.inode(hard).nlink).toBe(3);
    expect(fs.inode(fs.lookup('many')).size).toBeGreaterThan(2 * c.bsize);
    expect(fs.tryLookup(Buffer.concat([Buffer.from('odd/'), LATIN1_BYTES]))).not.toBeNull();
  });

  it("reads every file's bytes as icat does, and as the writer wrote them (the lost ones as the disk held them)", async () => {
    const files = fs.walk().filter((e) => e.kind === 'file');
    const sampled = new Set(sample);
    const inos = [...new Set(files.map((e) => e.ino).filter((i) => sampled.has(i)))];
    const tsk = await icatEach(vol, inos, join(tmp.dir, 'icat'));
    let compared = 0;
    for (const e of files) {
      const mine = fs.readFile(e.ino);
      const model = b.t.model.get(modelByDisk.get(e.path.toString('latin1'))!) as { data: Buffer };
      expect(mine.equals(model.data), e.display).toBe(true);
      const theirs = tsk.get(e.ino);
      if (!theirs) continue;
      expect(mine.length, e.display).toBe(theirs.length);
      expect(mine.equals(theirs), e.display).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThan(45);
    rmSync(join(tmp.dir, 'icat'), { recursive: true, force: true });

    // The lost file holds the deleted file's bytes where it reuses its blocks, and (on a reused
    // disk) old bytes or (on a new one) zeros where it took blocks never used.
    const { lost, partial, old } = b;
    const oldAt = new Map(old.placement.blocks.map((x) => [x.fsAddr, x]));
    const reused = lost.placement.blocks.filter((x) => oldAt.has(x.fsAddr));
    expect(lost.placement.blocks.every((x) => x.lost)).toBe(true);
    expect(reused.length).toBeGreaterThanOrEqual(3);
    const got = fs.readFile(fs.lookup(lost.path));
    for (const x of reused) {
      const o = oldAt.get(x.fsAddr)!;
      const n = Math.min(x.length, o.length);
      expect(got.subarray(x.fileOffset, x.fileOffset + n).equals(old.data.subarray(o.fileOffset, o.fileOffset + n))).toBe(true);
    }
    expect(got.equals(lost.intended)).toBe(false);
    const p = fs.readFile(fs.lookup(partial.path));
    expect(p.subarray(0, c.bsize).equals(partial.intended.subarray(0, c.bsize))).toBe(true);
    expect(p.subarray(2 * c.bsize).equals(partial.intended.subarray(2 * c.bsize))).toBe(true);
    expect(p.equals(partial.intended)).toBe(false);
  });

  it("lists each inode's data and indirect blocks as istat does, and as the writer placed them", async () => {
    let checked = 0;
    let withIndirect = 0;
    for (const ino of sample) {
      const inode = fs.inode(ino);
      if (!fs.blockMap.hasBlocks(inode)) continue;
      const t = stats.get(ino)!;
      const what = `inode ${ino}`;
      expect(t.size, what).toBe(inode.size);
      expect(fragmentsOf(fs.extents(inode), F), what).toEqual(t.direct);
      // TSK lists a missing indirect block (a hole) as a block of zero addresses; the reader has
      // no metadata block there.
      const meta = fs.metadataBlocks(inode);
      expect(
        meta.flatMap((m) => Array.from({ length: m.fragments }, (_, i) => m.fragment + i)),
        what,
      ).toEqual(t.indirect.filter((f) => f !== 0));
      if (meta.length) withIndirect++;
      // The writer: one extent per mapped block, and its indirect blocks.
      const mine = fs
        .extents(inode)
        .filter((x) => x.diskOffset !== null)
        .flatMap((x) => Array.from({ length: Math.ceil(x.length / F) }, (_, i) => x.diskOffset! / F + i));
      const writer = b.t.fs.extentsIno(ino).flatMap((x) => Array.from({ length: Math.ceil(x.length / F) }, (_, i) => x.fsAddr + i));
      expect(mine, what).toEqual(writer);
      checked++;
    }
    expect(checked).toBeGreaterThan(55);
    expect(withIndirect).toBeGreaterThanOrEqual(4);

    const g = fs.geometry;
    const N = g.nindir;
    const levels = (path: string): number[] => fs.metadataBlocks(fs.lookup(path)).map((m) => m.level);
    expect(levels('blocks/double-indirect')).toEqual([1, 2, 1]);
    expect(levels('blocks/single-indirect')).toEqual([1]);
    expect(levels('blocks/sparse')).toEqual([1, 2, 1]);
    for (const path of ['blocks/double-indirect', 'blocks/sparse', 'far/sub/deeper']) {
      const writer = b.t.fs.indirectBlocks('/' + path).map((x) => [x.level, x.fsAddr]);
      const reader = fs.metadataBlocks(fs.lookup(path)).map((m) => [m.level, m.fragment]);
      expect(reader.sort(), path).toEqual(writer.sort());
    }
    // The sparse file: holes in the direct blocks and under both indirect blocks, as TSK lists them.
    const sparse = fs.inode(fs.lookup('blocks/sparse'));
    const holes = fs.extents(sparse).filter((x) => x.diskOffset === null);
    expect(holes.map((x) => [x.fileOffset / c.bsize, x.length / c.bsize])).toEqual([
      [1, 3],
      [5, 15],
      [21, 12 + N + 2 - 21],
    ]);
    const ts = stats.get(sparse.ino)!;
    expect(ts.direct.filter((f) => f === 0).length).toBe((3 + 15 + 12 + N + 2 - 21) * g.frag);
    // Tail fragments where fragroundup(size) says.
    const tail = fs.extents(fs.lookup('blocks/tail-1'));
    expect(fragmentsOf(tail, F).length).toBe(g.frag + Math.ceil(904 / F));
  });

  it('names the owner of each sampled fragment as ifind -d does: data, indirect, tail, lost, freed, free, metadata', async () => {
    const g = fs.geometry;
    const frags = new Set<number>();
    const add = (...xs: number[]): void => xs.forEach((f) => frags.add(f));
    // Data: each file's first and last fragment (the last one a tail where the size says so);
    // every indirect block.
    for (const path of ['blocks/double-indirect', 'blocks/sparse', 'blocks/single-indirect', 'blocks/tail-1', 'blocks/log', 'blocks/grown', 'small/s100', `small/s${F + 1}`, 'many', 'links/slow-120', 'hard/original', 'far/sub/deeper', 'dst/moved', 'dst/victim']) {
      const inode = fs.inode(fs.lookup(path));
      const mapped = fs.extents(inode).filter((x) => x.diskOffset !== null);
      const last = mapped[mapped.length - 1]!;
      add(mapped[0]!.diskOffset! / F, Math.floor((last.diskOffset! + last.length - 1) / F));
      for (const m of fs.metadataBlocks(inode)) add(m.fragment + (m.level === 2 ? m.fragments - 1 : 0));
    }
    // Lost blocks (one reused from the deleted file, one never used before), the partial file's
    // lost block, fragments freed by an unlink and by the rmTree.
    const lostBlocks = b.lost.placement.blocks;
    const oldBlocks = new Set(b.old.placement.blocks.map((x) => x.fsAddr));
    const reusedBlock = lostBlocks.find((x) => oldBlocks.has(x.fsAddr))!;
    const newBlock = lostBlocks.find((x) => !oldBlocks.has(x.fsAddr))!;
    add(reusedBlock.fsAddr, newBlock.fsAddr + g.frag - 1, b.partial.placement.blocks[1]!.fsAddr);
    add(b.freed[0]!, b.freed[b.freed.length - 1]!, b.removed[0]!, b.removed[b.removed.length - 1]!);
    // Free space: the last fragment, a free fragment beside a used one.
    add(g.size - 1);
    for (let f = g.cgdmin(0); f < g.cgdmin(0) + 4000 && f < g.size; f++) {
      if (fs.isFragmentFree(f) && !fs.isFragmentFree(f - 1)) {
        add(f);
        break;
      }
    }
    // The file system's own blocks: boot area, primary superblock, summary; in the first, second
    // and last group the superblock copy, header, inode table (initialised and not); and in the
    // others the space before the superblock copy (data in UFS2).
    add(1, 65536 / F, g.csaddr);
    for (const cg of [0, 1, g.ncg - 1]) {
      add(g.cgsblock(cg), g.cgtod(cg), g.cgimin(cg), g.cgimin(cg) + 2 * g.frag, g.cgdmin(cg) - 1);
      if (cg > 0) add(g.cgbase(cg), g.cgsblock(cg) - 1);
    }
    const list = [...frags];
    const result = findOwners(fs, list, { allPaths: true });
    expect(result.problems).toEqual([]);
    const tsk = await ifindEach(vol, list);
    const seen = { inode: 0, indirect: 0, meta: 0, unowned: 0, free: 0 };
    const mine = (o: FragmentOwner): number | 'meta' | null => {
      if (o.kind === 'inode') return o.ino;
      if (o.kind === 'metadata') {
        // TSK says "Meta Data" for a group's superblock copy, header and inode table (between
        // cgsblock and cgdmin); the boot area, the primary superblock before cg 0's cgsblock and
        // the summary in cg 0's data area are owned by no inode.
        const cg = g.dtog(o.fragment);
        return o.fragment >= g.cgsblock(cg) && o.fragment < g.cgdmin(cg) ? 'meta' : null;
      }
      return null;
    };
    for (const o of result.owners) {
      expect(mine(o), `fragment ${o.fragment} (${o.kind === 'metadata' ? o.what : o.kind})`).toBe(tsk.get(o.fragment));
      if (o.kind === 'inode') {
        seen.inode++;
        if (o.role === 'indirect') seen.indirect++;
        expect(o.free, `fragment ${o.fragment}`).toBe(false);
      } else if (o.kind === 'metadata') seen.meta++;
      else if (o.kind === 'unowned') {
        seen.unowned++;
        if (o.free) seen.free++;
      }
    }
    // /far is in the last group, whose lowest free block was its first: before its superblock copy.
    const last = g.ncg - 1;
    const farFile = fs.extents(fs.lookup('far/file'))[0]!.diskOffset! / F;
    expect(farFile).toBeGreaterThanOrEqual(g.cgbase(last));
    expect(farFile).toBeLessThan(g.cgsblock(last));
    expect(tsk.get(g.cgbase(last))).toBe(fs.lookup('far'));
    expect(seen.inode).toBeGreaterThan(25);
    expect(seen.indirect).toBeGreaterThanOrEqual(6);
    expect(seen.meta).toBeGreaterThanOrEqual(15);
    expect(seen.free).toBeGreaterThanOrEqual(4);

    // The lost blocks belong to the new file, though they hold the deleted file's bytes.
    const lostIno = fs.lookup(b.lost.path.slice(1));
    const lostOwners = findOwners(fs, lostBlocks.map((x) => x.fsAddr)).owners;
    expect(lostOwners.map((o) => o.kind === 'inode' && [o.ino, o.role, o.fileOffset])).toEqual(lostBlocks.map((x) => [lostIno, 'data', x.fileOffset]));
    // Freed fragments of the unlinked file: free, no owner.
    expect(findOwners(fs, b.freed).owners.every((o) => o.kind === 'unowned' && o.free)).toBe(true);
    // The hard link's data: one owner, all three names.
    const h = fs.extents(fs.lookup('hard/original'))[0]!.diskOffset! / F;
    const ho = result.owners.find((y) => y.fragment === h)!;
    expect(ho.kind === 'inode' && ho.paths.map((p) => p.display).sort()).toEqual(['/hard/original', '/hard/second-name', '/odd/third name']);
  });

  it("finds an inode's path from its group's directories and `..` (a path the walk also gives), and leaves the rest to the walk", () => {
    const g = fs.geometry;
    const pathsOf = new Map<number, Set<string>>();
    for (const e of fs.walkNames()) {
      const set = pathsOf.get(e.ino) ?? new Set<string>();
      pathsOf.set(e.ino, set.add(`/${e.path.toString('latin1')}`));
    }
    const problems: string[] = [];
    const found = pathsByParentGroup(fs, pathsOf.keys(), (m) => problems.push(m));
    expect(problems).toEqual([]);
    for (const [ino, p] of found) expect(pathsOf.get(ino), `inode ${ino}: ${p.toString('latin1')}`).toContain(p.toString('latin1'));
    // The writer puts a file's inode in its directory's group (as ffs_valloc prefers) unless told
    // otherwise, and every directory is found by climbing: most inodes are found without the walk.
    const dirs = [...pathsOf.keys()].filter((i) => fs.inode(i).kind === 'directory');
    expect(dirs.every((i) => found.has(i))).toBe(true);
    expect(found.size).toBeGreaterThan(pathsOf.size * 0.8);
    // findOwners gives every owner a path the walk agrees with, the fast way or by the walk.
    const frags = [...pathsOf.keys()].flatMap((i) => {
      const x = fs.extents(i).find((e) => e.diskOffset !== null);
      return x ? [x.diskOffset! / g.fsize] : [];
    });
    for (const o of findOwners(fs, frags).owners) {
      if (o.kind !== 'inode') continue;
      expect(o.paths.length, `inode ${o.ino}`).toBeGreaterThan(0);
      expect(pathsOf.get(o.ino)).toContain(o.paths[0]!.path.toString('latin1'));
    }
  });

  it('puts each inode at inodeOffset in the partition, as istat sees after a patch there', async () => {
    const copy = join(tmp.dir, 'inode-patch.raw');
    copyFileSync(raw, copy);
    const g = fs.geometry;
    const walked = fs.walk();
    const picked = new Set<number>([2, fs.lookup(b.lost.path.slice(1))]);
    walked.filter((_, i) => i % 29 === 0).forEach((e) => picked.add(e.ino));
    // Inodes past the first inode block of their group (a few), and every one in the last group.
    walked.filter((e) => e.ino % g.ipg >= g.inopb).slice(-5).forEach((e) => picked.add(e.ino));
    walked.filter((e) => e.ino >= (g.ncg - 1) * g.ipg).forEach((e) => picked.add(e.ino));
    const inos = [...picked];
    expect(inos.some((i) => i >= (g.ncg - 1) * g.ipg)).toBe(true);
    expect(inos.some((i) => g.inoToCg(i) === 1)).toBe(true);
    expect(inos.length).toBeGreaterThan(20);
    // di_uid of a UFS2 inode is at byte 4.
    inos.forEach((ino, i) => patch(copy, c.offset + fs.inodeOffset(ino) + 4, i32(50000 + i)));
    const t = await istatEach({ ...vol, image: copy }, inos);
    for (const [i, ino] of inos.entries()) {
      expect(t.get(ino)!.uid, `inode ${ino}`).toBe(50000 + i);
      expect(t.get(ino)!.size, `inode ${ino}`).toBe(fs.inode(ino).size);
    }
    // The offsets are inside the tables inodeTables gives (and fsstat printed).
    const tables = fs.inodeTables();
    for (const ino of inos) {
      const tb = tables[g.inoToCg(ino)]!;
      expect(fs.inodeOffset(ino)).toBe(tb.offset + (ino - tb.firstInode) * 256);
    }
    // Inodes past cg_initediblk: never initialised, so on a reused disk their bytes are old
    // bytes. Both read them as zeros (free inodes).
    const uninit = [1, g.ncg - 1].map((cg) => cg * g.ipg + fs.cylinderGroup(cg).initializedInodes + 3);
    const u = await istatEach(vol, uninit);
    for (const ino of uninit) {
      expect(ino % g.ipg).toBeLessThan(g.ipg);
      const raw = Buffer.alloc(256);
      fs.device.read(raw, fs.inodeOffset(ino));
      expect(raw.equals(Buffer.alloc(256)), `inode ${ino} bytes`).toBe(!c.reused);
      expect(fs.inode(ino)).toMatchObject({ kind: 'none', mode: 0, size: 0, initialized: false });
      expect(fs.isInodeAllocated(ino)).toBe(false);
      expect([u.get(ino)!.mode, u.get(ino)!.size], `inode ${ino}`).toEqual(['----------', 0]);
    }
    const dev = new FileDevice(copy);
    try {
      const patched = FfsFilesystem.open(new SliceDevice(dev, c.offset, c.fsBytes, 'partition a of the copy'));
      expect(inos.map((ino) => patched.inode(ino).uid)).toEqual(inos.map((_, i) => 50000 + i));
    } finally {
      dev.close();
      rmSync(copy, { force: true });
    }
  });
});
