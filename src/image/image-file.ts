// One image file opened read-only for positioned synchronous reads: the descriptor is opened once
// and kept (a chain is read cluster by cluster, reopening would dominate), and every read of the
// image readers goes through here so an I/O error or a short read says which image and where.

import { closeSync, fstatSync, openSync } from 'node:fs';
import { escapeText } from '../report/escape.js';
import { UserError } from '../util/errors.js';
import { describeFsError } from '../util/fs-errors.js';
import { readFullySync } from '../util/read-fully.js';

export class ImageFile {
  private fd: number;

  private constructor(
    fd: number,
    /** The path as given. */
    readonly path: string,
    /** Bytes in the file when it was opened (evidence does not change under us). */
    readonly size: number,
  ) {
    this.fd = fd;
  }

  /** The path, escaped: how messages name the image (it may come from a backing-file field). */
  get name(): string {
    return escapeText(this.path);
  }

  /**
   * Open `path` read-only ('r': evidence is never opened for writing). `expected` names what a
   * directory there is not ("a qcow2 image").
   */
  static open(path: string, expected = 'a disk image'): ImageFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new UserError(`${escapeText(path)}: ${describeFsError(err)}`);
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new UserError(`${escapeText(path)}: is a directory, not ${expected}`);
      return new ImageFile(fd, path, st.size);
    } catch (err) {
      closeSync(fd);
      if (err instanceof UserError) throw err;
      throw new UserError(`${escapeText(path)}: ${describeFsError(err)}`);
    }
  }

  /** Fill `buf` from `position`; returns the bytes read (fewer only at the end of the file). */
  readUpTo(buf: Uint8Array, position: number): number {
    if (this.fd < 0) throw new Error(`${this.name}: read after close`);
    try {
      return readFullySync(this.fd, buf, position);
    } catch (err) {
      throw new UserError(`${this.name}: ${describeFsError(err)} (reading ${buf.length} bytes at offset ${position})`);
    }
  }

  /** Fill `buf` from `position`, or a UserError naming `what` when the file ends first. */
  readExactly(buf: Uint8Array, position: number, what: string): void {
    const got = this.readUpTo(buf, position);
    if (got < buf.length) {
      throw new UserError(
        `${this.name}: ${what} (${buf.length} bytes at offset ${position}) is past the end of the file (${this.size} bytes)`,
      );
    }
  }

  close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      closeSync(fd);
    }
  }
}
