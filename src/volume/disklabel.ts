// BSD disklabels, like tsk/vs/bsd.c: one 512-byte label at byte 512 of the area it describes
// (OpenBSD's DOS_LABELSECTOR / FreeBSD's LABELSECTOR, sector 1 in 512-byte units), magic
// 0x82564557 at d_magic and d_magic2, then d_npartitions 16-byte entries lettered a, b, c, …
// Layouts from OpenBSD's and FreeBSD's sys/sys/disklabel.h (FreeBSD's is sys/sys/disk/bsd.h).
//
// Where the flavours differ:
// - OpenBSD (d_version 1, since 4.4): partition offsets are ABSOLUTE disk sectors, 48 bits wide
//   (p_offseth/p_sizeh hold the high 16), d_uid is the DUID fstab names partitions by, fragment
//   and block size are packed into p_fragblock, MAXPARTITIONS is 16. Version 0 labels use the
//   classic entry below (OpenBSD's __partitionv0); the kernel no longer accepts them.
// - FreeBSD (and the classic 4.4BSD entry: p_fsize, p_fstype, p_frag, p_cpg): 32-bit offsets.
//   GEOM (g_part_bsd.c) takes the raw partition c's p_offset as the label's base and subtracts
//   it from every entry: bsdlabel(8) writes absolute offsets with c at the slice's start, gpart
//   writes offsets relative to the slice with c at 0, and both read back the same. Up to 20
//   entries (BSD_NPARTS_MAX).
// The Sleuth Kit does neither: it adds every p_offset to the volume offset it was given (`mmls -o`).
//
// d_checksum makes the 16-bit XOR of the label, from d_magic to the end of entry d_npartitions-1,
// zero. OpenBSD refuses a label that fails it; a forensic reader reads it anyway and warns.

import { readBytes, type BlockDevice } from '../image/block-device.js';
import { escapeText } from '../report/escape.js';
import { Struct } from './struct.js';
import { RAW_PART, type Found, type FsHint } from './types.js';

const COMMON_HEAD = [
  ['d_magic', 'u32'],
  ['d_type', 'u16'],
  ['d_subtype', 'u16'],
  ['d_typename', { bytes: 16 }],
  ['d_packname', { bytes: 16 }],
  ['d_secsize', 'u32'],
  ['d_nsectors', 'u32'],
  ['d_ntracks', 'u32'],
  ['d_ncylinders', 'u32'],
  ['d_secpercyl', 'u32'],
  ['d_secperunit', 'u32'],
] as const;

const COMMON_TAIL = [
  ['d_magic2', 'u32'],
  ['d_checksum', 'u16'],
  ['d_npartitions', 'u16'],
  ['d_bbsize', 'u32'],
  ['d_sbsize', 'u32'],
] as const;

/** OpenBSD's struct disklabel up to d_partitions (148 bytes). */
export const OPENBSD_LABEL = new Struct('disklabel (OpenBSD)', [
  ...COMMON_HEAD,
  ['d_uid', { bytes: 8 }],
  ['d_acylinders', 'u32'],
  ['d_bstarth', 'u16'],
  ['d_bendh', 'u16'],
  ['d_bstart', 'u32'], // the OpenBSD area: the 0xA6 partition's sectors
  ['d_bend', 'u32'],
  ['d_flags', 'u32'],
  ['d_drivedata', { bytes: 20 }],
  ['d_secperunith', 'u16'],
  ['d_version', 'u16'],
  ['d_spare', { bytes: 16 }],
  ...COMMON_TAIL,
] as const);

/** FreeBSD's (the 4.4BSD) struct disklabel up to d_partitions (148 bytes). */
export const FREEBSD_LABEL = new Struct('disklabel (FreeBSD)', [
  ...COMMON_HEAD,
  ['d_sparespertrack', 'u16'],
  ['d_sparespercyl', 'u16'],
  ['d_acylinders', 'u32'],
  ['d_rpm', 'u16'],
  ['d_interleave', 'u16'],
  ['d_trackskew', 'u16'],
  ['d_cylskew', 'u16'],
  ['d_headswitch', 'u32'],
  ['d_trkseek', 'u32'],
  ['d_flags', 'u32'],
  ['d_drivedata', { bytes: 20 }],
  ['d_spare', { bytes: 20 }],
  ...COMMON_TAIL,
] as const);

/** OpenBSD version 1 struct partition. */
export const OPENBSD_PARTITION = new Struct('partition (OpenBSD v1)', [
  ['p_size', 'u32'],
  ['p_offset', 'u32'],
  ['p_offseth', 'u16'],
  ['p_sizeh', 'u16'],
  ['p_fstype', 'u8'],
  ['p_fragblock', 'u8'],
  ['p_cpg', 'u16'],
] as const);

/** FreeBSD's struct partition, OpenBSD's __partitionv0. */
export const CLASSIC_PARTITION = new Struct('partition (4.4BSD)', [
  ['p_size', 'u32'],
  ['p_offset', 'u32'],
  ['p_fsize', 'u32'],
  ['p_fstype', 'u8'],
  ['p_frag', 'u8'],
  ['p_cpg', 'u16'],
] as const);

export const DISKMAGIC = 0x82564557;
/** Byte offset of the label from the start of the area it describes (sector 1 of 512 bytes). */
export const LABEL_BYTE_OFFSET = 512;
export const LABEL_BYTES = 512;
export const OPENBSD_MAXPARTITIONS = 16;
export const FREEBSD_NPARTS_MAX = 20;
/** Entries that fit in a 512-byte label sector (MAXMAXPARTITIONS): the checksum can cover no more. */
export const MAXMAXPARTITIONS = 22;

export const FS_UNUSED = 0;
export const FS_SWAP = 1;
export const FS_BSDFFS = 7;

/** [macro, fstypenames entry] by p_fstype: the two tables agree up to 13, then part ways. */
const OPENBSD_FSTYPES: readonly (readonly [string, string])[] = [
  ['FS_UNUSED', 'unused'], ['FS_SWAP', 'swap'], ['FS_V6', 'Version6'], ['FS_V7', 'Version7'],
  ['FS_SYSV', 'SystemV'], ['FS_V71K', '4.1BSD'], ['FS_V8', 'Eighth-Edition'], ['FS_BSDFFS', '4.2BSD'],
  ['FS_MSDOS', 'MSDOS'], ['FS_BSDLFS', '4.4LFS'], ['FS_OTHER', 'unknown'], ['FS_HPFS', 'HPFS'],
  ['FS_ISO9660', 'ISO9660'], ['FS_BOOT', 'boot'], ['FS_ADOS', 'ADOS'], ['FS_HFS', 'HFS'],
  ['FS_ADFS', 'ADFS'], ['FS_EXT2FS', 'ext2fs'], ['FS_CCD', 'ccd'], ['FS_RAID', 'RAID'],
  ['FS_NTFS', 'NTFS'], ['FS_UDF', 'UDF'],
];
const FREEBSD_FSTYPES: Readonly<Record<number, readonly [string, string]>> = {
  ...Object.fromEntries(OPENBSD_FSTYPES.slice(0, 14).map((t, i) => [i, t])),
  14: ['FS_VINUM', 'vinum'], 15: ['FS_RAID', 'raid'], 16: ['FS_FILECORE', 'Filecore'], 17: ['FS_EXT2FS', 'EXT2FS'],
  18: ['FS_NTFS', 'NTFS'], 20: ['FS_CCD', 'ccd'], 21: ['FS_JFS2', 'jfs'], 22: ['FS_HAMMER', 'HAMMER'],
  23: ['FS_HAMMER2', 'HAMMER2'], 24: ['FS_UDF', 'UDF'], 26: ['FS_EFS', 'EFS'], 27: ['FS_ZFS', 'ZFS'], 30: ['FS_NANDFS', 'nandfs'],
};

function fstypeOf(flavor: Flavor, t: number): { type: string; typeName: string; fsHint: FsHint } {
  const known = flavor === 'openbsd' ? OPENBSD_FSTYPES[t] : FREEBSD_FSTYPES[t];
  const [type, typeName] = known ?? [`fstype ${t}`, `unknown (${t})`];
  const hint: Record<string, FsHint> = {
    FS_UNUSED: null, FS_SWAP: 'swap', FS_BSDFFS: 'ffs', FS_MSDOS: 'fat', FS_EXT2FS: 'ext', FS_NTFS: 'ntfs',
  };
  return { type, typeName, fsHint: type in hint ? hint[type]! : 'other' };
}

export type Flavor = 'openbsd' | 'freebsd';

export interface Disklabel {
  flavor: Flavor;
  /** d_version (OpenBSD; 0 for FreeBSD). */
  version: number;
  secsize: number;
  npartitions: number;
  /** 16 hex digits (OpenBSD), absent when d_uid is all zero or the flavour has none. */
  duid?: string;
  /** d_packname, NUL-trimmed, as recorded (escape before printing). */
  packname: string;
  checksumOk: boolean;
  /** Where the label's sector is on the device, in bytes. */
  at: number;
}

export type LabelResult = { ok: true; label: Disklabel; partitions: Found[] } | { ok: false; why: string };

/** Where a label was found, for its partitions' offsets and names. */
export interface LabelContext {
  /** 'auto' for a bare label: OpenBSD when d_version is 1, else the classic layout. */
  flavor: Flavor | 'auto';
  /** Byte offset of the area the label describes (the MBR slice; 0 for a bare label). */
  areaStart: number;
  /** The `name` of the MBR or GPT partition that holds it, if any. */
  parent?: string;
}

/** True when `sector` carries the disklabel magic at both places (either byte order). */
export function hasDisklabelMagic(sector: Uint8Array): boolean {
  if (sector.length < OPENBSD_LABEL.size) return false;
  const v = OPENBSD_LABEL.at(sector);
  const m1 = v.u32('d_magic');
  const m2 = v.u32('d_magic2');
  return (m1 === DISKMAGIC && m2 === DISKMAGIC) || (m1 === swap32(DISKMAGIC) && m2 === swap32(DISKMAGIC));
}

function swap32(n: number): number {
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return Buffer.from(nul < 0 ? b : b.subarray(0, nul)).toString('latin1');
}

/** The 16-bit XOR of the first `bytes` bytes of the label, with d_checksum taken as 0. */
export function disklabelChecksum(sector: Uint8Array, bytes: number): number {
  let sum = 0;
  const at = OPENBSD_LABEL.offset.d_checksum;
  for (let i = 0; i + 1 < bytes; i += 2) {
    if (i === at) continue;
    sum ^= sector[i]! | (sector[i + 1]! << 8);
  }
  return sum;
}

/** Read the label whose sector starts at byte `at` of `dev`. */
export function readDisklabel(dev: BlockDevice, at: number, ctx: LabelContext, warnings: string[]): LabelResult {
  if (at < 0 || at + LABEL_BYTES > dev.size) return { ok: false, why: `its sector (byte ${at}) is past the end of the device` };
  const sector = readBytes(dev, at, LABEL_BYTES);
  const bad = magicProblem(sector);
  if (bad) return { ok: false, why: bad };
  const where = `${dev.name}: disklabel at byte ${at}`;
  const h = readHeader(sector, ctx, where, dev.size, warnings);
  const entries = readEntries(sector, h.npartitions, h.layout);
  const partitions = entries.flatMap((e) => toFound(e, entries, h, ctx, where, warnings));
  const { flavor, version, secsize, npartitions, duid, packname, checksumOk } = h;
  return { ok: true, label: { flavor, version, secsize, npartitions, ...(duid ? { duid } : {}), packname, checksumOk, at }, partitions };
}

function magicProblem(sector: Uint8Array): string | null {
  const head = OPENBSD_LABEL.at(sector);
  const m1 = head.u32('d_magic');
  const m2 = head.u32('d_magic2');
  if (m1 === swap32(DISKMAGIC) && m2 === swap32(DISKMAGIC)) return 'it is big-endian (a sparc64 or other big-endian label), which is not supported';
  if (m1 !== DISKMAGIC) return `no disklabel magic (d_magic 0x${m1.toString(16)})`;
  if (m2 !== DISKMAGIC) return `d_magic2 is 0x${m2.toString(16)}, not 0x${DISKMAGIC.toString(16)}`;
  return null;
}

interface Header {
  flavor: Flavor;
  version: number;
  layout: 'v1' | 'classic';
  secsize: number;
  /** Entries to read: d_npartitions bounded by the flavour's maximum. */
  npartitions: number;
  checksumOk: boolean;
  duid?: string;
  packname: string;
}

/** The label's header fields, checked: each oddity is a warning and a safe default. */
function readHeader(sector: Uint8Array, ctx: LabelContext, where: string, devSize: number, warnings: string[]): Header {
  const version = OPENBSD_LABEL.at(sector).u16('d_version');
  const flavor: Flavor = ctx.flavor === 'auto' ? (version === 1 ? 'openbsd' : 'freebsd') : ctx.flavor;
  const v = flavor === 'openbsd' ? OPENBSD_LABEL.at(sector) : FREEBSD_LABEL.at(sector);

  let secsize = v.u32('d_secsize');
  if (secsize < 512 || secsize > 65536 || (secsize & (secsize - 1)) !== 0) {
    warnings.push(`${where}: d_secsize ${secsize} is not a power of two from 512 to 65536; 512 assumed`);
    secsize = 512;
  }

  const declared = v.u16('d_npartitions');
  const max = flavor === 'openbsd' ? OPENBSD_MAXPARTITIONS : FREEBSD_NPARTS_MAX;
  if (declared > max) warnings.push(`${where}: d_npartitions is ${declared}, more than ${max}; only the first ${max} are read`);

  let checksumOk = false;
  if (declared <= MAXMAXPARTITIONS) {
    const computed = disklabelChecksum(sector, OPENBSD_LABEL.size + declared * OPENBSD_PARTITION.size);
    const recorded = v.u16('d_checksum');
    checksumOk = computed === recorded;
    if (!checksumOk) {
      warnings.push(`${where}: d_checksum is 0x${hex16(recorded)} but the label sums to 0x${hex16(computed)}; read anyway (OpenBSD would refuse it)`);
    }
  } else {
    warnings.push(`${where}: d_checksum cannot be verified over ${declared} partitions`);
  }

  const layout = flavor === 'openbsd' && version !== 0 ? 'v1' : 'classic';
  if (flavor === 'openbsd' && version !== 1) {
    warnings.push(
      version === 0
        ? `${where}: version 0 label (32-bit offsets, read with the old partition layout)`
        : `${where}: d_version ${version} is unknown; read as version 1`,
    );
  }

  let duid: string | undefined;
  if (flavor === 'openbsd') {
    const o = OPENBSD_LABEL.at(sector);
    const uid = o.bytes('d_uid');
    if (uid.some((b) => b !== 0)) duid = Buffer.from(uid).toString('hex');
    const disk = (BigInt(o.u16('d_secperunith')) << 32n) | BigInt(o.u32('d_secperunit'));
    if (layout === 'v1' && disk * BigInt(secsize) > BigInt(devSize)) {
      warnings.push(`${where}: the label describes a disk of ${disk} sectors, larger than the device (${devSize} bytes)`);
    }
  }

  const packname = cString(v.bytes('d_packname'));
  if (/[^\x20-\x7e]/.test(packname)) warnings.push(`${where}: d_packname holds unprintable bytes: ${escapeText(packname)}`);
  return { flavor, version, layout, secsize, npartitions: Math.min(declared, max), checksumOk, ...(duid ? { duid } : {}), packname };
}

/** One label entry as a partition at its absolute byte offset, or none (empty, or before FreeBSD's base). */
function toFound(e: Entry, all: readonly Entry[], h: Header, ctx: LabelContext, where: string, warnings: string[]): Found[] {
  if (e.size === 0n) return [];
  const letter = String.fromCharCode(97 + e.index);
  const secsize = BigInt(h.secsize);
  let startBytes: bigint;
  if (h.flavor === 'freebsd') {
    // FreeBSD's base: c's offset (absolute for bsdlabel(8), 0 for gpart).
    const c = all[RAW_PART];
    const base = c && c.size > 0n ? c.offset : 0n;
    if (e.offset < base) {
      warnings.push(`${where}: partition ${letter} starts at sector ${e.offset}, before the raw partition c (${base}); left out, as FreeBSD does`);
      return [];
    }
    startBytes = BigInt(ctx.areaStart) + (e.offset - base) * secsize;
  } else {
    startBytes = e.offset * secsize; // OpenBSD: absolute
  }
  const t = fstypeOf(h.flavor, e.fstype);
  const raw = e.index === RAW_PART;
  const ffs = t.type === 'FS_BSDFFS' && e.fsize > 0 ? { fsize: e.fsize, bsize: e.bsize, cpg: e.cpg } : undefined;
  const inSlice = h.flavor === 'freebsd' && ctx.parent !== undefined;
  return [
    {
      scheme: 'disklabel',
      index: e.index,
      name: letter,
      type: t.type,
      typeName: raw ? `${t.typeName} (raw partition: the whole ${inSlice ? 'slice' : 'disk'})` : t.typeName,
      fsHint: raw ? null : t.fsHint,
      offset: Number(startBytes),
      size: Number(e.size * secsize),
      container: raw,
      ...(ctx.parent !== undefined ? { parent: ctx.parent } : {}),
      ...(h.duid ? { duid: h.duid } : {}),
      ...(ffs ? { ffs } : {}),
      deviceName: inSlice ? `partition s${ctx.parent}${letter}` : `partition ${letter}`,
    },
  ];
}

interface Entry {
  index: number;
  /** Sectors (d_secsize units), as recorded. */
  offset: bigint;
  size: bigint;
  fstype: number;
  fsize: number;
  bsize: number;
  cpg: number;
}

function readEntries(sector: Uint8Array, n: number, layout: 'v1' | 'classic'): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const at = OPENBSD_LABEL.size + i * OPENBSD_PARTITION.size;
    if (layout === 'v1') {
      const p = OPENBSD_PARTITION.at(sector, at);
      const { fsize, bsize } = decodeFragblock(p.u8('p_fragblock'));
      out.push({
        index: i,
        offset: (BigInt(p.u16('p_offseth')) << 32n) | BigInt(p.u32('p_offset')),
        size: (BigInt(p.u16('p_sizeh')) << 32n) | BigInt(p.u32('p_size')),
        fstype: p.u8('p_fstype'),
        fsize,
        bsize,
        cpg: p.u16('p_cpg'),
      });
    } else {
      const p = CLASSIC_PARTITION.at(sector, at);
      const fsize = p.u32('p_fsize');
      out.push({
        index: i,
        offset: BigInt(p.u32('p_offset')),
        size: BigInt(p.u32('p_size')),
        fstype: p.u8('p_fstype'),
        fsize,
        bsize: fsize * p.u8('p_frag'),
        cpg: p.u16('p_cpg'),
      });
    }
  }
  return out;
}

/**
 * OpenBSD's p_fragblock: block size 2^((i >> 3) + 12), fragments per block 2^((i & 7) - 1)
 * (DISKLABELV1_FFS_BSIZE / _FRAG / _FSIZE); 0 means not set.
 */
export function decodeFragblock(i: number): { fsize: number; bsize: number } {
  if (i === 0 || (i & 7) === 0) return { fsize: 0, bsize: 0 };
  const bsize = 1 << ((i >> 3) + 12);
  const frag = 1 << ((i & 7) - 1);
  return { fsize: bsize / frag, bsize };
}

/** The inverse (DISKLABELV1_FFS_FRAGBLOCK), for the test writer: log2(bsize)-12 in the high bits, log2(frag)+1 low. */
export function encodeFragblock(fsize: number, frag: number): number {
  if (fsize * frag === 0) return 0;
  return ((Math.log2(fsize * frag) - 12) << 3) | (Math.log2(frag) + 1);
}

function hex16(n: number): string {
  return n.toString(16).padStart(4, '0');
}
