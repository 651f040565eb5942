// A BlockDevice over a host file (or a window of one), for tests: positioned sync reads.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { BlockDevice } from '../../src/image/block-device.js';
import { UserError } from '../../src/util/errors.js';

export class FileDevice implements BlockDevice {
  readonly size: number;
  private fd: number;
  /** Reads issued, for the tests that check caching. */
  reads = 0;
  bytesRead = 0;

  constructor(
    readonly path: string,
    readonly name: string = path,
  ) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }

  read(buf: Uint8Array, offset: number): void {
    if (offset < 0 || offset + buf.length > this.size) {
      throw new UserError(`${this.name}: read of ${buf.length} bytes at ${offset} is outside its ${this.size} bytes`);
    }
    this.reads++;
    this.bytesRead += buf.length;
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, offset + done);
      if (n <= 0) throw new UserError(`${this.name}: short read at ${offset + done}`);
      done += n;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A BlockDevice over bytes in memory (for corrupted copies of an image). */
export class MemoryDevice implements BlockDevice {
  reads = 0;
  constructor(
    readonly data: Buffer,
    readonly name = 'memory image',
  ) {}

  get size(): number {
    return this.data.length;
  }

  read(buf: Uint8Array, offset: number): void {
    if (offset < 0 || offset + buf.length > this.data.length) {
      throw new UserError(`${this.name}: read of ${buf.length} bytes at ${offset} is outside its ${this.data.length} bytes`);
    }
    this.reads++;
    buf.set(this.data.subarray(offset, offset + buf.length));
  }
}
