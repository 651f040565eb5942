// The files under dst, read from the filesystem in-process, as the same Tree the boot path
// gives: paths relative to dst, regular files read lazily (streamed through the FFS reader while
// the image is open), symlink targets as data, hard links as files with the same bytes. Each file
// also says where its bytes are on the disk and which chain element holds them (`storage`).

import { isMapped, type BlockDevice } from '../../image/block-device.js';
import type { FfsFilesystem, Inode, WalkEntry } from '../../fs/ffs/index.js';
import { contentless, type ChunkReader, type FileStorage, type StorageBlock, type Tree, type TreeEntry } from '../../tree/tree.js';
import { UserError } from '../../util/errors.js';
import { escapeText } from '../../report/escape.js';
import type { FsSource } from './fs-source.js';

export interface FsTreeOptions {
  fs: FfsFilesystem;
  /** Where the files' bytes are read from later (open, or reopened after the extraction closes). */
  source: FsSource;
  /** The whole disk (a mapped device: the chain), for storage's chain elements. */
  disk: BlockDevice;
  /** Byte offset of the filesystem's partition on the disk. */
  partitionOffset: number;
  /** dst inside the filesystem. */
  pathInFs: string;
  /** Members under dst (the copy step's src list); everything when absent. */
  src?: string[];
  /** Most entries taken (a hostile directory tree cannot grow memory without bound). */
  maxEntries?: number;
}

const SPECIAL: Partial<Record<Inode['kind'], string>> = {
  fifo: 'fifo',
  socket: 'socket',
  'char-device': 'char-device',
  'block-device': 'block-device',
};

/** Split the file's disk extents where the chain element holding them changes. */
export function storageOf(fs: FfsFilesystem, ino: number, disk: BlockDevice, partitionOffset: number): FileStorage {
  const blocks: StorageBlock[] = [];
  for (const ext of fs.extents(ino)) {
    if (ext.diskOffset === null) {
      blocks.push({ offset: ext.fileOffset, length: ext.length, disk: null, layer: null });
      continue;
    }
    const start = partitionOffset + ext.diskOffset;
    if (!isMapped(disk)) {
      blocks.push({ offset: ext.fileOffset, length: ext.length, disk: start, layer: null });
      continue;
    }
    for (const m of disk.map(start, ext.length)) {
      const layer = m.element === null ? null : (disk.elements[m.element]?.label ?? null);
      blocks.push({ offset: ext.fileOffset + (m.offset - start), length: m.length, disk: m.offset, layer });
    }
  }
  return { inode: ino, blocks };
}

function fileEntry(o: FsTreeOptions, path: string, inode: Inode, hardLinkOf: string | undefined): TreeEntry {
  const size = inode.size;
  const ino = inode.ino;
  const openReader = async (): Promise<ChunkReader> => {
    const held = o.source.hold();
    const r = held.fs.openFile(ino);
    return { read: async (buf, position) => r.read(buf, position), close: async () => held.release() };
  };
  const readUpTo = async (n: number): Promise<Buffer> =>
    o.source.with((fs) => {
      const buf = Buffer.alloc(Math.min(n, size));
      const got = fs.openFile(ino).read(buf, 0);
      return got === buf.length ? buf : buf.subarray(0, got);
    });
  const entry: TreeEntry = {
    path,
    kind: 'file',
    size,
    read: () => readUpTo(size),
    readHead: (n) => readUpTo(n),
    openReader,
    storage: storageOf(o.fs, inode.ino, o.disk, o.partitionOffset),
  };
  if (hardLinkOf !== undefined) entry.hardLinkOf = hardLinkOf;
  return entry;
}

function entryFor(o: FsTreeOptions, path: string, ino: number, firstName: Map<number, string>): TreeEntry {
  const inode = o.fs.inode(ino);
  switch (inode.kind) {
    case 'file': {
      const first = firstName.get(ino);
      if (first === undefined) firstName.set(ino, path);
      return fileEntry(o, path, inode, first);
    }
    case 'directory':
      return contentless(path, 'directory');
    case 'symlink':
      return contentless(path, 'symlink', { linkTarget: o.fs.readLink(inode).toString('utf8') });
    default:
      return contentless(path, 'special', { special: SPECIAL[inode.kind] ?? inode.kind });
  }
}

function join(prefix: string, rel: string): string {
  return prefix ? `${prefix}/${rel}` : rel;
}

/** Add a directory's subtree (walked by the FFS reader, bounded, loops refused) under `prefix`. */
function addSubtree(o: FsTreeOptions, tree: Tree, dirIno: number, prefix: string, firstName: Map<number, string>): void {
  const walked: WalkEntry[] = o.fs.walk(dirIno, { maxEntries: o.maxEntries ?? 1_000_000 });
  for (const w of walked) {
    const path = join(prefix, w.path.toString('utf8'));
    if (w.loop) {
      tree.set(path, contentless(path, 'special', { special: 'directory-loop', unreadable: `${escapeText(path)}: a directory seen twice (a loop in the filesystem)` }));
      continue;
    }
    tree.set(path, entryFor(o, path, w.ino, firstName));
  }
}

export function readFsTree(o: FsTreeOptions): Tree {
  const tree: Tree = new Map();
  const firstName = new Map<number, string>();
  const root = o.fs.lookup(o.pathInFs);
  if (o.fs.inode(root).kind !== 'directory') throw new UserError(`${escapeText(o.pathInFs)}: not a directory in the layer's filesystem`);
  const members = o.src && o.src.length > 0 ? o.src : ['.'];
  for (const m of members) {
    const rel = m.split('/').filter((s) => s !== '' && s !== '.').join('/');
    if (rel === '') {
      addSubtree(o, tree, root, '', firstName);
      continue;
    }
    const ino = o.fs.tryLookup(`${o.pathInFs.replace(/\/+$/, '')}/${rel}`);
    if (ino === null) continue; // absent: classified `missing`
    tree.set(rel, entryFor(o, rel, ino, firstName));
    if (o.fs.inode(ino).kind === 'directory') addSubtree(o, tree, ino, rel, firstName);
  }
  return tree;
}
