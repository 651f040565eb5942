// A UFS2 image made by the sample tooling's FFS writer (samples/lib/ffs: OpenBSD's newfs layout,
// superblock at 65536, 16 KiB blocks, 2 KiB fragments), with a directory's data cut out by The
// Sleuth Kit (ifind, istat, blkcat): the bytes are those TSK reads off the image.

import { join } from 'node:path';
import { execa } from 'execa';
import { Disk } from '../../samples/lib/disk.js';
import { newfs } from '../../samples/lib/ffs/index.js';
import { withTempDir, type DirImage } from '../helpers/fs-images.js';

export async function ufs2Directory(names: string[]): Promise<DirImage & { inode: number }> {
  return withTempDir(async (dir) => {
    const disk = Disk.create(64 * 1024 * 1024);
    const fs = newfs(disk, { ufs: 2 });
    fs.mkdir('/dir');
    for (const n of names) fs.writeFile(`/dir/${n}`, `contents of ${n}\n`);
    const img = join(dir, 'ufs2.img');
    disk.saveRaw(img);
    const inode = Number((await execa('ifind', ['-f', 'ufs2', '-n', 'dir', img])).stdout.trim());
    const stat = (await execa('istat', ['-f', 'ufs2', img, String(inode)])).stdout;
    const size = Number(/^size: (\d+)/m.exec(stat)?.[1]);
    const blocks = ((stat.split(/Direct Blocks:\s*\n/)[1] ?? '').split(/[A-Za-z]/)[0] ?? '').split(/\s+/).filter((w) => /^\d+$/.test(w));
    const parts: Buffer[] = [];
    for (const b of blocks) parts.push(Buffer.from((await execa('blkcat', ['-f', 'ufs2', img, b, '1'], { encoding: 'buffer', stripFinalNewline: false })).stdout));
    const data = Buffer.concat(parts);
    if (data.length < size) throw new Error(`blkcat gave ${data.length} bytes, the directory is ${size}`);
    return { blocks: data, dirSize: size, unit: data.length / blocks.length, inode };
  });
}
