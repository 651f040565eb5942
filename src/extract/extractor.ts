// One way in, whatever the producer (design.md section 8): booting the layer and pulling files
// over SSH, reading its disk in-process, or a host directory (`classify`). Each yields the same
// `Tree`, the `extraction` block of the report, candidate trees for provenance found in the layer,
// and a `close()` that releases what it holds (stops QEMU, closes the image). Classification,
// verdicts and reports never know which producer ran.

import type { Extraction, FileReport, Provenance } from '../report/schema.js';
import type { Tree, TreeEntry } from '../tree/tree.js';
import type { OnEvent, PlannedStep } from '../util/events.js';

export type Via = Extraction['via'];

export interface ExtractRequest {
  /** Absolute guest path the sources were copied to (ignored by the directory producer). */
  dst: string;
  /** Members under dst (the copy step's src list); everything under dst when absent. */
  src?: string[];
  /** Guest directories whose files may be named as provenance (--corpus-guest). */
  corpusGuest?: string[];
  onEvent?: OnEvent;
  signal?: AbortSignal;
}

/** A tree whose files may be named as the origin of stale bytes. */
export interface CandidateTree {
  source: 'guest' | 'corpus' | 'expected';
  /** The directory the paths are relative to (a guest path for guest trees). */
  root: string;
  tree: Tree;
  /** How a path of `tree` is named in provenance (guest files: by absolute guest path). */
  name: (rel: string) => string;
}

/** Why the extraction may not have the whole truth: its verdict cannot then be `clean`. */
export interface ExtractionGaps {
  /** Entries left out (unsafe names, links out of the tree, unreadable files), one line each. */
  dropped: string[];
  /** The producer's own failure (tar's exit status and stderr), if any. */
  failure: string | null;
}

export interface Extracted {
  via: Via;
  tree: Tree;
  /** The report's `extraction` block, without the classifier's fields (blockSize). */
  extraction: Omit<Extraction, 'blockSize'>;
  candidates: CandidateTree[];
  gaps: ExtractionGaps;
  /**
   * Where the producer can say from the disk itself where stale bytes came from (direct: the
   * owner of the same blocks in an ancestor layer's filesystem), set it on the damaged files.
   * Called after classification, before close().
   */
  traceStale?(files: FileReport[]): Promise<void>;
  /**
   * The owner, from the disk itself, of every byte of [start, start + length) of `tree`'s file
   * `path` (direct: another file's blocks in an ancestor layer, the same bytes there), or null.
   * What shows a run the bytes alone cannot tell from an edit to be stale. Called during
   * classification, before close(). Optional.
   */
  originOnDisk?(path: string, entry: TreeEntry, start: number, length: number): Promise<Provenance | null>;
  /** The runs that are stale or may be, before any originOnDisk question (one look at the disk for all). */
  diskHint?(runs: { entry: TreeEntry; start: number; length: number }[]): void;
  /**
   * The absolute guest path of the directory whose inode number is `ino` (a directory block's `.`
   * entry holds it), or null when the layer has none; `names` (the entries the block decodes to)
   * let a producer find a directory that no longer exists by what it held. Called after
   * classification, before close(). Optional.
   */
  directoryOfInode?(ino: number, names?: string[]): Promise<string | null>;
  /** Release what the producer holds (QEMU, an open image); idempotent. */
  close(): Promise<void>;
}

export interface Extractor {
  readonly via: Via;
  /** The steps extract() reports, then the steps close() reports (for the run's plan). */
  readonly steps: { extract: PlannedStep[]; close: PlannedStep[] };
  extract(req: ExtractRequest): Promise<Extracted>;
}

/** The step of pulling --corpus-guest directories out of a booted guest, after the extraction. */
export const CORPUS_STEP = { id: 'corpus', label: 'Pull the guest corpora' };

/** No gaps. */
export function noGaps(): ExtractionGaps {
  return { dropped: [], failure: null };
}
