// An FFS (UFS1 or UFS2) filesystem opened read-only on a block device, in-process: the
// superblock, cylinder groups, inodes, block maps and directories behind one object, like The
// Sleuth Kit's ffs.c. What is immutable for an open filesystem (superblock, cg headers, inode
// blocks, indirect blocks) is cached in bounded caches; nothing is ever written.

import type { BlockDevice } from '../../image/block-device.js';
import { escapeBytes, escapeText } from '../../report/escape.js';
import { UserError } from '../../util/errors.js';
import { BlockMap, FileReader, type BlockMapOptions, type Extent, type MetadataBlock } from './block-map.js';
import { CylinderGroups, type CylinderGroup } from './cylinder-group.js';
import { DIRBLKSIZ, DT_DIR, DT_UNKNOWN, parseDirChunk, type DirEntry } from './directory.js';
import { InodeTable, type Inode, type InodeKind, type InodeTableRange } from './inode.js';
import { findSuperblock, volumeName, ROOTINO, type Geometry } from './superblock.js';

export interface FfsInfo {
  type: 'ufs1' | 'ufs2';
  version: 1 | 2;
  /** Byte offset of the superblock that was used. */
  superblockOffset: number;
  blockSize: number;
  fragmentSize: number;
  fragmentsPerBlock: number;
  cylinderGroups: number;
  inodesPerGroup: number;
  fragmentsPerGroup: number;
  inodeSize: number;
  inodeCount: number;
  /** Filesystem size in fragments and in bytes. */
  fragments: number;
  bytes: number;
  /** Offset of the data area within each cylinder group, in fragments (fs_dblkno). */
  dataStartFragment: number;
  /** Byte offset of cylinder group 0's first data fragment. */
  dataStart: number;
  /** Volume name (fs_volname) escaped for display, and its bytes. */
  volumeName: string;
  volumeNameBytes: Buffer;
  /** fs_id[0], fs_id[1] as 16 hex digits. */
  volumeId: string;
  /** Longest symlink kept in the inode itself (0: none are). */
  maxSymlinkLength: number;
  /** fs_time: last written, seconds since the epoch. */
  lastWritten: number;
  /** fs_clean != 0. */
  clean: boolean;
  /** fs_flags (UFS1: fs_old_flags). */
  flags: number;
}

export interface OpenOptions extends BlockMapOptions {
  /** How messages name the device (default: the device's name). */
  label?: string;
}

export interface WalkOptions {
  /** Deepest level descended into (1: the directory's own entries only). Default 256. */
  maxDepth?: number;
  /** Most entries returned before the walk refuses to go on. Default 1,000,000. */
  maxEntries?: number;
  /**
   * Called for a directory that cannot be read (its entries are then left out) instead of
   * failing the walk. Without it, the first bad directory's UserError ends the walk.
   */
  onError?: (err: UserError, dirIno: number, dirPath: Buffer) => void;
}

export interface WalkEntry {
  /** Path relative to the walked directory, name bytes joined by '/'. */
  path: Buffer;
  /** The same, escaped for display. */
  display: string;
  ino: number;
  /** d_type of the directory entry. */
  type: number;
  /** The kind, mode and size of the entry's inode. */
  kind: InodeKind;
  mode: number;
  size: number;
  /** 1 for the walked directory's own entries. */
  depth: number;
  /** A directory already seen in this walk (a loop or a hard-linked directory): not descended. */
  loop?: true;
}

/** MAXPATHLEN: the longest symlink target accepted. */
const MAXPATHLEN = 1024;

export class FfsFilesystem {
  readonly geometry: Geometry;
  readonly info: FfsInfo;
  readonly cylinderGroups: CylinderGroups;
  readonly inodes: InodeTable;
  readonly blockMap: BlockMap;

  private constructor(
    readonly device: BlockDevice,
    geo: Geometry,
    opts: OpenOptions,
  ) {
    this.geometry = geo;
    this.cylinderGroups = new CylinderGroups(device, geo);
    this.inodes = new InodeTable(device, geo, this.cylinderGroups);
    this.blockMap = new BlockMap(device, geo, opts);
    const raw = geo.raw;
    const vol = volumeName(raw);
    const id = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
    this.info = {
      type: geo.version === 1 ? 'ufs1' : 'ufs2',
      version: geo.version,
      superblockOffset: geo.superblockOffset,
      blockSize: geo.bsize,
      fragmentSize: geo.fsize,
      fragmentsPerBlock: geo.frag,
      cylinderGroups: geo.ncg,
      inodesPerGroup: geo.ipg,
      fragmentsPerGroup: geo.fpg,
      inodeSize: geo.inodeSize,
      inodeCount: geo.inodeCount,
      fragments: geo.size,
      bytes: geo.size * geo.fsize,
      dataStartFragment: geo.dblkno,
      dataStart: geo.cgdmin(0) * geo.fsize,
      volumeName: vol.display,
      volumeNameBytes: vol.bytes,
      volumeId: id(raw.id0) + id(raw.id1),
      maxSymlinkLength: geo.maxSymlinkLen,
      lastWritten: geo.version === 1 ? raw.old_time : raw.time,
      clean: raw.clean !== 0,
      flags: geo.version === 1 ? raw.old_flags : raw.flags,
    };
  }

  /**
   * Open the FFS filesystem on `dev` (a partition window). The superblock is searched at
   * 65536, 8192, 0 and 262144; the first that passes the sanity checks is used.
   */
  static open(dev: BlockDevice, opts: OpenOptions = {}): FfsFilesystem {
    const label = escapeText(opts.label ?? dev.name);
    const found = findSuperblock(dev, label);
    if (!found.geometry) {
      const r = found.refused[0];
      if (r) throw new UserError(`${label}: UFS${r.version} superblock at ${r.offset} is unusable: ${r.why}`);
      throw new UserError(`${label}: no UFS1 or UFS2 superblock at 65536, 8192, 0 or 262144`);
    }
    return new FfsFilesystem(dev, found.geometry, opts);
  }

  /** "<device>: UFS2", the prefix of this filesystem's messages. */
  get label(): string {
    return this.geometry.label;
  }

  // --- cylinder groups -------------------------------------------------------------------

  cylinderGroup(c: number): CylinderGroup {
    return this.cylinderGroups.get(c);
  }

  /** Whether the inode's bit is set in its cylinder group's used-inode map. */
  isInodeAllocated(ino: number): boolean {
    this.inodes.checkIno(ino);
    const g = this.geometry;
    return this.cylinderGroups.get(g.inoToCg(ino)).inodeUsed(ino % g.ipg);
  }

  /** Whether the fragment's bit is set in its cylinder group's free-fragment map. */
  isFragmentFree(frag: number): boolean {
    const g = this.geometry;
    if (!Number.isSafeInteger(frag) || frag < 0 || frag >= g.size) throw g.error(`fragment ${frag} is outside the filesystem (0-${g.size - 1})`);
    return this.cylinderGroups.get(g.dtog(frag)).fragmentFree(frag % g.fpg);
  }

  // --- inodes ----------------------------------------------------------------------------

  inode(ino: number): Inode {
    return this.inodes.read(ino);
  }

  /** Byte offset of inode ino in the filesystem's device. */
  inodeOffset(ino: number): number {
    return this.inodes.offset(ino);
  }

  /** Each cylinder group's inode table: where inode blocks live, for comparing layers. */
  inodeTables(): InodeTableRange[] {
    return this.inodes.ranges();
  }

  // --- block maps and file data -----------------------------------------------------------

  private resolve(ino: number | Inode): Inode {
    return typeof ino === 'number' ? this.inode(ino) : ino;
  }

  /** The file's bytes as extents, merged where contiguous; holes have diskOffset null. */
  extents(ino: number | Inode): Extent[] {
    return this.blockMap.extents(this.resolve(ino));
  }

  /** The file's indirect blocks (and UFS2 extended-attribute blocks). */
  metadataBlocks(ino: number | Inode): MetadataBlock[] {
    return this.blockMap.metadataBlocks(this.resolve(ino));
  }

  /** Positioned reads of a regular file (or any inode with blocks), streamed: nothing is held. */
  openFile(ino: number | Inode): FileReader {
    const inode = this.resolve(ino);
    if (!this.blockMap.hasBlocks(inode)) throw this.geometry.error(`inode ${inode.ino} is a ${describe(inode)}, not a file with data`);
    return new FileReader(this.device, this.geometry, this.blockMap, inode);
  }

  /** The whole file in memory, refused past `maxBytes` (default 64 MiB): use openFile for more. */
  readFile(ino: number | Inode, maxBytes = 64 * 1024 * 1024): Buffer {
    const r = this.openFile(ino);
    if (r.size > maxBytes) throw this.geometry.error(`inode ${r.inode.ino} holds ${r.size} bytes, more than the ${maxBytes} read at once`);
    const buf = Buffer.alloc(r.size);
    r.read(buf, 0);
    return buf;
  }

  /** A symlink's target, from the inode (fast symlink) or its data block (slow symlink). */
  readLink(ino: number | Inode): Buffer {
    const inode = this.resolve(ino);
    if (inode.kind !== 'symlink') throw this.geometry.error(`inode ${inode.ino} is a ${describe(inode)}, not a symbolic link`);
    if (inode.size >= MAXPATHLEN) throw this.geometry.error(`symbolic link inode ${inode.ino}: target of ${inode.size} bytes is longer than ${MAXPATHLEN - 1}`);
    if (this.blockMap.isFastSymlink(inode)) {
      if (inode.size > inode.pointerArea.length) throw this.geometry.error(`symbolic link inode ${inode.ino}: fast target of ${inode.size} bytes does not fit the inode`);
      return Buffer.from(inode.pointerArea.subarray(0, inode.size));
    }
    const buf = Buffer.alloc(inode.size);
    new FileReader(this.device, this.geometry, this.blockMap, inode).read(buf, 0);
    return buf;
  }

  // --- directories ------------------------------------------------------------------------

  /** A directory's entries, chunk by chunk, free slots skipped ("." and ".." included). */
  *dirEntries(ino: number | Inode): Generator<DirEntry> {
    const dir = this.resolve(ino);
    const geo = this.geometry;
    if (dir.kind !== 'directory') throw geo.error(`inode ${dir.ino} is a ${describe(dir)}, not a directory`);
    this.blockMap.prepare(dir);
    if (dir.size % DIRBLKSIZ !== 0) throw geo.error(`directory inode ${dir.ino}: size ${dir.size} is not a multiple of ${DIRBLKSIZ}`);
    const nblocks = Math.ceil(dir.size / geo.bsize);
    const seen = new Set<number>();
    const block = Buffer.alloc(geo.bsize);
    for (let lbn = 0; lbn < nblocks; lbn++) {
      const p = this.blockMap.bmap(dir, lbn);
      if (p === 0) throw geo.error(`directory inode ${dir.ino}: block ${lbn} is a hole`);
      if (seen.has(p)) throw geo.error(`directory inode ${dir.ino}: fragment ${p} is used twice (a loop)`);
      seen.add(p);
      const len = Math.min(geo.bsize, dir.size - lbn * geo.bsize);
      const data = block.subarray(0, len);
      this.device.read(data, p * geo.fsize);
      for (let off = 0; off < len; off += DIRBLKSIZ) {
        yield* parseDirChunk(data.subarray(off, off + DIRBLKSIZ), lbn * geo.bsize + off, dir.ino, geo);
      }
    }
  }

  /** A directory's entries, refused past `maxEntries` (default 1,000,000). */
  readDir(ino: number | Inode, maxEntries = 1_000_000): DirEntry[] {
    const out: DirEntry[] = [];
    for (const e of this.dirEntries(ino)) {
      if (out.length >= maxEntries) throw this.geometry.error(`directory inode ${this.resolve(ino).ino} has more than ${maxEntries} entries`);
      out.push(e);
    }
    return out;
  }

  /**
   * Resolve a path from the root without following symlinks (the last component may be one:
   * its own inode is returned). A missing component gives null; a component that is a symlink
   * or not a directory is a UserError that names it.
   */
  tryLookup(path: string | Uint8Array): number | null {
    const bytes = typeof path === 'string' ? Buffer.from(path, 'utf8') : Buffer.from(path);
    const parts = splitPath(bytes);
    let ino = ROOTINO;
    let walked = '';
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      const dir = this.inode(ino);
      if (dir.kind !== 'directory') {
        const what = dir.kind === 'symlink' ? `a symbolic link (to ${escapeBytes(this.readLink(dir))}), not followed` : `a ${describe(dir)}, not a directory`;
        throw this.geometry.error(`path ${escapeBytes(bytes)}: ${walked || '/'} is ${what}`);
      }
      let next: number | null = null;
      for (const e of this.dirEntries(dir)) {
        if (e.name.equals(name)) {
          next = e.ino;
          break;
        }
      }
      if (next === null) return null;
      ino = next;
      walked += '/' + escapeBytes(name);
    }
    return ino;
  }

  /** Like tryLookup, but a missing component is a UserError too. */
  lookup(path: string | Uint8Array): number {
    const ino = this.tryLookup(path);
    if (ino === null) {
      const shown = escapeBytes(typeof path === 'string' ? Buffer.from(path, 'utf8') : path);
      throw this.geometry.error(`path ${shown}: not found`);
    }
    return ino;
  }

  /**
   * Every entry under directory `dirIno`, depth first, "." and ".." left out, bounded in depth
   * and count; a directory met twice is listed with `loop` and not descended again.
   */
  *walkIter(dirIno: number, opts: WalkOptions = {}): Generator<WalkEntry> {
    const root = this.inode(dirIno);
    if (root.kind !== 'directory') throw this.geometry.error(`inode ${dirIno} is a ${describe(root)}, not a directory`);
    yield* this.walkDir(walkState(dirIno, opts), dirIno, Buffer.alloc(0), 1);
  }

  private *walkDir(st: WalkState, ino: number, prefix: Buffer, depth: number): Generator<WalkEntry> {
    const entries = this.dirEntries(ino);
    while (true) {
      let r: IteratorResult<DirEntry>;
      try {
        r = entries.next();
      } catch (err) {
        if (st.onError && err instanceof UserError) return st.onError(err, ino, prefix);
        throw err;
      }
      if (r.done) return;
      const e = r.value;
      if (isDot(e.name)) continue;
      if (++st.count > st.maxEntries) throw this.geometry.error(`walk of directory inode ${st.rootIno}: more than ${st.maxEntries} entries`);
      const path = prefix.length ? Buffer.concat([prefix, SLASH, e.name]) : e.name;
      let inode: Inode;
      try {
        inode = this.inode(e.ino);
      } catch (err) {
        if (st.onError && err instanceof UserError) {
          st.onError(err, ino, prefix);
          continue;
        }
        throw err;
      }
      const entry: WalkEntry = { path, display: escapeBytes(path), ino: e.ino, type: e.type, kind: inode.kind, mode: inode.mode, size: inode.size, depth };
      if (inode.kind !== 'directory') {
        yield entry;
        continue;
      }
      if (st.visited.has(e.ino)) {
        entry.loop = true;
        yield entry;
        continue;
      }
      st.visited.add(e.ino);
      yield entry;
      if (depth < st.maxDepth) yield* this.walkDir(st, e.ino, path, depth + 1);
    }
  }

  /**
   * The names under a directory, bounded like walkIter, without reading the inodes: a directory
   * is known by its entry's d_type (its inode is read only when d_type says nothing). For finding
   * where inodes are in the tree (the reverse map's paths), where the inodes themselves are not
   * needed. An entry whose d_type lies only leads to a directory not descended or a bad directory
   * reported to onError.
   */
  *walkNames(dirIno: number = ROOTINO, opts: WalkOptions = {}): Generator<{ path: Buffer; ino: number; depth: number }> {
    yield* this.walkNamesDir(walkState(dirIno, opts), dirIno, Buffer.alloc(0), 1);
  }

  private isDirectoryEntry(e: DirEntry): boolean {
    if (e.type !== DT_UNKNOWN) return e.type === DT_DIR;
    return this.inode(e.ino).kind === 'directory';
  }

  private *walkNamesDir(st: WalkState, ino: number, prefix: Buffer, depth: number): Generator<{ path: Buffer; ino: number; depth: number }> {
    let entries: DirEntry[];
    try {
      entries = [...this.dirEntries(ino)];
    } catch (err) {
      if (st.onError && err instanceof UserError) return st.onError(err, ino, prefix);
      throw err;
    }
    for (const e of entries) {
      if (isDot(e.name)) continue;
      if (++st.count > st.maxEntries) throw this.geometry.error(`walk of directory inode ${st.rootIno}: more than ${st.maxEntries} entries`);
      const path = prefix.length ? Buffer.concat([prefix, SLASH, e.name]) : e.name;
      yield { path, ino: e.ino, depth };
      let dir: boolean;
      try {
        dir = this.isDirectoryEntry(e);
      } catch (err) {
        if (st.onError && err instanceof UserError) {
          st.onError(err, ino, prefix);
          continue;
        }
        throw err;
      }
      if (!dir || st.visited.has(e.ino)) continue;
      st.visited.add(e.ino);
      if (depth < st.maxDepth) yield* this.walkNamesDir(st, e.ino, path, depth + 1);
    }
  }

  /** walkIter collected into an array. */
  walk(dirIno: number = ROOTINO, opts: WalkOptions = {}): WalkEntry[] {
    return [...this.walkIter(dirIno, opts)];
  }
}

const SLASH = Buffer.from('/');

interface WalkState {
  rootIno: number;
  maxDepth: number;
  maxEntries: number;
  onError: WalkOptions['onError'];
  visited: Set<number>;
  count: number;
}

/** A walk's bounds and progress, from the caller's options (depth 256 and a million entries by default). */
function walkState(rootIno: number, opts: WalkOptions): WalkState {
  return {
    rootIno,
    maxDepth: opts.maxDepth ?? 256,
    maxEntries: opts.maxEntries ?? 1_000_000,
    onError: opts.onError,
    visited: new Set<number>([rootIno]),
    count: 0,
  };
}

function isDot(name: Buffer): boolean {
  return (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);
}

function splitPath(path: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === 0x2f) {
      if (i > start && !(i - start === 1 && path[start] === 0x2e)) out.push(path.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

function describe(inode: Inode): string {
  switch (inode.kind) {
    case 'file':
      return 'regular file';
    case 'none':
      return 'free inode (mode 0)';
    case 'unknown':
      return `inode of unknown type (mode 0${inode.mode.toString(8)})`;
    default:
      return inode.kind;
  }
}
