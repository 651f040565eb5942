// `classify`: compare an already-extracted tree with the expected sources, no QEMU. The same
// producer interface and the same compare-and-decide step as diagnose.

import { resolve } from 'node:path';
import { DEFAULT_BLOCK_SIZE } from '../classify/content.js';
import { directoryExtractor } from '../extract/directory.js';
import { readDirectoryTree } from '../extract/directory-tree.js';
import type { CandidateTree } from '../extract/extractor.js';
import { REPORT_SCHEMA, type Report } from '../report/schema.js';
import { UserError } from '../util/errors.js';
import { compareAndDecide } from './compare-and-decide.js';

export interface ClassifyDirectoriesOptions {
  expected: string;
  actual: string;
  corpus?: string[];
  blockSize?: number;
  onProgress?: (done: number, total: number) => void;
}

async function candidatesOf(expectedDir: string, expected: CandidateTree['tree'], corpus: string[]): Promise<CandidateTree[]> {
  const out: CandidateTree[] = [{ source: 'expected', root: expectedDir, tree: expected, name: (rel) => rel }];
  for (const c of corpus) {
    const root = resolve(c);
    out.push({ source: 'corpus', root, tree: await readDirectoryTree(root, 'corpus directory'), name: (rel) => rel });
  }
  return out;
}

export async function classifyDirectories(opts: ClassifyDirectoriesOptions): Promise<Report> {
  const t0 = performance.now();
  // resolve('') is the current directory: an empty path is a mistake, not a request for cwd.
  if (opts.expected.trim() === '') throw new UserError('expected-sources directory: an empty path');
  const expectedDir = resolve(opts.expected);
  const [expected, extracted] = await Promise.all([
    readDirectoryTree(expectedDir, 'expected-sources directory'),
    directoryExtractor(opts.actual).extract({ dst: '' }),
  ]);
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  const decision = await compareAndDecide({
    expected,
    actual: extracted.tree,
    candidates: await candidatesOf(expectedDir, expected, opts.corpus ?? []),
    blockSize,
    gaps: extracted.gaps,
    onEvent: (e) => {
      if (e.type === 'classify-progress') opts.onProgress?.(e.done, e.total);
    },
  });
  const totalMs = Math.round(performance.now() - t0);
  return {
    schema: REPORT_SCHEMA,
    extraction: { ...extracted.extraction, expected: expectedDir, blockSize },
    files: decision.files,
    verdict: decision.verdict,
    timings: { overlayMs: 0, bootMs: 0, extractMs: 0, classifyMs: decision.classifyMs, totalMs },
  };
}
