// The step every way in shares (diagnose by boot or direct, classify, the audit's checks): compare
// the layer's tree with the expected sources file by file (streamed), trace stale bytes to the
// candidate origins (indexed only when something needs tracing, and only what may match), name
// the directory a directory block came from when the producer can, and decide the verdict.

import { compareTrees } from '../classify/compare-trees.js';
import { DEFAULT_BLOCK_SIZE } from '../classify/content.js';
import type { CandidateTree, Extracted, ExtractionGaps } from '../extract/extractor.js';
import type { FileReport, Verdict } from '../report/schema.js';
import type { Tree } from '../tree/tree.js';
import { emit, type OnEvent } from '../util/events.js';
import { decideVerdict, type VerdictContext } from './verdict.js';

export interface CompareInput {
  /** The expected files of the step. */
  expected: Tree;
  /** What the layer holds. */
  actual: Tree;
  /** Where stale bytes may come from: all expected sources, --corpus trees, guest trees. */
  candidates: CandidateTree[];
  blockSize?: number;
  /** What the extraction could not take out: the verdict cannot be clean then. */
  gaps?: ExtractionGaps;
  layerId?: string;
  /** The commit of the sources the job built, when the job log names one (the verdict names it). */
  commit?: string;
  /** The store as given and the layers built on this one: the advice's `obuilder delete` command. */
  storeSpec?: string;
  builtOn?: string[];
  /** The producer's answer to "which directory has inode N" (boot, direct), for directory blocks. */
  directoryOfInode?: Extracted['directoryOfInode'];
  /** The producer's proof from the disk of where a run's bytes came from (direct reading). */
  originOnDisk?: Extracted['originOnDisk'];
  diskHint?: Extracted['diskHint'];
  /**
   * What the producer can add to the files before the verdict is decided: where their bytes are
   * on disk, and the owner of stale blocks in an ancestor layer (direct reading).
   */
  refine?: (files: FileReport[]) => Promise<void>;
  onEvent?: OnEvent;
}

export interface Decision {
  files: FileReport[];
  verdict: Verdict;
  /** What the verdict was decided with: decide again with it after adding evidence to the files. */
  context: VerdictContext;
  classifyMs: number;
}

export async function compareAndDecide(input: CompareInput): Promise<Decision> {
  emit(input.onEvent, { type: 'step-start', step: 'classify' });
  const t0 = Date.now();
  try {
    const files = await compareTrees(input.expected, input.actual, {
      blockSize: input.blockSize ?? DEFAULT_BLOCK_SIZE,
      candidates: input.candidates,
      directoryOfInode: input.directoryOfInode,
      originOnDisk: input.originOnDisk,
      diskHint: input.diskHint,
      onProgress: (done, total) => emit(input.onEvent, { type: 'classify-progress', done, total }),
    });
    await input.refine?.(files);
    const context: VerdictContext = { layerId: input.layerId, gaps: input.gaps, commit: input.commit, storeSpec: input.storeSpec, builtOn: input.builtOn };
    const verdict = decideVerdict(files, context);
    const classifyMs = Date.now() - t0;
    emit(input.onEvent, { type: 'step-done', step: 'classify', ms: classifyMs, info: `${files.length} files` });
    return { files, verdict, context, classifyMs };
  } catch (err) {
    emit(input.onEvent, { type: 'step-fail', step: 'classify', reason: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}
