// A host directory as a Tree: walked without following symlinks, files read lazily.

import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dirent, Stats } from 'node:fs';
import { UserError } from '../util/errors.js';
import type { Tree, TreeEntry } from './tree.js';

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
  let st: Stats;
  try {
    st = await stat(dir);
  } catch (err) {
    throw new UserError(`${what} ${dir}: ${describe(err)}`);
  }
  if (!st.isDirectory()) throw new UserError(`${what} ${dir}: is not a directory`);
  try {
    await readdir(dir);
  } catch (err) {
    throw new UserError(`${what} ${dir}: ${describe(err)}`);
  }
}

/**
 * Walk `root` into a Tree. Paths are relative and `/`-separated. Symlinks are read, never
 * followed; sockets, fifos and devices are recorded, never opened.
 */
export async function readDirectoryTree(root: string, what = 'directory'): Promise<Tree> {
  await requireDirectory(root, what);
  const tree: Tree = new Map();
  const walk = async (rel: string): Promise<void> => {
    const abs = rel ? join(root, rel) : root;
    let names: Dirent[];
    try {
      names = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      throw new UserError(`${what} ${abs}: ${describe(err)}`);
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of names) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      const full = join(root, path);
      if (d.isDirectory()) {
        tree.set(path, { path, kind: 'directory', size: 0, read: async () => Buffer.alloc(0) });
        await walk(path);
      } else if (d.isSymbolicLink()) {
        const target = await readlink(full);
        tree.set(path, { path, kind: 'symlink', size: 0, linkTarget: target, read: async () => Buffer.alloc(0) });
      } else if (d.isFile()) {
        const st = await lstat(full);
        const entry: TreeEntry = {
          path,
          kind: 'file',
          size: st.size,
          read: async () => {
            try {
              return await readFile(full);
            } catch (err) {
              throw new UserError(`${what} ${full}: ${describe(err)}`);
            }
          },
        };
        tree.set(path, entry);
      } else {
        tree.set(path, { path, kind: 'special', size: 0, special: specialKind(d), read: async () => Buffer.alloc(0) });
      }
    }
  };
  await walk('');
  return tree;
}
