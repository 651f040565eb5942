// The report document of design.md section 5 (schema layer-forensics.report/v1).
// Fields may be added; none may be renamed or dropped without a new schema version.

import type { EntryKind, FileStorage } from '../tree/tree.js';

export const REPORT_SCHEMA = 'layer-forensics.report/v1';
export const LAYERS_SCHEMA = 'layer-forensics.layers/v1';

/** Per-file classes, design.md section 3. */
export type FileClass =
  | 'match'
  | 'zeros'
  | 'directory-block'
  | 'foreign-text'
  | 'foreign-binary'
  | 'partial'
  | 'size-mismatch'
  | 'missing'
  | 'extra'
  /**
   * The bytes differ in a way that reads as an EDIT of the expected source (another version of the
   * file), of the same or another size, and no block holds stale content (design.md section 3).
   */
  | 'modified'
  /**
   * Added class: the producer could not read the file's content (the guest's tar was denied it,
   * it vanished, ...); `detail.reason` says why (escaped). Never taken for missing or corrupt.
   */
  | 'unreadable'
  /** Added class: the entry is of another kind (a symlink or special file where a file was expected, ...). */
  | 'type-mismatch'
  /** Added class: both are symlinks, with different targets. */
  | 'link-mismatch';

/** Classes a region can take (`modified`: blocks that read as an edit of the expected bytes). */
export type RegionClass = 'match' | 'zeros' | 'directory-block' | 'foreign-text' | 'foreign-binary' | 'modified';

/** Right size, wrong bytes: the classes that make up the soft-updates signature. */
export const STALE_CLASSES: ReadonlySet<FileClass> = new Set<FileClass>([
  'zeros',
  'directory-block',
  'foreign-text',
  'foreign-binary',
  'partial',
]);

export type VerdictKind = 'clean' | 'soft-updates-data-loss' | 'other-corruption' | 'inconclusive';

export interface Provenance {
  source: 'expected' | 'corpus' | 'guest' | 'parent-layer';
  /** Relative to the expected dir or corpus root; absolute for guest and parent-layer. */
  path: string;
  root: string;
  matchedBytes: number;
  /** Where in that source the stale bytes start (freed blocks are reused in any order). */
  offset: number;
  /** Where in the damaged file the matched bytes start (added field). */
  fileOffset?: number;
  /** parent-layer: the id of the layer in whose filesystem that owner was last alive. */
  layer?: string;
}

export interface Region {
  offset: number;
  length: number;
  class: RegionClass;
  /** Where this region's stale bytes came from, when traced (added field). */
  provenance?: Provenance;
}

export interface FileReport {
  /** Relative to the destination, `/`-separated, as data (never used as a host path). */
  path: string;
  class: FileClass;
  /** What the entry is on each side: a regular file, a symlink or a special file. */
  kind: EntryKind;
  expectedSize: number | null;
  actualSize: number | null;
  expectedSha256: string | null;
  actualSha256: string | null;
  provenance: Provenance | null;
  regions: Region[];
  detail: Record<string, unknown>;
  /** Where the file's bytes are on disk and which chain element holds each extent (direct). */
  storage?: FileStorage;
}


export interface Verdict {
  kind: VerdictKind;
  summary: string;
  evidence: string[];
  advice: string[];
}

/**
 * How the files were taken out of the layer. Common fields first; then those of each way in:
 * `boot` (QEMU and the guest's tar), `direct` (the disk read in-process), `directory` (classify).
 */
export interface Extraction {
  via: 'directory' | 'boot' | 'direct';
  files: number;
  bytes: number;
  /** The classifier's block size for regions. */
  blockSize: number;
  /** The guest destination (boot, direct). */
  dst?: string;
  guestOs?: string;
  /** The accelerator QEMU ran under (boot); null when nothing was booted (direct). */
  accel?: 'kvm' | 'tcg' | null;
  /** Why that accelerator (a KVM fallback). */
  accelNote?: string;
  consoleLog?: string;
  /** How the guest's tar ran: none, doas or sudo (after any fallback). */
  privilege?: 'none' | 'doas' | 'sudo';
  /** Archive members whose names were unsafe (absolute, `..`): listed, never extracted. */
  unsafeEntries?: { rawName: string; type: string; reason: string }[];
  /** The guest tar's exit status (null: it did not report one) and stderr when it was not 0. */
  tarExitCode?: number | null;
  tarStderr?: string;
  /** What the extraction left out (unsafe names, links out of the tree, unreadable files), one line each. */
  dropped?: string[];
  /** The partition read (direct). */
  partition?: PartitionRef;
  /** The filesystem read (direct): its kind, block and fragment sizes. */
  filesystem?: { kind: string; blockSize: number; fragmentSize: number; superblockOffset: number };
  /** Host paths for `classify`. */
  expected?: string;
  actual?: string;
}

export interface PartitionRef {
  scheme: 'mbr' | 'gpt' | 'disklabel' | 'none';
  /** '1'.. for MBR and GPT, a letter for disklabels. */
  name: string;
  fs: string;
  /** Byte offset on the disk. */
  offset: number;
  /** Where it is mounted in the guest, when known (fstab). */
  mountpoint: string | null;
}

export interface Timings {
  overlayMs: number;
  bootMs: number;
  extractMs: number;
  classifyMs: number;
  totalMs: number;
}

export interface LayerRef {
  id: string;
  image: string;
  chain: string[];
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  layer?: LayerRef;
  extraction: Extraction;
  files: FileReport[];
  verdict: Verdict;
  layerUnchanged?: boolean;
  /** What a cached store audit (`layer-forensics audit`) said of this layer, when it flagged it. */
  audit?: { verdict: 'soft-updates-data-loss' | 'other-corruption' | 'inconclusive' | 'error'; auditedAt: string; files: string[] };
  timings: Timings;
}
