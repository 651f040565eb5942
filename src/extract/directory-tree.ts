// A host directory as a Tree: walked without following symlinks, files read lazily.

import { closeSync, lstatSync, readdirSync, readlinkSync, statSync, type Dirent, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { describeFsError, errnoCode } from '../util/fs-errors.js';
import { LISTED_FILE_FLAGS, NotAFileNow, openListedSync } from '../util/open-listed.js';
import { readFully, readFullySync } from '../util/read-fully.js';
import { contentless, type ChunkReader, type Tree, type TreeEntry } from '../tree/tree.js';

/** Files up to this size are read synchronously: for small cached files that is several times faster. */
const SYNC_READ_MAX = 256 * 1024;

function specialKind(st: Stats | Dirent): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'unknown';
}

/** Check that `dir` is an existing, readable directory; `what` names it in the error. */
export async function requireDirectory(dir: string, what: string): Promise<void> {
  if (dir.trim() === '') throw new UserError(`${what}: an empty path`);
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    throw new UserError(`${what} ${dir}: ${describeFsError(err)}`);
  }
  if (!st.isDirectory()) throw new UserError(`${what} ${dir}: is not a directory`);
  try {
    readdirSync(dir);
  } catch (err) {
    throw new UserError(`${what} ${dir}: ${describeFsError(err)}`);
  }
}

/** Open a listed file for reading, refusing anything but a regular file (util/open-listed.ts). */
async function openFile(full: string): Promise<FileHandle> {
  const fh = await open(full, LISTED_FILE_FLAGS);
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw new NotAFileNow();
  }
  return fh;
}

/** Read `n` bytes from the start of a file with as few system calls as possible. */
async function readPrefix(full: string, n: number): Promise<Buffer> {
  const fh = await openFile(full);
  try {
    const buf = Buffer.allocUnsafe(n);
    return buf.subarray(0, await readFully(fh, buf, 0));
  } finally {
    await fh.close();
  }
}

function readPrefixSync(full: string, n: number): Buffer {
  const fd = openListedSync(full);
  try {
    const buf = Buffer.allocUnsafe(n);
    return buf.subarray(0, readFullySync(fd, buf, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * A regular file of a host directory. A class, not an object of closures: a tree holds one entry
 * a file (tens of thousands), and five closures each were 13 MB of a 4 GB classification's heap.
 *
 * Its size is not stat'ed by the walk: a stat a file was 80% of a walk's time (200 ms for the
 * 41,600 files of a 1 GB pair of trees, before anything else could start), and the scan that
 * reads a pair opens and fstat's both files anyway. The first to need it learns it: the scan
 * (sawSize), or whoever reads `size` (an lstat, as the walk made).
 */
class HostFileEntry implements TreeEntry {
  readonly kind = 'file' as const;
  /** The same name as `full`: `hostFile` tells other readers, `full` is what this one opens. */
  readonly hostFile: string;
  /** -1 until known. A plain property, not #private: atPath copies entries with Object.assign. */
  private known = -1;
  constructor(
    readonly path: string,
    private readonly full: string,
    private readonly what: string,
  ) {
    this.hostFile = full;
  }

  get size(): number {
    if (this.known < 0) {
      try {
        this.known = lstatSync(this.full).size;
      } catch (err) {
        throw new UserError(`${this.what} ${this.full}: ${describeFsError(err)}`);
      }
    }
    return this.known;
  }

  peekSize(): number | undefined {
    return this.known < 0 ? undefined : this.known;
  }

  sawSize(n: number): void {
    if (this.known < 0) this.known = n;
  }

  read(): Promise<Buffer> {
    return this.readUpTo(this.size);
  }

  readHead(n: number): Promise<Buffer> {
    return this.readUpTo(Math.min(n, this.size));
  }

  async openReader(): Promise<ChunkReader> {
    const fh = await openFile(this.full).catch((err: unknown) => this.fail(err));
    return {
      read: (buf, position) => readFully(fh, buf, position),
      close: () => fh.close(),
    };
  }

  /** Small files in one synchronous call; large ones with positioned reads into one buffer. */
  private async readUpTo(n: number): Promise<Buffer> {
    try {
      if (n <= SYNC_READ_MAX) return readPrefixSync(this.full, n);
      return await readPrefix(this.full, n);
    } catch (err) {
      return this.fail(err);
    }
  }

  private fail(err: unknown): never {
    // The name was a regular file when listed: ELOOP under O_NOFOLLOW means a symlink took its place.
    const why = err instanceof NotAFileNow ? 'is no longer a regular file (not read)' : errnoCode(err) === 'ELOOP' ? 'is a symbolic link now (not followed)' : describeFsError(err);
    throw new UserError(`${this.what} ${this.full}: ${why}`);
  }
}

/**
 * What joins `root` and a relative path walked below it: path.join's result for such a path, by
 * concatenation (path.join costs about 2 µs, and a walk of 20,000 files makes 20,000 names).
 */
export function pathPrefix(root: string): string {
  const dir = join(root, '.');
  return dir === '.' ? '' : dir.endsWith('/') ? dir : `${dir}/`;
}

/**
 * Walk `root` into a Tree. Paths are relative and `/`-separated. Symlinks are read, never
 * followed; sockets, fifos and devices are recorded, never opened; files are listed by name and
 * kind, their sizes learnt when first needed (HostFileEntry). The walk itself is synchronous:
 * metadata calls on the event loop are several times faster than through the pool.
 */
export async function readDirectoryTree(root: string, what = 'directory'): Promise<Tree> {
  await requireDirectory(root, what);
  const tree: Tree = new Map();
  const prefix = pathPrefix(root);
  const walk = (rel: string): void => {
    const abs = rel ? prefix + rel : root;
    let names: Dirent[];
    try {
      names = readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      throw new UserError(`${what} ${abs}: ${describeFsError(err)}`);
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of names) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      const full = prefix + path;
      try {
        if (d.isDirectory()) {
          tree.set(path, contentless(path, 'directory'));
          walk(path);
        } else if (d.isSymbolicLink()) {
          tree.set(path, contentless(path, 'symlink', { linkTarget: readlinkSync(full) }));
        } else if (d.isFile()) {
          tree.set(path, new HostFileEntry(path, full, what));
        } else {
          tree.set(path, contentless(path, 'special', { special: specialKind(d) }));
        }
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw new UserError(`${what} ${full}: ${describeFsError(err)}`);
      }
    }
  };
  walk('');
  return tree;
}
