// The reverse map, like The Sleuth Kit's `ifind -d` followed by `ffind`: given fragments (or
// byte offsets) of the filesystem, which inode owns each, as file data, directory data, symlink
// data, an indirect block or extended attributes, and a path to it. One scan over the
// allocated inodes, stopping as soon as every fragment is placed; then a path to each owner,
// from the directories of its cylinder group and `..` (inode-paths.ts), and for those still
// without one a walk from the root, stopping as soon as every owner has one. It answers "which file owned these
// bytes" in a parent layer.

import { escapeBytes } from '../../report/escape.js';
import { UserError } from '../../util/errors.js';
import type { FfsFilesystem } from './filesystem.js';
import { firstPaths } from './inode-paths.js';
import { ROOTINO, SBLOCKSIZE } from './superblock.js';
import { partitionPoint } from '../../util/partition-point.js';

export interface OwnerPath {
  /** Absolute path in the filesystem ("/" for the root), bytes. */
  path: Buffer;
  display: string;
}

export type FragmentOwner =
  | {
      fragment: number;
      kind: 'inode';
      ino: number;
      generation: number;
      role: 'data' | 'directory' | 'symlink' | 'indirect' | 'extattr';
      /** For data: byte offset in the file where this fragment's bytes start; else null. */
      fileOffset: number | null;
      /** Indirect level (1-3), 0 otherwise. */
      level: number;
      /** Whether the cylinder group's map says the fragment is free (an inconsistency). */
      free: boolean | null;
      /** Paths to the inode (hard links give several), empty when none was found. */
      paths: OwnerPath[];
    }
  | {
      fragment: number;
      kind: 'metadata';
      what: 'boot-area' | 'superblock' | 'cylinder-group' | 'inode-table' | 'cs-summary' | 'reserved';
      cg: number;
      /** For inode-table: the inode numbers this fragment holds. */
      inodes: { first: number; last: number } | null;
    }
  | {
      fragment: number;
      /** No allocated inode claims it; `free` says what the fragment map says. */
      kind: 'unowned';
      free: boolean | null;
    }
  | { fragment: number; kind: 'outside' };

export interface ReverseMapOptions {
  /** Look paths up (default true). */
  paths?: boolean;
  /** Find every path of a hard-linked owner (a full walk) rather than the first (default false). */
  allPaths?: boolean;
  /** At most this many paths per owner (default 8). */
  maxPaths?: number;
  /** Bounds of the path walk. */
  maxEntries?: number;
  maxDepth?: number;
}

export interface ReverseMapResult {
  /** One per distinct requested fragment, in the order first asked. */
  owners: FragmentOwner[];
  /** Allocated inodes whose blocks were walked. */
  inodesScanned: number;
  /** Inodes or directories that could not be read (skipped), one line each, at most 100. */
  problems: string[];
}

const MAX_PROBLEMS = 100;

/** Which inode (or which metadata) owns each fragment. */
export function findOwners(fs: FfsFilesystem, fragments: readonly number[], opts: ReverseMapOptions = {}): ReverseMapResult {
  const geo = fs.geometry;
  const problems: string[] = [];
  const problem = (msg: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(msg);
  };
  const order: number[] = [];
  const result = new Map<number, FragmentOwner>();
  const pending = new Set<number>();
  for (const f of fragments) {
    if (result.has(f) || pending.has(f)) continue;
    order.push(f);
    if (!Number.isSafeInteger(f) || f < 0 || f >= geo.size) {
      result.set(f, { fragment: f, kind: 'outside' });
      continue;
    }
    const meta = metadataOwner(fs, f);
    if (meta) result.set(f, meta);
    else pending.add(f);
  }
  const inodesScanned = scanInodes(fs, pending, result, problem);
  for (const f of pending) result.set(f, { fragment: f, kind: 'unowned', free: null });

  // What the fragment maps say.
  for (const owner of result.values()) {
    if (owner.kind !== 'inode' && owner.kind !== 'unowned') continue;
    try {
      owner.free = fs.isFragmentFree(owner.fragment);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      problem(err.message);
    }
  }

  if (opts.paths ?? true) addPaths(fs, [...result.values()], opts, problem);
  return { owners: order.map((f) => result.get(f)!), inodesScanned, problems };
}

/**
 * One pass over the allocated inodes, cylinder group by cylinder group, walking each one's
 * blocks; stops as soon as `pending` is empty. Returns how many inodes were walked.
 */
function scanInodes(fs: FfsFilesystem, pending: Set<number>, result: Map<number, FragmentOwner>, problem: (m: string) => void): number {
  const geo = fs.geometry;
  const targets = [...pending].sort((a, b) => a - b);
  let scanned = 0;
  for (let c = 0; c < geo.ncg && pending.size > 0; c++) {
    let used: (i: number) => boolean;
    let initialized = geo.ipg;
    try {
      const cg = fs.cylinderGroup(c);
      used = (i) => cg.inodeUsed(i);
      initialized = cg.initializedInodes;
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      problem(err.message);
      if (geo.version === 2) continue; // without the header, UFS2 inode blocks may be garbage
      used = () => true; // no map: every inode with blocks is a candidate
    }
    for (let i = 0; i < initialized && pending.size > 0; i++) {
      const ino = c * geo.ipg + i;
      if (ino < ROOTINO || !used(i)) continue;
      try {
        if (claimFragments(fs, ino, targets, pending, result)) scanned++;
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        problem(err.message);
      }
    }
  }
  return scanned;
}

/** Walk one inode's blocks and record it as the owner of the pending targets they cover. */
function claimFragments(fs: FfsFilesystem, ino: number, targets: readonly number[], pending: Set<number>, result: Map<number, FragmentOwner>): boolean {
  const inode = fs.inode(ino);
  const bm = fs.blockMap;
  if (!bm.hasBlocks(inode)) return false;
  const fsize = fs.geometry.fsize;
  bm.walk(inode, (v) => {
    if (v.fragment === 0) return;
    for (let k = partitionPoint(targets.length, (i) => targets[i]! < v.fragment); k < targets.length && targets[k]! < v.fragment + v.fragments; k++) {
      const f = targets[k]!;
      if (!pending.delete(f)) continue;
      const role =
        v.kind === 'indirect' ? 'indirect' : v.kind === 'extattr' ? 'extattr' : inode.kind === 'directory' ? 'directory' : inode.kind === 'symlink' ? 'symlink' : 'data';
      result.set(f, {
        fragment: f,
        kind: 'inode',
        ino,
        generation: inode.generation,
        role,
        fileOffset: v.kind === 'data' ? v.fileOffset + (f - v.fragment) * fsize : null,
        level: v.level,
        free: null,
        paths: [],
      });
    }
    return pending.size > 0;
  });
  return true;
}

/** findOwners for byte offsets of the filesystem's device (each mapped to its fragment). */
export function findOwnersOfBytes(fs: FfsFilesystem, offsets: readonly number[], opts: ReverseMapOptions = {}): ReverseMapResult {
  return findOwners(
    fs,
    offsets.map((o) => Math.floor(o / fs.geometry.fsize)),
    opts,
  );
}

/**
 * Fill in the paths of owners found with `paths: false` (a caller that keeps only some of them
 * saves the search for the rest). Returns the problems met, one line each.
 */
export function addOwnerPaths(fs: FfsFilesystem, owners: Iterable<FragmentOwner>, opts: ReverseMapOptions = {}): string[] {
  const problems: string[] = [];
  addPaths(fs, [...owners], opts, (m) => problems.length < MAX_PROBLEMS && problems.push(m));
  return problems;
}

function addPaths(fs: FfsFilesystem, owners: FragmentOwner[], opts: ReverseMapOptions, problem: (m: string) => void): void {
  const byIno = new Map<number, OwnerPath[]>();
  for (const o of owners) {
    if (o.kind !== 'inode') continue;
    const shared = byIno.get(o.ino);
    if (shared) o.paths = shared; // one list per inode, copied apart below
    else byIno.set(o.ino, o.paths);
  }
  if (byIno.size === 0) return;
  if (opts.allPaths) everyPathByWalk(fs, byIno, opts, problem);
  else for (const [ino, path] of firstPaths(fs, byIno.keys(), problem, { maxDepth: opts.maxDepth, maxEntries: opts.maxEntries })) byIno.get(ino)!.push({ path, display: escapeBytes(path) });
  for (const o of owners) if (o.kind === 'inode') o.paths = [...o.paths];
}

/** Every name of each inode (hard links), up to maxPaths each: a walk of the whole tree. */
function everyPathByWalk(fs: FfsFilesystem, byIno: Map<number, OwnerPath[]>, opts: ReverseMapOptions, problem: (m: string) => void): void {
  const maxPaths = opts.maxPaths ?? 8;
  byIno.get(ROOTINO)?.push({ path: Buffer.from('/'), display: '/' });
  try {
    for (const e of fs.walkNames(ROOTINO, { maxDepth: opts.maxDepth, maxEntries: opts.maxEntries, onError: (err) => problem(err.message) })) {
      const paths = byIno.get(e.ino);
      if (!paths || paths.length >= maxPaths) continue;
      const path = Buffer.concat([Buffer.from('/'), e.path]);
      paths.push({ path, display: escapeBytes(path) });
    }
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    problem(err.message);
  }
}

/** Fragments that belong to the filesystem's own structures, by position alone. */
function metadataOwner(fs: FfsFilesystem, f: number): FragmentOwner | null {
  const geo = fs.geometry;
  const c = geo.dtog(f);
  if (geo.csaddr > 0 && f >= geo.csaddr && f < geo.csaddr + Math.ceil(geo.cssize / geo.fsize)) {
    return { fragment: f, kind: 'metadata', what: 'cs-summary', cg: c, inodes: null };
  }
  const sb = geo.cgsblock(c);
  const cgh = geo.cgtod(c);
  const imin = geo.cgimin(c);
  const dmin = geo.cgdmin(c);
  const meta = (what: Extract<FragmentOwner, { kind: 'metadata' }>['what'], inodes: { first: number; last: number } | null = null): FragmentOwner => ({
    fragment: f,
    kind: 'metadata',
    what,
    cg: c,
    inodes,
  });
  if (c === 0 && f < sb) {
    const primary = geo.superblockOffset / geo.fsize;
    return f >= primary && f < primary + Math.ceil(SBLOCKSIZE / geo.fsize) ? meta('superblock') : meta('boot-area');
  }
  if (f >= sb && f < cgh) return meta('superblock');
  if (f >= cgh && f < imin) return meta('cylinder-group');
  if (f >= imin && f < dmin) {
    const perFrag = geo.fsize / geo.inodeSize;
    const first = c * geo.ipg + (f - imin) * perFrag;
    if (first >= (c + 1) * geo.ipg) return meta('reserved');
    return meta('inode-table', { first, last: first + perFrag - 1 });
  }
  return null;
}

