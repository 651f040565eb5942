// The report document of design.md section 5 (schema layer-forensics.report/v1).
// Fields may be added; none may be renamed or dropped without a new schema version.

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
  /** Added class: the entry is of another kind (a symlink or special file where a file was expected, ...). */
  | 'type-mismatch'
  /** Added class: both are symlinks, with different targets. */
  | 'link-mismatch';

/** Classes a region of a right-sized file can take. */
export type RegionClass = 'match' | 'zeros' | 'directory-block' | 'foreign-text' | 'foreign-binary';

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
}

export interface Region {
  offset: number;
  length: number;
  class: RegionClass;
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
}

export type EntryKind = 'file' | 'symlink' | 'directory' | 'special';

export interface Verdict {
  kind: VerdictKind;
  summary: string;
  evidence: string[];
  advice: string[];
}

export interface Extraction {
  via: 'directory' | 'boot' | 'direct';
  accel?: 'kvm' | 'tcg';
  accelNote?: string;
  guestOs?: string;
  dst?: string;
  /** Host paths for `classify`. */
  expected?: string;
  actual?: string;
  files: number;
  bytes: number;
  consoleLog?: string;
  blockSize: number;
  /** How the guest's tar ran: none, doas or sudo (after any fallback). */
  privilege?: 'none' | 'doas' | 'sudo';
  /** Archive members whose names were unsafe (absolute, `..`): listed, never extracted. */
  unsafeEntries?: { rawName: string; type: string; reason: string }[];
  /** The guest tar's exit status and stderr when it was not 0. */
  tarExitCode?: number;
  tarStderr?: string;
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
  timings: Timings;
}
