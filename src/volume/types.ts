// The one partition list every scheme reader fills, like The Sleuth Kit's TSK_VS_PART_INFO list:
// a caller sees partitions, never MBR entries or GPT headers.

import { SliceDevice, type BlockDevice } from '../image/block-device.js';

/** Bytes per sector for MBR and GPT addresses (QEMU's virtio-blk default, and every obuilder disk). */
export const SECTOR = 512;

export type Scheme = 'mbr' | 'gpt' | 'disklabel';

/** What a partition's type says it should hold; null when it says nothing (unused, a container). */
export type FsHint = 'ffs' | 'swap' | 'ext' | 'fat' | 'ntfs' | 'other' | null;

export interface Partition {
  /** The table this entry comes from; 'none' only for the whole-device entry of a disk without one. */
  scheme: Scheme | 'none';
  /** Slot in its table, from 0: MBR primaries 0-3 and logicals 4 on, GPT entries, disklabel a=0 … p=15. */
  index: number;
  /** '1'…'n' for MBR (logicals from '5', as Linux numbers them) and GPT; 'a'…'p' for disklabels. */
  name: string;
  /** '0xa6' (MBR), the type GUID in upper case (GPT), 'FS_BSDFFS' (disklabel p_fstype). */
  type: string;
  typeName: string;
  fsHint: FsHint;
  /** Absolute byte offset on the device readVolumes was given, and length in bytes. */
  offset: number;
  size: number;
  /** A window on the device: what a filesystem reader is handed. */
  device: SliceDevice;
  /**
   * True for an entry that is listed for completeness but holds no filesystem of its own: an MBR
   * extended partition (its logicals follow it), an MBR 0xA6/0xA5 or GPT OpenBSD partition whose
   * disklabel was read (the label's partitions follow it, with `parent` naming it), and a
   * disklabel's raw partition `c` (the whole disk, or for FreeBSD the whole slice). Callers looking
   * for filesystems skip these: `partitions.filter((p) => !p.container)`.
   */
  container: boolean;
  /** For logical partitions and disklabel partitions: the `name` of the entry that holds them. */
  parent?: string;
  /** The OpenBSD disklabel's DUID (16 hex digits); fstab names this partition `<duid>.<name>`. */
  duid?: string;
  /** GPT partition name. */
  label?: string;
  /** GPT unique partition GUID. */
  guid?: string;
  /** MBR active flag (0x80). */
  bootable?: boolean;
  /** What the disklabel records for FFS: fragment and block size in bytes, cylinders per group. */
  ffs?: { fsize: number; bsize: number; cpg: number };
}

export interface VolumeSystem {
  /** The outermost table: an OpenBSD disk with an 0xA6 partition is 'mbr', its label nested in it. */
  scheme: Scheme | 'none';
  partitions: Partition[];
  /** Things found wrong but read past, one line each, disk bytes escaped. */
  warnings: string[];
  /** The OpenBSD disklabel's DUID, when there is one. */
  duid?: string;
}

/** A partition as a scheme reader found it, before it is checked against the device. */
export type Found = Omit<Partition, 'device' | 'size'> & {
  /** Declared length in bytes (may run past the device). */
  size: number;
  /** How to name the window, e.g. 'partition e'. */
  deviceName: string;
};

/**
 * Turn a found entry into a partition with its window, or null when it does not start on the
 * device at all. One that runs past the end is cut to the device, with a warning: a partition
 * table that outlives a shrunk image still says where the start of each filesystem is.
 */
export function place(dev: BlockDevice, f: Found, warnings: string[]): Partition | null {
  const { deviceName, ...rest } = f;
  const what = `${f.scheme === 'disklabel' ? 'disklabel' : f.scheme.toUpperCase()} partition ${f.parent && f.scheme === 'disklabel' ? `${f.parent}/` : ''}${f.name}`;
  if (!Number.isSafeInteger(f.offset) || f.offset >= dev.size) {
    warnings.push(`${dev.name}: ${what} starts at byte ${f.offset}, past the end of the device (${dev.size} bytes); left out`);
    return null;
  }
  let size = f.size;
  if (!Number.isSafeInteger(size) || f.offset + size > dev.size) {
    size = dev.size - f.offset;
    warnings.push(
      `${dev.name}: ${what} (${f.size} bytes at ${f.offset}) runs past the end of the device (${dev.size} bytes); cut to ${size} bytes`,
    );
  }
  return { ...rest, size, device: new SliceDevice(dev, f.offset, size, `${dev.name} ${deviceName}`) };
}

/**
 * Warn about partitions of the same table that overlap (containers and the raw partition are
 * compared with their siblings but never with what they contain).
 */
export function checkOverlaps(dev: BlockDevice, parts: readonly Partition[], warnings: string[]): void {
  const groups = new Map<string, Partition[]>();
  for (const p of parts) {
    if (p.scheme === 'disklabel' && p.index === RAW_PART) continue;
    const key = `${p.scheme}/${p.parent ?? ''}`;
    const g = groups.get(key) ?? [];
    g.push(p);
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    const sorted = [...g].sort((a, b) => a.offset - b.offset || a.index - b.index);
    // A sweep keeps this O(n log n) and reports each partition once, against the one it runs into.
    let reach: Partition | null = null;
    for (const p of sorted) {
      if (reach && p.offset < reach.offset + reach.size) {
        warnings.push(
          `${dev.name}: partitions ${reach.name} (bytes ${reach.offset}-${reach.offset + reach.size - 1}) and ${p.name} (from byte ${p.offset}) overlap`,
        );
      }
      if (!reach || p.offset + p.size > reach.offset + reach.size) reach = p;
    }
  }
}

/** A disklabel's raw partition, `c`. */
export const RAW_PART = 2;
