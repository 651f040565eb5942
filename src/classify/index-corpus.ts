// Feed a provenance index from trees: the expected sources, --corpus directories, guest files.

import type { Provenance } from '../report/schema.js';
import type { ProvenanceIndex } from './provenance.js';
import { readDirectoryTree } from './read-tree.js';
import type { Tree } from './tree.js';

/** Add every regular file of `tree`, reading a few at a time. */
export async function indexTree(
  index: ProvenanceIndex,
  tree: Tree,
  source: Provenance['source'],
  root: string,
  /** How a tree path is named in provenance (guest files are named by absolute guest path). */
  name: (rel: string) => string = (rel) => rel,
  concurrency = 32,
): Promise<number> {
  const files = [...tree.values()].filter((e) => e.kind === 'file' && e.size > 0);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const e = files[next++]!;
      // Only the start of a file can be matched: read no more than the index keeps.
      const data = e.readHead ? await e.readHead(index.maxBytes) : await e.read();
      index.add(source, root, name(e.path), data, e.size);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return files.length;
}

/** Index a host directory given with --corpus. */
export async function indexCorpusDirectory(index: ProvenanceIndex, dir: string): Promise<number> {
  const tree = await readDirectoryTree(dir, 'corpus directory');
  return indexTree(index, tree, 'corpus', dir);
}
