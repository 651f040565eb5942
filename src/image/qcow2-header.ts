// The qcow2 header (qemu docs/interop/qcow2.txt "Header" and "Header extensions"), read-only:
// every field, the header extensions, the backing file name and format, and the checks that say
// whether this reader can read the image at all. Big-endian throughout.
//
// Header extensions follow the header (at 72 for v2, at header_length for v3): u32 type, u32
// length, data padded to a multiple of 8, ending with type 0. They live in the first cluster,
// before the backing file name when there is one.

import { escapeText } from '../report/escape.js';
import { UserError } from '../util/errors.js';
import { ImageFile } from './image-file.js';

export const QCOW2_MAGIC = 0x514649fb;

/** Every header field: byte offset and width, declared once and read through `field*`. */
export const HEADER_FIELDS = {
  magic: { offset: 0, size: 4 },
  version: { offset: 4, size: 4 },
  backingFileOffset: { offset: 8, size: 8 },
  backingFileSize: { offset: 16, size: 4 },
  clusterBits: { offset: 20, size: 4 },
  size: { offset: 24, size: 8 },
  cryptMethod: { offset: 32, size: 4 },
  l1Size: { offset: 36, size: 4 },
  l1TableOffset: { offset: 40, size: 8 },
  refcountTableOffset: { offset: 48, size: 8 },
  refcountTableClusters: { offset: 56, size: 4 },
  nbSnapshots: { offset: 60, size: 4 },
  snapshotsOffset: { offset: 64, size: 8 },
  // Version 3 only (absent, i.e. 0 or the v2 default, in v2 images).
  incompatibleFeatures: { offset: 72, size: 8 },
  compatibleFeatures: { offset: 80, size: 8 },
  autoclearFeatures: { offset: 88, size: 8 },
  refcountOrder: { offset: 96, size: 4 },
  headerLength: { offset: 100, size: 4 },
  // Optional: present only when header_length > 104.
  compressionType: { offset: 104, size: 1 },
} as const;

type Field = { readonly offset: number; readonly size: 1 | 4 | 8 };

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
/** Compatible feature bits. */
export const COMPAT_LAZY_REFCOUNTS = 1 << 0;

/** compression_type values. */
export const COMPRESSION_ZLIB = 0;
export const COMPRESSION_ZSTD = 1;

const V2_HEADER_LENGTH = 72;
const V3_MIN_HEADER_LENGTH = 104;
/** qemu refuses backing file names longer than this. */
const MAX_BACKING_NAME = 1023;
/** qemu's limits on cluster_bits (512 B to 2 MiB clusters). */
const MIN_CLUSTER_BITS = 9;
const MAX_CLUSTER_BITS = 21;
/** Bytes read first: the header, its extensions and a backing name almost always fit. */
const FIRST_READ = 4096;
/** One feature name table entry: type u8, bit u8, name (46 bytes, NUL padded). */
const FEATURE_ENTRY = 48;

export interface Qcow2Extension {
  type: number;
  /** Where its data starts in the file, and its length (without padding). */
  offset: number;
  length: number;
}

export interface Qcow2FeatureName {
  /** 0 incompatible, 1 compatible, 2 autoclear. */
  type: number;
  bit: number;
  /** As recorded (bytes from the image: escape before showing). */
  name: string;
}

export interface Qcow2Header {
  version: 2 | 3;
  /** Virtual disk size in bytes. */
  virtualSize: number;
  clusterBits: number;
  /** 2 ** clusterBits. */
  clusterSize: number;
  /** The backing file name exactly as recorded in the image (absolute for obuilder), or null. */
  backingFile: string | null;
  /** The backing format recorded in the backing-format header extension, or null. */
  backingFormat: string | null;
  /** Bytes of the header structure (72 for v2). */
  headerLength: number;
  /** crypt_method: 0 none, 1 AES, 2 LUKS. */
  cryptMethod: number;
  /** Entries of the active L1 table, and where it starts. */
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  /** Incompatible feature bits (v3; 0 for v2). Bits above 31 are folded into bit 31. */
  incompatibleFeatures: number;
  /** All 64 incompatible feature bits. */
  incompatibleBits: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  /** refcount_bits = 1 << refcountOrder (4 for v2). */
  refcountOrder: number;
  /** 0 zlib, 1 zstd (0 when the field is absent). */
  compressionType: number;
  /** The dirty bit: refcounts may be inconsistent (lazy refcounts, unclean close). Reading is fine. */
  dirty: boolean;
  /** The corrupt bit: qemu found the metadata corrupt and refuses to write. */
  corrupt: boolean;
  /** The lazy refcounts compatible bit. */
  lazyRefcounts: boolean;
  /** crypt_method != 0 (AES or LUKS). */
  encrypted: boolean;
  /** External data file name (header extension 0x44415441), or null. */
  dataFile: string | null;
  /** Every header extension found, in order. */
  extensions: Qcow2Extension[];
  /** The feature name table (extension 0x6803f857), empty when absent. */
  featureNames: Qcow2FeatureName[];
}

function fieldU32(buf: Buffer, f: Field): number {
  return f.size === 1 ? buf.readUInt8(f.offset) : buf.readUInt32BE(f.offset);
}

function fieldU64(buf: Buffer, f: Field): bigint {
  return buf.readBigUInt64BE(f.offset);
}

/** A u64 field that must be a safe JS integer (offsets, sizes). */
function fieldSafe(buf: Buffer, name: keyof typeof HEADER_FIELDS, where: string): number {
  const v = fieldU64(buf, HEADER_FIELDS[name]);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UserError(`${where}: corrupt qcow2 header (${name} ${v} out of range)`);
  }
  return Number(v);
}

/**
 * The first bytes of the file, read lazily: FIRST_READ first, then up to `limit` (the first
 * cluster) only when an extension or the backing name lies further.
 */
class HeadBytes {
  private buf: Buffer;
  constructor(
    private readonly file: ImageFile,
    private limit: number,
  ) {
    this.buf = Buffer.alloc(Math.min(FIRST_READ, file.size));
    this.buf = this.buf.subarray(0, file.readUpTo(this.buf, 0));
  }

  get length(): number {
    return this.buf.length;
  }

  setLimit(limit: number): void {
    this.limit = limit;
  }

  /** `len` bytes at `pos`, or null when the file (or the limit) ends first. */
  at(pos: number, len: number): Buffer | null {
    if (pos + len > this.buf.length && this.buf.length < Math.min(this.limit, this.file.size)) {
      const more = Buffer.alloc(Math.min(this.limit, this.file.size));
      this.buf = more.subarray(0, this.file.readUpTo(more, 0));
    }
    return pos + len <= this.buf.length ? this.buf.subarray(pos, pos + len) : null;
  }
}

function parseFeatureTable(data: Buffer): Qcow2FeatureName[] {
  const out: Qcow2FeatureName[] = [];
  for (let p = 0; p + FEATURE_ENTRY <= data.length; p += FEATURE_ENTRY) {
    const name = data.subarray(p + 2, p + FEATURE_ENTRY).toString('utf8').replace(/\0[\s\S]*$/, '');
    out.push({ type: data[p]!, bit: data[p + 1]!, name });
  }
  return out;
}

/** The fixed part: magic, version, and the bytes of the header structure for that version. */
function readFixed(head: HeadBytes, where: string): { version: 2 | 3; h: Buffer } {
  const magic = head.at(0, 4);
  if (!magic || fieldU32(magic, HEADER_FIELDS.magic) !== QCOW2_MAGIC) {
    throw new UserError(`${where}: not a qcow2 image (bad magic)`);
  }
  const start = head.at(0, 8);
  if (!start) throw new UserError(`${where}: not a qcow2 image (truncated header)`);
  const version = fieldU32(start, HEADER_FIELDS.version);
  if (version !== 2 && version !== 3) {
    throw new UserError(`${where}: unsupported qcow2 version ${version} (only 2 and 3 are known)`);
  }
  const minLength = version === 2 ? V2_HEADER_LENGTH : V3_MIN_HEADER_LENGTH;
  const h = head.at(0, minLength);
  if (!h) throw new UserError(`${where}: not a qcow2 image (truncated header: ${head.length} of ${minLength} bytes)`);
  return { version, h };
}

interface V3Fields {
  headerLength: number;
  incompatibleBits: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  refcountOrder: number;
  compressionType: number;
}

/** The version 3 fields, or what a version 2 image implies. */
function readV3Fields(head: HeadBytes, h: Buffer, version: 2 | 3, clusterSize: number, where: string): V3Fields {
  if (version === 2) {
    const none = { incompatibleBits: 0n, compatibleFeatures: 0n, autoclearFeatures: 0n };
    return { headerLength: V2_HEADER_LENGTH, ...none, refcountOrder: 4, compressionType: COMPRESSION_ZLIB };
  }
  const headerLength = fieldU32(h, HEADER_FIELDS.headerLength);
  if (headerLength < V3_MIN_HEADER_LENGTH || headerLength % 8 !== 0 || headerLength > clusterSize) {
    throw new UserError(`${where}: corrupt qcow2 header (header_length ${headerLength})`);
  }
  const refcountOrder = fieldU32(h, HEADER_FIELDS.refcountOrder);
  if (refcountOrder > 6) throw new UserError(`${where}: corrupt qcow2 header (refcount_order ${refcountOrder}, at most 6)`);
  // An optional field is present only when header_length covers it.
  const ct = HEADER_FIELDS.compressionType;
  let compressionType = COMPRESSION_ZLIB;
  if (headerLength >= ct.offset + ct.size) {
    const full = head.at(0, ct.offset + ct.size);
    if (!full) throw new UserError(`${where}: not a qcow2 image (truncated header: ${head.length} of ${headerLength} bytes)`);
    compressionType = fieldU32(full, ct);
  }
  return {
    headerLength,
    incompatibleBits: fieldU64(h, HEADER_FIELDS.incompatibleFeatures),
    compatibleFeatures: fieldU64(h, HEADER_FIELDS.compatibleFeatures),
    autoclearFeatures: fieldU64(h, HEADER_FIELDS.autoclearFeatures),
    refcountOrder,
    compressionType,
  };
}

interface Extensions {
  extensions: Qcow2Extension[];
  backingFormat: string | null;
  dataFile: string | null;
  featureNames: Qcow2FeatureName[];
}

/** The header extensions in [pos, end): the end of the header to the backing name or the first cluster's end. */
function readExtensions(head: HeadBytes, pos: number, end: number, where: string): Extensions {
  const out: Extensions = { extensions: [], backingFormat: null, dataFile: null, featureNames: [] };
  while (pos + 8 <= end) {
    const eh = head.at(pos, 8);
    if (!eh) break; // the file ends: no more extensions
    const type = eh.readUInt32BE(0);
    const len = eh.readUInt32BE(4);
    if (type === EXT_END) break;
    if (pos + 8 + len > end) {
      throw new UserError(`${where}: corrupt qcow2 header (extension 0x${type.toString(16)} overruns the header area)`);
    }
    out.extensions.push({ type, offset: pos + 8, length: len });
    if (type === EXT_BACKING_FORMAT || type === EXT_EXTERNAL_DATA_FILE || type === EXT_FEATURE_TABLE) {
      const data = head.at(pos + 8, len);
      if (!data) throw new UserError(`${where}: corrupt qcow2 header (truncated extension 0x${type.toString(16)})`);
      // String extensions are not NUL-terminated, but padding can make them look so.
      const text = (): string => data.toString('utf8').replace(/\0+$/, '');
      if (type === EXT_FEATURE_TABLE) out.featureNames = parseFeatureTable(data);
      else if (type === EXT_BACKING_FORMAT) out.backingFormat = text();
      else out.dataFile = text();
    }
    pos += 8 + Math.ceil(len / 8) * 8;
  }
  return out;
}

/** The backing file name, or null when there is none. */
function readBackingName(head: HeadBytes, offset: number, size: number, clusterSize: number, where: string): string | null {
  if (offset === 0) return null;
  if (size === 0 || size > MAX_BACKING_NAME || offset + size > clusterSize) {
    throw new UserError(`${where}: corrupt qcow2 header (backing file name of ${size} bytes at offset ${offset})`);
  }
  const name = head.at(offset, size);
  if (!name) throw new UserError(`${where}: corrupt qcow2 header (backing file name past the end of the file)`);
  const s = name.toString('utf8');
  if (s.includes('\0')) throw new UserError(`${where}: corrupt qcow2 header (NUL in the backing file name)`);
  return s;
}

/**
 * Parse the header of an open image. Throws a `UserError` naming the image when it is not a
 * qcow2 image or its header is malformed. Structure only: whether this reader supports what the
 * header declares is `refuseUnsupported`'s business, and where the tables lie relative to the
 * file is the reader's.
 */
export function parseQcow2Header(file: ImageFile): Qcow2Header {
  const where = file.name;
  const head = new HeadBytes(file, FIRST_READ);
  const { version, h } = readFixed(head, where);
  const clusterBits = fieldU32(h, HEADER_FIELDS.clusterBits);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new UserError(`${where}: corrupt qcow2 header (cluster_bits ${clusterBits}, expected 9 to 21)`);
  }
  const clusterSize = 2 ** clusterBits;
  head.setLimit(clusterSize);
  const backingOffset = fieldSafe(h, 'backingFileOffset', where);
  const v3 = readV3Fields(head, h, version, clusterSize, where);
  const extEnd = backingOffset > 0 && backingOffset < clusterSize ? backingOffset : clusterSize;
  const ext = readExtensions(head, v3.headerLength, extEnd, where);
  const backingFile = readBackingName(head, backingOffset, fieldU32(h, HEADER_FIELDS.backingFileSize), clusterSize, where);
  const bits = v3.incompatibleBits;
  const cryptMethod = fieldU32(h, HEADER_FIELDS.cryptMethod);
  return {
    version,
    virtualSize: fieldSafe(h, 'size', where),
    clusterBits,
    clusterSize,
    backingFile,
    backingFormat: ext.backingFormat,
    headerLength: v3.headerLength,
    cryptMethod,
    l1Size: fieldU32(h, HEADER_FIELDS.l1Size),
    l1TableOffset: fieldSafe(h, 'l1TableOffset', where),
    refcountTableOffset: fieldSafe(h, 'refcountTableOffset', where),
    refcountTableClusters: fieldU32(h, HEADER_FIELDS.refcountTableClusters),
    nbSnapshots: fieldU32(h, HEADER_FIELDS.nbSnapshots),
    snapshotsOffset: fieldSafe(h, 'snapshotsOffset', where),
    incompatibleFeatures: Number(bits & 0x7fffffffn) + (bits >> 31n !== 0n ? 2 ** 31 : 0),
    incompatibleBits: bits,
    compatibleFeatures: v3.compatibleFeatures,
    autoclearFeatures: v3.autoclearFeatures,
    refcountOrder: v3.refcountOrder,
    compressionType: v3.compressionType,
    dirty: (bits & BigInt(INCOMPAT_DIRTY)) !== 0n,
    corrupt: (bits & BigInt(INCOMPAT_CORRUPT)) !== 0n,
    lazyRefcounts: (v3.compatibleFeatures & BigInt(COMPAT_LAZY_REFCOUNTS)) !== 0n,
    encrypted: cryptMethod !== 0,
    dataFile: ext.dataFile,
    extensions: ext.extensions,
    featureNames: ext.featureNames,
  };
}

/** Read the header of `path` (opened read-only, closed before returning). Synchronous. */
export function readQcow2HeaderSync(path: string): Qcow2Header {
  const file = ImageFile.open(path, 'a qcow2 image');
  try {
    return parseQcow2Header(file);
  } finally {
    file.close();
  }
}

/**
 * Read the qcow2 header of `path`: opened read-only, only the header, its extensions and the
 * backing file name are read. Throws a `UserError` naming the path when the file is missing or
 * unreadable, is not a qcow2 image, or its header is malformed.
 */
export async function readQcow2Header(path: string): Promise<Qcow2Header> {
  // A few positioned reads of the first cluster: cheaper done synchronously than as thread-pool
  // round trips, and the promise keeps the store code's interface.
  return readQcow2HeaderSync(path);
}

const KNOWN_INCOMPAT =
  INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_EXTERNAL_DATA | INCOMPAT_COMPRESSION_TYPE | INCOMPAT_EXTENDED_L2;

/**
 * Throw a one-line `UserError` naming the image (`path`) and the feature when the image uses
 * something this reader cannot read: encryption, an external data file, extended L2 entries,
 * zstd (or an unknown) compression, or an unknown incompatible feature bit. Snapshots are fine
 * (the active L1 is read) and so are the dirty and corrupt bits (reading needs no refcounts).
 */
export function refuseUnsupported(header: Qcow2Header, path: string): void {
  const where = escapeText(path);
  const bits = header.incompatibleBits;
  const has = (bit: number): boolean => (bits & BigInt(bit)) !== 0n;
  if (header.encrypted) {
    const how = header.cryptMethod === 1 ? 'AES' : header.cryptMethod === 2 ? 'LUKS' : `crypt_method ${header.cryptMethod}`;
    throw new UserError(`${where}: encrypted qcow2 images (${how}) are not supported`);
  }
  if (has(INCOMPAT_EXTERNAL_DATA) || header.dataFile !== null) {
    const named = header.dataFile !== null ? ` ${escapeText(header.dataFile)}` : '';
    throw new UserError(`${where}: qcow2 images with an external data file${named} are not supported`);
  }
  if (has(INCOMPAT_EXTENDED_L2)) {
    throw new UserError(`${where}: qcow2 images with extended L2 entries (subclusters) are not supported`);
  }
  if (has(INCOMPAT_COMPRESSION_TYPE) || header.compressionType !== COMPRESSION_ZLIB) {
    if (!has(INCOMPAT_COMPRESSION_TYPE) || header.compressionType === COMPRESSION_ZLIB) {
      const bit = has(INCOMPAT_COMPRESSION_TYPE) ? 'set' : 'clear';
      throw new UserError(`${where}: corrupt qcow2 header (compression_type ${header.compressionType} with the compression type bit ${bit})`);
    }
    if (header.compressionType === COMPRESSION_ZSTD) {
      throw new UserError(`${where}: zstd-compressed qcow2 images are not supported (Node's zlib has no zstd)`);
    }
    throw new UserError(`${where}: unknown qcow2 compression type ${header.compressionType}`);
  }
  const unknown = bits & ~BigInt(KNOWN_INCOMPAT);
  if (unknown !== 0n) {
    let bit = 0;
    while (((unknown >> BigInt(bit)) & 1n) === 0n) bit++;
    const named = header.featureNames.find((f) => f.type === 0 && f.bit === bit);
    const what = named ? ` (${escapeText(named.name)})` : '';
    throw new UserError(`${where}: unsupported qcow2 incompatible feature bit ${bit}${what}`);
  }
}

/**
 * What `path` holds, as qemu probes it: `qcow2` when it starts with the qcow2 magic, `raw` for
 * any other readable file. A missing, unreadable or directory path is a `UserError` (a
 * permission error is never taken for "not qcow2").
 */
export function probeImageFormatSync(path: string): 'qcow2' | 'raw' {
  const file = ImageFile.open(path, 'a disk image');
  try {
    const magic = Buffer.alloc(4);
    const got = file.readUpTo(magic, 0);
    return got === 4 && fieldU32(magic, HEADER_FIELDS.magic) === QCOW2_MAGIC ? 'qcow2' : 'raw';
  } finally {
    file.close();
  }
}

export async function probeImageFormat(path: string): Promise<'qcow2' | 'raw'> {
  return probeImageFormatSync(path);
}

/** True when the file starts with the qcow2 magic; a UserError when it cannot be read. */
export async function hasQcow2Magic(path: string): Promise<boolean> {
  return probeImageFormatSync(path) === 'qcow2';
}
