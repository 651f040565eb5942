// `classify`: compare an already-extracted tree with the expected sources, no QEMU.

import { resolve } from 'node:path';
import { compareTrees } from '../classify/compare-trees.js';
import { DEFAULT_BLOCK_SIZE } from '../classify/content.js';
import { indexCorpusDirectory, indexTree } from '../classify/index-corpus.js';
import { ProvenanceIndex } from '../classify/provenance.js';
import { readDirectoryTree } from '../classify/read-tree.js';
import { REPORT_SCHEMA, type Report } from '../report/schema.js';
import { decideVerdict } from './verdict.js';
import { UserError } from '../util/errors.js';

export interface ClassifyDirectoriesOptions {
  expected: string;
  actual: string;
  corpus?: string[];
  blockSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function classifyDirectories(opts: ClassifyDirectoriesOptions): Promise<Report> {
  const t0 = performance.now();
  // resolve('') is the current directory: an empty path is a mistake, not a request for cwd.
  if (opts.expected.trim() === '') throw new UserError('expected-sources directory: an empty path');
  if (opts.actual.trim() === '') throw new UserError('actual directory: an empty path');
  const expectedDir = resolve(opts.expected);
  const actualDir = resolve(opts.actual);
  const [expected, actual] = await Promise.all([
    readDirectoryTree(expectedDir, 'expected-sources directory'),
    readDirectoryTree(actualDir, 'actual directory'),
  ]);
  const index = new ProvenanceIndex();
  await indexTree(index, expected, 'expected', expectedDir);
  for (const c of opts.corpus ?? []) await indexCorpusDirectory(index, resolve(c));
  index.seal();
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  const files = await compareTrees(expected, actual, { blockSize, provenance: index, onProgress: opts.onProgress });
  const classifyMs = Math.round(performance.now() - t0);
  let bytes = 0;
  let count = 0;
  for (const e of actual.values()) {
    if (e.kind === 'file') {
      bytes += e.size;
      count++;
    }
  }
  return {
    schema: REPORT_SCHEMA,
    extraction: { via: 'directory', expected: expectedDir, actual: actualDir, files: count, bytes, blockSize },
    files,
    verdict: decideVerdict(files),
    timings: { overlayMs: 0, bootMs: 0, extractMs: 0, classifyMs, totalMs: classifyMs },
  };
}
