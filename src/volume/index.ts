// The volume layer (design.md section 8): partition tables read in-process, read-only.

export { readVolumes } from './read-volumes.js';
export type { FsHint, Partition, Scheme, VolumeSystem } from './types.js';
export { SECTOR } from './types.js';
