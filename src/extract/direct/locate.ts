// Which partition of the layer's disk holds the guest path `dst`, and where dst is inside its
// filesystem (design.md section 9): --partition when given; else the root partition's
// /etc/fstab, taking the longest mount point that is a prefix of dst; else dst searched under
// each FFS partition with each prefix of dst removed, refusing an ambiguous answer.

import type { BlockDevice } from '../../image/block-device.js';
import { escapeText } from '../../report/escape.js';
import { detectFilesystem, type Detection } from '../../fs/detect.js';
import { FfsFilesystem } from '../../fs/ffs/index.js';
import { UserError } from '../../util/errors.js';
import { readVolumes, type Partition, type VolumeSystem } from '../../volume/index.js';
import { MAX_FSTAB_BYTES, mountsDisk, parseFstab, partitionForSpec, type FstabEntry } from './fstab.js';

export interface Located {
  partition: Partition;
  fs: FfsFilesystem;
  /** Where the partition is mounted in the guest ('/home'); null when nothing says. */
  mountpoint: string | null;
  /** dst as a path inside the partition's filesystem ('/opam/src'). */
  pathInFs: string;
  /** How the partition was chosen. */
  how: 'partition-option' | 'fstab' | 'search';
  volumes: VolumeSystem;
}

interface Candidate {
  partition: Partition;
  detection: Detection;
  fs: FfsFilesystem | null;
  /** Why the FFS could not be opened, when it could not. */
  problem?: string;
}

function describePartition(p: Partition): string {
  return p.scheme === 'none' ? 'the whole disk' : `${p.scheme} partition ${p.name}`;
}

/** Every partition that may hold a filesystem, with what is on it. */
function candidates(volumes: VolumeSystem): Candidate[] {
  return volumes.partitions
    .filter((p) => !p.container && p.fsHint !== 'swap')
    .map((partition) => {
      const detection = detectFilesystem(partition.device);
      if (!detection.supported) return { partition, detection, fs: null };
      try {
        return { partition, detection, fs: FfsFilesystem.open(partition.device, { label: `${describePartition(partition)} (${detection.name})` }) };
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        return { partition, detection, fs: null, problem: err.message };
      }
    });
}

/** The path of dst inside a filesystem mounted at `mountpoint`, or null when dst is not under it. */
function under(dst: string, mountpoint: string): string | null {
  const m = mountpoint.replace(/\/+$/, '');
  if (m === '') return dst;
  if (dst === m) return '/';
  return dst.startsWith(`${m}/`) ? dst.slice(m.length) : null;
}

/** The entries of /etc/fstab on `fs`, or null when it has none (the audit reads mount points with it too). */
export function readFstab(fs: FfsFilesystem): FstabEntry[] | null {
  const ino = fs.tryLookup('/etc/fstab');
  if (ino === null || fs.inode(ino).kind !== 'file') return null;
  return parseFstab(fs.readFile(ino, MAX_FSTAB_BYTES).toString('utf8'));
}

/** dst through the fstab of whichever FFS partition has one (the root partition). */
function viaFstab(dst: string, cands: Candidate[], volumes: VolumeSystem): Located | null {
  for (const root of cands) {
    if (!root.fs) continue;
    const entries = readFstab(root.fs);
    if (!entries) continue;
    const volumeName = (p: Partition): string | null => cands.find((c) => c.partition === p)?.fs?.info.volumeName ?? null;
    let best: { entry: FstabEntry; pathInFs: string } | null = null;
    for (const entry of entries.filter(mountsDisk)) {
      const pathInFs = under(dst, entry.mountpoint);
      if (pathInFs !== null && (!best || entry.mountpoint.length > best.entry.mountpoint.length)) best = { entry, pathInFs };
    }
    if (!best) continue;
    const part = partitionForSpec(best.entry.spec, volumes.partitions.filter((p) => !p.container), volumeName);
    if (!part) {
      throw new UserError(
        `/etc/fstab on ${describePartition(root.partition)} mounts ${escapeText(best.entry.mountpoint)} from ${escapeText(best.entry.spec)}, which names no partition of this disk; give --partition`,
      );
    }
    const c = cands.find((x) => x.partition === part);
    if (!c?.fs) throw unsupported(part, c);
    return { partition: part, fs: c.fs, mountpoint: best.entry.mountpoint, pathInFs: best.pathInFs, how: 'fstab', volumes };
  }
  return null;
}

function unsupported(part: Partition, c: Candidate | undefined): UserError {
  if (c?.problem) return new UserError(`${c.problem}; use --via boot`);
  const name = c?.detection.name ?? 'an unknown filesystem';
  return new UserError(`${describePartition(part)} holds ${name}, which the direct reader cannot read (FFS only); use --via boot`);
}

/** Each suffix of dst ('/home/opam/src' → '/home/opam/src', '/opam/src', '/src'), longest first. */
function suffixes(dst: string): { mountpoint: string; pathInFs: string }[] {
  const segs = dst.split('/').filter(Boolean);
  return segs.map((_, k) => ({ mountpoint: `/${segs.slice(0, k).join('/')}`, pathInFs: `/${segs.slice(k).join('/')}` }));
}

/** dst searched under each FFS partition; exactly one partition may hold it. */
function viaSearch(dst: string, cands: Candidate[], volumes: VolumeSystem): Located {
  const found: Located[] = [];
  for (const c of cands) {
    if (!c.fs) continue;
    const hit = suffixes(dst).find((s) => c.fs!.tryLookup(s.pathInFs) !== null);
    if (hit) found.push({ partition: c.partition, fs: c.fs, mountpoint: hit.mountpoint, pathInFs: hit.pathInFs, how: 'search', volumes });
  }
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    const list = found.map((f) => `${describePartition(f.partition)} as ${escapeText(f.pathInFs)}`).join(', ');
    throw new UserError(`--dst ${escapeText(dst)}: found on several partitions (${list}) and no /etc/fstab says which is mounted there; give --partition`);
  }
  const ffs = cands.filter((c) => c.fs);
  if (ffs.length === 0) {
    const seen = cands.map((c) => `${describePartition(c.partition)}: ${c.problem ?? c.detection.name}`).join('; ');
    throw new UserError(`the layer's disk has no FFS partition the direct reader can read (${seen || 'no partitions'}); use --via boot`);
  }
  throw new UserError(`--dst ${escapeText(dst)}: not found on any FFS partition of the layer (${ffs.map((c) => describePartition(c.partition)).join(', ')})`);
}

/** The partition chosen with --partition: a disklabel letter, a partition number, or a table index. */
function viaOption(dst: string, choice: string, cands: Candidate[], volumes: VolumeSystem): Located {
  const c = cands.find((x) => x.partition.name === choice) ?? cands.find((x) => String(x.partition.index) === choice);
  if (!c) {
    const names = cands.map((x) => x.partition.name).join(', ');
    throw new UserError(`--partition ${escapeText(choice)}: no such partition on the layer's disk (partitions: ${names || 'none'})`);
  }
  if (!c.fs) throw unsupported(c.partition, c);
  const fs = c.fs;
  const hit = suffixes(dst).find((s) => fs.tryLookup(s.pathInFs) !== null);
  if (!hit) throw new UserError(`--dst ${escapeText(dst)}: not found on ${describePartition(c.partition)}, with or without any of its leading directories`);
  return { partition: c.partition, fs, mountpoint: hit.mountpoint, pathInFs: hit.pathInFs, how: 'partition-option', volumes };
}

export function locateDst(disk: BlockDevice, dst: string, partition?: string): Located {
  const volumes = readVolumes(disk);
  const cands = candidates(volumes);
  if (partition !== undefined) return viaOption(dst, partition, cands, volumes);
  return viaFstab(dst, cands, volumes) ?? viaSearch(dst, cands, volumes);
}
