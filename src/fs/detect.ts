// What is on a partition, decided from signatures and checked structure, never from a
// partition type byte: UFS1/UFS2 (a superblock at any of FreeBSD's search locations that
// passes the sanity checks), ext2/3/4, NTFS, exFAT, FAT12/16/32, Linux swap. OpenBSD swap has
// no signature at all and stays `unknown`. Only FFS is read in-process; everything else gets a
// one-line UserError pointing at `--via boot`.

import type { BlockDevice } from '../image/block-device.js';
import { escapeText } from '../report/escape.js';
import { UserError } from '../util/errors.js';
import { findSuperblock } from './ffs/superblock.js';

export type FilesystemKind = 'ufs1' | 'ufs2' | 'ext2' | 'ext3' | 'ext4' | 'ntfs' | 'exfat' | 'fat12' | 'fat16' | 'fat32' | 'swap' | 'unknown';

export interface Detection {
  kind: FilesystemKind;
  /** How messages name it: "UFS2", "ext4", "NTFS", "FAT32", "Linux swap", "no recognised filesystem". */
  name: string;
  /** Whether src/fs reads it in-process. */
  supported: boolean;
  /** UFS: byte offset of the superblock. */
  superblockOffset?: number;
  /** A UFS magic number was found but its superblock failed the sanity checks: why. */
  problem?: string;
  /** Other signatures also present (leftovers of an earlier format of the same space). */
  others: FilesystemKind[];
}

const NAMES: Record<FilesystemKind, string> = {
  ufs1: 'UFS1',
  ufs2: 'UFS2',
  ext2: 'ext2',
  ext3: 'ext3',
  ext4: 'ext4',
  ntfs: 'NTFS',
  exfat: 'exFAT',
  fat12: 'FAT12',
  fat16: 'FAT16',
  fat32: 'FAT32',
  swap: 'Linux swap',
  unknown: 'no recognised filesystem',
};

function head(dev: BlockDevice, length: number): Buffer {
  const buf = Buffer.alloc(Math.min(length, dev.size));
  dev.read(buf, 0);
  return buf;
}

function ascii(buf: Buffer, off: number, s: string): boolean {
  return buf.length >= off + s.length && buf.toString('latin1', off, off + s.length) === s;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** ext2/3/4: the superblock at 1024, magic 0xEF53 at 1024+56, told apart by feature flags. */
function ext(buf: Buffer): FilesystemKind | null {
  if (buf.length < 2048 || buf.readUInt16LE(1080) !== 0xef53) return null;
  if (buf.readUInt32LE(1024 + 24) > 6) return null; // s_log_block_size: 1 KiB << n, at most 64 KiB
  const compat = buf.readUInt32LE(1024 + 0x5c);
  const incompat = buf.readUInt32LE(1024 + 0x60);
  const roCompat = buf.readUInt32LE(1024 + 0x64);
  // Beyond ext3's: incompat other than FILETYPE|RECOVER|JOURNAL_DEV|META_BG, ro_compat other
  // than SPARSE_SUPER|LARGE_FILE|BTREE_DIR.
  if (incompat & ~0x1e || roCompat & ~0x7) return 'ext4';
  if (compat & 0x4) return 'ext3';
  return 'ext2';
}

/** FAT: a BIOS parameter block that adds up; the type follows from the cluster count. */
function fat(buf: Buffer): FilesystemKind | null {
  if (buf.length < 512 || buf[510] !== 0x55 || buf[511] !== 0xaa) return null;
  if (!(buf[0] === 0xeb || buf[0] === 0xe9)) return null;
  const bps = buf.readUInt16LE(11);
  const spc = buf[13]!;
  const reserved = buf.readUInt16LE(14);
  const nfats = buf[16]!;
  const rootEntries = buf.readUInt16LE(17);
  const tot = buf.readUInt16LE(19) || buf.readUInt32LE(32);
  const media = buf[21]!;
  const fatsz = buf.readUInt16LE(22) || buf.readUInt32LE(36);
  if (![512, 1024, 2048, 4096].includes(bps) || !isPow2(spc) || spc > 128 || reserved < 1 || nfats < 1 || nfats > 4) return null;
  if (!(media === 0xf0 || media >= 0xf8) || fatsz === 0 || tot === 0) return null;
  const rootSectors = Math.ceil((rootEntries * 32) / bps);
  const dataSectors = tot - (reserved + nfats * fatsz + rootSectors);
  if (dataSectors <= 0) return null;
  const clusters = Math.floor(dataSectors / spc);
  return clusters < 4085 ? 'fat12' : clusters < 65525 ? 'fat16' : 'fat32';
}

/** Linux swap: "SWAPSPACE2" (or the old "SWAP-SPACE") in the last 10 bytes of the first page. */
function swap(dev: BlockDevice): boolean {
  for (const page of [4096, 8192, 16384, 65536]) {
    if (dev.size < page) break;
    const sig = Buffer.alloc(10);
    dev.read(sig, page - 10);
    const s = sig.toString('latin1');
    if (s === 'SWAPSPACE2' || s === 'SWAP-SPACE') return true;
  }
  return false;
}

/** Identify the filesystem on `dev` without trusting any one byte of it. */
export function detectFilesystem(dev: BlockDevice): Detection {
  const found: FilesystemKind[] = [];
  const ufs = findSuperblock(dev, escapeText(dev.name));
  let ufsOffset: number | undefined;
  if (ufs.geometry) {
    found.push(ufs.geometry.version === 1 ? 'ufs1' : 'ufs2');
    ufsOffset = ufs.geometry.superblockOffset;
  }
  const buf = head(dev, 4096);
  if (ascii(buf, 3, 'NTFS    ')) found.push('ntfs');
  else if (ascii(buf, 3, 'EXFAT   ')) found.push('exfat');
  else {
    const f = fat(buf);
    if (f) found.push(f);
  }
  const e = ext(buf);
  if (e) found.push(e);
  if (swap(dev)) found.push('swap');

  const refused = ufs.refused[0];
  if (found.length === 0 && refused) {
    const kind = refused.version === 1 ? 'ufs1' : 'ufs2';
    return { kind, name: NAMES[kind], supported: true, superblockOffset: refused.offset, problem: refused.why, others: [] };
  }
  const kind = found[0] ?? 'unknown';
  const d: Detection = { kind, name: NAMES[kind], supported: kind === 'ufs1' || kind === 'ufs2', others: found.slice(1) };
  if (ufsOffset !== undefined && (kind === 'ufs1' || kind === 'ufs2')) d.superblockOffset = ufsOffset;
  return d;
}

/**
 * The detection, or a one-line UserError when the direct reader cannot read what is there:
 * it names the filesystem and points at `--via boot`.
 */
export function requireSupported(dev: BlockDevice): Detection {
  const d = detectFilesystem(dev);
  const where = escapeText(dev.name);
  if (d.problem) throw new UserError(`${where}: ${d.name} superblock at ${d.superblockOffset} is unusable: ${d.problem}; use --via boot`);
  if (d.kind === 'unknown') {
    throw new UserError(`${where}: no UFS1, UFS2, ext2/3/4, NTFS, FAT or swap signature (OpenBSD swap has none); the direct reader reads only FFS: use --via boot`);
  }
  if (!d.supported) throw new UserError(`${where}: ${d.name} filesystem is not supported by the direct reader (FFS only); use --via boot`);
  return d;
}
