// A qcow2 v3 layer writer for tests, samples and benchmarks (not product code: the product never
// writes an image). Like an obuilder overlay, the image allocates only the clusters given, on top
// of an optional backing file, with refcounts that `qemu-img check` accepts.
//
// Layout: cluster 0 the header (+ backing-format extension + backing name), then the data
// clusters in the order given (one write each, as they come, so a large image streams), then the
// L2 tables, the L1 table, the refcount table and the refcount blocks, every cluster refcount 1.

import { closeSync, openSync, writeSync } from 'node:fs';

export interface Qcow2LayerSpec {
  path: string;
  /** Bytes; a multiple of 512. */
  virtualSize: number;
  backing: { path: string; format: 'qcow2' | 'raw' } | null;
  /** 9 (512 B) to 21 (2 MiB); default 16 (64 KiB), qemu's default. */
  clusterBits?: number;
  /** Guest cluster index → its bytes (at most a cluster; shorter is zero-padded). */
  clusters: Iterable<[number, Uint8Array]>;
  /** Guest clusters that read as zeros (v3 zero flag), hiding the backing file. */
  zeroClusters?: Iterable<number>;
}

export interface Qcow2LayerInfo {
  /** Bytes of the file written. */
  fileSize: number;
  dataClusters: number;
  zeroClusters: number;
  l2Tables: number;
}

const MAGIC = 0x514649fb;
const HEADER_LENGTH = 112; // v3 fields through compression_type, padded to 8 (as qemu writes it)
const EXT_BACKING_FORMAT = 0xe2792aca;
const COPIED = 1n << 63n; // refcount exactly one
const ZERO_FLAG = 1n;
const REFCOUNT_ORDER = 4; // 16-bit refcounts, qemu's default

export function writeQcow2Layer(spec: Qcow2LayerSpec): Qcow2LayerInfo {
  const clusterBits = spec.clusterBits ?? 16;
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) throw new Error(`clusterBits ${clusterBits}: 9 to 21`);
  if (!Number.isSafeInteger(spec.virtualSize) || spec.virtualSize < 0 || spec.virtualSize % 512 !== 0) {
    throw new Error(`virtualSize ${spec.virtualSize}: a multiple of 512`);
  }
  const cs = 2 ** clusterBits;
  const l2Entries = cs / 8;
  const guestClusters = Math.ceil(spec.virtualSize / cs);
  const l1Size = Math.ceil(guestClusters / l2Entries);
  const l2Tables = new Map<number, Buffer>();
  const l2Of = (gc: number): { table: Buffer; at: number } => {
    if (!Number.isSafeInteger(gc) || gc < 0 || gc >= guestClusters) throw new Error(`cluster ${gc} is outside the virtual size`);
    const l1i = Math.floor(gc / l2Entries);
    let table = l2Tables.get(l1i);
    if (!table) {
      table = Buffer.alloc(cs);
      l2Tables.set(l1i, table);
    }
    const at = (gc % l2Entries) * 8;
    if (table.readBigUInt64BE(at) !== 0n) throw new Error(`cluster ${gc} given twice`);
    return { table, at };
  };

  const fd = openSync(spec.path, 'w');
  try {
    // Data clusters from host cluster 1 on, written as they come.
    let next = 1;
    let dataClusters = 0;
    for (const [gc, bytes] of spec.clusters) {
      if (bytes.length > cs) throw new Error(`cluster ${gc}: ${bytes.length} bytes, more than a cluster`);
      const { table, at } = l2Of(gc);
      const host = next++ * cs;
      table.writeBigUInt64BE(BigInt(host) | COPIED, at);
      if (bytes.length > 0) writeSync(fd, bytes, 0, bytes.length, host);
      dataClusters++;
    }
    let zeroClusters = 0;
    for (const gc of spec.zeroClusters ?? []) {
      const { table, at } = l2Of(gc);
      table.writeBigUInt64BE(ZERO_FLAG, at);
      zeroClusters++;
    }

    // Metadata after the data: L2 tables, L1, refcount table, refcount blocks. The refcount
    // structures count themselves, so size them to a fixed point.
    const l2Start = next;
    const l1Start = l2Start + l2Tables.size;
    const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
    const rtStart = l1Start + l1Clusters;
    const perBlock = (cs * 8) / 2 ** REFCOUNT_ORDER;
    let rtClusters = 1;
    let blocks = 1;
    for (;;) {
      const total = rtStart + rtClusters + blocks;
      const needBlocks = Math.ceil(total / perBlock);
      const needRt = Math.max(1, Math.ceil((needBlocks * 8) / cs));
      if (needBlocks === blocks && needRt === rtClusters) break;
      blocks = needBlocks;
      rtClusters = needRt;
    }
    const rbStart = rtStart + rtClusters;
    const totalClusters = rbStart + blocks;

    const l1 = Buffer.alloc(l1Clusters * cs);
    [...l2Tables.keys()]
      .sort((a, b) => a - b)
      .forEach((l1i, k) => {
        const host = (l2Start + k) * cs;
        writeSync(fd, l2Tables.get(l1i)!, 0, cs, host);
        l1.writeBigUInt64BE(BigInt(host) | COPIED, l1i * 8);
      });
    writeSync(fd, l1, 0, l1.length, l1Start * cs);

    const rt = Buffer.alloc(rtClusters * cs);
    for (let b = 0; b < blocks; b++) rt.writeBigUInt64BE(BigInt((rbStart + b) * cs), b * 8);
    writeSync(fd, rt, 0, rt.length, rtStart * cs);
    const rb = Buffer.alloc(blocks * cs);
    for (let c = 0; c < totalClusters; c++) rb.writeUInt16BE(1, c * 2);
    writeSync(fd, rb, 0, rb.length, rbStart * cs);

    // The header last, once every offset is known.
    const head = Buffer.alloc(cs);
    head.writeUInt32BE(MAGIC, 0);
    head.writeUInt32BE(3, 4);
    head.writeUInt32BE(clusterBits, 20);
    head.writeBigUInt64BE(BigInt(spec.virtualSize), 24);
    head.writeUInt32BE(l1Size, 36);
    head.writeBigUInt64BE(BigInt(l1Start * cs), 40);
    head.writeBigUInt64BE(BigInt(rtStart * cs), 48);
    head.writeUInt32BE(rtClusters, 56);
    head.writeUInt32BE(REFCOUNT_ORDER, 96);
    head.writeUInt32BE(HEADER_LENGTH, 100);
    let pos = HEADER_LENGTH;
    if (spec.backing) {
      const fmt = Buffer.from(spec.backing.format);
      head.writeUInt32BE(EXT_BACKING_FORMAT, pos);
      head.writeUInt32BE(fmt.length, pos + 4);
      fmt.copy(head, pos + 8);
      pos += 8 + Math.ceil(fmt.length / 8) * 8;
    }
    pos += 8; // the end-of-extensions marker: type 0, length 0
    if (spec.backing) {
      const name = Buffer.from(spec.backing.path);
      if (name.length > 1023 || pos + name.length > cs) throw new Error(`backing path of ${name.length} bytes does not fit`);
      head.writeBigUInt64BE(BigInt(pos), 8);
      head.writeUInt32BE(name.length, 16);
      name.copy(head, pos);
    }
    writeSync(fd, head, 0, cs, 0);
    return { fileSize: totalClusters * cs, dataClusters, zeroClusters, l2Tables: l2Tables.size };
  } finally {
    closeSync(fd);
  }
}
