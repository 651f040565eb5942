// Where stale bytes came from, from the disk itself (design.md section 9): for each stale block
// of a damaged file, the file or directory that owned the same disk block in the parent layer's
// filesystem, or further up the chain when the parent had already freed it (TSK's `ifind -d`,
// but across layers). The bytes are checked: an owner is named only for the bytes that are the
// same in that ancestor's view as in the damaged file, or for a directory block, only when its
// `.` entry names that very directory. The same claims also decide a run the classifier cannot
// tell from an edit by its bytes (one that reaches the end of a file): `ancestorOwnerOf`.

import { basename } from 'node:path';
import type { BlockDevice } from '../../image/block-device.js';
import type { FileStorage } from '../../tree/tree.js';
import { addOwnerPaths, findOwners, FfsFilesystem, type FragmentOwner } from '../../fs/ffs/index.js';
import { STALE_CLASSES, type FileReport, type Provenance } from '../../report/schema.js';
import { UserError } from '../../util/errors.js';
import { readVolumes } from '../../volume/index.js';

/** A stale byte range of a damaged file (or of a run still being judged: `K`) on the disk. */
interface StaleRange<K> {
  file: K;
  /** Offset in the file, length, and where it is on the disk. */
  offset: number;
  length: number;
  disk: number;
}

/** What one ancestor said about one fragment. */
interface Claim {
  layer: string;
  owner: Extract<FragmentOwner, { kind: 'inode' }>;
}

export interface AncestorView {
  /** The chain element's label: a layer id or `base:<name>`. */
  label: string;
  /** The disk as that element sees it (it and its backing files). */
  open(): BlockDevice & { close(): void };
}

export interface TraceInput {
  /** The classified files (the rest, `DiskInput`, is the disk and its ancestors). */
  files: FileReport[];
  /** The layer's own view of the disk (to read the stale bytes). */
  disk: BlockDevice;
  /** Parent first, base last. */
  ancestors: AncestorView[];
  partitionOffset: number;
  /** The filesystem's fragment size (the same filesystem in every view of the partition). */
  fragmentSize: number;
  mountpoint: string | null;
  /** Claims made so far, by fragment (null: no ancestor explains it): each fragment scanned once. */
  known?: Map<number, Claim | null>;
  /** The fragments later questions will likely be about, scanned with the first one. */
  likely?: () => number[];
}

export type DiskInput = Omit<TraceInput, 'files'>;

/** The stale parts of a damaged file: its whole bytes, or its non-matching regions. */
function staleRanges(f: FileReport): StaleRange<FileReport>[] {
  if (!STALE_CLASSES.has(f.class) || !f.storage) return [];
  const wanted = f.class === 'partial' ? f.regions.filter((r) => r.class !== 'match') : [{ offset: 0, length: f.actualSize ?? 0 }];
  return wanted.flatMap((w) => rangesOnDisk(f, f.storage!, w.offset, w.length));
}

/** Where the bytes [offset, offset + length) of a file lie on the disk (holes left out). */
function rangesOnDisk<K>(key: K, storage: FileStorage, offset: number, length: number): StaleRange<K>[] {
  const out: StaleRange<K>[] = [];
  for (const b of storage.blocks) {
    const lo = Math.max(offset, b.offset);
    const hi = Math.min(offset + length, b.offset + b.length);
    if (hi > lo && b.disk !== null) out.push({ file: key, offset: lo, length: hi - lo, disk: b.disk + (lo - b.offset) });
  }
  return out;
}

/** The fragments (of the partition's filesystem) that bytes [offset, offset + length) of a file lie in. */
export function fragmentsOfFile(storage: FileStorage, offset: number, length: number, partitionOffset: number, fsize: number): number[] {
  return rangesOnDisk(null, storage, offset, length).flatMap((r) => fragmentsOf(r, partitionOffset, fsize));
}

/** The fragments (of the partition's filesystem) a range covers. */
function fragmentsOf(r: StaleRange<unknown>, partitionOffset: number, fsize: number): number[] {
  return fragmentsOfExtent(r.disk, r.length, partitionOffset, fsize);
}

/** The fragments that `length` bytes at disk byte `disk` lie in. */
export function fragmentsOfExtent(disk: number, length: number, partitionOffset: number, fsize: number): number[] {
  const first = Math.floor((disk - partitionOffset) / fsize);
  const last = Math.floor((disk - partitionOffset + length - 1) / fsize);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/**
 * The inode number a directory chunk's `.` entry gives (the directory the block belonged to), or
 * null when the bytes do not start with one. FFS `struct direct`: d_ino u32, d_reclen u16,
 * d_type u8, d_namlen u8, then the name; little-endian.
 */
function dotInode(chunk: Buffer): number | null {
  if (chunk.length < 16) return null;
  const reclen = chunk.readUInt16LE(4);
  const namlen = chunk.readUInt8(7);
  if (namlen !== 1 || chunk[8] !== 0x2e || reclen < 12 || reclen > 512) return null;
  return chunk.readUInt32LE(0) || null;
}

/**
 * Whether an ancestor's owner of a fragment explains the damaged file's bytes there: that view
 * holds the same bytes, or the bytes are a block of that very directory (its `.` entry names it:
 * removing a directory's entries rewrites its block before the block is freed).
 */
function explains(input: DiskInput, ancestor: BlockDevice, owner: Extract<FragmentOwner, { kind: 'inode' }>, fragStart: number, fsize: number): boolean {
  const mine = Buffer.alloc(fsize);
  input.disk.read(mine, fragStart);
  const theirs = Buffer.alloc(fsize);
  ancestor.read(theirs, fragStart);
  if (mine.equals(theirs)) return true;
  return owner.role === 'directory' && dotInode(mine) === owner.ino;
}

function isFree(fs: FfsFilesystem, fragment: number): boolean {
  try {
    return fs.isFragmentFree(fragment);
  } catch (err) {
    if (err instanceof UserError) return false; // unreadable map: let the scan decide
    throw err;
  }
}

/**
 * Ask each ancestor in turn, nearest first, who owned the fragments no nearer ancestor explained:
 * the first owner whose bytes (or whose directory identity) match is the one named.
 */
function claimFragments(input: DiskInput, ranges: StaleRange<unknown>[]): Map<number, Claim> {
  const wanted = [...new Set(ranges.flatMap((r) => fragmentsOf(r, input.partitionOffset, input.fragmentSize)))];
  const known = input.known;
  if (!known) return scanAncestors(input, wanted);
  // One scan of the ancestors answers every question of a run: what this one needs that is not
  // known yet, and what later questions will likely need (the blocks the layer never wrote).
  if (wanted.some((f) => !known.has(f))) {
    const ask = [...new Set([...wanted, ...(input.likely?.() ?? [])])].filter((f) => !known.has(f));
    const found = scanAncestors(input, ask);
    for (const f of ask) known.set(f, found.get(f) ?? null);
  }
  const claims = new Map<number, Claim>();
  for (const f of wanted) {
    const c = known.get(f);
    if (c) claims.set(f, c);
  }
  return claims;
}

/** Ask each ancestor, nearest first, about the fragments no nearer one explained (see above). */
function scanAncestors(input: DiskInput, all: number[]): Map<number, Claim> {
  const claims = new Map<number, Claim>();
  for (const anc of input.ancestors) {
    const pending = all.filter((f) => !claims.has(f));
    if (pending.length === 0) break;
    const dev = anc.open();
    try {
      const part = readVolumes(dev).partitions.find((p) => !p.container && p.offset === input.partitionOffset);
      if (!part) continue;
      let fs: FfsFilesystem;
      try {
        fs = FfsFilesystem.open(part.device);
      } catch (err) {
        if (err instanceof UserError) continue; // the filesystem did not exist yet in that view
        throw err;
      }
      // A fragment free in this view has no owner here: only allocated ones are worth a scan of
      // the inodes (the scan is the expensive part, and a parent that freed the blocks is common).
      const allocated = pending.filter((f) => !isFree(fs, f));
      if (allocated.length === 0) continue;
      // Paths only for the owners kept: finding one can mean walking the whole tree.
      const kept: Extract<FragmentOwner, { kind: 'inode' }>[] = [];
      for (const o of findOwners(fs, allocated, { paths: false }).owners) {
        if (o.kind !== 'inode' || o.role === 'indirect' || o.role === 'extattr') continue;
        if (explains(input, dev, o, input.partitionOffset + o.fragment * input.fragmentSize, input.fragmentSize)) kept.push(o);
      }
      addOwnerPaths(fs, kept);
      for (const o of kept) claims.set(o.fragment, { layer: anc.label, owner: o });
    } finally {
      dev.close();
    }
  }
  return claims;
}

interface Attribution {
  layer: string;
  path: string;
  matchedBytes: number;
  offset: number;
  role: string;
  fileOffset: number;
}

/** Per file, the owners of its stale fragments, largest first. */
function attribute<K>(input: DiskInput, ranges: StaleRange<K>[], claims: Map<number, Claim>, fsize: number): Map<K, Attribution[]> {
  const byFile = new Map<K, Map<string, Attribution>>();
  for (const r of ranges) {
    for (const frag of fragmentsOf(r, input.partitionOffset, fsize)) {
      const c = claims.get(frag);
      if (!c) continue;
      const fragStart = input.partitionOffset + frag * fsize;
      const lo = Math.max(r.disk, fragStart);
      const hi = Math.min(r.disk + r.length, fragStart + fsize);
      const fileOffset = r.offset + (lo - r.disk);
      const ownerOffset = (c.owner.fileOffset ?? 0) + (lo - fragStart);
      const path = `${(input.mountpoint ?? '').replace(/\/+$/, '')}${c.owner.paths[0]?.display ?? `<inode ${c.owner.ino}>`}`;
      const key = `${c.layer}\0${c.owner.ino}`;
      const per = byFile.get(r.file) ?? new Map<string, Attribution>();
      byFile.set(r.file, per);
      const a = per.get(key);
      if (a) {
        a.matchedBytes += hi - lo;
        if (fileOffset < a.fileOffset) [a.fileOffset, a.offset] = [fileOffset, ownerOffset];
      } else {
        per.set(key, { layer: c.layer, path, matchedBytes: hi - lo, offset: ownerOffset, role: c.owner.role, fileOffset });
      }
    }
  }
  return new Map([...byFile].map(([f, m]) => [f, [...m.values()].sort((a, b) => b.matchedBytes - a.matchedBytes)]));
}

/**
 * Set `provenance` (source parent-layer) on each damaged file whose stale bytes an ancestor's
 * filesystem owned; list every owner in `detail.owners`. Content provenance found by matching
 * bytes, if any, moves to `detail.contentProvenance`.
 */
export function traceToAncestors(input: TraceInput): void {
  const ranges = input.files.flatMap(staleRanges);
  if (ranges.length === 0 || input.ancestors.length === 0) return;
  const claims = claimFragments(input, ranges);
  if (claims.size === 0) return;
  for (const [file, owners] of attribute(input, ranges, claims, input.fragmentSize)) {
    const top = owners[0];
    if (!top) continue;
    if (file.provenance) file.detail.contentProvenance = file.provenance;
    file.provenance = provenanceOf(input, top);
    file.detail.owners = owners;
  }
}

/** Whether an ancestor's owner of some fragment is inode `ino` of generation `gen`, at the same file offset. */
function inherited(input: DiskInput, ranges: StaleRange<unknown>[], claims: Map<number, Claim>, ino: number, gen: number): boolean {
  const fsize = input.fragmentSize;
  return ranges.some((r) =>
    fragmentsOf(r, input.partitionOffset, fsize).some((frag) => {
      const c = claims.get(frag);
      if (!c || c.owner.ino !== ino || c.owner.generation !== gen) return false;
      const fragStart = input.partitionOffset + frag * fsize;
      const lo = Math.max(r.disk, fragStart);
      return (c.owner.fileOffset ?? 0) + (lo - fragStart) === r.offset + (lo - r.disk);
    }),
  );
}

/** Whether the parent's view of the disk holds the same bytes as the layer's over every range. */
function sameInParent(input: DiskInput, ranges: StaleRange<unknown>[]): boolean {
  const parent = input.ancestors[0]!.open();
  try {
    return ranges.every((r) => {
      const mine = Buffer.alloc(r.length);
      const theirs = Buffer.alloc(r.length);
      input.disk.read(mine, r.disk);
      parent.read(theirs, r.disk);
      return mine.equals(theirs);
    });
  } finally {
    parent.close();
  }
}

function provenanceOf(input: DiskInput, top: Attribution): Provenance {
  return { source: 'parent-layer', path: top.path, root: input.mountpoint ?? '/', matchedBytes: top.matchedBytes, offset: top.offset, layer: top.layer };
}

/**
 * The ancestor-layer owner of every byte of [offset, offset + length) of a file, or null when
 * some byte has none: proof from the disk that those blocks were never written by this layer
 * (the ancestor's view holds the same bytes, in another file's blocks). The rescue of a run the
 * classifier could not tell from an edit by its bytes alone (compare-trees.ts).
 */
export function ancestorOwnerOf(input: DiskInput, file: { storage: FileStorage; generation: number; name: string }, offset: number, length: number): Provenance | null {
  const { storage } = file;
  const key = {};
  const ranges = rangesOnDisk(key, storage, offset, length);
  if (ranges.reduce((n, r) => n + r.length, 0) < length || input.ancestors.length === 0) return null;
  // Bytes this layer wrote are its own, whoever owned the blocks before: only bytes the parent's
  // view holds too can be an ancestor's. One read on each side, before any scan of inodes.
  if (!sameInParent(input, ranges)) return null;
  const claims = claimFragments(input, ranges);
  // The same inode (number and generation: a reused number gets a new generation) holding the
  // same bytes at the same offset in an ancestor is this very file, inherited: a version the step
  // did not rewrite, not blocks it failed to write.
  if (inherited(input, ranges, claims, storage.inode, file.generation)) return null;
  const owners = attribute(input, ranges, claims, input.fragmentSize).get(key) ?? [];
  if (owners.reduce((n, o) => n + o.matchedBytes, 0) < length) return null;
  // An owner of the same name is this file's own earlier version (removed and copied again into
  // the same blocks), not another file: as the candidates' rescue, it proves nothing.
  if (owners.some((o) => basename(o.path) === basename(file.name))) return null;
  return { ...provenanceOf(input, owners[0]!), fileOffset: owners[0]!.fileOffset };
}
