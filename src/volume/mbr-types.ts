// MBR partition type bytes: a name for reports and what filesystem the type promises. Only the
// types a build worker's disk plausibly holds are named; the rest read as "unknown (0xNN)".

import type { FsHint } from './types.js';

export const DOSPTYP_EXTEND = 0x05;
export const DOSPTYP_EXTENDL = 0x0f;
export const DOSPTYP_LINUX_EXT = 0x85;
export const DOSPTYP_FREEBSD = 0xa5;
export const DOSPTYP_OPENBSD = 0xa6;
export const DOSPTYP_NETBSD = 0xa9;
export const DOSPTYP_EFI = 0xee;

const TYPES: Record<number, [string, FsHint]> = {
  0x01: ['FAT12', 'fat'],
  0x04: ['FAT16 <32M', 'fat'],
  0x05: ['Extended', null],
  0x06: ['FAT16', 'fat'],
  0x07: ['NTFS / exFAT', 'ntfs'],
  0x0b: ['FAT32', 'fat'],
  0x0c: ['FAT32 (LBA)', 'fat'],
  0x0e: ['FAT16 (LBA)', 'fat'],
  0x0f: ['Extended (LBA)', null],
  0x11: ['Hidden FAT12', 'fat'],
  0x14: ['Hidden FAT16 <32M', 'fat'],
  0x16: ['Hidden FAT16', 'fat'],
  0x17: ['Hidden NTFS', 'ntfs'],
  0x1b: ['Hidden FAT32', 'fat'],
  0x1c: ['Hidden FAT32 (LBA)', 'fat'],
  0x1e: ['Hidden FAT16 (LBA)', 'fat'],
  0x27: ['Windows recovery', 'ntfs'],
  0x82: ['Linux swap', 'swap'],
  0x83: ['Linux', 'ext'],
  0x85: ['Linux extended', null],
  0x8e: ['Linux LVM', 'other'],
  // The BSD types hold a disklabel; when the label cannot be read the slice itself is the best
  // guess at an FFS (OpenBSD's `a` usually starts where the 0xA6 partition does).
  0xa5: ['FreeBSD', 'ffs'],
  0xa6: ['OpenBSD', 'ffs'],
  0xa8: ['Darwin UFS', 'ffs'],
  0xa9: ['NetBSD', 'ffs'],
  0xab: ['Darwin boot', 'other'],
  0xaf: ['HFS / HFS+', 'other'],
  0xee: ['GPT protective', null],
  0xef: ['EFI system', 'fat'],
  0xfd: ['Linux RAID', 'other'],
};

export function isExtended(type: number): boolean {
  return type === DOSPTYP_EXTEND || type === DOSPTYP_EXTENDL || type === DOSPTYP_LINUX_EXT;
}

export function mbrTypeCode(type: number): string {
  return `0x${type.toString(16).padStart(2, '0')}`;
}

export function mbrTypeName(type: number): string {
  return TYPES[type]?.[0] ?? `unknown (${mbrTypeCode(type)})`;
}

export function mbrFsHint(type: number): FsHint {
  const t = TYPES[type];
  return t ? t[1] : 'other';
}
