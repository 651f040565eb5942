// The GUID partition table (UEFI spec, "GUID Partition Table (GPT) Disk Layout"), like
// tsk/vs/gpt.c but checking what TSK does not: the header CRC32 and the entry array CRC32. The
// primary header is at LBA 1 and its entries usually at LBA 2; the backup header is at the last
// LBA with its entries just before it. A corrupt primary falls back to the backup, saying so.

import { readBytes, type BlockDevice } from '../image/block-device.js';
import { UserError } from '../util/errors.js';
import { crc32 } from './crc32.js';
import { guidText } from './gpt-types.js';
import { Struct } from './struct.js';

export const GPT_HEADER = new Struct('gpt_header', [
  ['gh_sig', 'u64'], // "EFI PART"
  ['gh_rev', 'u32'], // 0x00010000
  ['gh_size', 'u32'], // bytes covered by gh_csum, >= 92
  ['gh_csum', 'u32'], // CRC32 of gh_size bytes, this field taken as 0
  ['gh_rsvd', 'u32'],
  ['gh_lba_self', 'u64'],
  ['gh_lba_alt', 'u64'],
  ['gh_lba_start', 'u64'], // first usable LBA
  ['gh_lba_end', 'u64'], // last usable LBA
  ['gh_guid', { bytes: 16 }],
  ['gh_part_lba', 'u64'],
  ['gh_part_num', 'u32'],
  ['gh_part_size', 'u32'], // 128 * 2^n
  ['gh_part_csum', 'u32'], // CRC32 of gh_part_num * gh_part_size bytes
] as const);

export const GPT_ENTRY = new Struct('gpt_partition', [
  ['gp_type', { bytes: 16 }], // all zero: unused entry
  ['gp_guid', { bytes: 16 }],
  ['gp_lba_start', 'u64'],
  ['gp_lba_end', 'u64'], // inclusive
  ['gp_attrs', 'u64'],
  ['gp_name', { bytes: 72 }], // UTF-16LE, NUL padded
] as const);

export const GPT_SIGNATURE = 0x5452415020494645n;
export const GPT_REVISION = 0x00010000;
/** Bounds on the entry array: UEFI asks for at least 16 KiB; nothing sane needs more than 1 MiB. */
export const GPT_MAX_ENTRY_SIZE = 4096;
export const GPT_MAX_ARRAY_BYTES = 1 << 20;

export interface GptHeader {
  lba: bigint;
  /** Only 1.0 (0x00010000) exists; another is read the same way, with a warning. */
  rev: number;
  alt: bigint;
  first: bigint;
  last: bigint;
  partLba: bigint;
  num: number;
  entSize: number;
  partCsum: number;
  diskGuid: string;
}

export interface GptEntry {
  index: number;
  type: string;
  guid: string;
  /** LBAs, inclusive. */
  start: bigint;
  end: bigint;
  name: string;
}

export interface GptTable {
  sectorSize: number;
  /** Which copy was read: the primary (LBA 1) or the backup. */
  copy: 'primary' | 'backup';
  header: GptHeader;
  entries: GptEntry[];
}

type Copy = { header: GptHeader; array: Uint8Array; crcOk: boolean; why?: string } | { header?: undefined; why: string };

/** Sector size whose LBA 1 holds a GPT signature (512, or 4096 for a 4Kn disk), or null. */
export function gptSignatureAt(dev: BlockDevice): number | null {
  for (const ss of [512, 4096]) {
    if (dev.size < 2 * ss) continue;
    if (GPT_HEADER.at(readBytes(dev, ss, GPT_HEADER.size)).u64('gh_sig') === GPT_SIGNATURE) return ss;
  }
  return null;
}

function parseHeader(dev: BlockDevice, lba: bigint, ss: number): { header: GptHeader } | { why: string } {
  const sectors = BigInt(Math.floor(dev.size / ss));
  if (lba < 1n || lba >= sectors) return { why: `LBA ${lba} is outside the device` };
  const sector = readBytes(dev, Number(lba) * ss, ss);
  const h = GPT_HEADER.at(sector);
  if (h.u64('gh_sig') !== GPT_SIGNATURE) return { why: 'no "EFI PART" signature' };
  const size = h.u32('gh_size');
  if (size < GPT_HEADER.size || size > ss) return { why: `header size ${size} is not between ${GPT_HEADER.size} and ${ss}` };
  const recorded = h.u32('gh_csum');
  const copy = Uint8Array.from(sector.subarray(0, size));
  GPT_HEADER.at(copy).setU32('gh_csum', 0);
  const computed = crc32(copy);
  if (computed !== recorded) return { why: `header CRC32 mismatch (0x${hex32(recorded)} recorded, 0x${hex32(computed)} computed)` };
  const self = h.u64('gh_lba_self');
  if (self !== lba) return { why: `header at LBA ${lba} says it is at LBA ${self}` };
  const num = h.u32('gh_part_num');
  const entSize = h.u32('gh_part_size');
  if (entSize < GPT_ENTRY.size || entSize > GPT_MAX_ENTRY_SIZE || (entSize & (entSize - 1)) !== 0) {
    return { why: `entry size ${entSize} is not 128 times a power of two up to ${GPT_MAX_ENTRY_SIZE}` };
  }
  if (num < 1 || num * entSize > GPT_MAX_ARRAY_BYTES) return { why: `${num} entries of ${entSize} bytes is not between 1 entry and 1 MiB` };
  const partLba = h.u64('gh_part_lba');
  const arraySectors = BigInt(Math.ceil((num * entSize) / ss));
  if (partLba < 1n || partLba + arraySectors > sectors) return { why: `entry array at LBA ${partLba} does not fit in the device` };
  const first = h.u64('gh_lba_start');
  const last = h.u64('gh_lba_end');
  if (first > last) return { why: `first usable LBA ${first} is after the last, ${last}` };
  return {
    header: {
      lba,
      rev: h.u32('gh_rev'),
      alt: h.u64('gh_lba_alt'),
      first,
      last,
      partLba,
      num,
      entSize,
      partCsum: h.u32('gh_part_csum'),
      diskGuid: guidText(h.bytes('gh_guid')),
    },
  };
}

function readCopy(dev: BlockDevice, lba: bigint, ss: number): Copy {
  const parsed = parseHeader(dev, lba, ss);
  if (!('header' in parsed)) return { why: parsed.why };
  const { header } = parsed;
  const array = readBytes(dev, Number(header.partLba) * ss, header.num * header.entSize);
  const computed = crc32(array);
  const crcOk = computed === header.partCsum;
  const why = crcOk
    ? undefined
    : `entry array at LBA ${header.partLba} fails its CRC32 (0x${hex32(header.partCsum)} recorded, 0x${hex32(computed)} computed)`;
  return { header, array, crcOk, why };
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/**
 * Read the GPT: the primary copy when its header and entries check out, else the backup (with a
 * warning), else whichever header is sound with entries that fail their CRC (with a warning:
 * a forensic reader would rather see them than nothing). UserError when no header is sound.
 */
export function readGpt(dev: BlockDevice, ss: number, warnings: string[]): GptTable {
  const lastLba = BigInt(Math.floor(dev.size / ss)) - 1n;
  const primary = readCopy(dev, 1n, ss);
  let chosen: Copy & { header: GptHeader };
  let copy: 'primary' | 'backup' = 'primary';

  if (primary.header && primary.crcOk) {
    chosen = primary;
    const backupLba = primary.header.alt;
    if (backupLba !== 1n && backupLba <= lastLba) {
      const b = parseHeader(dev, backupLba, ss);
      if (!('header' in b)) warnings.push(`${dev.name}: backup GPT header at LBA ${backupLba} is unusable (${b.why}); the primary is used`);
    } else {
      warnings.push(`${dev.name}: primary GPT header names its backup at LBA ${backupLba}, outside the device (last LBA ${lastLba})`);
    }
  } else {
    // The backup is at the last LBA; a disk grown after partitioning has it where the primary says.
    const tried = new Set<bigint>();
    let backup: Copy = { why: 'not found' };
    for (const lba of [lastLba, primary.header?.alt]) {
      if (lba === undefined || lba <= 1n || lba > lastLba || tried.has(lba)) continue;
      tried.add(lba);
      backup = readCopy(dev, lba, ss);
      if (backup.header) break;
    }
    const backupAt = backup.header ? backup.header.lba : lastLba;
    if (backup.header && backup.crcOk) {
      warnings.push(`${dev.name}: primary GPT at LBA 1 is corrupt (${primary.why}); using the backup at LBA ${backupAt}`);
      chosen = backup;
      copy = 'backup';
    } else if (primary.header) {
      warnings.push(
        `${dev.name}: primary GPT ${primary.why}, and the backup at LBA ${backupAt} is no better (${backup.why}); its entries are read anyway`,
      );
      chosen = primary;
    } else if (backup.header) {
      warnings.push(`${dev.name}: primary GPT at LBA 1 is corrupt (${primary.why}); backup at LBA ${backupAt}: ${backup.why}; its entries are read anyway`);
      chosen = backup;
      copy = 'backup';
    } else {
      throw new UserError(`${dev.name}: no usable GPT: primary at LBA 1: ${primary.why}; backup at LBA ${backupAt}: ${backup.why}`);
    }
  }

  const h = chosen.header;
  const sectors = lastLba + 1n;
  if (h.rev !== GPT_REVISION) warnings.push(`${dev.name}: GPT revision 0x${hex32(h.rev)} (only 0x${hex32(GPT_REVISION)} is known); read as 1.0`);
  if (h.last >= sectors) warnings.push(`${dev.name}: GPT's last usable LBA ${h.last} is past the end of the device (last LBA ${lastLba})`);
  const entries: GptEntry[] = [];
  for (let i = 0; i < h.num; i++) {
    const e = GPT_ENTRY.at(chosen.array, i * h.entSize);
    const typeBytes = e.bytes('gp_type');
    if (typeBytes.every((b) => b === 0)) continue;
    const start = e.u64('gp_lba_start');
    const end = e.u64('gp_lba_end');
    if (end < start) {
      warnings.push(`${dev.name}: GPT entry ${i + 1} ends (LBA ${end}) before it starts (LBA ${start}); left out`);
      continue;
    }
    if (start < h.first || end > h.last) {
      warnings.push(`${dev.name}: GPT entry ${i + 1} (LBA ${start}-${end}) lies outside the usable LBAs ${h.first}-${h.last}`);
    }
    entries.push({ index: i, type: guidText(typeBytes), guid: guidText(e.bytes('gp_guid')), start, end, name: utf16Name(e.bytes('gp_name')) });
  }
  return { sectorSize: ss, copy, header: h, entries };
}

function utf16Name(b: Uint8Array): string {
  const s = Buffer.from(b).toString('utf16le');
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}
