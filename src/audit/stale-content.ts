// What stale bytes on an FFS partition are: zeros, an FFS directory block, text, or binary.
//
// A directory block here is checked strictly, as this filesystem writes one (little-endian
// `struct direct`, FreeBSD sys/ufs/ufs/dir.h): each 512-byte DIRBLKSIZ chunk is a chain of
// records whose d_reclen (a multiple of 4, at least DIRSIZ(d_namlen)) ends exactly at the chunk's
// end; a live record has 1 to 255 name bytes without NUL or '/', NUL-terminated, a known d_type
// and an inode number the filesystem has; d_ino = 0 only in a chunk's first record (an emptied
// entry). The general classifier (src/classify) also accepts ext2/3/4 records and big-endian
// FFS, which random bytes satisfy now and then: a block of another filesystem's directory on an
// FFS partition is binary data here. The verdict leans on this check (a regular file equal to the
// parent's directory block is proof of loss), so it accepts nothing a real FFS directory would not hold.

import { isAllZero, isPaddedText } from '../classify/bytes.js';
import { escapeBytes } from '../report/escape.js';
import type { FileClass, Region, RegionClass } from '../report/schema.js';

const DIRBLKSIZ = 512;
const MAXNAMLEN = 255;
/** DT_UNKNOWN, FIFO, CHR, DIR, BLK, REG, LNK, SOCK, WHT. */
const DT_TYPES = new Set([0, 1, 2, 4, 6, 8, 10, 12, 14]);
const ROOTINO = 2;

/** DIRSIZ: the header (8 bytes) and the NUL-terminated name rounded up to 4 bytes. */
function dirsiz(namlen: number): number {
  return 8 + ((namlen + 1 + 3) & ~3);
}

/** Whether a live record's name and terminator are plausible, as far as the data goes. */
function nameOk(buf: Uint8Array, nameStart: number, namlen: number): boolean {
  const end = Math.min(nameStart + namlen, buf.length);
  for (let i = nameStart; i < end; i++) if (buf[i] === 0 || buf[i] === 0x2f) return false;
  return nameStart + namlen >= buf.length || buf[nameStart + namlen] === 0;
}

export interface DirChunk {
  /** Live records (d_ino != 0) and their names (escaped for display). */
  live: number;
  names: string[];
}

/**
 * The chunk at `start` of `buf` as an FFS directory chunk, or null. Data ending inside the chunk
 * (a short file holding the start of one) is accepted after at least one whole record.
 */
export function ffsDirChunk(buf: Uint8Array, start: number, inodeCount: number): DirChunk | null {
  const end = start + DIRBLKSIZ;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: DirChunk = { live: 0, names: [] };
  let off = start;
  let records = 0;
  while (off < end) {
    if (off + 8 > buf.length) return records > 0 ? out : null;
    const ino = dv.getUint32(off, true);
    const reclen = dv.getUint16(off + 4, true);
    const type = buf[off + 6]!;
    const namlen = buf[off + 7]!;
    if (reclen < 8 || reclen % 4 !== 0 || off + reclen > end) return null;
    if (ino === 0) {
      if (records > 0) return null;
    } else {
      if (ino < ROOTINO || ino >= inodeCount || namlen === 0 || namlen > MAXNAMLEN || dirsiz(namlen) > reclen || !DT_TYPES.has(type)) return null;
      if (!nameOk(buf, off + 8, namlen)) return null;
      out.live++;
      out.names.push(escapeBytes(buf.subarray(off + 8, Math.min(off + 8 + namlen, buf.length))));
    }
    records++;
    off += reclen;
  }
  return out;
}

/**
 * Whether `data` (a file's bytes in one block) is an FFS directory block or the start of one: its
 * first chunk a directory chunk, every other chunk one or all zeros, at least one live entry.
 */
export function isFfsDirectoryBlock(data: Uint8Array, inodeCount: number): boolean {
  let live = 0;
  for (let start = 0; start < data.length; start += DIRBLKSIZ) {
    const chunk = ffsDirChunk(data, start, inodeCount);
    if (chunk) {
      live += chunk.live;
      continue;
    }
    if (start === 0 || !isAllZero(data.subarray(start, Math.min(start + DIRBLKSIZ, data.length)))) return false;
  }
  return live > 0;
}

export interface StaleClass {
  class: Extract<FileClass, 'zeros' | 'directory-block' | 'foreign-text' | 'foreign-binary'>;
  /** Per 512-byte chunk, merged into runs (offsets in `bytes`). */
  regions: Region[];
  detail: Record<string, unknown>;
}

type ChunkKind = 'zeros' | 'directory-block' | 'other';

function chunkKinds(bytes: Uint8Array, inodeCount: number, names: string[]): ChunkKind[] {
  const kinds: ChunkKind[] = [];
  for (let start = 0; start < bytes.length; start += DIRBLKSIZ) {
    const slice = bytes.subarray(start, Math.min(start + DIRBLKSIZ, bytes.length));
    if (isAllZero(slice)) {
      kinds.push('zeros');
      continue;
    }
    // A chunk whose entries were all removed (d_ino = 0, one record spanning it) is directory data too.
    const d = ffsDirChunk(bytes, start, inodeCount);
    if (d) {
      names.push(...d.names);
      kinds.push('directory-block');
    } else kinds.push('other');
  }
  return kinds;
}

/** Runs of chunks of one kind; runs of other bytes are text or binary as a whole (UTF-8 spans chunks). */
function toRegions(bytes: Uint8Array, kinds: ChunkKind[]): Region[] {
  const regions: Region[] = [];
  for (let i = 0; i < kinds.length; ) {
    let j = i;
    while (j < kinds.length && kinds[j] === kinds[i]) j++;
    const offset = i * DIRBLKSIZ;
    const length = Math.min(j * DIRBLKSIZ, bytes.length) - offset;
    let cls: RegionClass = kinds[i] === 'other' ? 'foreign-binary' : (kinds[i] as RegionClass);
    if (kinds[i] === 'other' && isPaddedText(bytes.subarray(offset, offset + length))) cls = 'foreign-text';
    const last = regions[regions.length - 1];
    if (last && last.class === cls && last.offset + last.length === offset) last.length += length;
    else regions.push({ offset, length, class: cls });
    i = j;
  }
  return regions;
}

/** The class of stale bytes read from an FFS partition, by what covers most of the non-zero bytes. */
export async function classifyStale(bytes: Uint8Array, inodeCount: number): Promise<StaleClass> {
  const names: string[] = [];
  const regions = toRegions(bytes, chunkKinds(bytes, inodeCount, names));
  if (isAllZero(bytes)) return { class: 'zeros', regions, detail: {} };
  const by = new Map<RegionClass, number>();
  for (const r of regions) if (r.class !== 'zeros') by.set(r.class, (by.get(r.class) ?? 0) + r.length);
  // The most bytes wins; ties go to the more specific class (a directory block, then text).
  let top: StaleClass['class'] = 'directory-block';
  for (const c of ['foreign-text', 'foreign-binary'] as const) if ((by.get(c) ?? 0) > (by.get(top) ?? 0)) top = c;
  if (top === 'directory-block') return { class: top, regions, detail: { format: 'ffs-le', entries: names } };
  if (top === 'foreign-text') return { class: top, regions, detail: {} };
  // Loaded when needed: most layers have no binary stale bytes, and each audit worker loads its own copy.
  const { fileTypeFromBuffer } = await import('file-type');
  const ft = await fileTypeFromBuffer(bytes).catch(() => undefined);
  return { class: top, regions, detail: { format: ft ? { ext: ft.ext, mime: ft.mime } : null } };
}
