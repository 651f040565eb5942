// Positioned reads that fill the buffer unless the file ends first: read(2) may return less than
// asked for, and every reader in the tool needs "these n bytes at this offset".

import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** Fill `buf` from `position`; returns the bytes read (less than buf.length only at end of file). */
export async function readFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/** The synchronous twin of readFully, for the in-process disk readers. */
export function readFullySync(fd: number, buf: Uint8Array, position: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
