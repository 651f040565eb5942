// What a layer proves about itself, without expected sources (design.md section 10).
//
// A layer's own image holds only the clusters its step wrote. So, per FFS partition:
//   1. the inodes this layer changed are those whose bytes in the inode tables differ from the
//      parent's view, within clusters the layer's own image holds;
//   2. a changed file's newly assigned data blocks are those the same inode (same generation)
//      did not have at the same file offset in the parent's view;
//   3. a newly assigned block whose bytes come (even in part) from another element of the chain
//      was never written by this layer: its bytes are stale. That is proof (`unwritten`).
//   4. a newly assigned block inside a cluster the layer did write (a cluster is copied up whole
//      for any write, carrying its neighbours' old bytes) whose bytes are exactly the parent's:
//      - where the parent had the same path with this very block at this offset, the file was
//        written again with the same bytes (`rewritten`: fine);
//      - an FFS directory block (checked strictly, stale-content.ts) in a regular file is proof
//        (`equal-directory`): no file of this filesystem legitimately holds one;
//      - zeros are fine when nothing else in their clusters changed but the file itself
//        (`own-zeros`: the only write there was this file's, and a file of zeros is legal);
//        beside another object's change they prove nothing (`equal-zeros`: at most inconclusive);
//      - other equal bytes prove nothing either (`equal-data`: a file written again with the
//        content a deleted file had, on the blocks it freed): at most inconclusive.
// Metadata-only changes, renames, hard links, appends, truncation, identical rewrites, legal
// zero files, deletions and directories growing add no stale block: the layer stays clean.

import type { BlockDevice } from '../image/block-device.js';
import { isAllZero } from '../classify/bytes.js';
import { detectFilesystem } from '../fs/detect.js';
import { FfsFilesystem, ROOTINO, type Inode } from '../fs/ffs/index.js';
import { UserError } from '../util/errors.js';
import { readVolumes, type Partition } from '../volume/index.js';
import type { OwnRanges } from './own-clusters.js';
import { isFfsDirectoryBlock } from './stale-content.js';

export type BlockState =
  /** Bytes differ from the parent's there: this layer wrote them. */
  | 'written'
  /** (Part of) its cluster is not in this layer's image: never written here. Proof. */
  | 'unwritten'
  /** In a written cluster, exactly the parent's bytes, an FFS directory block, in a regular file. Proof. */
  | 'equal-directory'
  /** In a written cluster, the parent's zeros, beside another object's change. Ambiguous. */
  | 'equal-zeros'
  /** In a written cluster, exactly the parent's (non-zero) bytes. Ambiguous. */
  | 'equal-data'
  /** Equal to the parent's, where the parent had this path with this block at this offset. Fine. */
  | 'rewritten'
  /** The parent's zeros, in clusters where only this file changed. Fine. */
  | 'own-zeros';

/** One newly assigned data block of a changed file, and what became of it. */
export interface NewBlock {
  /** Offset in the file and bytes of file data in the block. */
  fileOffset: number;
  length: number;
  /** Byte offset on the disk. */
  disk: number;
  state: BlockState;
}

export interface ChangedFile {
  ino: number;
  kind: 'file' | 'directory' | 'symlink';
  size: number;
  /** Whether the parent had this inode, same generation. */
  sameInode: boolean;
  /** Data blocks the file has that it already had in the parent (same inode, offset, fragment). */
  keptBlocks: number;
  blocks: NewBlock[];
  /** Disk ranges of all its blocks in the layer (data and indirect), sorted. */
  own: [number, number][];
  /** Its path in the partition's filesystem (raw bytes and escaped), once looked up. */
  path?: { raw: Buffer; display: string } | null;
}

export interface PartitionEvidence {
  partition: Partition;
  fs: FfsFilesystem;
  parentFs: FfsFilesystem;
  changedInodes: number;
  files: ChangedFile[];
}

/** What collecting evidence needs: the two views of the disk and what the layer's image holds. */
export interface Views {
  layer: BlockDevice;
  parent: BlockDevice;
  own: OwnRanges;
}

const STALE: ReadonlySet<BlockState> = new Set(['unwritten', 'equal-directory']);
const AMBIGUOUS: ReadonlySet<BlockState> = new Set(['equal-zeros', 'equal-data']);
const EQUAL: ReadonlySet<BlockState> = new Set(['equal-zeros', 'equal-data', 'equal-directory']);

/** Whether a block's bytes are proof of loss. */
export function isStale(b: NewBlock): boolean {
  return STALE.has(b.state);
}

/** Whether a block's bytes cannot tell (never proof, at most inconclusive). */
export function isAmbiguous(b: NewBlock): boolean {
  return AMBIGUOUS.has(b.state);
}

/** Bytes of `dev` at [offset, offset+length). */
export function bytesAt(dev: BlockDevice, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  dev.read(b, offset);
  return b;
}

/** Inodes whose on-disk bytes this layer rewrote and that differ from the parent's. */
export function changedInodes(fsL: FfsFilesystem, v: Views, partOffset: number): number[] {
  const size = fsL.info.inodeSize;
  const out: number[] = [];
  for (const t of fsL.inodeTables()) {
    const base = partOffset + t.offset;
    for (const r of v.own.within(base, t.length)) {
      // Whole inodes only: a range may start or end inside one.
      const first = Math.floor((r.offset - base) / size);
      const last = Math.ceil((r.offset + r.length - base) / size);
      const a = bytesAt(v.layer, base + first * size, (last - first) * size);
      const b = bytesAt(v.parent, base + first * size, (last - first) * size);
      for (let i = 0; i < last - first; i++) {
        if (a.compare(b, i * size, (i + 1) * size, i * size, (i + 1) * size) !== 0) out.push(t.firstInode + first + i);
      }
    }
  }
  return out;
}

/** file offset → first fragment and bytes, for the data blocks of an inode. */
function dataBlocks(fs: FfsFilesystem, inode: Inode): Map<number, { fragment: number; length: number }> {
  const out = new Map<number, { fragment: number; length: number }>();
  fs.blockMap.walk(inode, (v) => {
    if (v.kind === 'data' && v.fragment !== 0) out.set(v.fileOffset, { fragment: v.fragment, length: v.length });
  });
  return out;
}

/** Disk ranges of every block of an inode (data and indirect), sorted. */
function ownBlocks(fs: FfsFilesystem, inode: Inode, partOffset: number): [number, number][] {
  const fsize = fs.info.fragmentSize;
  const out: [number, number][] = [];
  fs.blockMap.walk(inode, (v) => {
    if (v.fragment !== 0) out.push([partOffset + v.fragment * fsize, partOffset + (v.fragment + v.fragments) * fsize]);
  });
  return out.sort((a, b) => a[0] - b[0]);
}

/** What a newly assigned block's bytes say about whether this layer wrote them. */
function blockState(v: Views, disk: number, length: number, kind: ChangedFile['kind'], inodeCount: number): BlockState {
  if (!v.own.holds(disk, length)) return 'unwritten';
  const mine = bytesAt(v.layer, disk, length);
  if (!mine.equals(bytesAt(v.parent, disk, length))) return 'written';
  if (isAllZero(mine)) return 'equal-zeros';
  if (kind === 'file' && isFfsDirectoryBlock(mine, inodeCount)) return 'equal-directory';
  return 'equal-data';
}

/** The parent's data blocks of the same inode, same generation and kind; null when it had none. */
function parentBlocks(fsP: FfsFilesystem, ino: number, inL: Inode): Map<number, { fragment: number; length: number }> | null {
  if (ino >= fsP.info.inodeCount || !fsP.isInodeAllocated(ino)) return null;
  const inP = fsP.inode(ino);
  return inP.generation === inL.generation && inP.kind === inL.kind ? dataBlocks(fsP, inP) : null;
}

function changedFile(fsL: FfsFilesystem, fsP: FfsFilesystem, ino: number, v: Views, partOffset: number): ChangedFile | null {
  if (!fsL.isInodeAllocated(ino)) return null;
  const inL = fsL.inode(ino);
  if (inL.kind !== 'file' && inL.kind !== 'directory' && inL.kind !== 'symlink') return null;
  const before = parentBlocks(fsP, ino, inL);
  const fsize = fsL.info.fragmentSize;
  const blocks: NewBlock[] = [];
  let keptBlocks = 0;
  for (const [fileOffset, b] of dataBlocks(fsL, inL)) {
    if (before?.get(fileOffset)?.fragment === b.fragment) {
      keptBlocks++;
      continue;
    }
    const disk = partOffset + b.fragment * fsize;
    if (disk + b.length > v.layer.size) continue; // not on this disk: not evidence of anything
    blocks.push({ fileOffset, length: b.length, disk, state: blockState(v, disk, b.length, inL.kind, fsL.info.inodeCount) });
  }
  if (blocks.length === 0) return null;
  return { ino, kind: inL.kind, size: inL.size, sameInode: before !== null, keptBlocks, blocks, own: ownBlocks(fsL, inL, partOffset) };
}

/** The FFS on a partition, or null when there is none (or none this reader can open). */
export function openFfs(p: Partition): FfsFilesystem | null {
  if (!detectFilesystem(p.device).supported) return null;
  try {
    return FfsFilesystem.open(p.device);
  } catch (err) {
    if (err instanceof UserError) return null;
    throw err;
  }
}

/** The partitions of a view that may hold a filesystem. */
export function dataPartitions(dev: BlockDevice): Partition[] {
  return readVolumes(dev).partitions.filter((p) => !p.container && p.fsHint !== 'swap');
}

/**
 * Per FFS partition present in both views, the files this layer changed and their newly assigned
 * blocks. `notes` says what could not be compared (a filesystem new in this layer, a partition
 * this layer wrote whose filesystem this reader cannot read).
 */
export function collectEvidence(v: Views, notes: string[], layerParts?: readonly { partition: Partition; fs: FfsFilesystem | null }[]): PartitionEvidence[] {
  const out: PartitionEvidence[] = [];
  const parentParts = dataPartitions(v.parent);
  for (const { partition: pL, fs: fsL } of layerParts ?? dataPartitions(v.layer).map((partition) => ({ partition, fs: openFfs(partition) }))) {
    const written = v.own.within(pL.offset, pL.size).length > 0;
    if (!fsL) {
      if (written) notes.push(`partition ${pL.name}: this layer wrote to it, and it holds ${detectFilesystem(pL.device).name}, which the audit cannot read (FFS only)`);
      continue;
    }
    const pP = parentParts.find((p) => p.offset === pL.offset);
    const fsP = pP ? openFfs(pP) : null;
    if (!fsP) {
      notes.push(`partition ${pL.name}: its filesystem is new in this layer, nothing to compare it with`);
      continue;
    }
    const inodes = changedInodes(fsL, v, pL.offset).filter((i) => i >= ROOTINO);
    const files = inodes.map((ino) => changedFile(fsL, fsP, ino, v, pL.offset)).filter((f): f is ChangedFile => f !== null);
    out.push({ partition: pL, fs: fsL, parentFs: fsP, changedInodes: inodes.length, files });
  }
  return out;
}

/** Paths of the given inodes in a filesystem: one bounded walk from the root. */
export function pathsOf(fs: FfsFilesystem, inos: ReadonlySet<number>): Map<number, { raw: Buffer; display: string }> {
  const out = new Map<number, { raw: Buffer; display: string }>();
  if (inos.has(ROOTINO)) out.set(ROOTINO, { raw: Buffer.from('/'), display: '/' });
  if (out.size === inos.size) return out;
  for (const e of fs.walkIter(ROOTINO, { maxEntries: 2_000_000, onError: () => {} })) {
    if (inos.has(e.ino) && !out.has(e.ino)) {
      out.set(e.ino, { raw: Buffer.concat([Buffer.from('/'), e.path]), display: `/${e.display}` });
      if (out.size === inos.size) break;
    }
  }
  return out;
}

/** Look up the paths of files that do not have one yet. */
export function ensurePaths(ev: PartitionEvidence, files: readonly ChangedFile[]): void {
  const missing = files.filter((f) => f.path === undefined);
  if (missing.length === 0) return;
  const paths = pathsOf(ev.fs, new Set(missing.map((f) => f.ino)));
  for (const f of missing) f.path = paths.get(f.ino) ?? null;
}

/** Blocks equal to the parent's where the parent had the same path with the same block: written again. */
function markRewrites(ev: PartitionEvidence, f: ChangedFile): void {
  if (!f.path) return;
  const pIno = ev.parentFs.tryLookup(f.path.raw);
  if (pIno === null) return;
  const inP = ev.parentFs.inode(pIno);
  if (inP.kind !== f.kind) return;
  const before = dataBlocks(ev.parentFs, inP);
  const fsize = ev.fs.info.fragmentSize;
  for (const b of f.blocks) {
    if (EQUAL.has(b.state) && before.get(b.fileOffset)?.fragment === (b.disk - ev.partition.offset) / fsize) b.state = 'rewritten';
  }
}

/** 512-byte sectors of a cluster whose bytes differ between the two views, as [start, end). */
function changedSectors(v: Views, cluster: number, cache: Map<number, [number, number][]>): [number, number][] {
  let hit = cache.get(cluster);
  if (hit) return hit;
  const cs = v.own.clusterSize;
  const len = Math.min(cs, v.layer.size - cluster * cs);
  const a = bytesAt(v.layer, cluster * cs, len);
  const b = bytesAt(v.parent, cluster * cs, len);
  hit = [];
  for (let o = 0; o < len; o += 512) {
    const end = Math.min(o + 512, len);
    if (a.compare(b, o, end, o, end) !== 0) hit.push([cluster * cs + o, cluster * cs + end]);
  }
  cache.set(cluster, hit);
  return hit;
}

function covered(r: [number, number], ranges: readonly [number, number][]): boolean {
  return ranges.some(([a, b]) => a <= r[0] && r[1] <= b);
}

/** Zeros equal to the parent's in clusters where every change is this file's own: its zeros were written. */
function markOwnZeros(v: Views, f: ChangedFile, cache: Map<number, [number, number][]>): void {
  const cs = v.own.clusterSize;
  for (const b of f.blocks) {
    if (b.state !== 'equal-zeros') continue;
    let alone = true;
    for (let c = Math.floor(b.disk / cs); alone && c <= Math.floor((b.disk + b.length - 1) / cs); c++) {
      alone = changedSectors(v, c, cache).every((s) => covered(s, f.own));
    }
    if (alone) b.state = 'own-zeros';
  }
}

/** Settle blocks equal to the parent's (rewrites, a file's own zeros) so that only real ambiguity remains. */
export function refineEqualBlocks(v: Views, ev: PartitionEvidence): void {
  const files = ev.files.filter((f) => f.blocks.some((b) => EQUAL.has(b.state)));
  if (files.length === 0) return;
  ensurePaths(ev, files);
  const cache = new Map<number, [number, number][]>();
  for (const f of files) {
    markRewrites(ev, f);
    markOwnZeros(v, f, cache);
  }
}
