// The DOS/MBR partition table, like tsk/vs/dos.c: four primary entries in sector 0, and for an
// extended partition a chain of extended boot records (EBRs), each holding one logical partition
// (relative to that EBR) and a link to the next EBR (relative to the start of the extended
// partition). Layout from OpenBSD's sys/sys/disklabel.h (struct dos_mbr, struct dos_partition).

import { readBytes, type BlockDevice } from '../image/block-device.js';
import { isExtended, mbrTypeCode } from './mbr-types.js';
import { Struct } from './struct.js';
import { SECTOR } from './types.js';

/** Sector 0 (and every EBR). */
export const MBR = new Struct('dos_mbr', [
  ['dmbr_boot', { bytes: 440 }],
  ['dmbr_disksig', 'u32'], // Windows disk signature; boot code on older disks
  ['dmbr_reserved', 'u16'],
  ['dmbr_parts', { bytes: 64 }], // NDOSPART entries at DOSPARTOFF (446)
  ['dmbr_sign', 'u16'],
] as const);

export const DOS_PARTITION = new Struct('dos_partition', [
  ['dp_flag', 'u8'], // bootstrap flags: 0x80 active
  ['dp_shd', 'u8'], // starting head, sector (low 6 bits; cylinder high 2), cylinder
  ['dp_ssect', 'u8'],
  ['dp_scyl', 'u8'],
  ['dp_typ', 'u8'],
  ['dp_ehd', 'u8'],
  ['dp_esect', 'u8'],
  ['dp_ecyl', 'u8'],
  ['dp_start', 'u32'], // absolute starting sector (EBR: relative, see above)
  ['dp_size', 'u32'], // sectors
] as const);

export const NDOSPART = 4;
export const DOSPARTOFF = MBR.offset.dmbr_parts;
export const DOSMBR_SIGNATURE = 0xaa55;
export const DOSACTIVE = 0x80;
/** How many EBRs to follow at most (OpenBSD's DOS_MAXEBR): a bound even for a chain that never loops. */
export const DOS_MAXEBR = 256;

export interface MbrEntry {
  slot: number;
  flag: number;
  type: number;
  start: number;
  sectors: number;
}

export type MbrSector = { ok: true; entries: MbrEntry[] } | { ok: false; why: string };

/** The four entries of an MBR or EBR sector, or why it is not one. Empty entries are left out. */
export function parseMbrSector(sector: Uint8Array): MbrSector {
  const mbr = MBR.at(sector);
  const sign = mbr.u16('dmbr_sign');
  if (sign !== DOSMBR_SIGNATURE) return { ok: false, why: `no 0x55AA signature (0x${sign.toString(16).padStart(4, '0')})` };
  const entries: MbrEntry[] = [];
  for (let slot = 0; slot < NDOSPART; slot++) {
    const e = DOS_PARTITION.at(sector, DOSPARTOFF + slot * DOS_PARTITION.size);
    const flag = e.u8('dp_flag');
    // Linux's msdos reader draws the same line: a boot flag other than 0x00/0x80 means these
    // bytes are boot code (a FAT or NTFS boot sector also ends in 0x55AA), not a table.
    if (flag !== 0 && flag !== DOSACTIVE) return { ok: false, why: `entry ${slot + 1} has boot flag 0x${flag.toString(16)}` };
    const type = e.u8('dp_typ');
    const sectors = e.u32('dp_size');
    if (type === 0 || sectors === 0) continue;
    entries.push({ slot, flag, type, start: e.u32('dp_start'), sectors });
  }
  return { ok: true, entries };
}

export interface MbrPartition {
  /** 0-3 primaries, 4 on logicals in chain order. */
  index: number;
  name: string;
  type: number;
  bootable: boolean;
  /** Absolute, in sectors. */
  start: number;
  sectors: number;
  extended: boolean;
  /** For a logical: the name of its extended partition. */
  parent?: string;
}

/**
 * The primaries of sector 0 (already parsed) and the logicals of every extended partition,
 * bounded by DOS_MAXEBR and a set of visited EBRs, so a looping chain ends.
 */
export function readMbrPartitions(dev: BlockDevice, primaries: readonly MbrEntry[], warnings: string[]): MbrPartition[] {
  const out: MbrPartition[] = [];
  for (const e of primaries) {
    if (e.start === 0) warnings.push(`${dev.name}: MBR partition ${e.slot + 1} starts at sector 0, over the MBR itself`);
    out.push({
      index: e.slot,
      name: String(e.slot + 1),
      type: e.type,
      bootable: e.flag === DOSACTIVE,
      start: e.start,
      sectors: e.sectors,
      extended: isExtended(e.type),
    });
  }
  let next = NDOSPART;
  for (const ext of out.filter((p) => p.extended)) {
    for (const l of readLogicals(dev, ext, warnings)) {
      out.push({ ...l, index: next, name: String(next + 1) });
      next++;
    }
  }
  return out;
}

function readLogicals(dev: BlockDevice, ext: MbrPartition, warnings: string[]): Omit<MbrPartition, 'index' | 'name'>[] {
  const out: Omit<MbrPartition, 'index' | 'name'>[] = [];
  const where = `${dev.name}: extended partition ${ext.name}`;
  const seen = new Set<number>();
  let ebr = ext.start;
  for (let hop = 0; ; hop++) {
    if (hop >= DOS_MAXEBR) {
      warnings.push(`${where}: more than ${DOS_MAXEBR} EBRs in the chain; the rest are not read`);
      break;
    }
    if (seen.has(ebr)) {
      warnings.push(`${where}: the EBR chain loops back to sector ${ebr}; stopped there`);
      break;
    }
    seen.add(ebr);
    if ((ebr + 1) * SECTOR > dev.size) {
      warnings.push(`${where}: EBR at sector ${ebr} is past the end of the device; the chain stops there`);
      break;
    }
    const parsed = parseMbrSector(readBytes(dev, ebr * SECTOR, SECTOR));
    if (!parsed.ok) {
      warnings.push(`${where}: EBR at sector ${ebr} is not one (${parsed.why}); the chain stops there`);
      break;
    }
    let link: number | null = null;
    for (const e of parsed.entries) {
      if (isExtended(e.type)) {
        // Links are relative to the extended partition's start, not to this EBR.
        if (link === null) link = ext.start + e.start;
        else warnings.push(`${where}: EBR at sector ${ebr} has a second link (entry ${e.slot + 1}); ignored`);
        continue;
      }
      if (e.start === 0) {
        warnings.push(`${where}: EBR at sector ${ebr} entry ${e.slot + 1} (${mbrTypeCode(e.type)}) starts on the EBR itself; ignored`);
        continue;
      }
      const start = ebr + e.start;
      if (start < ext.start || start + e.sectors > ext.start + ext.sectors) {
        warnings.push(`${where}: logical partition at sector ${start} (${e.sectors} sectors) lies outside it`);
      }
      out.push({ type: e.type, bootable: e.flag === DOSACTIVE, start, sectors: e.sectors, extended: false, parent: ext.name });
    }
    if (link === null) break;
    ebr = link;
  }
  return out;
}
