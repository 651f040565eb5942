// The directory producer, for `classify`: a tree already extracted onto the host (by hand, by
// another tool). Nothing to release.

import { resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { treeTotals } from '../tree/tree.js';
import { readDirectoryTree } from './directory-tree.js';
import { noGaps, type Extracted, type Extractor } from './extractor.js';

export function directoryExtractor(actualDir: string): Extractor {
  return {
    via: 'directory',
    steps: { extract: [{ id: 'extract', label: 'Read the directory' }], close: [] },
    async extract(): Promise<Extracted> {
      // resolve('') is the current directory: an empty path is a mistake, not a request for cwd.
      if (actualDir.trim() === '') throw new UserError('actual directory: an empty path');
      const actual = resolve(actualDir);
      const tree = await readDirectoryTree(actual, 'actual directory');
      return {
        via: 'directory',
        tree,
        extraction: { via: 'directory', actual, ...treeTotals(tree) },
        candidates: [],
        gaps: noGaps(),
        close: async () => {},
      };
    },
  };
}
