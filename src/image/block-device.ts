// The seam between the layers of the direct reader (design.md section 8), like The Sleuth Kit's
// img/vs/fs split: a filesystem reader takes a BlockDevice and knows nothing of qcow2 or of
// partitions; a partition is a window on a device; a qcow2 chain is a device. Reads are
// synchronous: the readers issue many small reads (inodes, indirect blocks, directory blocks)
// and positioned sync reads cost a fraction of a thread-pool round trip each.

import { UserError } from '../util/errors.js';

/** Bytes a device can be asked for, read-only. */
export interface BlockDevice {
  /** Size in bytes (a qcow2's virtual size, a partition's length). */
  readonly size: number;
  /** What this device is, for error messages ("layer 1a3b…", "partition e of …"). */
  readonly name: string;
  /**
   * Fill `buf` with the bytes at `offset` (offset + buf.length <= size, else a UserError naming
   * the device and the range). Throws UserError on I/O errors and corrupt metadata.
   */
  read(buf: Uint8Array, offset: number): void;
}

/** Where the bytes of one extent of a device come from. */
export interface SourceExtent {
  /** Byte offset in the device, and length. */
  offset: number;
  length: number;
  /**
   * Index of the chain element that holds these bytes (0 = the top image, the layer itself),
   * or null when no element does (they read as zeros: unallocated all the way down, or past the
   * end of a shorter backing file).
   */
  element: number | null;
  /**
   * How that element holds them: `data` (a plain cluster or raw bytes), `compressed` (a
   * compressed qcow2 cluster), `zero` (a qcow2 zero cluster: the element says "zeros" and hides
   * its backing), or `none` (element null).
   */
  how: 'data' | 'compressed' | 'zero' | 'none';
}

/** A device that can also say, per range, which element of its chain supplies the bytes. */
export interface MappedDevice extends BlockDevice {
  /** The chain, top first (one element for a raw image). */
  readonly elements: readonly ChainElementInfo[];
  /** Granularity of the map: the top image's cluster size (512 for raw). */
  readonly clusterSize: number;
  /**
   * Cover [offset, offset+length) with extents in order, merged where consecutive extents share
   * element and how. Clipped to the device's size.
   */
  map(offset: number, length: number): SourceExtent[];
}

export interface ChainElementInfo {
  /** Absolute path of the image file. */
  path: string;
  format: 'qcow2' | 'raw';
  /** How reports name it: the layer id, or `base:<name>`, or the path. */
  label: string;
  /** Virtual size as this element declares it (a raw file's length). */
  virtualSize: number;
  clusterSize: number;
  /** The qcow2 dirty bit (lazy refcounts, unclean close): refcounts may be stale; reading is fine. */
  dirty?: boolean;
}

/** A window [start, start+size) of another device: a partition. Maps pass through, shifted. */
export class SliceDevice implements BlockDevice {
  constructor(
    readonly parent: BlockDevice,
    readonly start: number,
    readonly size: number,
    readonly name: string,
  ) {
    if (start < 0 || size < 0 || start + size > parent.size) {
      throw new UserError(`${name}: ${size} bytes at ${start} do not fit in ${parent.name} (${parent.size} bytes)`);
    }
  }

  read(buf: Uint8Array, offset: number): void {
    if (offset < 0 || offset + buf.length > this.size) {
      throw new UserError(`${this.name}: read of ${buf.length} bytes at ${offset} is outside its ${this.size} bytes`);
    }
    this.parent.read(buf, this.start + offset);
  }

  /** The parent's map of this window, offsets relative to the window; null when the parent has none. */
  map(offset: number, length: number): SourceExtent[] | null {
    if (!isMapped(this.parent)) return null;
    return this.parent.map(this.start + offset, length).map((e) => ({ ...e, offset: e.offset - this.start }));
  }
}

export function isMapped(dev: BlockDevice): dev is MappedDevice {
  return typeof (dev as Partial<MappedDevice>).map === 'function' && Array.isArray((dev as Partial<MappedDevice>).elements);
}

/** Read `length` bytes at `offset` into a new buffer. */
export function readBytes(dev: BlockDevice, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  dev.read(buf, offset);
  return buf;
}
