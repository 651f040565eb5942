// FFS (UFS1, UFS2) read in-process: the public surface of src/fs/ffs/.

export { FfsFilesystem, type FfsInfo, type OpenOptions, type WalkEntry, type WalkOptions } from './filesystem.js';
export { FileReader, type Extent, type MetadataBlock, type BlockVisit } from './block-map.js';
export { type DirEntry, DIRBLKSIZ, DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK, DT_WHT } from './directory.js';
export { type Inode, type InodeKind, type InodeTableRange, type Timestamp } from './inode.js';
export { type CylinderGroup } from './cylinder-group.js';
export { firstPaths } from './inode-paths.js';
export { addOwnerPaths, findOwners, findOwnersOfBytes, type FragmentOwner, type OwnerPath, type ReverseMapOptions, type ReverseMapResult } from './reverse-map.js';
export { FS_UFS1_MAGIC, FS_UFS2_MAGIC, SBLOCKSEARCH, ROOTINO, type Geometry } from './superblock.js';
