// A backing chain (the layer first, the base last) as one read-only block device, in-process.
// The top image's virtual size is the device's size. A read walks down the chain run by run:
// what an image holds it supplies; what it leaves unallocated its backing file supplies; bytes
// past an image's own (shorter) virtual size read as zeros, as qemu reads them. `map` walks the
// same way without reading data and says which element holds each range.

import { escapeText } from '../report/escape.js';
import { UserError } from '../util/errors.js';
import type { ChainElementInfo, MappedDevice, SourceExtent } from './block-device.js';
import { newRun, type ChainImage, type Run } from './chain-image.js';
import { Qcow2Image } from './qcow2.js';
import { RawImage } from './raw.js';
import { DEFAULT_TABLE_CACHE_BYTES, MAX_CACHE_SLOTS, TableCache } from './table-cache.js';

export interface ChainElementSpec {
  /** The image file (opened read-only). */
  path: string;
  format: 'qcow2' | 'raw';
  /** How reports name it: the layer id, `base:<name>`, or the path. */
  label: string;
}

export interface ChainOpenOptions {
  /** The device's name in messages (default: the top element's label). */
  name?: string;
  /** L2 table cache budget for the whole chain, bytes (default 8 MiB, see table-cache.ts). */
  cacheBytes?: number;
}

/** An open chain: a MappedDevice that holds file descriptors until `close`. */
export interface ChainDevice extends MappedDevice {
  close(): void;
}

/** `format` when this reader reads it, else a UserError naming the image. */
export function readableFormat(path: string, format: string): 'qcow2' | 'raw' {
  if (format === 'qcow2' || format === 'raw') return format;
  throw new UserError(`${escapeText(path)}: image format ${escapeText(format)} is not supported (qcow2 and raw are)`);
}

/** Longest chain opened (the cache keys allow this many images). */
export const MAX_CHAIN_ELEMENTS = MAX_CACHE_SLOTS;

class ImageChainDevice implements ChainDevice {
  readonly size: number;
  readonly clusterSize: number;
  readonly elements: readonly ChainElementInfo[];
  /** One run per chain level: the walk recurses one level at a time, never twice into one. */
  private readonly runs: Run[];
  private closed = false;

  constructor(
    private readonly images: ChainImage[],
    specs: readonly ChainElementSpec[],
    readonly name: string,
    private readonly cache: TableCache,
  ) {
    const top = images[0]!;
    this.size = top.virtualSize;
    this.clusterSize = top.clusterSize;
    this.runs = images.map(() => newRun());
    this.elements = images.map((img, i) => ({
      path: img.path,
      format: img.format,
      label: specs[i]!.label,
      virtualSize: img.virtualSize,
      clusterSize: img.clusterSize,
      dirty: img.dirty,
    }));
  }

  private checkRange(offset: number, length: number, what: string): void {
    if (this.closed) throw new Error(`${this.name}: ${what} after close`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new UserError(`${this.name}: ${what} of ${length} bytes at ${offset} is outside its ${this.size} bytes`);
    }
  }

  read(buf: Uint8Array, offset: number): void {
    this.checkRange(offset, buf.length, 'read');
    this.fill(0, buf, 0, offset, buf.length);
  }

  /** Fill buf[bufOffset, +length) with the guest bytes at `offset` as seen from chain level `level`. */
  private fill(level: number, buf: Uint8Array, bufOffset: number, offset: number, length: number): void {
    const img = this.images[level]!;
    const run = this.runs[level]!;
    const end = offset + length;
    const own = Math.min(end, img.virtualSize);
    while (offset < own) {
      img.lookup(offset, own - offset, run);
      const n = run.length;
      if (run.kind === 'data' || run.kind === 'compressed') img.readRun(run, buf, bufOffset);
      else if (run.kind === 'unallocated' && level + 1 < this.images.length) this.fill(level + 1, buf, bufOffset, offset, n);
      else buf.fill(0, bufOffset, bufOffset + n);
      offset += n;
      bufOffset += n;
    }
    if (offset < end) buf.fill(0, bufOffset, bufOffset + (end - offset));
  }

  map(offset: number, length: number): SourceExtent[] {
    if (this.closed) throw new Error(`${this.name}: map after close`);
    // Clipped to the device, as the seam says.
    const start = Math.max(0, Math.min(offset, this.size));
    const end = Math.max(start, Math.min(offset + length, this.size));
    const out: SourceExtent[] = [];
    if (end > start) this.walkMap(0, start, end - start, out);
    return out;
  }

  private walkMap(level: number, offset: number, length: number, out: SourceExtent[]): void {
    const img = this.images[level]!;
    const run = this.runs[level]!;
    const end = offset + length;
    const own = Math.min(end, img.virtualSize);
    while (offset < own) {
      img.lookup(offset, own - offset, run);
      const n = run.length;
      if (run.kind === 'unallocated') {
        if (level + 1 < this.images.length) this.walkMap(level + 1, offset, n, out);
        else emit(out, offset, n, null, 'none');
      } else {
        emit(out, offset, n, level, run.kind);
      }
      offset += n;
    }
    if (offset < end) emit(out, offset, end - offset, null, 'none');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const img of this.images) img.close();
    this.cache.clear();
  }
}

/** Append an extent, merged with the last one when it continues it. */
function emit(out: SourceExtent[], offset: number, length: number, element: number | null, how: SourceExtent['how']): void {
  const last = out[out.length - 1];
  if (last && last.element === element && last.how === how && last.offset + last.length === offset) {
    last.length += length;
    return;
  }
  out.push({ offset, length, element, how });
}

/**
 * Open a chain, the layer first, each element the backing file of the one before it, as one
 * read-only device. Every element is opened once (read-only) and checked: a qcow2 with a
 * feature this reader cannot read is refused with a UserError naming it, and so is a chain whose
 * shape contradicts its images (a raw or backing-less qcow2 followed by more elements, or a
 * qcow2 that names a backing file but ends the chain). Call `close` when done.
 */
export function openImageChain(elements: readonly ChainElementSpec[], opts: ChainOpenOptions = {}): ChainDevice {
  const top = elements[0];
  if (!top) throw new UserError('cannot open an empty image chain');
  const name = opts.name ?? escapeText(top.label);
  if (elements.length > MAX_CHAIN_ELEMENTS) {
    throw new UserError(`${name}: backing chain of ${elements.length} images, more than the ${MAX_CHAIN_ELEMENTS} supported`);
  }
  const cache = new TableCache(opts.cacheBytes ?? DEFAULT_TABLE_CACHE_BYTES);
  const images: ChainImage[] = [];
  try {
    elements.forEach((el, slot) => {
      const format = readableFormat(el.path, String(el.format));
      images.push(format === 'qcow2' ? Qcow2Image.open(el.path, { cache, slot }) : RawImage.open(el.path));
    });
    images.forEach((img, i) => {
      const last = i === images.length - 1;
      if (!last && !img.hasBacking) {
        const why = img.format === 'raw' ? 'is a raw image' : 'has no backing file';
        throw new UserError(`${escapeText(img.path)}: ${why}, yet ${escapeText(elements[i + 1]!.path)} follows it in the chain of ${name}`);
      }
      if (last && img.hasBacking) {
        throw new UserError(`${escapeText(img.path)}: names a backing file, but the chain of ${name} ends with it`);
      }
    });
  } catch (err) {
    for (const img of images) img.close();
    throw err;
  }
  return new ImageChainDevice(images, elements, name, cache);
}
