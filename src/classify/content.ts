// The class of a right-sized file whose bytes differ from the expected source, and of each of
// its aligned blocks (regions).

import { fileTypeFromBuffer } from 'file-type';
import type { FileClass, Region, RegionClass } from '../report/schema.js';
import { isAllZero, isPaddedText, lengthWithoutTrailingNul } from './bytes.js';
import { decodeDirectoryBlock, directoryChunks } from './directory-block.js';

export const DEFAULT_BLOCK_SIZE = 512;

export interface ContentClass {
  class: FileClass;
  regions: Region[];
  detail: Record<string, unknown>;
}

/** Drop up to three UTF-8 continuation bytes at the start: a block may begin mid-character. */
function skipContinuation(buf: Uint8Array): Uint8Array {
  let i = 0;
  while (i < 3 && i < buf.length && (buf[i]! & 0xc0) === 0x80) i++;
  return buf.subarray(i);
}

/** Per-block classes, merged into runs. `expected` may be null (nothing to compare against). */
export function classifyRegions(actual: Uint8Array, expected: Uint8Array | null, blockSize: number): Region[] {
  const regions: Region[] = [];
  if (actual.length === 0) return regions;
  const dirChunks = directoryChunks(actual);
  const chunk = 512;
  for (let off = 0; off < actual.length; off += blockSize) {
    const end = Math.min(off + blockSize, actual.length);
    const a = actual.subarray(off, end);
    let cls: RegionClass;
    if (expected && Buffer.compare(a, expected.subarray(off, end)) === 0) cls = 'match';
    else if (isAllZero(a)) cls = 'zeros';
    else if (blockIsDirectory(a, off, dirChunks, chunk)) cls = 'directory-block';
    else if (isPaddedText(skipContinuation(a))) cls = 'foreign-text';
    else cls = 'foreign-binary';
    const last = regions[regions.length - 1];
    if (last && last.class === cls) last.length += end - off;
    else regions.push({ offset: off, length: end - off, class: cls });
  }
  return regions;
}

function blockIsDirectory(block: Uint8Array, off: number, dirChunks: boolean[], chunk: number): boolean {
  let any = false;
  for (let c = 0; c * chunk < block.length; c++) {
    const idx = Math.floor((off + c * chunk) / chunk);
    if (dirChunks[idx]) any = true;
    else if (!isAllZero(block.subarray(c * chunk, Math.min((c + 1) * chunk, block.length)))) return false;
  }
  return any;
}

async function binaryDetail(actual: Uint8Array): Promise<Record<string, unknown>> {
  const ft = await fileTypeFromBuffer(actual).catch(() => undefined);
  return { format: ft ? { ext: ft.ext, mime: ft.mime } : null };
}

const PRIORITY: RegionClass[] = ['directory-block', 'foreign-text', 'foreign-binary'];

/**
 * Class a file whose size is right but whose bytes are not the expected ones (or, with
 * `expected` null, a file there is nothing to compare with). Order matters: all-zero first,
 * then `partial` when some aligned blocks match, then a directory block, then text, and
 * otherwise whatever covers most of the file.
 */
export async function classifyContent(
  actual: Uint8Array,
  expected: Uint8Array | null,
  blockSize = DEFAULT_BLOCK_SIZE,
): Promise<ContentClass> {
  const regions = classifyRegions(actual, expected, blockSize);
  if (expected && actual.length === expected.length && Buffer.compare(actual, expected) === 0) {
    return { class: 'match', regions, detail: {} };
  }
  if (isAllZero(actual)) return { class: 'zeros', regions, detail: {} };
  const matched = regions.filter((r) => r.class === 'match').reduce((n, r) => n + r.length, 0);
  if (matched > 0) {
    return { class: 'partial', regions, detail: { matchedBytes: matched, blockSize } };
  }
  const dir = decodeDirectoryBlock(actual);
  if (dir) return { class: 'directory-block', regions, detail: { format: dir.format, entries: dir.entries } };
  if (isPaddedText(actual)) {
    const textBytes = lengthWithoutTrailingNul(actual);
    return { class: 'foreign-text', regions, detail: { textBytes, paddingBytes: actual.length - textBytes } };
  }
  // Mixed content: the class covering most bytes (zeros aside) names the file.
  const bytesBy = new Map<RegionClass, number>();
  for (const r of regions) if (r.class !== 'zeros') bytesBy.set(r.class, (bytesBy.get(r.class) ?? 0) + r.length);
  let top: RegionClass = 'foreign-binary';
  for (const c of PRIORITY) if ((bytesBy.get(c) ?? 0) > (bytesBy.get(top) ?? 0)) top = c;
  if (top === 'directory-block') {
    const firstDir = regions.find((r) => r.class === 'directory-block')!;
    const part = decodeDirectoryBlock(actual.subarray(firstDir.offset, firstDir.offset + firstDir.length));
    return {
      class: 'directory-block',
      regions,
      detail: { format: part?.format ?? null, entries: part?.entries ?? [], mixed: true },
    };
  }
  if (top === 'foreign-text') return { class: 'foreign-text', regions, detail: { mixed: true } };
  return { class: 'foreign-binary', regions, detail: await binaryDetail(actual) };
}
