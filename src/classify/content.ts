// The class of a file's bytes against its expected source, and of each of its blocks (regions),
// for bytes already in memory: the same rules compareTrees applies to trees (file-compare.ts).
// With no expected bytes (the audit's self-evidence), a class from the content alone.

import { fileTypeFromBuffer } from 'file-type';
import type { FileClass, Region, RegionClass } from '../report/schema.js';
import type { TreeEntry } from '../tree/tree.js';
import { isAllZero, isPaddedText, lengthWithoutTrailingNul } from './bytes.js';
import { decodeDirectoryBlock, directoryChunks } from './directory-block.js';
import { compareFile } from './file-compare.js';
import { blockClass } from './stream-pass.js';

export const DEFAULT_BLOCK_SIZE = 512;

export interface ContentClass {
  class: FileClass;
  regions: Region[];
  detail: Record<string, unknown>;
}

/** Per-block classes, merged into runs. `expected` may be null (nothing to compare against). */
export function classifyRegions(actual: Uint8Array, expected: Uint8Array | null, blockSize: number): Region[] {
  const regions: Region[] = [];
  if (actual.length === 0) return regions;
  let dirs: boolean[] | null = null;
  const dirChunk = (i: number): boolean => (dirs ??= directoryChunks(actual))[i] ?? false;
  for (let off = 0; off < actual.length; off += blockSize) {
    const end = Math.min(off + blockSize, actual.length);
    const a = actual.subarray(off, end);
    const cls: RegionClass = expected && Buffer.compare(a, expected.subarray(off, end)) === 0 ? 'match' : blockClass(a, dirChunk, off / 512);
    const last = regions[regions.length - 1];
    if (last && last.class === cls) last.length += end - off;
    else regions.push({ offset: off, length: end - off, class: cls });
  }
  return regions;
}

function memoryEntry(path: string, data: Uint8Array): TreeEntry {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { path, kind: 'file', size: buf.length, read: async () => buf };
}

const PRIORITY: RegionClass[] = ['directory-block', 'foreign-text', 'foreign-binary'];

/** What bytes are on their own, with nothing to compare them to. */
async function contentOnly(actual: Uint8Array, blockSize: number): Promise<ContentClass> {
  const regions = classifyRegions(actual, null, blockSize);
  if (isAllZero(actual)) return { class: 'zeros', regions, detail: {} };
  const dir = decodeDirectoryBlock(actual);
  if (dir) return { class: 'directory-block', regions, detail: { format: dir.format, entries: dir.entries } };
  if (isPaddedText(actual)) {
    const textBytes = lengthWithoutTrailingNul(actual);
    return { class: 'foreign-text', regions, detail: { textBytes, paddingBytes: actual.length - textBytes } };
  }
  const bytesBy = new Map<RegionClass, number>();
  for (const r of regions) if (r.class !== 'zeros') bytesBy.set(r.class, (bytesBy.get(r.class) ?? 0) + r.length);
  let top: RegionClass = 'foreign-binary';
  for (const c of PRIORITY) if ((bytesBy.get(c) ?? 0) > (bytesBy.get(top) ?? 0)) top = c;
  if (top === 'directory-block') {
    const first = regions.find((r) => r.class === 'directory-block')!;
    const part = decodeDirectoryBlock(actual.subarray(first.offset, first.offset + first.length));
    return { class: 'directory-block', regions, detail: { format: part?.format ?? null, entries: part?.entries ?? [], mixed: true } };
  }
  if (top === 'foreign-text') return { class: 'foreign-text', regions, detail: { mixed: true } };
  const ft = await fileTypeFromBuffer(actual).catch(() => undefined);
  return { class: 'foreign-binary', regions, detail: { format: ft ? { ext: ft.ext, mime: ft.mime } : null } };
}

/**
 * Class `actual` against `expected` (the same rules as compareTrees, without provenance), or,
 * with `expected` null, by its content alone (zeros, a directory block, text, binary).
 */
export async function classifyContent(actual: Uint8Array, expected: Uint8Array | null, blockSize = DEFAULT_BLOCK_SIZE): Promise<ContentClass> {
  if (!expected) return contentOnly(actual, blockSize);
  const r = await compareFile(memoryEntry('expected', expected), memoryEntry('actual', actual), blockSize);
  return { class: r.class, regions: r.regions, detail: r.detail };
}
