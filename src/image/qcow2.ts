// One qcow2 image, read-only (qemu docs/interop/qcow2.txt "Cluster mapping"; qemu splits the
// same concerns into qcow2.c, qcow2-cluster.c and qcow2-cache.c): the active L1 table read once
// and validated, L2 tables through a shared LRU cache, plain, zero and compressed clusters.
// Unallocated clusters are reported as such; the chain device asks the backing file.
//
// Everything the file says is untrusted: no allocation is sized from the header before it is
// bounded (by the file's size, the cluster size or qemu's own limits), and every offset is
// checked before it is used, so a hostile image gives a UserError naming it, never a hang.

import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { UserError } from '../util/errors.js';
import type { ChainImage, Run } from './chain-image.js';
import { ImageFile } from './image-file.js';
import { parseQcow2Header, refuseUnsupported, type Qcow2Header } from './qcow2-header.js';
import { TableCache } from './table-cache.js';

/**
 * L1 and L2 entries are u64, read as two u32 halves (hi = bits 32-63, lo = bits 0-31) so the
 * hot path needs no BigInt. Bit layout, qcow2.txt "L1 table entry" / "L2 table entry".
 */
const ENTRY = {
  /** Bits 9-55: table or cluster offset. */
  offsetHi: 0x00ffffff,
  offsetLo: 0xfffffe00,
  /** Bit 62 (L2): compressed cluster. */
  compressedHi: 0x40000000,
  /** Bit 0 (v3 L2, standard descriptor): reads as zeros. */
  zeroLo: 0x00000001,
} as const;
const ENTRY_BYTES = 8;
const TWO32 = 2 ** 32;
/** Compressed sizes count 512-byte sectors. */
const SECTOR = 512;
/** qemu's limit on the active L1 table (QCOW_MAX_L1_SIZE, 32 MiB). */
const MAX_L1_BYTES = 32 * 1024 * 1024;

export interface Qcow2OpenOptions {
  /** L2 table cache shared with the other images of the chain (default: a private one). */
  cache?: TableCache;
  /** This image's slot in `cache` (distinct per image sharing it, < MAX_CACHE_SLOTS). */
  slot?: number;
}

/** A half-open byte range of the file that holds metadata (header, L1, refcount table). */
interface Reserved {
  start: number;
  end: number;
  what: string;
}

export class Qcow2Image implements ChainImage {
  readonly format = 'qcow2';
  readonly virtualSize: number;
  readonly clusterSize: number;
  readonly dirty: boolean;
  readonly hasBacking: boolean;
  private readonly l2Entries: number;
  /** Guest bytes one L2 table maps. */
  private readonly l2Coverage: number;
  /** Validated L2 table offsets per L1 index; 0 = no table. */
  private readonly l1: Float64Array;
  private readonly reserved: Reserved[];
  private readonly cache: TableCache;
  private readonly slot: number;
  // Compressed descriptor layout for this cluster_bits: x = 62 - (cluster_bits - 8).
  private readonly cOffsetHiMask: number;
  private readonly cSizeShift: number;
  private readonly cSizeMask: number;
  // classify() results for the entry after the first, kept here to avoid an allocation.
  private scratchHost = 0;

  private constructor(
    private readonly file: ImageFile,
    readonly header: Qcow2Header,
    opts: Qcow2OpenOptions,
  ) {
    const cs = header.clusterSize;
    this.clusterSize = cs;
    this.virtualSize = header.virtualSize;
    this.dirty = header.dirty;
    this.hasBacking = header.backingFile !== null;
    this.l2Entries = cs / ENTRY_BYTES;
    this.l2Coverage = cs * this.l2Entries;
    this.cache = opts.cache ?? new TableCache();
    this.slot = opts.slot ?? 0;
    const x = 62 - (header.clusterBits - 8);
    this.cOffsetHiMask = 2 ** (x - 32) - 1;
    this.cSizeShift = x - 32;
    this.cSizeMask = 2 ** (header.clusterBits - 8) - 1;
    this.reserved = [{ start: 0, end: cs, what: 'the header' }];
    this.l1 = this.readL1();
  }

  get path(): string {
    return this.file.path;
  }

  private get name(): string {
    return this.file.name;
  }

  /** Open `path` read-only, parse and check its header, read and validate its L1 table. */
  static open(path: string, opts: Qcow2OpenOptions = {}): Qcow2Image {
    const file = ImageFile.open(path, 'a qcow2 image');
    try {
      const header = parseQcow2Header(file);
      refuseUnsupported(header, path);
      return new Qcow2Image(file, header, opts);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  private corrupt(what: string): UserError {
    return new UserError(`${this.name}: corrupt qcow2 image (${what})`);
  }

  private readL1(): Float64Array {
    const h = this.header;
    const cs = this.clusterSize;
    const needed = Math.ceil(h.virtualSize / this.l2Coverage);
    if (h.l1Size * ENTRY_BYTES > MAX_L1_BYTES) {
      throw this.corrupt(`L1 table of ${h.l1Size} entries, more than qemu's limit of ${MAX_L1_BYTES / ENTRY_BYTES}`);
    }
    if (h.l1Size < needed) {
      throw this.corrupt(`L1 table of ${h.l1Size} entries, too small for the virtual size of ${h.virtualSize} bytes (needs ${needed})`);
    }
    if (h.refcountTableClusters > 0) {
      const rtEnd = h.refcountTableOffset + h.refcountTableClusters * cs;
      this.reserved.push({ start: h.refcountTableOffset, end: rtEnd, what: 'the refcount table' });
    }
    if (needed === 0) return new Float64Array(0);
    // Only the entries the virtual size needs are read (qemu keeps VM state past them).
    const bytes = needed * ENTRY_BYTES;
    const off = h.l1TableOffset;
    if (off % cs !== 0) throw this.corrupt(`L1 table offset ${off} is not cluster-aligned`);
    if (off < cs) throw this.corrupt(`L1 table offset ${off} points inside the header`);
    if (off + bytes > this.file.size) {
      throw this.corrupt(`L1 table (${bytes} bytes at offset ${off}) runs past the end of the file (${this.file.size} bytes)`);
    }
    const raw = Buffer.allocUnsafe(bytes);
    this.file.readExactly(raw, off, 'L1 table');
    this.reserved.push({ start: off, end: off + bytes, what: 'the L1 table' });
    const l1 = new Float64Array(needed);
    for (let i = 0; i < needed; i++) {
      const hi = raw.readUInt32BE(i * ENTRY_BYTES);
      const lo = raw.readUInt32BE(i * ENTRY_BYTES + 4);
      const t = (hi & ENTRY.offsetHi) * TWO32 + ((lo & ENTRY.offsetLo) >>> 0);
      if (t === 0) continue;
      this.checkHost(t, cs, `L2 table of L1 entry ${i}`, true);
      l1[i] = t;
    }
    return l1;
  }

  /** A cluster-sized (or smaller) range at `off` must be aligned (when asked), in the file and clear of metadata. */
  private checkHost(off: number, length: number, what: string, aligned: boolean): void {
    if (aligned && off % this.clusterSize !== 0) throw this.corrupt(`${what} at offset ${off} is not cluster-aligned`);
    if (off >= this.file.size) throw this.corrupt(`${what} at offset ${off} is past the end of the file (${this.file.size} bytes)`);
    for (const r of this.reserved) {
      if (off < r.end && off + length > r.start) throw this.corrupt(`${what} at offset ${off} overlaps ${r.what}`);
    }
  }

  /** The L2 table at `offset` (validated when the L1 was read). */
  private table(offset: number): Buffer {
    const key = TableCache.key(this.slot, offset);
    let t = this.cache.get(key);
    if (!t) {
      t = Buffer.allocUnsafe(this.clusterSize);
      // A table the file cuts short reads as zeros past its end, as qemu reads past EOF.
      const got = this.file.readUpTo(t, offset);
      if (got < t.length) t.fill(0, got);
      this.cache.set(key, t);
    }
    return t;
  }

  /**
   * Classify L2 entry `index` of `t` for guest cluster `gc`. For `data` the host offset is left in
   * `scratchHost`; for `compressed` the descriptor is decoded into `run` when given.
   */
  private classify(t: Buffer, index: number, gc: number, run: Run | null): Run['kind'] {
    const hi = t.readUInt32BE(index * ENTRY_BYTES);
    const lo = t.readUInt32BE(index * ENTRY_BYTES + 4);
    if ((hi & ENTRY.compressedHi) !== 0) {
      if (run) {
        const host = (hi & this.cOffsetHiMask) * TWO32 + (lo >>> 0);
        const sectors = ((hi >>> this.cSizeShift) & this.cSizeMask) + 1;
        this.checkHost(host, 1, `compressed cluster for guest offset ${gc * this.clusterSize}`, false);
        run.host = host;
        run.csize = sectors * SECTOR - (host % SECTOR);
      }
      return 'compressed';
    }
    if ((lo & ENTRY.zeroLo) !== 0) {
      if (this.header.version < 3) throw this.corrupt(`zero cluster entry in a version 2 image, guest offset ${gc * this.clusterSize}`);
      return 'zero';
    }
    const host = (hi & ENTRY.offsetHi) * TWO32 + ((lo & ENTRY.offsetLo) >>> 0);
    if (host === 0) return 'unallocated';
    this.checkHost(host, this.clusterSize, `data cluster for guest offset ${gc * this.clusterSize}`, true);
    this.scratchHost = host;
    return 'data';
  }

  lookup(offset: number, maxLength: number, run: Run): void {
    const cs = this.clusterSize;
    const gc = Math.floor(offset / cs);
    const l1i = Math.floor(gc / this.l2Entries);
    const inCluster = offset - gc * cs;
    const limit = Math.min(offset + maxLength, (l1i + 1) * this.l2Coverage);
    const l2 = this.l1[l1i] ?? 0;
    if (l2 === 0) {
      run.kind = 'unallocated';
      run.length = limit - offset;
      return;
    }
    const t = this.table(l2);
    let index = gc - l1i * this.l2Entries;
    const kind = this.classify(t, index, gc, run);
    run.kind = kind;
    let end = Math.min(offset - inCluster + cs, limit);
    if (kind === 'compressed') {
      run.skip = inCluster;
      run.guest = gc * cs;
      run.length = end - offset;
      return;
    }
    let nextHost = 0;
    if (kind === 'data') {
      run.host = this.scratchHost + inCluster;
      nextHost = this.scratchHost + cs;
    }
    // Extend over the following entries of the same table while they continue the run.
    for (let g = gc + 1; end < limit; g++) {
      index++;
      const k = this.classify(t, index, g, null);
      if (k !== kind || (k === 'data' && this.scratchHost !== nextHost)) break;
      nextHost += cs;
      end = Math.min(end + cs, limit);
    }
    run.length = end - offset;
  }

  readRun(run: Run, buf: Uint8Array, bufOffset: number): void {
    if (run.kind === 'data') {
      const dst = buf.subarray(bufOffset, bufOffset + run.length);
      const got = this.file.readUpTo(dst, run.host);
      // The file may end inside its last cluster (qemu reads zeros there).
      if (got < dst.length) dst.fill(0, got);
      return;
    }
    if (run.kind === 'compressed') {
      const cluster = this.inflate(run);
      buf.set(cluster.subarray(run.skip, run.skip + run.length), bufOffset);
      return;
    }
    throw new Error(`readRun: a ${run.kind} run has no bytes in ${this.name}`);
  }

  /** Inflate the compressed cluster `run` describes (raw deflate, exactly one cluster out). */
  private inflate(run: Run): Buffer {
    const kept = this.cache.inflated(this.slot, run.host);
    if (kept) return kept;
    const cs = this.clusterSize;
    // csize <= 2^(cluster_bits - 8) sectors = 2 clusters: bounded. The data may run past the end
    // of the file by the tail of its last sector (qemu reads zeros there).
    const input = Buffer.alloc(Math.min(run.csize, this.file.size - run.host));
    this.file.readUpTo(input, run.host);
    const what = `compressed cluster for guest offset ${run.guest} (${run.csize} bytes at offset ${run.host})`;
    let out: Buffer;
    try {
      // SYNC_FLUSH: like qemu, accept a stream cut short once it has produced a whole cluster
      // (the size is only known to a sector); maxOutputLength bounds the output.
      out = inflateRawSync(input, { maxOutputLength: cs, chunkSize: cs, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') throw this.corrupt(`${what} inflates to more than a cluster`);
      throw this.corrupt(`${what} does not inflate: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (out.length !== cs) throw this.corrupt(`${what} inflates to ${out.length} bytes, not ${cs}`);
    this.cache.keepInflated(this.slot, run.host, out);
    return out;
  }

  close(): void {
    this.file.close();
  }
}
