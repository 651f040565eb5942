// Opening a file that a listing found to be a regular file, when it may have been swapped since:
// a symlink put in its place is refused (ELOOP), never followed; a fifo does not block the open
// (O_NONBLOCK, which regular files ignore); whatever was opened must still be a regular file.

import { closeSync, constants, fstatSync, openSync } from 'node:fs';

export const LISTED_FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Thrown when a listed file is something else by the time it is read. */
export class NotAFileNow extends Error {
  constructor() {
    super('is no longer a regular file');
  }
}

/**
 * An open descriptor on a listed file and the size it has now (which must be `size`, when given);
 * throws otherwise. A listing that did not stat its files learns their sizes here.
 */
export function openListedSized(file: string, size?: number): { fd: number; size: number } {
  const fd = openSync(file, LISTED_FILE_FLAGS);
  try {
    const st = fstatSync(fd);
    if (st.isFile() && (size === undefined || st.size === size)) return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  closeSync(fd);
  throw new NotAFileNow();
}

/** An open descriptor on a listed file (of `size` bytes, when given); throws otherwise. */
export function openListedSync(file: string, size?: number): number {
  return openListedSized(file, size).fd;
}
