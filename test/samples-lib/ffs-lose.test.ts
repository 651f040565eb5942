// The soft-updates failure: metadata written, data blocks not. The Sleuth Kit reads the new file
// with the right name and size, and bytes that are whatever the disk held: a deleted file's data
// where its blocks were reused, zeros where no block had been used, a directory block.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK, Disk } from '../../samples/lib/disk.js';
import { chunkRecords } from '../../samples/lib/ffs/dir.js';
import { checkFs, newfs, type Placement } from '../../samples/lib/ffs/index.js';
import { fls, icat, ifindData, istat, type TskOpts } from './tsk.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lf-ffs-lose-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What the file reads as: the intended bytes, except lost blocks, which hold what `before` held there. */
function afterLoss(before: Disk, intended: Buffer, p: Placement): Buffer {
  const out = Buffer.from(intended);
  for (const b of p.blocks) if (b.lost) before.readBytes(b.disk, b.length).copy(out, b.fileOffset);
  return out;
}

function text(n: number, tag: string): Buffer {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${tag} line ${i}: opam-version "2.0" depends [ "ocaml" {>= "4.08"} ]\n`;
  return Buffer.from(s.slice(0, n));
}

describe('lost data (soft-updates): data blocks allocated but never written', () => {
  it('UFS2: a deleted file\'s bytes where its blocks were reused, zeros where none had been used; ifind -d names the new inode', async () => {
    const offset = 1 << 20;
    const disk = Disk.create((40 << 20) + offset);
    const fs = newfs(disk, { offset, size: 40 << 20 });
    const o: TskOpts = { sectors: offset / 512, fstype: 'ufs2' };
    const B = fs.g.bsize;
    fs.mkdir('/opam');
    fs.mkdir('/opam/src');
    const old = text(3 * B + 1000, 'zxcvbn.opam');
    const oldPl = fs.writeFile('/opam/zxcvbn.opam', old);
    const oldAt = new Map(oldPl.blocks.map((b) => [b.disk, b]));
    fs.unlink('/opam/zxcvbn.opam');
    disk.takeDirty();

    const before = disk.snapshot();
    const intended = text(12 * B, 'tls.opam');
    const p = fs.writeFile('/opam/src/tls.opam', intended, { lose: true });
    const dirty = new Set(disk.takeDirty(CHUNK));
    expect(p.blocks.every((b) => b.lost && b.fresh)).toBe(true);
    expect(p.size).toBe(intended.length);

    // The freed blocks come back first (lowest free), then blocks never used (zeros).
    const reused = p.blocks.filter((b) => oldAt.has(b.disk));
    const virgin = p.blocks.filter((b) => !oldAt.has(b.disk));
    expect(reused.length).toBeGreaterThanOrEqual(3);
    expect(virgin.length).toBeGreaterThan(0);

    expect(checkFs(disk, offset).errors).toEqual([]);
    const img = join(dir, 'lose-ufs2.raw');
    disk.saveRaw(img);
    const names = (await fls(img, o)).filter((e) => !e.deleted);
    const entry = names.find((e) => e.path === 'opam/src/tls.opam')!;
    expect(entry.ino).toBe(p.ino);
    expect((await istat(img, p.ino, o)).size).toBe(intended.length);
    const got = await icat(img, p.ino, o);
    expect(got.equals(afterLoss(before, intended, p))).toBe(true);
    for (const b of reused) {
      const ob = oldAt.get(b.disk)!;
      const n = Math.min(b.length, ob.length);
      expect(got.subarray(b.fileOffset, b.fileOffset + n).equals(old.subarray(ob.fileOffset, ob.fileOffset + n))).toBe(true);
    }
    for (const b of virgin) expect(got.subarray(b.fileOffset, b.fileOffset + b.length).equals(Buffer.alloc(b.length))).toBe(true);
    for (const b of p.blocks) expect(await ifindData(img, b.fsAddr, o)).toBe(p.ino);

    // The layer holds the metadata it wrote, not the lost data: a 64 KiB cluster wholly inside the
    // lost blocks was never written.
    const lostClusters = new Set<number>();
    const coveredBytes = new Map<number, number>();
    for (const b of p.blocks) {
      for (let off = b.disk; off < b.disk + b.allocated; off += fs.g.fsize) {
        const c = Math.floor(off / CHUNK);
        coveredBytes.set(c, (coveredBytes.get(c) ?? 0) + fs.g.fsize);
      }
    }
    for (const [c, n] of coveredBytes) if (n === CHUNK) lostClusters.add(c);
    expect(lostClusters.size).toBeGreaterThan(0);
    for (const c of lostClusters) expect(dirty.has(c)).toBe(false);
    const inodeCluster = Math.floor((offset + fs.g.iblkno * fs.g.fsize) / CHUNK);
    expect(dirty.has(inodeCluster)).toBe(true);
    expect(dirty.has(Math.floor((offset + 65536) / CHUNK))).toBe(true);
  });

  it('UFS2: a small file lost onto the fragment a growing directory moved away from holds that directory block', async () => {
    const disk = Disk.create(32 << 20);
    const fs = newfs(disk);
    fs.mkdir('/opam');
    fs.mkdir('/opam/packages');
    fs.writeFile('/opam/filler', 'x');
    const dirAddr = fs.extents('/opam/packages')[0]!.fsAddr;
    expect(fs.extents('/opam/filler')[0]!.fsAddr).toBe(dirAddr + 1);
    // Names only (hard links): the directory grows past its fragment, cannot extend, and moves.
    for (let i = 0; i < 200; i++) fs.link('/opam/filler', `/opam/packages/pkg-${i}`);
    expect(fs.extents('/opam/packages')[0]!.fsAddr).not.toBe(dirAddr);
    expect(fs.fragIsFree(dirAddr)).toBe(true);
    const before = disk.snapshot();
    const intended = text(1520, 'tls.opam');
    const p = fs.writeFile('/opam/tls.opam', intended, { lose: true });
    expect(p.blocks[0]!.fsAddr).toBe(dirAddr);
    const img = join(dir, 'lose-dir.raw');
    disk.saveRaw(img);
    const got = await icat(img, p.ino, { fstype: 'ufs2' });
    expect(got.equals(afterLoss(before, intended, p))).toBe(true);
    // DIRBLKSIZ chunks of struct direct records: ".", "..", pkg-0, pkg-1, ...
    const recs = [0, 1].flatMap((k) => chunkRecords(got.subarray(k * 512, k * 512 + 512)).map((r) => r.name.toString()));
    expect(recs.slice(0, 4)).toEqual(['.', '..', 'pkg-0', 'pkg-1']);
    expect(recs.slice(2)).toEqual(Array.from({ length: recs.length - 2 }, (_, i) => `pkg-${i}`));
    expect(checkFs(disk).errors).toEqual([]);
  });

  it('some blocks only: by predicate, by byte range, and on append (a moved tail loses its old bytes too)', async () => {
    const disk = Disk.create(32 << 20);
    const fs = newfs(disk, { ufs: 1, bsize: 8192, fsize: 1024 });
    const B = fs.g.bsize;
    for (let i = 0; i < 6; i++) fs.writeFile(`/junk-${i}`, randomBytes(5 * B + 100 * i));
    for (let i = 0; i < 6; i += 2) fs.unlink(`/junk-${i}`);
    const img = join(dir, 'lose-some.raw');
    const o: TskOpts = { fstype: 'ufs1' };

    let before = disk.snapshot();
    const a = randomBytes(6 * B + 10);
    const pa = fs.writeFile('/a', a, { lose: (lbn) => lbn === 1 || lbn === 4 });
    expect(pa.blocks.filter((b) => b.lost).map((b) => b.lbn)).toEqual([1, 4]);
    const wantA = afterLoss(before, a, pa);

    before = disk.snapshot();
    const b = randomBytes(3 * B);
    const pb = fs.writeFile('/b', b, { lose: [[B + 5, B + 6]] });
    expect(pb.blocks.filter((x) => x.lost).map((x) => x.lbn)).toEqual([1]);
    const wantB = afterLoss(before, b, pb);

    // A tail of 3 fragments that cannot grow in place moves: the moved block is lost whole.
    fs.writeFile('/c', randomBytes(2 * fs.g.fsize + 10));
    fs.writeFile('/c-neighbour', randomBytes(10));
    before = disk.snapshot();
    const c0 = fs.readFile('/c');
    const more = randomBytes(B);
    const pc = fs.append('/c', more, { lose: true });
    expect(pc.blocks[0]!.lbn).toBe(0);
    expect(pc.blocks[0]!.fresh).toBe(true);
    const wantC = afterLoss(before, Buffer.concat([c0, more]), pc);
    expect(wantC.subarray(0, c0.length).equals(c0)).toBe(false);

    expect(checkFs(disk).errors).toEqual([]);
    disk.saveRaw(img);
    expect((await icat(img, pa.ino, o)).equals(wantA)).toBe(true);
    expect((await icat(img, pb.ino, o)).equals(wantB)).toBe(true);
    expect((await icat(img, pc.ino, o)).equals(wantC)).toBe(true);
  });
});
