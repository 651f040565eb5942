// GPT partition type GUIDs (text form, upper case): a name for reports and what filesystem the
// type promises. Only types a build worker's disk plausibly holds are named.

import type { FsHint } from './types.js';

/** OpenBSD's type: the partition holds a disklabel at its sector 1, like an MBR 0xA6 partition. */
export const GPT_TYPE_OPENBSD = '824CC7A0-36A8-11E3-890A-952519AD3F61';

const TYPES: Record<string, [string, FsHint]> = {
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': ['EFI system', 'fat'],
  '21686148-6449-6E6F-744E-656564454649': ['BIOS boot', 'other'],
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': ['Microsoft basic data', 'ntfs'],
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': ['Microsoft reserved', null],
  'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC': ['Windows recovery', 'ntfs'],
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': ['Linux filesystem', 'ext'],
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709': ['Linux root (x86-64)', 'ext'],
  'B921B045-1DF0-41C3-AF44-4C6F280D3FAE': ['Linux root (ARM64)', 'ext'],
  '72EC70A6-CF74-40E6-BD49-4BDA08E8F224': ['Linux root (RISC-V 64)', 'ext'],
  '933AC7E1-2EB4-4F13-B844-0E14E2AEF915': ['Linux home', 'ext'],
  'BC13C2FF-59E6-4262-A352-B275FD6F7172': ['Linux extended boot', 'ext'],
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': ['Linux swap', 'swap'],
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': ['Linux LVM', 'other'],
  'A19D880F-05FC-4D3B-A006-743F0F84911E': ['Linux RAID', 'other'],
  '83BD6B9D-7F41-11DC-BE0B-001560B84F0F': ['FreeBSD boot', 'other'],
  '516E7CB4-6ECF-11D6-8FF8-00022D09712B': ['FreeBSD data (disklabel)', 'ffs'],
  '516E7CB5-6ECF-11D6-8FF8-00022D09712B': ['FreeBSD swap', 'swap'],
  '516E7CB6-6ECF-11D6-8FF8-00022D09712B': ['FreeBSD UFS', 'ffs'],
  '516E7CBA-6ECF-11D6-8FF8-00022D09712B': ['FreeBSD ZFS', 'other'],
  [GPT_TYPE_OPENBSD]: ['OpenBSD data', 'ffs'],
  '49F48D5A-B10E-11DC-B99B-0019D1879648': ['NetBSD FFS', 'ffs'],
  '49F48D32-B10E-11DC-B99B-0019D1879648': ['NetBSD swap', 'swap'],
  '55465300-0000-11AA-AA11-00306543ECAC': ['Apple UFS', 'ffs'],
  '48465300-0000-11AA-AA11-00306543ECAC': ['Apple HFS+', 'other'],
  '7C3457EF-0000-11AA-AA11-00306543ECAC': ['Apple APFS', 'other'],
};

export function gptTypeName(guid: string): string {
  return TYPES[guid]?.[0] ?? 'unknown';
}

export function gptFsHint(guid: string): FsHint {
  const t = TYPES[guid];
  return t ? t[1] : 'other';
}

/**
 * A GUID's text form from its 16 on-disk bytes: GPT stores the first three fields little-endian
 * and the last two as bytes (UEFI spec, EFI_GUID), so the text is not the bytes in order.
 */
export function guidText(b: Uint8Array): string {
  const h = (i: number): string => b[i]!.toString(16).padStart(2, '0');
  const run = (idx: number[]): string => idx.map(h).join('');
  return [run([3, 2, 1, 0]), run([5, 4]), run([7, 6]), run([8, 9]), run([10, 11, 12, 13, 14, 15])].join('-').toUpperCase();
}

/** The inverse of guidText, for the test writer and for tests. */
export function guidBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a GUID: ${text}`);
  const raw = Buffer.from(hex, 'hex');
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Uint8Array.from(order.map((i) => raw[i]!));
}
