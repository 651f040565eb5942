// How fast the direct reader is, and that it does not re-read what it has cached: a 2000-file
// tree (open + walk + read everything), a copy destination (open + a few dozen files), and a
// 200 MB file streamed through a 1 MiB buffer. The figures are printed; the bounds are loose.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../src/image/block-device.js';
import { FfsFilesystem } from '../../src/fs/ffs/index.js';
import { FileDevice } from './file-device.js';
import { makefs, pseudoRandom, tempDir } from './images.js';

/** Records the offset of every read. */
class RecordingDevice implements BlockDevice {
  readonly log: { offset: number; length: number }[] = [];
  constructor(private readonly inner: BlockDevice) {}
  get size(): number {
    return this.inner.size;
  }
  get name(): string {
    return this.inner.name;
  }
  read(buf: Uint8Array, offset: number): void {
    this.log.push({ offset, length: buf.length });
    this.inner.read(buf, offset);
  }
}

const BIG = 200 * 1024 * 1024;
let tmp: ReturnType<typeof tempDir>;
let treeImage: string;
let bigImage: string;
let bigSha: string;

beforeAll(async () => {
  tmp = tempDir();
  const tree = join(tmp.dir, 'tree');
  for (let d = 0; d < 40; d++) {
    const dir = join(tree, 'home/opam/src', `pkg-${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 50; f++) writeFileSync(join(dir, `file-${f}.opam`), pseudoRandom(500 + ((d * 50 + f) * 37) % 9000, d * 50 + f + 1));
  }
  treeImage = join(tmp.dir, 'tree.img');
  // OpenBSD's newfs defaults for a partition of this size: 16 KiB blocks, 2 KiB fragments.
  await makefs(treeImage, tree, 'version=2,bsize=16384,fsize=2048');
  const big = join(tmp.dir, 'big');
  mkdirSync(big);
  const data = pseudoRandom(BIG, 99);
  bigSha = createHash('sha256').update(data).digest('hex');
  writeFileSync(join(big, 'big.bin'), data);
  bigImage = join(tmp.dir, 'big.img');
  await makefs(bigImage, big, 'version=2,bsize=16384,fsize=2048');
}, 300_000);

afterAll(() => tmp?.remove());

function openWalkRead(dev: BlockDevice): { files: number; bytes: number } {
  const fs = FfsFilesystem.open(dev);
  let files = 0;
  let bytes = 0;
  for (const e of fs.walkIter(2)) {
    if (e.kind !== 'file') continue;
    bytes += fs.readFile(e.ino).length;
    files++;
  }
  return { files, bytes };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('FFS reader performance', () => {
  it('opens, walks and reads a 2000-file tree quickly', () => {
    const dev = new FileDevice(treeImage);
    const times: number[] = [];
    let result = { files: 0, bytes: 0 };
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      result = openWalkRead(dev);
      times.push(performance.now() - t0);
    }
    expect(result.files).toBe(2000);
    console.log(
      `2000-file tree: open + walk + read ${result.files} files (${(result.bytes / 1e6).toFixed(1)} MB): first ${times[0]!.toFixed(1)} ms, median ${median(times).toFixed(1)} ms, ${dev.reads / 5} device reads per run`,
    );
    // Loose: other suites may share the machine. Measured alone: see the report.
    expect(median(times)).toBeLessThan(3000);
  });

  it('opens and reads a copy destination of a few dozen files in a few milliseconds', () => {
    const dev = new FileDevice(treeImage);
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const fs = FfsFilesystem.open(dev);
      const dir = fs.lookup('/home/opam/src/pkg-7');
      let n = 0;
      for (const e of fs.readDir(dir)) {
        if (e.name[0] === 0x2e) continue;
        fs.readFile(e.ino);
        if (++n === 36) break;
      }
      times.push(performance.now() - t0);
    }
    console.log(`copy destination: open + lookup + read 36 files: first ${times[0]!.toFixed(2)} ms, median ${median(times).toFixed(2)} ms`);
    expect(median(times)).toBeLessThan(100);
  });

  it('reads a directory and a file without re-reading the superblock or cylinder group headers', () => {
    const dev = new RecordingDevice(new FileDevice(treeImage));
    const fs = FfsFilesystem.open(dev);
    fs.readFile(fs.lookup('/home/opam/src/pkg-1/file-1.opam'));
    for (let c = 0; c < fs.info.cylinderGroups; c++) fs.isInodeAllocated(c * fs.info.inodesPerGroup + 5);
    dev.log.length = 0;
    for (const d of [2, 3, 30]) {
      const dir = fs.lookup(`/home/opam/src/pkg-${d}`);
      for (const e of fs.readDir(dir)) if (e.name[0] !== 0x2e) fs.readFile(e.ino);
      for (let c = 0; c < fs.info.cylinderGroups; c++) fs.isInodeAllocated(c * fs.info.inodesPerGroup + 7);
    }
    const g = fs.geometry;
    const fixed = [{ start: g.superblockOffset, end: g.superblockOffset + 8192 }];
    for (let c = 0; c < g.ncg; c++) fixed.push({ start: g.cgtod(c) * g.fsize, end: g.cgtod(c) * g.fsize + g.cgsize });
    const hits = dev.log.filter((r) => fixed.some((f) => r.offset < f.end && r.offset + r.length > f.start));
    expect(dev.log.length).toBeGreaterThan(0);
    expect(hits).toEqual([]);
  });

  it('streams a 200 MB file through a 1 MiB buffer', () => {
    const dev = new FileDevice(bigImage);
    const fs = FfsFilesystem.open(dev);
    const ino = fs.lookup('big.bin');
    const buf = Buffer.alloc(1 << 20);
    const heap0 = process.memoryUsage().heapUsed;
    const rates: number[] = [];
    for (let run = 0; run < 3; run++) {
      const r = fs.openFile(ino);
      const hash = createHash('sha256');
      const t0 = performance.now();
      for (let pos = 0; ; ) {
        const n = r.read(buf, pos);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
        pos += n;
      }
      const ms = performance.now() - t0;
      expect(hash.digest('hex')).toBe(bigSha);
      rates.push(BIG / 1e6 / (ms / 1000));
    }
    const t0 = performance.now();
    const r = fs.openFile(ino);
    for (let pos = 0; pos < BIG; pos += r.read(buf, pos));
    const readOnly = BIG / 1e6 / ((performance.now() - t0) / 1000);
    console.log(
      `200 MB file: ${rates.map((x) => x.toFixed(0)).join(', ')} MB/s read + sha256; ${readOnly.toFixed(0)} MB/s read only; ${fs.extents(ino).length} extents; heap growth ${((process.memoryUsage().heapUsed - heap0) / 1e6).toFixed(1)} MB`,
    );
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(50e6);
    expect(readOnly).toBeGreaterThan(30);
  });
});

