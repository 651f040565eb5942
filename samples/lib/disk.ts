// A sparse in-memory disk for building sample images: test and sample tooling, not product code.
//
// Bytes live in fixed 64 KiB chunks, allocated on first write; a read of a chunk that was never
// written returns the backing image's bytes (a Buffer or a raw file, read lazily) or zeros.
// Every write is logged, so `takeDirty(g)` can say which g-aligned chunks were written since the
// last call: the sample generator turns each layer's dirty 64 KiB clusters into a qcow2 layer
// that holds only those clusters, as obuilder's overlays do.
//
// `clone()` branches a chain cheaply: the chunk table is copied (one Map copy, no byte copy) and
// both disks copy a shared chunk before writing to it (copy on write).

import { closeSync, ftruncateSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';

/** Internal chunk size; also qcow2's default cluster size. */
export const CHUNK = 65536;

interface Backing {
  /** Bytes available from the backing image; past this, zeros. */
  readonly length: number;
  readAt(dst: Buffer, dstOff: number, len: number, pos: number): void;
  refs: number;
  close(): void;
}

function bufferBacking(buf: Uint8Array): Backing {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    length: b.length,
    readAt(dst, dstOff, len, pos) {
      b.copy(dst, dstOff, pos, pos + len);
    },
    refs: 1,
    close() {},
  };
}

function fileBacking(path: string): Backing {
  const fd = openSync(path, 'r');
  const length = fstatSync(fd).size;
  let open = true;
  return {
    length,
    readAt(dst, dstOff, len, pos) {
      let done = 0;
      while (done < len) {
        const n = readSync(fd, dst, dstOff + done, len - done, pos + done);
        if (n <= 0) throw new Error(`${path}: short read at ${pos + done}`);
        done += n;
      }
    },
    refs: 1,
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

const ZERO_CHUNK = Buffer.alloc(CHUNK);

export class Disk {
  /** Virtual size in bytes: reads and writes past it throw. */
  readonly size: number;
  readonly readOnly: boolean;
  private chunks: Map<number, Buffer>;
  /** Chunks this disk may write in place (not shared with a clone). */
  private owned: Set<number>;
  private backing: Backing | null;
  /** Pending dirty log: offset, length pairs. */
  private dirtyLog: number[];
  private closed = false;

  private constructor(size: number, chunks: Map<number, Buffer>, backing: Backing | null, readOnly: boolean, dirtyLog: number[]) {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`disk size ${size} is not a byte count`);
    this.size = size;
    this.chunks = chunks;
    this.owned = new Set();
    this.backing = backing;
    this.readOnly = readOnly;
    this.dirtyLog = dirtyLog;
  }

  /** An empty (all-zero) disk of `size` bytes. */
  static create(size: number): Disk {
    return new Disk(size, new Map(), null, false, []);
  }

  /** A disk whose initial bytes are `buf` (zeros past its end); `buf` is never written. */
  static fromBuffer(buf: Uint8Array, size: number = buf.byteLength): Disk {
    return new Disk(size, new Map(), bufferBacking(buf), false, []);
  }

  /** A disk whose initial bytes are a raw image file, read lazily; the file is never written. Call close(). */
  static fromFile(path: string, size?: number): Disk {
    const b = fileBacking(path);
    return new Disk(size ?? b.length, new Map(), b, false, []);
  }

  private check(offset: number, length: number, what: string): void {
    if (this.closed) throw new Error('disk is closed');
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.size) {
      throw new Error(`${what} of ${length} bytes at ${offset} is outside the disk (${this.size} bytes)`);
    }
  }

  /** Fill `buf` with the disk's bytes at `offset`. */
  read(buf: Uint8Array, offset: number): void {
    this.check(offset, buf.byteLength, 'read');
    const dst = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = offset;
    let done = 0;
    while (done < dst.length) {
      const idx = Math.floor(pos / CHUNK);
      const within = pos - idx * CHUNK;
      const n = Math.min(CHUNK - within, dst.length - done);
      const chunk = this.chunks.get(idx);
      if (chunk) chunk.copy(dst, done, within, within + n);
      else this.readBase(dst, done, n, pos);
      done += n;
      pos += n;
    }
  }

  /** The disk's bytes at [offset, offset + length). */
  readBytes(offset: number, length: number): Buffer {
    const b = Buffer.allocUnsafe(length);
    this.read(b, offset);
    return b;
  }

  private readBase(dst: Buffer, dstOff: number, len: number, pos: number): void {
    const bk = this.backing;
    const have = bk ? Math.max(0, Math.min(len, bk.length - pos)) : 0;
    if (have > 0) bk!.readAt(dst, dstOff, have, pos);
    if (have < len) dst.fill(0, dstOff + have, dstOff + len);
  }

  /** Write `buf` at `offset`. */
  write(buf: Uint8Array, offset: number): void {
    if (this.readOnly) throw new Error('disk is a read-only snapshot');
    this.check(offset, buf.byteLength, 'write');
    if (buf.byteLength === 0) return;
    const src = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = offset;
    let done = 0;
    while (done < src.length) {
      const idx = Math.floor(pos / CHUNK);
      const within = pos - idx * CHUNK;
      const n = Math.min(CHUNK - within, src.length - done);
      src.copy(this.writableChunk(idx, n === CHUNK), within, done, done + n);
      done += n;
      pos += n;
    }
    this.dirtyLog.push(offset, buf.byteLength);
  }

  private writableChunk(idx: number, whole: boolean): Buffer {
    let chunk = this.chunks.get(idx);
    if (chunk && this.owned.has(idx)) return chunk;
    const fresh = Buffer.allocUnsafe(CHUNK);
    if (!whole) {
      if (chunk) chunk.copy(fresh);
      else {
        const len = Math.min(CHUNK, this.size - idx * CHUNK);
        this.readBase(fresh, 0, len, idx * CHUNK);
        if (len < CHUNK) fresh.fill(0, len);
      }
    }
    chunk = fresh;
    this.chunks.set(idx, chunk);
    this.owned.add(idx);
    return chunk;
  }

  /**
   * The sorted indexes of the `granularity`-aligned chunks written since the last call (or since
   * the disk was made), and forget them.
   */
  takeDirty(granularity: number = CHUNK): number[] {
    const out = this.peekDirty(granularity);
    this.dirtyLog = [];
    return out;
  }

  /** Like takeDirty, without forgetting. */
  peekDirty(granularity: number = CHUNK): number[] {
    if (!Number.isSafeInteger(granularity) || granularity <= 0) throw new Error(`granularity ${granularity} is not a positive integer`);
    const set = new Set<number>();
    const log = this.dirtyLog;
    for (let i = 0; i < log.length; i += 2) {
      const off = log[i]!;
      const len = log[i + 1]!;
      const last = Math.floor((off + len - 1) / granularity);
      for (let c = Math.floor(off / granularity); c <= last; c++) set.add(c);
    }
    return [...set].sort((a, b) => a - b);
  }

  /** A writable copy sharing every chunk (copy on write), with the same pending dirty set. */
  clone(): Disk {
    return this.branch(false);
  }

  /** A read-only copy of the disk as it is now, unaffected by later writes to this disk. */
  snapshot(): Disk {
    return this.branch(true);
  }

  private branch(readOnly: boolean): Disk {
    if (this.closed) throw new Error('disk is closed');
    // From now on both sides share every chunk: neither may write one in place.
    this.owned = new Set();
    if (this.backing) this.backing.refs++;
    return new Disk(this.size, new Map(this.chunks), this.backing, readOnly, [...this.dirtyLog]);
  }

  /** Indexes of the 64 KiB chunks held in memory (written at some point on this disk or its ancestors). */
  heldChunks(): number[] {
    return [...this.chunks.keys()].sort((a, b) => a - b);
  }

  /** Bytes of chunk memory held (shared chunks counted once per disk). */
  get heldBytes(): number {
    return this.chunks.size * CHUNK;
  }

  /**
   * Write the disk to a raw image file of `size` bytes, sparse: chunks that read as all zeros are
   * skipped (left as holes).
   */
  saveRaw(path: string): void {
    if (this.closed) throw new Error('disk is closed');
    const fd = openSync(path, 'w');
    try {
      ftruncateSync(fd, this.size);
      const idxs = new Set(this.chunks.keys());
      const bk = this.backing;
      if (bk) {
        const n = Math.ceil(Math.min(bk.length, this.size) / CHUNK);
        for (let i = 0; i < n; i++) idxs.add(i);
      }
      const buf = Buffer.allocUnsafe(CHUNK);
      for (const idx of [...idxs].sort((a, b) => a - b)) {
        const off = idx * CHUNK;
        const len = Math.min(CHUNK, this.size - off);
        const view = buf.subarray(0, len);
        this.read(view, off);
        if (view.equals(ZERO_CHUNK.subarray(0, len))) continue;
        let done = 0;
        while (done < len) done += writeSync(fd, view, done, len - done, off + done);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Release the backing file (if any, once no clone uses it). The disk is unusable afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.backing && --this.backing.refs === 0) this.backing.close();
    this.chunks = new Map();
  }
}
