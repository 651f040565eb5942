// A raw image: the file is the disk. Bytes past the end of the file, within the size it is
// declared to have, read as zeros and belong to no image (like the tail past a shorter backing
// file). A raw file has no backing file, so it ends a chain.

import { UserError } from '../util/errors.js';
import type { ChainImage, Run } from './chain-image.js';
import { ImageFile } from './image-file.js';

/** Map granularity of a raw image (a sector). */
const RAW_GRANULE = 512;

export class RawImage implements ChainImage {
  readonly format = 'raw';
  readonly clusterSize = RAW_GRANULE;
  readonly dirty = false;
  readonly hasBacking = false;
  readonly virtualSize: number;

  private constructor(
    private readonly file: ImageFile,
    size: number,
  ) {
    this.virtualSize = size;
  }

  get path(): string {
    return this.file.path;
  }

  /** Open `path` read-only; its size is `size` when given (zeros past the end of the file), else the file's. */
  static open(path: string, size?: number): RawImage {
    const file = ImageFile.open(path, 'a raw image');
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
      file.close();
      throw new UserError(`${file.name}: declared size ${size} is not a byte count`);
    }
    return new RawImage(file, size ?? file.size);
  }

  lookup(offset: number, maxLength: number, run: Run): void {
    if (offset < this.file.size) {
      run.kind = 'data';
      run.host = offset;
      run.length = Math.min(maxLength, this.file.size - offset);
    } else {
      run.kind = 'unallocated';
      run.length = maxLength;
    }
  }

  readRun(run: Run, buf: Uint8Array, bufOffset: number): void {
    const dst = buf.subarray(bufOffset, bufOffset + run.length);
    const got = this.file.readUpTo(dst, run.host);
    if (got < dst.length) dst.fill(0, got);
  }

  close(): void {
    this.file.close();
  }
}
