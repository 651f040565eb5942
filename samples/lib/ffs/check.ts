// A consistency check in the manner of fsck_ffs (Debian ships no FFS checker): it recomputes,
// from the inodes and directories alone, which fragments are in use, and compares that with every
// cylinder group's maps and counts, the summary array and the superblock totals; it walks the tree
// from the root checking directory chunks, "." and "..", d_type and link counts, and that every
// inode in use is reachable. It shares only the layout tables and decoders with the writer, not
// its allocation logic.

import type { Disk } from '../disk.js';
import { chunkRecords } from './dir.js';
import { type Geometry, blockSizeAt, cgtod, geometryFromSuperblock, inodeOffset } from './geometry.js';
import { decodeInode, type Inode } from './inode.js';
import {
  CG,
  CG_MAGIC,
  CSUM,
  CSUM_SIZE,
  DIRBLKSIZ,
  DT_DIR,
  DT_LNK,
  DT_REG,
  FS_UFS1_MAGIC,
  FS_UFS2_MAGIC,
  IFDIR,
  IFLNK,
  IFMT,
  IFREG,
  NDADDR,
  ROOTINO,
  SB,
  SBLOCKSIZE,
  SBLOCK_UFS1,
  SBLOCK_UFS2,
  rd,
} from './layout.js';

export interface CheckReport {
  ok: boolean;
  errors: string[];
  inodesInUse: number;
  directories: number;
  fragsInUse: number;
}

const MAX_ERRORS = 50;

export function checkFs(disk: Disk, offset = 0): CheckReport {
  const errors: string[] = [];
  const err = (m: string) => {
    if (errors.length < MAX_ERRORS) errors.push(m);
  };
  let sb: Buffer | null = null;
  for (const loc of [SBLOCK_UFS2, SBLOCK_UFS1]) {
    const b = disk.readBytes(offset + loc, SBLOCKSIZE);
    const m = rd(b, 0, SB.magic);
    if ((m === FS_UFS2_MAGIC && rd(b, 0, SB.sblockloc) === loc) || (m === FS_UFS1_MAGIC && loc === SBLOCK_UFS1)) {
      sb = b;
      break;
    }
  }
  if (!sb) return { ok: false, errors: ['no superblock at 65536 or 8192'], inodesInUse: 0, directories: 0, fragsInUse: 0 };
  const g: Geometry = geometryFromSuperblock(sb);
  const fsize = g.fsize;
  const read = (frag: number, bytes: number) => disk.readBytes(offset + frag * fsize, bytes);

  // --- groups ---------------------------------------------------------------------------------
  const cgs: Buffer[] = [];
  for (let c = 0; c < g.ncg; c++) {
    const b = read(cgtod(g, c), g.cgsize);
    if (rd(b, 0, CG.magic) !== CG_MAGIC) err(`cg ${c}: bad magic`);
    if (rd(b, 0, CG.cgx) !== c) err(`cg ${c}: cg_cgx ${rd(b, 0, CG.cgx)}`);
    const ndblk = Math.min(g.fpg, g.size - c * g.fpg);
    if (rd(b, 0, CG.ndblk) !== ndblk) err(`cg ${c}: cg_ndblk ${rd(b, 0, CG.ndblk)}, expected ${ndblk}`);
    cgs.push(b);
  }
  const freeBit = (d: number) => {
    const c = Math.floor(d / g.fpg);
    const b = cgs[c]!;
    const x = d - c * g.fpg;
    return (b[rd(b, 0, CG.freeoff) + (x >> 3)]! >> (x & 7)) & 1;
  };
  const inoBit = (ino: number) => {
    const c = Math.floor(ino / g.ipg);
    const b = cgs[c]!;
    const x = ino - c * g.ipg;
    return (b[rd(b, 0, CG.iusedoff) + (x >> 3)]! >> (x & 7)) & 1;
  };

  // --- which fragments are in use, from metadata alone ------------------------------------------
  const used = new Uint8Array(g.size);
  const csfrags = Math.ceil(g.cssize / fsize);
  for (let c = 0; c < g.ncg; c++) {
    const base = c * g.fpg;
    const from = c === 0 ? 0 : g.sblkno;
    const to = g.dblkno + (c === 0 ? csfrags : 0);
    for (let d = from; d < to && base + d < g.size; d++) used[base + d] = 1;
  }
  const claim = (addr: number, n: number, what: string) => {
    if (addr <= 0 || addr + n > g.size) {
      err(`${what}: fragment ${addr}+${n} outside the file system`);
      return;
    }
    if (Math.floor(addr / g.frag) !== Math.floor((addr + n - 1) / g.frag)) err(`${what}: fragments ${addr}+${n} cross a block`);
    for (let i = 0; i < n; i++) {
      if (used[addr + i]) err(`${what}: fragment ${addr + i} already in use`);
      used[addr + i] = 1;
    }
  };

  const ptr = (blk: Buffer, i: number) => (g.ptrSize === 4 ? blk.readInt32LE(4 * i) : blk.readInt32LE(8 * i + 4) * 0x1_0000_0000 + blk.readUInt32LE(8 * i));
  const inodes = new Map<number, Inode>();
  let fragsOfFiles = 0;
  for (let c = 0; c < g.ncg; c++) {
    const inited = g.ufs === 2 ? rd(cgs[c]!, 0, CG.initediblk) : g.ipg;
    for (let i = 0; i < g.ipg; i++) {
      const ino = c * g.ipg + i;
      if (ino < ROOTINO) continue;
      if (!inoBit(ino)) continue;
      if (i >= inited) {
        err(`inode ${ino} in use past cg_initediblk ${inited}`);
        continue;
      }
      const ip = decodeInode(g, disk.readBytes(offset + inodeOffset(g, ino), g.inodeSize), ino);
      inodes.set(ino, ip);
      const t = ip.mode & IFMT;
      if (t !== IFREG && t !== IFDIR && t !== IFLNK) err(`inode ${ino}: mode 0${ip.mode.toString(8)}`);
      if (ip.shortlink) continue;
      const nblk = Math.ceil(ip.size / g.bsize);
      let frags = 0;
      for (let lbn = 0; lbn < NDADDR; lbn++) {
        const a = ip.db[lbn]!;
        if (!a) continue;
        if (lbn >= nblk) {
          err(`inode ${ino}: block ${lbn} mapped past the end (size ${ip.size})`);
          continue;
        }
        const n = blockSizeAt(g, ip.size, lbn) / fsize;
        claim(a, n, `inode ${ino} block ${lbn}`);
        frags += n;
      }
      const n = g.nindir;
      const visit = (addr: number, level: number, base: number) => {
        claim(addr, g.frag, `inode ${ino} indirect (level ${level})`);
        frags += g.frag;
        const blk = read(addr, g.bsize);
        const span = n ** (level - 1);
        for (let k = 0; k < n; k++) {
          const p = ptr(blk, k);
          if (!p) continue;
          const lbn = base + k * span;
          if (lbn >= nblk) err(`inode ${ino}: indirect maps block ${lbn} past the end (size ${ip.size})`);
          if (level === 1) {
            claim(p, g.frag, `inode ${ino} block ${lbn}`);
            frags += g.frag;
          } else visit(p, level - 1, lbn);
        }
      };
      const bases = [NDADDR, NDADDR + n, NDADDR + n + n * n];
      for (let r = 0; r < 3; r++) if (ip.ib[r]) visit(ip.ib[r]!, r + 1, bases[r]!);
      if (ip.blocks !== (frags * fsize) / 512) err(`inode ${ino}: di_blocks ${ip.blocks}, holds ${(frags * fsize) / 512}`);
      fragsOfFiles += frags;
    }
    // Free inodes carry mode 0 (ufs_inactive clears it).
    for (let i = 0; i < Math.min(inited, g.ipg); i++) {
      const ino = c * g.ipg + i;
      if (ino < ROOTINO || inoBit(ino)) continue;
      const mode = disk.readBytes(offset + inodeOffset(g, ino), 2).readUInt16LE(0);
      if (mode !== 0) err(`free inode ${ino} has mode 0${mode.toString(8)}`);
    }
  }

  // --- maps and counts ----------------------------------------------------------------------------
  let bad = 0;
  for (let d = 0; d < g.size; d++) {
    const shouldBeFree = used[d] ? 0 : 1;
    if (freeBit(d) !== shouldBeFree) {
      if (bad++ < 10) err(`fragment ${d}: map says ${freeBit(d) ? 'free' : 'in use'}, metadata says ${shouldBeFree ? 'free' : 'in use'}`);
    }
  }
  if (bad > 10) err(`... ${bad} fragments disagree in all`);
  const tot = { ndir: 0, nbfree: 0, nifree: 0, nffree: 0 };
  const csum = disk.readBytes(offset + g.csaddr * fsize, g.cssize);
  for (let c = 0; c < g.ncg; c++) {
    const b = cgs[c]!;
    const base = c * g.fpg;
    const ndblk = Math.min(g.fpg, g.size - base);
    let nbfree = 0;
    let nffree = 0;
    const frsum = new Array<number>(g.frag).fill(0);
    const clusters: boolean[] = [];
    for (let blk = 0; blk * g.frag < ndblk; blk++) {
      const width = Math.min(g.frag, ndblk - blk * g.frag);
      let run = 0;
      let nfree = 0;
      for (let i = 0; i <= width; i++) {
        const f = i < width && freeBit(base + blk * g.frag + i);
        if (f) {
          run++;
          nfree++;
        } else if (run) {
          if (run < g.frag) frsum[run]!++;
          run = 0;
        }
      }
      if (width === g.frag && nfree === g.frag) {
        nbfree++;
        clusters.push(true);
      } else {
        nffree += nfree;
        if (width === g.frag) clusters.push(false);
      }
    }
    let nifree = 0;
    let ndir = 0;
    for (let i = 0; i < g.ipg; i++) {
      const ino = base / g.fpg * g.ipg + i;
      if (!inoBit(ino)) nifree++;
      else if (inodes.get(ino) && (inodes.get(ino)!.mode & IFMT) === IFDIR) ndir++;
    }
    const want = { ndir, nbfree, nifree, nffree };
    for (const k of ['ndir', 'nbfree', 'nifree', 'nffree'] as const) {
      const have = rd(b, 0, CG[`cs_${k}`]);
      if (have !== want[k]) err(`cg ${c}: cs_${k} ${have}, counted ${want[k]}`);
      const inCsum = rd(csum, c * CSUM_SIZE, CSUM[k]);
      if (inCsum !== want[k]) err(`summary array cg ${c}: cs_${k} ${inCsum}, counted ${want[k]}`);
      tot[k] += want[k];
    }
    for (let s = 1; s < g.frag; s++) {
      const have = rd(b, 0, CG.frsum, s);
      if (have !== frsum[s]) err(`cg ${c}: frsum[${s}] ${have}, counted ${frsum[s]}`);
    }
    if (g.contigsumsize > 0) {
      const coff = rd(b, 0, CG.clusteroff);
      const soff = rd(b, 0, CG.clustersumoff);
      const counts = new Array<number>(g.contigsumsize + 1).fill(0);
      let run = 0;
      for (let blk = 0; blk <= clusters.length; blk++) {
        const inMap = blk < clusters.length && ((b[coff + (blk >> 3)]! >> (blk & 7)) & 1) === 1;
        if (blk < clusters.length && inMap !== clusters[blk]) err(`cg ${c}: cluster map bit ${blk} is ${inMap ? 1 : 0}`);
        if (blk < clusters.length && clusters[blk]) run++;
        else if (run) {
          counts[Math.min(run, g.contigsumsize)]!++;
          run = 0;
        }
      }
      for (let s = 1; s <= g.contigsumsize; s++) {
        const have = b.readInt32LE(soff + 4 * s);
        if (have !== counts[s]) err(`cg ${c}: cluster sum[${s}] ${have}, counted ${counts[s]}`);
      }
    }
  }
  const sbTotals = g.ufs === 2
    ? { ndir: rd(sb, 0, SB.cs_ndir), nbfree: rd(sb, 0, SB.cs_nbfree), nifree: rd(sb, 0, SB.cs_nifree), nffree: rd(sb, 0, SB.cs_nffree) }
    : { ndir: rd(sb, 0, SB.old_cs_ndir), nbfree: rd(sb, 0, SB.old_cs_nbfree), nifree: rd(sb, 0, SB.old_cs_nifree), nffree: rd(sb, 0, SB.old_cs_nffree) };
  for (const k of ['ndir', 'nbfree', 'nifree', 'nffree'] as const) {
    if (sbTotals[k] !== tot[k]) err(`superblock: cs_${k} ${sbTotals[k]}, counted ${tot[k]}`);
  }

  // --- the tree -----------------------------------------------------------------------------------
  const refs = new Map<number, number>();
  const subdirs = new Map<number, number>();
  const seen = new Set<number>();
  const dtypeFor = (mode: number) => ((mode & IFMT) === IFDIR ? DT_DIR : (mode & IFMT) === IFLNK ? DT_LNK : DT_REG);
  const readDirData = (ip: Inode): Buffer => {
    const out = Buffer.alloc(ip.size);
    for (let lbn = 0; lbn * g.bsize < ip.size; lbn++) {
      let a = 0;
      if (lbn < NDADDR) a = ip.db[lbn]!;
      else err(`directory ${ip.ino} has indirect blocks`);
      if (!a) {
        err(`directory ${ip.ino} has a hole at block ${lbn}`);
        continue;
      }
      const n = Math.min(g.bsize, ip.size - lbn * g.bsize);
      read(a, n).copy(out, lbn * g.bsize);
    }
    return out;
  };
  const walk = (ino: number, parent: number) => {
    if (seen.has(ino)) {
      err(`directory ${ino} reached twice`);
      return;
    }
    seen.add(ino);
    const ip = inodes.get(ino)!;
    if (ip.size % DIRBLKSIZ !== 0) err(`directory ${ino}: size ${ip.size} not a multiple of ${DIRBLKSIZ}`);
    const data = readDirData(ip);
    let k = 0;
    for (let o = 0; o + DIRBLKSIZ <= data.length; o += DIRBLKSIZ) {
      let recs;
      try {
        recs = chunkRecords(data.subarray(o, o + DIRBLKSIZ), `directory ${ino} chunk ${o / DIRBLKSIZ}`);
      } catch (e) {
        err((e as Error).message);
        continue;
      }
      for (const r of recs) {
        if (!r.ino) continue;
        const name = r.name.toString('utf8');
        if (k === 0 && (name !== '.' || r.ino !== ino)) err(`directory ${ino}: first entry is ${name} -> ${r.ino}`);
        if (k === 1 && (name !== '..' || r.ino !== parent)) err(`directory ${ino}: second entry is ${name} -> ${r.ino}, parent is ${parent}`);
        k++;
        if (name === '.' || name === '..') continue;
        const child = inodes.get(r.ino);
        if (!child) {
          err(`directory ${ino}: ${name} -> inode ${r.ino}, which is not in use`);
          continue;
        }
        if (r.type !== dtypeFor(child.mode)) err(`directory ${ino}: ${name} has d_type ${r.type}, inode mode 0${child.mode.toString(8)}`);
        refs.set(r.ino, (refs.get(r.ino) ?? 0) + 1);
        if ((child.mode & IFMT) === IFDIR) {
          subdirs.set(ino, (subdirs.get(ino) ?? 0) + 1);
          walk(r.ino, ino);
        }
      }
    }
  };
  const root = inodes.get(ROOTINO);
  if (!root || (root.mode & IFMT) !== IFDIR) err('root inode is not a directory in use');
  else walk(ROOTINO, ROOTINO);
  let directories = 0;
  for (const [ino, ip] of inodes) {
    if ((ip.mode & IFMT) === IFDIR) {
      directories++;
      const want = 2 + (subdirs.get(ino) ?? 0);
      if (ip.nlink !== want) err(`directory ${ino}: nlink ${ip.nlink}, expected ${want}`);
      if (ino !== ROOTINO && !refs.has(ino)) err(`directory ${ino} is not reachable`);
    } else {
      const want = refs.get(ino) ?? 0;
      if (want === 0) err(`inode ${ino} is in use but unreachable`);
      else if (ip.nlink !== want) err(`inode ${ino}: nlink ${ip.nlink}, ${want} names`);
    }
  }
  let fragsInUse = 0;
  for (let d = 0; d < g.size; d++) fragsInUse += used[d]!;
  void fragsOfFiles;
  return { ok: errors.length === 0, errors, inodesInUse: inodes.size, directories, fragsInUse };
}
