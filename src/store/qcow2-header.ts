// Reading a qcow2 header by hand (qemu docs/interop/qcow2.txt), read-only, header bytes only.
//
//   0  magic 'QFI\xfb'            32  crypt_method u32        72  incompatible_features u64 (v3)
//   4  version u32 (2 or 3)       36  l1_size u32             80  compatible_features u64
//   8  backing_file_offset u64    40  l1_table_offset u64     88  autoclear_features u64
//  16  backing_file_size u32      48  refcount_table_offset   96  refcount_order u32
//  20  cluster_bits u32           56  refcount_table_clusters 100 header_length u32
//  24  size u64 (virtual size)    60  nb_snapshots u32        104 compression_type u8 (optional)
//                                 64  snapshots_offset u64
//
// Header extensions follow the header (at 72 for v2, at header_length for v3): u32 type, u32
// length, data padded to a multiple of 8, ending with type 0. They live in the first cluster,
// before the backing file name when there is one.

import { open, type FileHandle } from 'node:fs/promises';
import { escapeText } from '../report/escape.js';
import { UserError } from '../util/errors.js';

export const QCOW2_MAGIC = 0x514649fb;

/** Header extension types. */
export const EXT_END = 0x00000000;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_FULL_DISK_ENCRYPTION = 0x0537be77;
export const EXT_EXTERNAL_DATA_FILE = 0x44415441;

/** Incompatible feature bits. */
export const INCOMPAT_DIRTY = 1 << 0;
export const INCOMPAT_CORRUPT = 1 << 1;
export const INCOMPAT_EXTERNAL_DATA = 1 << 2;
export const INCOMPAT_COMPRESSION_TYPE = 1 << 3;
export const INCOMPAT_EXTENDED_L2 = 1 << 4;

const V2_HEADER_LENGTH = 72;
const V3_MIN_HEADER_LENGTH = 104;
/** qemu refuses backing file names longer than this. */
const MAX_BACKING_NAME = 1023;
/** qemu's limits on cluster_bits. */
const MIN_CLUSTER_BITS = 9;
const MAX_CLUSTER_BITS = 21;

export interface Qcow2Header {
  version: 2 | 3;
  /** Virtual disk size in bytes. */
  virtualSize: number;
  clusterBits: number;
  /** The backing file name exactly as recorded in the image (absolute for obuilder), or null. */
  backingFile: string | null;
  /** The backing format recorded in the backing-format header extension, or null. */
  backingFormat: string | null;
  /** Bytes of the header structure (72 for v2). */
  headerLength: number;
  /** Incompatible feature bits (v3; 0 for v2). Bits above 31 are folded into bit 31. */
  incompatibleFeatures: number;
  /** The dirty bit: refcounts may be inconsistent (lazy refcounts, unclean close). */
  dirty: boolean;
  /** The corrupt bit: qemu found the metadata corrupt and refuses to write. */
  corrupt: boolean;
  /** crypt_method != 0 (AES or LUKS). */
  encrypted: boolean;
  /** External data file name (header extension 0x44415441), or null. */
  dataFile: string | null;
  nbSnapshots: number;
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

function u64(buf: Buffer, off: number, path: string, what: string): number {
  const v = buf.readBigUInt64BE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UserError(`${escapeText(path)}: corrupt qcow2 header (${what} ${v} out of range)`);
  }
  return Number(v);
}

function openError(path: string, err: unknown): UserError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new UserError(`${escapeText(path)}: does not exist`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`${escapeText(path)}: permission denied`);
  if (code === 'EISDIR') return new UserError(`${escapeText(path)}: is a directory, not a qcow2 image`);
  const msg = err instanceof Error ? err.message : String(err);
  return new UserError(`${escapeText(path)}: cannot read (${msg.replace(/\s*\n\s*/g, ' ')})`);
}

/**
 * Read the qcow2 header of `path`: opened read-only, only the header, its extensions and the
 * backing file name are read. Throws a `UserError` naming the path when the file is missing,
 * is not a qcow2 image, or its header is malformed.
 */
export async function readQcow2Header(path: string): Promise<Qcow2Header> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw openError(path, err);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new UserError(`${escapeText(path)}: is a directory, not a qcow2 image`);
    let head: Buffer;
    try {
      head = await readAt(fh, 0, V3_MIN_HEADER_LENGTH);
    } catch (err) {
      throw openError(path, err);
    }
    if (head.length < 4 || head.readUInt32BE(0) !== QCOW2_MAGIC) {
      throw new UserError(`${escapeText(path)}: not a qcow2 image (bad magic)`);
    }
    if (head.length < 8) throw new UserError(`${escapeText(path)}: not a qcow2 image (truncated header)`);
    const version = head.readUInt32BE(4);
    if (version !== 2 && version !== 3) {
      throw new UserError(`${escapeText(path)}: unsupported qcow2 version ${version} (only 2 and 3 are known)`);
    }
    const minLength = version === 2 ? V2_HEADER_LENGTH : V3_MIN_HEADER_LENGTH;
    if (head.length < minLength) {
      throw new UserError(`${escapeText(path)}: not a qcow2 image (truncated header: ${head.length} of ${minLength} bytes)`);
    }
    const backingOffset = u64(head, 8, path, 'backing_file_offset');
    const backingSize = head.readUInt32BE(16);
    const clusterBits = head.readUInt32BE(20);
    if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
      throw new UserError(`${escapeText(path)}: corrupt qcow2 header (cluster_bits ${clusterBits}, expected 9 to 21)`);
    }
    const clusterSize = 2 ** clusterBits;
    const virtualSize = u64(head, 24, path, 'size');
    const cryptMethod = head.readUInt32BE(32);
    const nbSnapshots = head.readUInt32BE(60);

    let headerLength = V2_HEADER_LENGTH;
    let incompatibleFeatures = 0;
    if (version === 3) {
      const incompat = head.readBigUInt64BE(72);
      incompatibleFeatures = Number(incompat & 0x7fffffffn) + (incompat >> 31n !== 0n ? 2 ** 31 : 0);
      headerLength = head.readUInt32BE(100);
      if (headerLength < V3_MIN_HEADER_LENGTH || headerLength % 8 !== 0 || headerLength > clusterSize) {
        throw new UserError(`${escapeText(path)}: corrupt qcow2 header (header_length ${headerLength})`);
      }
    }

    // Header extensions: from the end of the header to the backing file name (or the end of the
    // first cluster).
    const extEnd = backingOffset > 0 && backingOffset < clusterSize ? backingOffset : clusterSize;
    let backingFormat: string | null = null;
    let dataFile: string | null = null;
    let pos = headerLength;
    while (pos + 8 <= extEnd) {
      const eh = await readAt(fh, pos, 8);
      if (eh.length < 8) break; // the file ends: no more extensions
      const type = eh.readUInt32BE(0);
      const len = eh.readUInt32BE(4);
      if (type === EXT_END) break;
      if (pos + 8 + len > extEnd) {
        throw new UserError(`${escapeText(path)}: corrupt qcow2 header (extension 0x${type.toString(16)} overruns the header area)`);
      }
      if (type === EXT_BACKING_FORMAT || type === EXT_EXTERNAL_DATA_FILE) {
        const data = await readAt(fh, pos + 8, len);
        if (data.length < len) throw new UserError(`${escapeText(path)}: corrupt qcow2 header (truncated extension)`);
        const value = data.toString('utf8').replace(/\0+$/, '');
        if (type === EXT_BACKING_FORMAT) backingFormat = value;
        else dataFile = value;
      }
      pos += 8 + Math.ceil(len / 8) * 8;
    }

    let backingFile: string | null = null;
    if (backingOffset !== 0) {
      if (backingSize === 0 || backingSize > MAX_BACKING_NAME || backingOffset + backingSize > clusterSize) {
        throw new UserError(
          `${escapeText(path)}: corrupt qcow2 header (backing file name of ${backingSize} bytes at offset ${backingOffset})`,
        );
      }
      const name = await readAt(fh, backingOffset, backingSize);
      if (name.length < backingSize) {
        throw new UserError(`${escapeText(path)}: corrupt qcow2 header (backing file name past the end of the file)`);
      }
      backingFile = name.toString('utf8');
      if (backingFile.includes('\0')) {
        throw new UserError(`${escapeText(path)}: corrupt qcow2 header (NUL in the backing file name)`);
      }
    }

    return {
      version,
      virtualSize,
      clusterBits,
      backingFile,
      backingFormat,
      headerLength,
      incompatibleFeatures,
      dirty: (incompatibleFeatures & INCOMPAT_DIRTY) !== 0,
      corrupt: (incompatibleFeatures & INCOMPAT_CORRUPT) !== 0,
      encrypted: cryptMethod !== 0,
      dataFile,
      nbSnapshots,
    };
  } finally {
    await fh.close();
  }
}

/** True when the file starts with the qcow2 magic (read-only, 4 bytes). Missing file: false. */
export async function hasQcow2Magic(path: string): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    const b = await readAt(fh, 0, 4);
    return b.length === 4 && b.readUInt32BE(0) === QCOW2_MAGIC;
  } catch {
    return false;
  } finally {
    await fh.close();
  }
}
