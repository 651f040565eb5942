// What the chain device asks of one image of a chain (a qcow2 or a raw file): where a run of
// guest bytes lives, and to copy a run of its own bytes out. The chain device does the walking
// down the chain; an image knows nothing of its backing file.

/** How one image holds a run of guest bytes. */
export type RunKind =
  /** Plain bytes in the file at `host`. */
  | 'data'
  /** One compressed cluster at `host`, `csize` bytes, of which the run starts `skip` bytes in. */
  | 'compressed'
  /** The image says "zeros" (a qcow2 zero cluster), hiding its backing file. */
  | 'zero'
  /** Not in this image: ask the backing file (zeros when there is none). */
  | 'unallocated';

/** One run, reused across lookups (a lookup per run must not allocate). */
export interface Run {
  kind: RunKind;
  /** Bytes covered, > 0. */
  length: number;
  /** `data`: file offset of the run's first byte. `compressed`: file offset of the compressed data. */
  host: number;
  /** `compressed`: bytes of compressed data (as the descriptor says, before clipping to the file). */
  csize: number;
  /** `compressed`: where the run starts in the inflated cluster. */
  skip: number;
  /** `compressed`: guest offset of the cluster (for messages). */
  guest: number;
}

export function newRun(): Run {
  return { kind: 'unallocated', length: 0, host: 0, csize: 0, skip: 0, guest: 0 };
}

export interface ChainImage {
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  readonly virtualSize: number;
  /** Map granularity: the qcow2 cluster size, 512 for raw. */
  readonly clusterSize: number;
  /** The qcow2 dirty bit (refcounts may be stale; reading is fine). */
  readonly dirty: boolean;
  /** Whether the image names a backing file (a raw file never does). */
  readonly hasBacking: boolean;
  /**
   * Describe the run starting at guest `offset` (< virtualSize), at most `maxLength` bytes, into
   * `run`. Runs end where the kind changes, where data stops being contiguous in the file, after
   * one compressed cluster, and at L2 table boundaries. Throws UserError on corrupt metadata.
   */
  lookup(offset: number, maxLength: number, run: Run): void;
  /** Copy a `data` or `compressed` run (as `lookup` just described it) into `buf` at `bufOffset`. */
  readRun(run: Run, buf: Uint8Array, bufOffset: number): void;
  close(): void;
}
