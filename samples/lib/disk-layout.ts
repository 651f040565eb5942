// Writes partition tables for tests and the samples (run with tsx; not product code): an MBR
// (with EBRs for logicals), an OpenBSD disklabel inside an 0xA6 partition, a FreeBSD bsdlabel
// inside an 0xA5 slice, and a bare disklabel. GPT images come from sfdisk, a real tool.
//
// Fields are filled the way the real tools fill them:
// - MBR: fdisk's CHS from a 255-head, 63-sector geometry (0xFE,0xFF,0xFF past cylinder 1023).
// - OpenBSD disklabel(8) on a virtio disk (sd(4) over vioblk): d_type SCSI, "SCSI disk",
//   "Block Device", 63 sectors x 255 tracks, d_version 1, 16 entries, d_bstart/d_bend = the 0xA6
//   partition, ABSOLUTE offsets split into p_offset/p_offseth, FFS entries with
//   p_fragblock = DISKLABELV1_FFS_FRAGBLOCK(2048, 8) and p_cpg 16 (its editor's defaults; newfs
//   rewrites them to what it made), c = the whole disk, unused.
// - FreeBSD bsdlabel(8): 8 classic entries (p_fsize, p_frag), c = the slice; offsets absolute
//   (bsdlabel adds the slice's offset) or relative with c at 0 (what gpart writes).
// The structure layouts are the ones src/volume reads through (declared once); mmls checks
// this writer's output independently in test/volume.

import { open, truncate } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import {
  CLASSIC_PARTITION,
  DISKMAGIC,
  disklabelChecksum,
  encodeFragblock,
  FREEBSD_LABEL,
  FS_BSDFFS,
  FS_SWAP,
  FS_UNUSED,
  LABEL_BYTE_OFFSET,
  LABEL_BYTES,
  OPENBSD_LABEL,
  OPENBSD_MAXPARTITIONS,
  OPENBSD_PARTITION,
} from '../../src/volume/disklabel.js';
import { DOS_PARTITION, DOSACTIVE, DOSMBR_SIGNATURE, DOSPARTOFF, MBR } from '../../src/volume/mbr.js';
import { DOSPTYP_EXTEND, DOSPTYP_FREEBSD, DOSPTYP_OPENBSD } from '../../src/volume/mbr-types.js';

export { FS_BSDFFS, FS_SWAP, FS_UNUSED };
export const SECTOR = 512;

/** Bytes to put at a byte offset of a disk image. */
export interface Patch {
  offset: number;
  bytes: Uint8Array;
}

// ---------------------------------------------------------------- MBR

export interface MbrEntrySpec {
  type: number;
  /** Sectors: absolute in the MBR; relative to the EBR (logical) or the extended partition (link) in an EBR. */
  start: number;
  sectors: number;
  bootable?: boolean;
}

/** fdisk's CHS triple for an LBA: head, sector | cylinder bits 8-9, cylinder bits 0-7. */
export function chs(lba: number): [number, number, number] {
  const heads = 255;
  const spt = 63;
  const cyl = Math.floor(lba / (heads * spt));
  if (cyl > 1023) return [0xfe, 0xff, 0xff];
  const head = Math.floor(lba / spt) % heads;
  const sect = (lba % spt) + 1;
  return [head, sect | ((cyl >> 2) & 0xc0), cyl & 0xff];
}

/** One MBR or EBR sector: up to four entries (null: an empty slot). */
export function mbrSector(entries: readonly (MbrEntrySpec | null)[], opts: { diskSignature?: number } = {}): Uint8Array {
  if (entries.length > 4) throw new Error('an MBR has four entries');
  const sector = new Uint8Array(SECTOR);
  const m = MBR.at(sector);
  m.setU32('dmbr_disksig', opts.diskSignature ?? 0);
  m.setU16('dmbr_sign', DOSMBR_SIGNATURE);
  entries.forEach((e, slot) => {
    if (!e) return;
    const p = DOS_PARTITION.at(sector, DOSPARTOFF + slot * DOS_PARTITION.size);
    const [sh, ss, sc] = chs(e.start);
    const [eh, es, ec] = chs(e.start + e.sectors - 1);
    p.setU8('dp_flag', e.bootable ? DOSACTIVE : 0);
    p.setU8('dp_shd', sh);
    p.setU8('dp_ssect', ss);
    p.setU8('dp_scyl', sc);
    p.setU8('dp_typ', e.type);
    p.setU8('dp_ehd', eh);
    p.setU8('dp_esect', es);
    p.setU8('dp_ecyl', ec);
    p.setU32('dp_start', e.start);
    p.setU32('dp_size', e.sectors);
  });
  return sector;
}

export function mbr(entries: readonly (MbrEntrySpec | null)[], opts: { diskSignature?: number } = {}): Patch {
  return { offset: 0, bytes: mbrSector(entries, opts) };
}

/** An EBR at absolute `sector`: the logical (relative to `sector`) and the link (relative to the extended partition). */
export function ebr(sector: number, logical: MbrEntrySpec | null, link: MbrEntrySpec | null): Patch {
  return { offset: sector * SECTOR, bytes: mbrSector([logical, link]) };
}

/**
 * An extended partition at `start` holding `logicals` (absolute start and size each; each needs
 * a free sector before it for its EBR), as fdisk chains them: EBR n at (logical n start - gap).
 */
export function extendedChain(start: number, logicals: readonly { type: number; start: number; sectors: number; ebrGap?: number }[]): Patch[] {
  const ebrs = logicals.map((l) => l.start - (l.ebrGap ?? 1));
  if (ebrs[0] !== undefined && ebrs[0] !== start) throw new Error('the first EBR is at the start of the extended partition');
  return logicals.map((l, i) => {
    const at = ebrs[i]!;
    const next = ebrs[i + 1];
    const nextLogical = logicals[i + 1];
    const link = next !== undefined && nextLogical ? { type: DOSPTYP_EXTEND, start: next - start, sectors: nextLogical.start + nextLogical.sectors - next } : null;
    return ebr(at, { type: l.type, start: l.start - at, sectors: l.sectors }, link);
  });
}

// ---------------------------------------------------------------- disklabels

export interface LabelPartitionSpec {
  /** Sectors. OpenBSD: absolute on the disk. FreeBSD: as recorded (see FreeBSDLabelSpec.absolute). */
  offset: number;
  size: number;
  fstype: number;
  /** FFS fragment size and fragments per block (OpenBSD packs them into p_fragblock). */
  fsize?: number;
  frag?: number;
  cpg?: number;
}

export type Letter = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'i' | 'j' | 'k' | 'l' | 'm' | 'n' | 'o' | 'p';

function letterIndex(l: string): number {
  const i = l.charCodeAt(0) - 97;
  if (l.length !== 1 || i < 0 || i >= 22) throw new Error(`not a partition letter: ${l}`);
  return i;
}

export interface OpenBSDLabelSpec {
  diskSectors: number;
  /** The OpenBSD area (the 0xA6 partition): d_bstart, d_bend (end exclusive). */
  boundStart: number;
  boundEnd: number;
  /** 16 hex digits. */
  duid: string;
  partitions: Partial<Record<Letter, LabelPartitionSpec>>;
  secsize?: number;
  typename?: string;
  packname?: string;
  /** Override d_checksum (to write a bad one). */
  checksum?: number;
  npartitions?: number;
  version?: number;
}

/** The 512-byte OpenBSD label sector. `c` defaults to the whole disk. */
export function openbsdLabelSector(spec: OpenBSDLabelSpec): Uint8Array {
  const sector = new Uint8Array(LABEL_BYTES);
  const d = OPENBSD_LABEL.at(sector);
  const nsectors = 63;
  const ntracks = 255;
  const secpercyl = nsectors * ntracks;
  const hi = (n: number): number => Math.floor(n / 2 ** 32);
  const lo = (n: number): number => n % 2 ** 32;
  d.setU32('d_magic', DISKMAGIC);
  d.setU16('d_type', 4); // DTYPE_SCSI
  d.setBytes('d_typename', Buffer.from(spec.typename ?? 'SCSI disk', 'latin1'));
  d.setBytes('d_packname', Buffer.from(spec.packname ?? 'Block Device', 'latin1'));
  d.setU32('d_secsize', spec.secsize ?? SECTOR);
  d.setU32('d_nsectors', nsectors);
  d.setU32('d_ntracks', ntracks);
  d.setU32('d_ncylinders', Math.floor(spec.diskSectors / secpercyl));
  d.setU32('d_secpercyl', secpercyl);
  d.setU32('d_secperunit', lo(spec.diskSectors));
  d.setU16('d_secperunith', hi(spec.diskSectors));
  if (!/^[0-9a-f]{16}$/.test(spec.duid)) throw new Error(`a DUID is 16 hex digits: ${spec.duid}`);
  d.setBytes('d_uid', Buffer.from(spec.duid, 'hex'));
  d.setU32('d_bstart', lo(spec.boundStart));
  d.setU16('d_bstarth', hi(spec.boundStart));
  d.setU32('d_bend', lo(spec.boundEnd));
  d.setU16('d_bendh', hi(spec.boundEnd));
  d.setU16('d_version', spec.version ?? 1);
  d.setU32('d_magic2', DISKMAGIC);
  const n = spec.npartitions ?? OPENBSD_MAXPARTITIONS;
  d.setU16('d_npartitions', n);
  d.setU32('d_bbsize', 8192);
  d.setU32('d_sbsize', 8192);
  const parts: Partial<Record<string, LabelPartitionSpec>> = { c: { offset: 0, size: spec.diskSectors, fstype: FS_UNUSED }, ...spec.partitions };
  for (const [letter, p] of Object.entries(parts)) {
    if (!p) continue;
    const e = OPENBSD_PARTITION.at(sector, OPENBSD_LABEL.size + letterIndex(letter) * OPENBSD_PARTITION.size);
    e.setU32('p_size', lo(p.size));
    e.setU16('p_sizeh', hi(p.size));
    e.setU32('p_offset', lo(p.offset));
    e.setU16('p_offseth', hi(p.offset));
    e.setU8('p_fstype', p.fstype);
    if (p.fstype === FS_BSDFFS) {
      e.setU8('p_fragblock', encodeFragblock(p.fsize ?? 2048, p.frag ?? 8));
      e.setU16('p_cpg', p.cpg ?? 16);
    }
  }
  d.setU16('d_checksum', spec.checksum ?? disklabelChecksum(sector, OPENBSD_LABEL.size + Math.min(n, 22) * OPENBSD_PARTITION.size));
  return sector;
}

export interface OpenBSDDiskSpec {
  diskSectors: number;
  /** Where the 0xA6 partition starts (OpenBSD's fdisk -i puts it at 64). */
  a6Start?: number;
  /** The MBR slot of the 0xA6 partition (fdisk -i uses the fourth, slot 3). */
  slot?: number;
  duid: string;
  partitions: Partial<Record<Letter, LabelPartitionSpec>>;
  /** Other MBR entries (slots other than `slot`). */
  others?: Partial<Record<number, MbrEntrySpec>>;
}

/** An MBR with a bootable 0xA6 partition to the end of the disk and its label at its sector 1. */
export function openbsdDisk(spec: OpenBSDDiskSpec): Patch[] {
  const a6 = spec.a6Start ?? 64;
  const slot = spec.slot ?? 3;
  const entries: (MbrEntrySpec | null)[] = [0, 1, 2, 3].map((i) => spec.others?.[i] ?? null);
  // An MBR counts 32-bit sectors: past 2 TiB fdisk stops the partition there (the label goes on).
  entries[slot] = { type: DOSPTYP_OPENBSD, start: a6, sectors: Math.min(spec.diskSectors - a6, 0xffffffff), bootable: true };
  return [
    mbr(entries),
    {
      offset: a6 * SECTOR + LABEL_BYTE_OFFSET,
      bytes: openbsdLabelSector({ diskSectors: spec.diskSectors, boundStart: a6, boundEnd: spec.diskSectors, duid: spec.duid, partitions: spec.partitions }),
    },
  ];
}

/** A disklabel at sector 1 of a disk without an MBR (offsets absolute, c the whole disk). */
export function bareOpenbsdLabel(spec: Omit<OpenBSDLabelSpec, 'boundStart' | 'boundEnd'>): Patch {
  return { offset: LABEL_BYTE_OFFSET, bytes: openbsdLabelSector({ ...spec, boundStart: 0, boundEnd: spec.diskSectors }) };
}

export interface FreeBSDLabelSpec {
  sliceStart: number;
  sliceSectors: number;
  /** bsdlabel(8): offsets absolute, c at the slice's start. gpart: relative, c at 0. */
  absolute: boolean;
  /** Offsets relative to the slice; the writer adds sliceStart when `absolute`. */
  partitions: Partial<Record<Letter, LabelPartitionSpec>>;
  npartitions?: number;
}

export function freebsdLabelSector(spec: FreeBSDLabelSpec): Uint8Array {
  const sector = new Uint8Array(LABEL_BYTES);
  const d = FREEBSD_LABEL.at(sector);
  const base = spec.absolute ? spec.sliceStart : 0;
  d.setU32('d_magic', DISKMAGIC);
  d.setU32('d_secsize', SECTOR);
  d.setU32('d_nsectors', 63);
  d.setU32('d_ntracks', 255);
  d.setU32('d_ncylinders', Math.floor(spec.sliceSectors / (63 * 255)));
  d.setU32('d_secpercyl', 63 * 255);
  d.setU32('d_secperunit', spec.sliceSectors);
  d.setU16('d_rpm', 3600);
  d.setU32('d_magic2', DISKMAGIC);
  const n = spec.npartitions ?? 8;
  d.setU16('d_npartitions', n);
  d.setU32('d_bbsize', 8192);
  const parts: Partial<Record<string, LabelPartitionSpec>> = { c: { offset: 0, size: spec.sliceSectors, fstype: FS_UNUSED }, ...spec.partitions };
  for (const [letter, p] of Object.entries(parts)) {
    if (!p) continue;
    const e = CLASSIC_PARTITION.at(sector, FREEBSD_LABEL.size + letterIndex(letter) * CLASSIC_PARTITION.size);
    e.setU32('p_size', p.size);
    e.setU32('p_offset', base + p.offset);
    e.setU8('p_fstype', p.fstype);
    if (p.fstype === FS_BSDFFS) {
      e.setU32('p_fsize', p.fsize ?? 4096);
      e.setU8('p_frag', p.frag ?? 8);
      e.setU16('p_cpg', p.cpg ?? 0);
    }
  }
  d.setU16('d_checksum', disklabelChecksum(sector, FREEBSD_LABEL.size + Math.min(n, 22) * CLASSIC_PARTITION.size));
  return sector;
}

/** An MBR with one 0xA5 slice (`slot`, default 0) and its bsdlabel at the slice's sector 1. */
export function freebsdDisk(spec: FreeBSDLabelSpec & { slot?: number; others?: Partial<Record<number, MbrEntrySpec>> }): Patch[] {
  const slot = spec.slot ?? 0;
  const entries: (MbrEntrySpec | null)[] = [0, 1, 2, 3].map((i) => spec.others?.[i] ?? null);
  entries[slot] = { type: DOSPTYP_FREEBSD, start: spec.sliceStart, sectors: spec.sliceSectors, bootable: true };
  return [mbr(entries), { offset: spec.sliceStart * SECTOR + LABEL_BYTE_OFFSET, bytes: freebsdLabelSector(spec) }];
}

// ---------------------------------------------------------------- output

export function applyToBuffer(buf: Uint8Array, patches: readonly Patch[]): Uint8Array {
  for (const p of patches) {
    if (p.offset + p.bytes.length > buf.length) throw new Error(`patch at ${p.offset} runs past the ${buf.length}-byte buffer`);
    buf.set(p.bytes, p.offset);
  }
  return buf;
}

/** A sparse image file of `size` bytes holding the patches (created or overwritten). */
export async function writeImageFile(path: string, size: number, patches: readonly Patch[]): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (const p of patches) await fh.write(p.bytes, 0, p.bytes.length, p.offset);
  } finally {
    await fh.close();
  }
  await truncate(path, size);
}

// ---------------------------------------------------------------- the incident's layout

/**
 * The layout of the incident's OpenBSD 7.8 disks, scaled to `diskSectors`: the 0xA6 partition
 * from sector 64, `/` on a, swap on b, c the whole disk, `/home` on e (the rest).
 */
export function openbsdIncidentDisk(diskSectors: number, duid = 'a1b2c3d4e5f60718'): { patches: Patch[]; partitions: Record<'a' | 'b' | 'e', LabelPartitionSpec> } {
  const area = diskSectors - 64;
  const a = Math.min(2 * 2 ** 21, Math.floor(area / 4)); // up to 2 GiB
  const b = Math.min(2 ** 21, Math.floor(area / 8)); // up to 1 GiB
  const partitions = {
    a: { offset: 64, size: a, fstype: FS_BSDFFS },
    b: { offset: 64 + a, size: b, fstype: FS_SWAP },
    e: { offset: 64 + a + b, size: area - a - b, fstype: FS_BSDFFS },
  };
  return { patches: openbsdDisk({ diskSectors, duid, partitions }), partitions };
}

function parseSize(s: string): number {
  const m = /^(\d+)([KMGT]?)$/i.exec(s);
  if (!m) throw new Error(`not a size: ${s} (bytes, or with K, M, G, T)`);
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2]!.toUpperCase()]!;
  return Number(m[1]) * mult;
}

// `tsx samples/lib/disk-layout.ts openbsd FILE SIZE [DUID]`: a sparse image with the incident's
// partition tables (no filesystems), and its layout as JSON on stdout.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [cmd, file, size, duid] = process.argv.slice(2);
  if (cmd !== 'openbsd' || !file || !size) {
    process.stderr.write('usage: tsx samples/lib/disk-layout.ts openbsd FILE SIZE [DUID]\n');
    process.exit(2);
  }
  const bytes = parseSize(size);
  const { patches, partitions } = openbsdIncidentDisk(Math.floor(bytes / SECTOR), duid);
  await writeImageFile(file, bytes, patches);
  process.stdout.write(`${JSON.stringify({ file, bytes, duid: duid ?? 'a1b2c3d4e5f60718', a6Start: 64, partitions })}\n`);
}
