// A host directory as a Tree: walked without following symlinks, files read lazily.

import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync, type Dirent, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import type { ChunkReader, Tree, TreeEntry } from './tree.js';

/** Files up to this size are read synchronously: for small cached files that is several times faster. */
const SYNC_READ_MAX = 256 * 1024;

function specialKind(st: Stats | Dirent): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'unknown';
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'ENOTDIR') return 'is not a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'cannot be read (permission denied)';
  return (err as Error).message;
}

/** Check that `dir` is an existing, readable directory; `what` names it in the error. */
export async function requireDirectory(dir: string, what: string): Promise<void> {
  if (dir.trim() === '') throw new UserError(`${what}: an empty path`);
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    throw new UserError(`${what} ${dir}: ${describe(err)}`);
  }
  if (!st.isDirectory()) throw new UserError(`${what} ${dir}: is not a directory`);
  try {
    readdirSync(dir);
  } catch (err) {
    throw new UserError(`${what} ${dir}: ${describe(err)}`);
  }
}

/** Read `n` bytes from the start of a file with as few system calls as possible. */
async function readPrefix(full: string, n: number): Promise<Buffer> {
  const fh = await open(full, 'r');
  try {
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

function readPrefixSync(full: string, n: number): Buffer {
  const fd = openSync(full, 'r');
  try {
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const k = readSync(fd, buf, got, n - got, got);
      if (k === 0) break;
      got += k;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function fileEntry(path: string, full: string, size: number, what: string): TreeEntry {
  const wrap = (err: unknown): never => {
    throw new UserError(`${what} ${full}: ${describe(err)}`);
  };
  // Small files in one synchronous call; large ones with positioned reads into one buffer.
  const readUpTo = async (n: number): Promise<Buffer> => {
    try {
      if (n <= SYNC_READ_MAX) return n >= size ? readFileSync(full) : readPrefixSync(full, n);
      return await readPrefix(full, n);
    } catch (err) {
      return wrap(err);
    }
  };
  const openReader = async (): Promise<ChunkReader> => {
    const fh = await open(full, 'r').catch(wrap);
    return {
      read: async (buf, position) => {
        let got = 0;
        while (got < buf.length) {
          const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got;
      },
      close: () => fh.close(),
    };
  };
  return { path, kind: 'file', size, read: () => readUpTo(size), readHead: (n: number) => readUpTo(Math.min(n, size)), openReader };
}

/**
 * Walk `root` into a Tree. Paths are relative and `/`-separated. Symlinks are read, never
 * followed; sockets, fifos and devices are recorded, never opened. The walk itself is
 * synchronous: metadata calls on the event loop are several times faster than through the pool.
 */
export async function readDirectoryTree(root: string, what = 'directory'): Promise<Tree> {
  await requireDirectory(root, what);
  const tree: Tree = new Map();
  const walk = (rel: string): void => {
    const abs = rel ? join(root, rel) : root;
    let names: Dirent[];
    try {
      names = readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      throw new UserError(`${what} ${abs}: ${describe(err)}`);
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of names) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      const full = join(root, path);
      try {
        if (d.isDirectory()) {
          tree.set(path, { path, kind: 'directory', size: 0, read: async () => Buffer.alloc(0) });
          walk(path);
        } else if (d.isSymbolicLink()) {
          tree.set(path, { path, kind: 'symlink', size: 0, linkTarget: readlinkSync(full), read: async () => Buffer.alloc(0) });
        } else if (d.isFile()) {
          tree.set(path, fileEntry(path, full, lstatSync(full).size, what));
        } else {
          tree.set(path, { path, kind: 'special', size: 0, special: specialKind(d), read: async () => Buffer.alloc(0) });
        }
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw new UserError(`${what} ${full}: ${describe(err)}`);
      }
    }
  };
  walk('');
  return tree;
}
