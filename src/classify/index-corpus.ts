// Feed a provenance index from trees: the expected sources, --corpus directories, guest files.

import type { Provenance } from '../report/schema.js';
import type { ProvenanceIndex } from './provenance.js';
import { readDirectoryTree } from './read-tree.js';
import type { Tree } from './tree.js';

/** Add every regular file of `tree`, reading a few at a time. */
export async function indexTree(index: ProvenanceIndex, tree: Tree, source: Provenance['source'], root: string, concurrency = 32): Promise<number> {
  const files = [...tree.values()].filter((e) => e.kind === 'file' && e.size > 0);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const e = files[next++]!;
      index.add(source, root, e.path, await e.read(), e.size);
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
