// A path to each of a few inodes without walking the whole tree first. FFS keeps no parent
// pointer in a file's inode, but it places a new file's inode in its directory's cylinder group
// when it can (ffs_valloc prefers the parent's group), and every directory names its parent in
// `..`. So: read the directories of the inode's own group for an entry naming it, then climb
// `..` from that directory to the root, finding each step's name in its parent. Whatever this
// misses (a file placed in another group, a damaged directory) is found by a walk from the root.

import { UserError } from '../../util/errors.js';
import type { FfsFilesystem, WalkOptions } from './filesystem.js';
import { ROOTINO } from './superblock.js';

/** Deeper than any real tree, shallow enough to stop a `..` loop fast. */
const MAX_CLIMB = 256;

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
const SLASH = Buffer.from('/');

type Problem = (message: string) => void;

/**
 * A path to each inode of `inos` (absolute, "/" for the root): by the group's directories and
 * `..`, then by one walk from the root (within `bounds`) for the rest, stopping when all have
 * one. Inodes that no name reaches are absent from the result.
 */
export function firstPaths(fs: FfsFilesystem, inos: Iterable<number>, problem: Problem, bounds: Pick<WalkOptions, 'maxDepth' | 'maxEntries'> = {}): Map<number, Buffer> {
  const wanted = new Set(inos);
  const found = pathsByParentGroup(fs, wanted, problem);
  const missing = new Set([...wanted].filter((i) => !found.has(i)));
  if (missing.size === 0) return found;
  guarded(problem, () => {
    for (const e of fs.walkNames(ROOTINO, { ...bounds, onError: (err) => problem(err.message) })) {
      if (!missing.delete(e.ino)) continue;
      found.set(e.ino, absolute(e.path));
      if (missing.size === 0) break;
    }
  });
  return found;
}

/**
 * The first path found to each inode of `inos` by the group's directories and `..` alone;
 * inodes not found are absent from the result.
 */
export function pathsByParentGroup(fs: FfsFilesystem, inos: Iterable<number>, problem: Problem): Map<number, Buffer> {
  const found = new Map<number, Buffer>();
  const dirPaths = new Map<number, Buffer | null>([[ROOTINO, Buffer.alloc(0)]]);
  const files = new Map<number, Set<number>>(); // cylinder group -> inodes wanted there
  for (const ino of new Set(inos)) {
    const kind = guarded(problem, () => fs.inode(ino).kind);
    if (kind === 'directory') {
      const p = directoryPath(fs, ino, dirPaths, problem);
      if (p) found.set(ino, absolute(p));
    } else if (kind !== undefined) {
      const c = Math.floor(ino / fs.geometry.ipg);
      files.set(c, (files.get(c) ?? new Set()).add(ino));
    }
  }
  for (const [c, wanted] of files) {
    for (const [ino, { dir, name }] of entriesInGroupDirectories(fs, c, wanted, problem)) {
      const p = directoryPath(fs, dir, dirPaths, problem);
      if (p) found.set(ino, absolute(p.length ? Buffer.concat([p, SLASH, name]) : name));
    }
  }
  return found;
}

/** For each wanted inode, the first directory of group `c` with an entry naming it, and the name. */
function entriesInGroupDirectories(fs: FfsFilesystem, c: number, wanted: Set<number>, problem: Problem): Map<number, { dir: number; name: Buffer }> {
  const out = new Map<number, { dir: number; name: Buffer }>();
  const cg = guarded(problem, () => fs.cylinderGroup(c));
  if (!cg) return out;
  const ipg = fs.geometry.ipg;
  for (let i = 0; i < cg.initializedInodes && out.size < wanted.size; i++) {
    const dir = c * ipg + i;
    if (dir < ROOTINO || !cg.inodeUsed(i)) continue;
    guarded(problem, () => {
      if (fs.inode(dir).kind !== 'directory') return;
      for (const e of fs.dirEntries(dir)) {
        if (wanted.has(e.ino) && !out.has(e.ino) && !isDot(e.name)) out.set(e.ino, { dir, name: e.name });
      }
    });
  }
  return out;
}

/** A directory's path below the root (empty for the root) by climbing `..`; null when the climb fails. */
function directoryPath(fs: FfsFilesystem, dir: number, cache: Map<number, Buffer | null>, problem: Problem): Buffer | null {
  const names: Buffer[] = [];
  const seen = new Set<number>();
  let cur = dir;
  while (!cache.has(cur)) {
    if (seen.has(cur) || seen.size >= MAX_CLIMB) return remember(cache, dir, null);
    seen.add(cur);
    const step = guarded(problem, () => nameInParent(fs, cur));
    if (!step) return remember(cache, dir, null);
    names.push(step.name);
    cur = step.parent;
  }
  const base = cache.get(cur);
  if (base === null || base === undefined) return remember(cache, dir, null);
  const parts = base.length ? [base, ...names.reverse()] : names.reverse();
  return remember(cache, dir, Buffer.concat(parts.flatMap((p, i) => (i ? [SLASH, p] : [p]))));
}

/** Directory `dir`'s parent (its `..`) and the name the parent gives it. */
function nameInParent(fs: FfsFilesystem, dir: number): { parent: number; name: Buffer } | null {
  let parent: number | null = null;
  for (const e of fs.dirEntries(dir)) {
    if (e.name.equals(DOTDOT)) {
      parent = e.ino;
      break;
    }
  }
  if (parent === null || parent === dir) return null;
  for (const e of fs.dirEntries(parent)) {
    if (e.ino === dir && !isDot(e.name)) return { parent, name: e.name };
  }
  return null;
}

function remember(cache: Map<number, Buffer | null>, dir: number, p: Buffer | null): Buffer | null {
  cache.set(dir, p);
  return p;
}

function absolute(p: Buffer): Buffer {
  return Buffer.concat([SLASH, p]);
}

function isDot(name: Buffer): boolean {
  return name.equals(DOT) || name.equals(DOTDOT);
}

/** Runs `f`; a UserError (damaged metadata) becomes a problem line and undefined. */
function guarded<T>(problem: Problem, f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    problem(err.message);
    return undefined;
  }
}
