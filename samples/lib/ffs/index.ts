// An FFS (UFS1, UFS2) writer for test and sample images: newfs, file operations, and the
// soft-updates failure (metadata written, data blocks not). Test tooling, not product code.
export { newfs, DEFAULT_TIME, type NewfsOptions } from './newfs.js';
export {
  Ffs,
  hashGen,
  type Attrs,
  type DirEntryInfo,
  type Extent,
  type Lose,
  type OpenOptions,
  type Placement,
  type PlacedBlock,
  type Stat,
  type Time,
  type WriteOptions,
} from './fs.js';
export { checkFs, type CheckReport } from './check.js';
export type { Geometry, UfsVersion } from './geometry.js';
export * as layout from './layout.js';
