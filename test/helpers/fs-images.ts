// Real filesystem images made by real tools (NetBSD makefs, mke2fs), with directory blocks cut
// out by The Sleuth Kit (ifind, istat, blkcat): the classifier is tested on bytes those tools wrote.

import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export interface DirImage {
  /** The directory's data blocks as The Sleuth Kit reads them off the image. */
  blocks: Buffer;
  /** The directory's size (st_size). */
  dirSize: number;
  /** Fragment or block size of the filesystem. */
  unit: number;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'lf-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function populate(src: string, names: string[]): Promise<void> {
  await mkdir(join(src, 'dir'), { recursive: true });
  for (const n of names) await writeFile(join(src, 'dir', n), `contents of ${n}\n`);
}

/** Parse `istat` output: the direct block addresses and the size. */
function parseIstat(out: string): { blocks: number[]; size: number } {
  const size = Number(/^size: (\d+)/m.exec(out)?.[1] ?? NaN);
  // Only the block list itself: istat goes on with e.g. "Extent Blocks:" (the extent tree's own blocks).
  const after = (out.split(/Direct Blocks:\s*\n/)[1] ?? '').split(/[A-Za-z]/)[0]!;
  const blocks = after
    .split(/\s+/)
    .filter((w) => /^\d+$/.test(w))
    .map(Number);
  return { blocks, size };
}

async function cutDirectory(img: string, fstype: string, unit: number): Promise<DirImage> {
  const inode = (await execa('ifind', ['-f', fstype, '-n', 'dir', img])).stdout.trim();
  const { blocks, size } = parseIstat((await execa('istat', ['-f', fstype, img, inode])).stdout);
  const parts: Buffer[] = [];
  for (const b of blocks) {
    const r = await execa('blkcat', ['-f', fstype, img, String(b), '1'], { encoding: 'buffer', stripFinalNewline: false });
    parts.push(Buffer.from(r.stdout));
  }
  const data = Buffer.concat(parts);
  if (data.length < size) throw new Error(`blkcat gave ${data.length} bytes, directory is ${size}`);
  return { blocks: data, dirSize: size, unit };
}

/** A UFS1 image made by makefs; `endian` is makefs's -B. */
export async function ffsDirectory(names: string[], endian: 'le' | 'be' = 'le'): Promise<DirImage> {
  return withTempDir(async (dir) => {
    const src = join(dir, 'src');
    await populate(src, names);
    const img = join(dir, 'ffs.img');
    await execa('makefs', ['-t', 'ffs', '-o', 'version=1', '-B', endian, '-s', '8m', img, src]);
    return cutDirectory(img, 'ufs1', 1024);
  });
}

/** An ext4 image made by mke2fs -d with the given block size. */
export async function ext4Directory(names: string[], blockSize = 4096): Promise<DirImage> {
  return withTempDir(async (dir) => {
    const src = join(dir, 'src');
    await populate(src, names);
    const img = join(dir, 'ext4.img');
    await execa('mke2fs', ['-q', '-t', 'ext4', '-b', String(blockSize), '-d', src, img, '16M']);
    return cutDirectory(img, 'ext4', blockSize);
  });
}

export function names(n: number, prefix = 'package-file-number-'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}.opam`);
}
