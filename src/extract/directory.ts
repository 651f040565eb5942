// The directory producer, for `classify`: a tree already extracted onto the host (by hand, by
// another tool). Nothing to release.

import { resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import type { Tree } from '../tree/tree.js';
import { readDirectoryTree } from './directory-tree.js';
import { noGaps, type Extracted, type Extractor } from './extractor.js';

/**
 * Regular files and their bytes. A file gone since the walk (the comparison reports it
 * unreadable) counts no bytes: the report is not lost for it.
 */
function countFiles(tree: Tree): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  tree.forEach((e) => {
    if (e.kind !== 'file') return;
    files++;
    try {
      bytes += e.size;
    } catch {
      // Its size is asked of the filesystem, and it is no longer there.
    }
  });
  return { files, bytes };
}

export function directoryExtractor(actualDir: string): Extractor {
  return {
    via: 'directory',
    steps: { extract: [{ id: 'extract', label: 'Read the directory' }], close: [] },
    async extract(): Promise<Extracted> {
      // resolve('') is the current directory: an empty path is a mistake, not a request for cwd.
      if (actualDir.trim() === '') throw new UserError('actual directory: an empty path');
      const actual = resolve(actualDir);
      const tree = await readDirectoryTree(actual, 'actual directory');
      // Counted when first read (the report is made after the comparison): counted now, they
      // would stat every file, whose sizes the comparison's scan learns as it reads them.
      let totals: { files: number; bytes: number } | null = null;
      const count = () => (totals ??= countFiles(tree));
      return {
        via: 'directory',
        tree,
        extraction: {
          via: 'directory',
          actual,
          get files() {
            return count().files;
          },
          get bytes() {
            return count().bytes;
          },
        },
        candidates: [],
        gaps: noGaps(),
        close: async () => {},
      };
    },
  };
}
