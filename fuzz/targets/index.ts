// Every parser that reads evidence (the layer's images, the store's metadata, the job log) or
// guest output (the tar stream and tar's stderr). `npm run fuzz` runs them all.
//
// HOOK for readers still being written: add their target here (a file next to these, exporting a
// FuzzTarget) and it is run, counted and reported with the others. The volume (src/volume/) and
// FFS (src/fs/) readers are in already.

import type { FuzzTarget } from '../target.js';
import { directoryBlock } from './directory-block.js';
import { ffs } from './ffs.js';
import { jobLog } from './job-log.js';
import { metadataDb } from './metadata-db.js';
import { qcow2Header, qcow2Image } from './qcow2.js';
import { tarStderr } from './tar-stderr.js';
import { tarStream } from './tar-stream.js';
import { volume } from './volume.js';

export const TARGETS: FuzzTarget[] = [jobLog, tarStream, tarStderr, directoryBlock, qcow2Header, qcow2Image, metadataDb, volume, ffs];
