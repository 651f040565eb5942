// Hostile metadata: a real image with its superblock, cylinder group headers, inodes, indirect
// blocks and directory blocks corrupted, on purpose and at random (fast-check). Every answer is
// either sane or a one-line UserError; never another exception, never a hang, never memory
// proportional to a number read from the disk.

import { execa } from 'execa';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfsFilesystem, findOwners, type Inode } from '../../src/fs/ffs/index.js';
import { CG_HEADER } from '../../src/fs/ffs/cylinder-group.js';
import { SUPERBLOCK } from '../../src/fs/ffs/superblock.js';
import { UserError } from '../../src/util/errors.js';
import { MemoryDevice } from './file-device.js';
import { makefs, tempDir, writeSourceTree } from './images.js';

interface Sample {
  version: 1 | 2;
  image: Buffer;
  fs: FfsFilesystem;
}

const samples: Sample[] = [];
let tmp: ReturnType<typeof tempDir>;

beforeAll(async () => {
  tmp = tempDir();
  for (const version of [1, 2] as const) {
    const src = join(tmp.dir, `src${version}`);
    await execa('mkdir', [src]);
    await writeSourceTree(src, { bsize: 4096, ptrSize: version === 1 ? 4 : 8, manyEntries: 150 });
    const img = join(tmp.dir, `ufs${version}.img`);
    await makefs(img, src, `version=${version},bsize=4096,fsize=512`);
    const image = readFileSync(img);
    samples.push({ version, image, fs: FfsFilesystem.open(new MemoryDevice(image)) });
  }
});

afterAll(() => tmp?.remove());

/** A copy of the sample with `edit` applied, opened (or the UserError opening it gave). */
function corrupt(s: Sample, edit: (b: Buffer) => void): MemoryDevice {
  const copy = Buffer.from(s.image);
  edit(copy);
  return new MemoryDevice(copy, `corrupt UFS${s.version} image`);
}

function expectUserError(fn: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a UserError').toBeInstanceOf(UserError);
  const msg = (err as Error).message;
  expect(msg).not.toMatch(/\n/);
  expect(msg).toMatch(re);
}

function ino(s: Sample, path: string): Inode {
  return s.fs.inode(s.fs.lookup(path));
}

/** Write `n` as a field of the on-disk inode `i` (offsets from the layouts). */
function setInodeField(s: Sample, b: Buffer, i: Inode, field: 'size' | 'db0' | 'ib0' | 'ib1' | 'ib2' | 'blocks' | 'mode', n: number): void {
  const v1 = s.version === 1;
  const off = {
    size: v1 ? 8 : 16,
    db0: v1 ? 40 : 112,
    ib0: v1 ? 88 : 208,
    ib1: v1 ? 92 : 216,
    ib2: v1 ? 96 : 224,
    blocks: v1 ? 104 : 24,
    mode: 0,
  }[field];
  const at = i.offset + off;
  if (field === 'mode') b.writeUInt16LE(n, at);
  else if (field === 'size' || !v1) {
    b.writeUInt32LE(((n % 2 ** 32) + 2 ** 32) % 2 ** 32, at);
    b.writeInt32LE(Math.floor(n / 2 ** 32), at + 4);
  } else b.writeInt32LE(n, at);
}

describe.each([1, 2] as const)('UFS%s: targeted corruptions', (version) => {
  const s = (): Sample => samples.find((x) => x.version === version)!;
  const sbAt = 8192;

  it.each([
    ['ncg', 0x7fff_ffff, /cylinder group count/],
    ['bsize', -4096, /block size/],
    ['fsize', 0, /fragment size/],
    ['ipg', 0, /inodes per group/],
    ['fpg', 0x7fff_fff8, /fragments do not fit|cylinder group count/],
    ['iblkno', 0x7fff_0000, /out of order|room|past/],
    ['cgsize', 1 << 20, /cylinder group size/],
    ['maxsymlinklen', 4096, /fast symlink length/],
  ] as const)('refuses a superblock whose %s is %s', (field, value, re) => {
    const dev = corrupt(s(), (b) => b.writeInt32LE(value, sbAt + SUPERBLOCK.offsetOf(field)));
    expectUserError(() => FfsFilesystem.open(dev), re);
    expectUserError(() => FfsFilesystem.open(dev), /^corrupt UFS\d image: UFS\d superblock at 8192 is unusable: /);
  });

  it('refuses a filesystem larger than its device', () => {
    const dev = corrupt(s(), (b) => {
      const f = version === 1 ? 'old_size' : 'size';
      b.writeInt32LE(b.readInt32LE(sbAt + SUPERBLOCK.offsetOf(f)) * 4, sbAt + SUPERBLOCK.offsetOf(f));
    });
    expectUserError(() => FfsFilesystem.open(dev), /does not fit the \d+-byte device/);
  });

  it('says when there is no superblock at all', () => {
    expectUserError(() => FfsFilesystem.open(new MemoryDevice(Buffer.alloc(1 << 20), 'zeros')), /^zeros: no UFS1 or UFS2 superblock at 65536, 8192, 0 or 262144$/);
  });

  it('refuses a cylinder group header with a bad magic, and reads what does not need it', () => {
    const g = s().fs.geometry;
    const dev = corrupt(s(), (b) => b.writeInt32LE(0x12345, g.cgtod(0) * g.fsize + CG_HEADER.offsetOf('magic')));
    const fs = FfsFilesystem.open(dev);
    expectUserError(() => fs.isInodeAllocated(5), /cylinder group 0 header at fragment \d+: bad magic/);
    if (version === 1) expect(fs.readFile(fs.lookup('small/text.opam')).toString()).toContain('opam-version');
    else expectUserError(() => fs.lookup('small/text.opam'), /cylinder group 0/);
  });

  it('refuses a cylinder group whose maps point outside it', () => {
    const g = s().fs.geometry;
    const dev = corrupt(s(), (b) => b.writeUInt32LE(0xffff_fff0, g.cgtod(0) * g.fsize + CG_HEADER.offsetOf('freeoff')));
    expectUserError(() => FfsFilesystem.open(dev).isFragmentFree(g.cgdmin(0)), /fragment map at \d+ is outside/);
  });

  it('refuses a size its block pointers cannot address, and pointers outside the data area', () => {
    const g = s().fs.geometry;
    const f = ino(s(), 'blocks/tail-3');
    const cases: [string, number, RegExp][] = [
      ['size', 2 ** 52, /size \d+ is more than its block pointers can address/],
      ['db0', g.size + 100, /block 0: fragment \d+ is past the end of the filesystem/],
      ['db0', g.cgtod(0), /block 0: fragment \d+ lies in cylinder group 0's metadata/],
      ['db0', -8, /block 0: fragment -8 is not a valid address/],
      ['db0', g.cgdmin(0) + 3, /not block-aligned|cross a block boundary/],
    ];
    for (const [field, value, re] of cases) {
      const fs = FfsFilesystem.open(corrupt(s(), (b) => setInodeField(s(), b, f, field as 'size', value)));
      expectUserError(() => fs.readFile(f.ino), re);
      expectUserError(() => fs.extents(f.ino), re);
    }
  });

  it('reads a file whose size outruns its blocks as holes, and ignores a lying di_blocks', () => {
    const f = ino(s(), 'small/s1000');
    const fs = FfsFilesystem.open(
      corrupt(s(), (b) => {
        setInodeField(s(), b, f, 'size', 10 ** 11);
        setInodeField(s(), b, f, 'blocks', 123456789);
      }),
    );
    const ext = fs.extents(f.ino);
    expect(ext[ext.length - 1]).toEqual({ fileOffset: 4096, length: 10 ** 11 - 4096, diskOffset: null });
    const buf = Buffer.alloc(4096, 7);
    expect(fs.openFile(f.ino).read(buf, 5 * 10 ** 10)).toBe(4096);
    expect(buf.every((x) => x === 0)).toBe(true);
  });

  it('stops an indirect block that points at itself (a loop)', () => {
    const g = s().fs.geometry;
    const f = ino(s(), 'blocks/all-direct');
    // A free block filled with pointers to itself, as the file's double indirect block.
    let x = g.cgdmin(0);
    while (!s().fs.isFragmentFree(x) || x % g.frag !== 0) x++;
    const fs = FfsFilesystem.open(
      corrupt(s(), (b) => {
        setInodeField(s(), b, f, 'size', (12 + g.nindir + 10) * g.bsize);
        setInodeField(s(), b, f, 'ib1', x);
        for (let i = 0; i < g.nindir; i++) {
          if (version === 1) b.writeInt32LE(x, x * g.fsize + i * 4);
          else b.writeUInt32LE(x, x * g.fsize + i * 8);
        }
      }),
    );
    expectUserError(() => fs.extents(f.ino), /indirect block \d+ is used twice \(a loop\)/);
    // The reverse map names the block as the file's double indirect block (met before the loop);
    // asked for a fragment it never reaches, it skips the inode and says why.
    const r = findOwners(fs, [x, g.size - 1]);
    expect(r.owners[0]).toMatchObject({ kind: 'inode', ino: f.ino, role: 'indirect', level: 2 });
    expect(r.owners[1]!.kind).toBe('unowned');
    expect(r.problems.some((p) => /a loop/.test(p))).toBe(true);
  });

  it('refuses a file that uses more blocks than the filesystem holds', () => {
    const g = s().fs.geometry;
    const f = ino(s(), 'blocks/all-direct');
    const data = s().fs.extents(f.ino)[0]!.diskOffset! / g.fsize;
    // Every single indirect block of a triple indirect chain is distinct, every data pointer the same block.
    let x = g.cgdmin(0);
    const free: number[] = [];
    while (free.length < 3) {
      if (s().fs.isFragmentFree(x) && x % g.frag === 0) free.push(x);
      x += g.frag;
    }
    const [t, d, one] = free as [number, number, number];
    const n = g.nindir;
    const fs = FfsFilesystem.open(
      corrupt(s(), (b) => {
        setInodeField(s(), b, f, 'size', (12 + n + n * n + n * n) * g.bsize);
        setInodeField(s(), b, f, 'ib2', t);
        const put = (blk: number, i: number, v: number): void => {
          if (version === 1) b.writeInt32LE(v, blk * g.fsize + i * 4);
          else b.writeUInt32LE(v, blk * g.fsize + i * 8);
        };
        put(t, 0, d);
        for (let i = 0; i < n; i++) put(d, i, i === 0 ? one : 0);
        for (let i = 0; i < n; i++) put(one, i, data);
      }),
    );
    // One single indirect block of n pointers to one data block: legal-looking, and bounded.
    const ext = fs.extents(f.ino);
    expect(ext.filter((e) => e.diskOffset !== null).length).toBeGreaterThan(n - 1);
  });
});

describe.each([1, 2] as const)('UFS%s: hostile directories, symlinks and walks', (version) => {
  const s = (): Sample => samples.find((x) => x.version === version)!;

  /** The first record of the first chunk of directory `path`, as a byte offset in the image. */
  function firstRecord(path: string): number {
    return s().fs.extents(s().fs.lookup(path))[0]!.diskOffset!;
  }

  it.each([
    ['a record length of 0', (b: Buffer, at: number) => b.writeUInt16LE(0, at + 4), /entry at offset 0: record length 0/],
    ['a record length past the chunk', (b: Buffer, at: number) => b.writeUInt16LE(1024, at + 4), /record length 1024 runs past the end of its 512-byte chunk/],
    ['a record length not a multiple of 4', (b: Buffer, at: number) => b.writeUInt16LE(13, at + 4), /not a multiple of 4/],
    ['a name longer than its record', (b: Buffer, at: number) => (b[at + 7] = 200), /name length 200 does not fit record length/],
    ['an inode number past the last inode', (b: Buffer, at: number) => b.writeUInt32LE(0x7fff_ffff, at), /inode 2147483647 does not exist/],
  ])('refuses a directory with %s', (_, edit, re) => {
    const at = firstRecord('many');
    const fs = FfsFilesystem.open(corrupt(s(), (b) => edit(b, at)));
    expectUserError(() => fs.readDir(fs.lookup('many')), re);
    // A walk with onError goes on past the bad directory.
    const errors: string[] = [];
    const all = fs.walk(2, { onError: (e) => errors.push(e.message) });
    expect(errors.length).toBe(1);
    expect(all.some((e) => e.path.toString() === 'small/text.opam')).toBe(true);
  });

  it("refuses names holding a NUL or a '/'", () => {
    const odd = s().fs.readDir(s().fs.lookup('odd'));
    const victim = odd.find((e) => e.name.toString() === 'name with spaces')!;
    const dir = s().fs.extents(s().fs.lookup('odd'))[0]!.diskOffset!;
    for (const [byte, re] of [
      [0x00, /holds a NUL byte/],
      [0x2f, /holds a '\/'/],
    ] as const) {
      const fs = FfsFilesystem.open(corrupt(s(), (b) => (b[dir + victim.offset + 8 + 4] = byte)));
      expectUserError(() => fs.readDir(fs.lookup('odd')), re);
    }
  });

  it('marks a directory that contains its ancestor as a loop and stops there', () => {
    const deep = s().fs.readDir(s().fs.lookup('deep/d0/d1'));
    const d2 = deep.find((e) => e.name.toString() === 'd2')!;
    const at = s().fs.extents(s().fs.lookup('deep/d0/d1'))[0]!.diskOffset! + d2.offset;
    const root = s().fs.lookup('deep');
    const fs = FfsFilesystem.open(corrupt(s(), (b) => b.writeUInt32LE(root, at)));
    const walked = fs.walk(fs.lookup('deep'));
    const loop = walked.find((e) => e.loop);
    expect(loop?.display).toBe('d0/d1/d2');
    expect(loop?.ino).toBe(root);
    expect(walked.length).toBe(3);
  });

  it('bounds a walk by depth and by count', () => {
    const fs = s().fs;
    const shallow = fs.walk(fs.lookup('deep'), { maxDepth: 3 });
    expect(shallow.map((e) => e.display)).toEqual(['d0', 'd0/d1', 'd0/d1/d2']);
    expectUserError(() => fs.walk(2, { maxEntries: 10 }), /more than 10 entries/);
  });

  it('refuses a directory whose size is not whole chunks, or that has a hole', () => {
    const many = ino(s(), 'many');
    let fs = FfsFilesystem.open(corrupt(s(), (b) => setInodeField(s(), b, many, 'size', many.size + 100)));
    expectUserError(() => fs.readDir(many.ino), /size \d+ is not a multiple of 512/);
    fs = FfsFilesystem.open(corrupt(s(), (b) => setInodeField(s(), b, many, 'db0', 0)));
    expectUserError(() => fs.readDir(many.ino), /block 0 is a hole/);
  });

  it('refuses symlinks too long to be one, and reading a directory as a symlink', () => {
    const link = ino(s(), 'links/slow');
    const fs = FfsFilesystem.open(corrupt(s(), (b) => setInodeField(s(), b, link, 'size', 5000)));
    expectUserError(() => fs.readLink(link.ino), /target of 5000 bytes is longer than 1023/);
    expectUserError(() => s().fs.readLink(2), /inode 2 is a directory, not a symbolic link/);
    expectUserError(() => s().fs.readDir(link.ino), /is a symlink, not a directory/);
    expectUserError(() => s().fs.inode(1e12), /inode 1000000000000 does not exist/);
    expectUserError(() => s().fs.isFragmentFree(-1), /fragment -1 is outside the filesystem/);
  });
});

// --- properties ----------------------------------------------------------------------------

/** Everything a caller may ask of a filesystem, bounded. Returns how many answers came back. */
function exercise(dev: MemoryDevice): number {
  let answers = 0;
  const fs = FfsFilesystem.open(dev);
  const entries = fs.walk(2, { maxEntries: 5000, onError: () => answers++ });
  const buf = Buffer.alloc(65536);
  const frags: number[] = [];
  for (const e of entries.slice(0, 300)) {
    const attempt = (fn: () => void): void => {
      try {
        fn();
        answers++;
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        if (/\n/.test(err.message)) throw new Error(`multi-line UserError: ${err.message}`, { cause: err });
      }
    };
    attempt(() => {
      const inode = fs.inode(e.ino);
      if (inode.kind === 'symlink') fs.readLink(inode);
      if (inode.kind === 'directory') fs.readDir(inode, 10_000);
      if (!fs.blockMap.hasBlocks(inode)) return;
      const ext = fs.extents(inode);
      fs.metadataBlocks(inode);
      for (const x of ext.slice(0, 4)) if (x.diskOffset !== null) frags.push(x.diskOffset / fs.geometry.fsize);
      const r = fs.openFile(inode);
      r.read(buf, 0);
      if (r.size > buf.length) r.read(buf, r.size - 100);
    });
    attempt(() => void fs.isInodeAllocated(e.ino));
  }
  try {
    findOwners(fs, frags.slice(0, 20), { maxEntries: 5000 });
    answers++;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
  }
  return answers;
}

/** Run `exercise` on a corrupted copy: a sane answer or a one-line UserError, quickly. */
function survives(dev: MemoryDevice): void {
  const t0 = performance.now();
  const heap0 = process.memoryUsage().heapUsed;
  try {
    exercise(dev);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    expect(err.message).not.toMatch(/\n/);
  }
  expect(performance.now() - t0).toBeLessThan(3000);
  expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(256 * 1024 * 1024);
}

type Region = (s: Sample) => { start: number; length: number }[];

const REGIONS: Record<string, Region> = {
  superblock: () => [{ start: 8192, length: SUPERBLOCK.size }],
  'cylinder group headers': (s) => Array.from({ length: s.fs.geometry.ncg }, (_, c) => ({ start: s.fs.geometry.cgtod(c) * s.fs.geometry.fsize, length: CG_HEADER.size + 64 })),
  inodes: (s) =>
    s.fs
      .walk()
      .slice(0, 400)
      .map((e) => ({ start: s.fs.inodeOffset(e.ino), length: s.fs.geometry.inodeSize })),
  'indirect blocks': (s) => ['blocks/big', 'blocks/first-indirect'].flatMap((p) => s.fs.metadataBlocks(s.fs.lookup(p)).map((m) => ({ start: m.diskOffset, length: m.length }))),
  'directory blocks': (s) =>
    ['', 'many', 'odd', 'deep/d0', 'links'].flatMap((p) =>
      s.fs.extents(p ? s.fs.lookup(p) : 2).map((x) => ({ start: x.diskOffset!, length: Math.min(x.length, 4096) })),
    ),
};

/** Writes into one region: random bytes, or 32-bit values (small, huge, negative, pointers). */
function edits(regionCount: number) {
  const value = fc.oneof(
    fc.integer({ min: 0, max: 255 }).map((v) => ({ width: 1, v })),
    fc.constantFrom(0, 1, 2, 3, 4, 12, 255, 512, 4096, 0x7fff_ffff, -1, -4096, 0x8000_0000 | 0).map((v) => ({ width: 4, v })),
    fc.integer().map((v) => ({ width: 4, v })),
  );
  return fc.array(fc.record({ region: fc.nat({ max: Math.max(0, regionCount - 1) }), at: fc.nat(), value }), { minLength: 1, maxLength: 8 });
}

describe.each([1, 2] as const)('UFS%s: random corruptions (fast-check)', (version) => {
  it.each(Object.keys(REGIONS))('of the %s give a sane answer or a one-line UserError', (name) => {
    const s = samples.find((x) => x.version === version)!;
    const regions = REGIONS[name]!(s);
    expect(regions.length).toBeGreaterThan(0);
    // The untouched image answers everything.
    expect(exercise(new MemoryDevice(s.image))).toBeGreaterThan(300);
    fc.assert(
      fc.property(edits(regions.length), (list) => {
        const dev = corrupt(s, (b) => {
          for (const { region, at, value } of list) {
            const r = regions[region % regions.length]!;
            const off = r.start + ((at % Math.max(1, r.length - value.width)) & ~(value.width - 1));
            if (value.width === 1) b[off] = value.v;
            else b.writeInt32LE(value.v | 0, off);
          }
        });
        survives(dev);
      }),
      { numRuns: 120 },
    );
  }, 120_000);
});
