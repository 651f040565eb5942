// The FFS reader (src/fs/ffs/): superblock search and sanity checks, cylinder groups, inodes,
// block maps (direct, indirect, fragments, holes), directories, symlinks, path lookup, the walk,
// and the reverse map (which inode owns a fragment). Seeds: UFS1 and UFS2 images made by NetBSD
// makefs from a small tree (files of every size class, a big directory, fast and slow symlinks,
// a hard link). Mutations go mostly to the superblock, the cylinder-group headers, the inode
// tables, the directory blocks and the indirect blocks.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FfsFilesystem, findOwners, ROOTINO } from '../../src/fs/ffs/index.js';
import { UserError } from '../../src/util/errors.js';
import type { Seed } from '../mutate.js';
import { check, type FuzzTarget, type RunContext } from '../target.js';
import { MemDevice } from './volume.js';

function tree(root: string): void {
  mkdirSync(join(root, 'opam', 'src'), { recursive: true });
  mkdirSync(join(root, 'many'));
  for (const n of [0, 1, 511, 512, 2049, 9000, 40_000, 100_000]) writeFileSync(join(root, 'opam', `f${n}`), Buffer.alloc(n, n % 251));
  writeFileSync(join(root, 'opam', 'src', 'tls.opam'), 'opam-version: "2.0"\nname: "tls"\n');
  linkSync(join(root, 'opam', 'src', 'tls.opam'), join(root, 'opam', 'src', 'hard.opam'));
  symlinkSync('tls.opam', join(root, 'opam', 'src', 'fast-link'));
  symlinkSync(`${'long/'.repeat(30)}target`, join(root, 'opam', 'src', 'slow-link'));
  for (let i = 0; i < 40; i++) writeFileSync(join(root, 'many', `entry-${i}-${'x'.repeat(i % 40)}`), String(i));
}

/** The metadata of an image, as byte ranges: superblock, cg headers, inode tables, directory and indirect blocks. */
function hotRanges(bytes: Buffer): [number, number][] {
  const fs = FfsFilesystem.open(new MemDevice(bytes, 'seed'));
  const g = fs.geometry;
  const out: [number, number][] = [[fs.info.superblockOffset, fs.info.superblockOffset + 1376]];
  for (const r of fs.inodeTables()) out.push([r.offset, r.offset + Math.min(r.length, 64 * 1024)]);
  for (let c = 0; c < g.ncg; c++) out.push([g.cgtod(c) * g.fsize, g.cgtod(c) * g.fsize + 512]);
  for (const e of fs.walk(ROOTINO, { maxEntries: 1000 })) {
    if (e.kind === 'directory' || e.kind === 'symlink') for (const x of fs.extents(e.ino)) if (x.diskOffset !== null) out.push([x.diskOffset, x.diskOffset + Math.min(x.length, 4096)]);
    if (e.kind === 'file') for (const m of fs.metadataBlocks(e.ino)) out.push([m.diskOffset, m.diskOffset + 1024]);
  }
  for (const x of fs.extents(ROOTINO)) if (x.diskOffset !== null) out.push([x.diskOffset, x.diskOffset + x.length]);
  return out.filter(([s, e]) => Number.isSafeInteger(s) && e > s && s < bytes.length);
}

async function ffsSeeds(ctx: RunContext): Promise<Seed[]> {
  const src = mkdtempSync(join(ctx.work, 'tree-'));
  tree(src);
  const seeds: Seed[] = [];
  for (const [version, size] of [[1, '1m'], [2, '1m']] as const) {
    const img = join(ctx.work, `ufs${version}.img`);
    execFileSync('makefs', ['-t', 'ffs', '-o', `version=${version},bsize=8192,fsize=1024,density=4096`, '-s', size, img, src], { stdio: 'ignore' });
    const bytes = readFileSync(img);
    seeds.push({ name: `UFS${version} (makefs, ${size})`, bytes, hot: hotRanges(bytes) });
    rmSync(img);
  }
  rmSync(src, { recursive: true, force: true });
  return seeds;
}

export const ffs: FuzzTarget = {
  name: 'ffs',
  parser: 'src/fs/ffs/ (superblock, cylinder groups, inodes, block maps, directories, symlinks, lookup, walk, reverse map)',
  inputs: 15_000,
  maxLength: 1024 * 1024 + 16 * 1024,
  inPlace: 0.95,
  dictionary: ['\u0054\u0019\u0001\u0000', '\u0019\u0001\u0054\u0019', '\u0055\u0002\u0009\u0000', '\u0002\u0000\u0000\u0000', '\u00ff\u00ff\u00ff\u007f', '\u0000\u0080\u0000\u0000', '\u00ed\u0041', '\u00a4\u0081', '\u00ff\u00a1'],
  seeds: ffsSeeds,
  run(input) {
    const fs = FfsFilesystem.open(new MemDevice(input, 'fuzz partition'));
    const problems: string[] = [];
    const entries = fs.walk(ROOTINO, { maxEntries: 500, maxDepth: 16, onError: (e) => problems.push(e.message) });
    for (const p of problems) check(!/[\r\n]/.test(p), 'multi-line walk problem');
    let frags: number[] = [];
    for (const e of entries.slice(0, 60)) {
      check(e.display.length > 0 && !/[\u0000-\u001f]/.test(e.display), 'walk display not escaped');
      try {
        if (e.kind === 'file') {
          const x = fs.extents(e.ino);
          frags = frags.concat(x.filter((y) => y.diskOffset !== null).slice(0, 2).map((y) => Math.floor(y.diskOffset! / fs.geometry.fsize)));
          fs.metadataBlocks(e.ino);
          fs.readFile(e.ino, 128 * 1024);
        } else if (e.kind === 'symlink') fs.readLink(e.ino);
        else if (e.kind === 'directory') fs.readDir(e.ino, 5000);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        check(!/[\r\n]/.test(err.message), 'multi-line error');
      }
    }
    fs.tryLookup('/opam/src/tls.opam');
    if (frags.length > 0) findOwners(fs, frags.slice(0, 4), { maxEntries: 2000, maxDepth: 16 });
  },
};
