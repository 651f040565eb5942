// The in-process image reader's speed (src/image): sequential reads of a 256 MiB fully allocated
// qcow2 and of a compressed one, and random 4 KiB reads through a chain of 20 obuilder-sized
// (40 GiB virtual) layers. `npx tsx bench/image-bench.ts` prints the figures; `runImageBench`
// returns them for bench/run.ts.

import { execa } from 'execa';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeQcow2Layer } from '../samples/lib/qcow2-writer.js';
import { openImageChain, type ChainElementSpec } from '../src/image/chain-device.js';

const OUT = join(import.meta.dirname, 'out', 'image');
const MiB = 1024 * 1024;
const CLUSTER = 65536;

export interface ImageFigures {
  /** Sequential reads in 1 MiB requests. */
  seqPlainMBs: number;
  seqPlainMs: number;
  /** The same in 64 KiB requests (the destination stays in the CPU cache). */
  seqPlain64kMBs: number;
  /** Plain fs.readSync of the same file in 1 MiB requests: the ceiling for seqPlainMBs. */
  readSyncMBs: number;
  seqCompressedMBs: number;
  seqCompressedMs: number;
  compressedFileMB: number;
  qemuIoPlainMBs: number | null;
  qemuIoCompressedMBs: number | null;
  chainOpenMs: number;
  chainRandomReadsPerSec: number;
  chainRandomReads: number;
  chainMapMs: number;
  chainMapExtents: number;
  chainFirstReadMs: number;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1 MiB of word salad: text that deflates about as well as a filesystem's usual contents. */
function textBlock(seed: number): Buffer {
  const rnd = prng(seed);
  const words = Array.from({ length: 4000 }, (_, i) => i.toString(36) + 'abcdefghij'.slice(0, (i * 7) % 9));
  const parts: string[] = [];
  let n = 0;
  while (n < MiB) {
    const w = words[Math.floor(rnd() * rnd() * words.length)]!;
    parts.push(w, rnd() < 0.1 ? '\n' : ' ');
    n += w.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, MiB);
}

/** Clusters of 256 MiB, each a slice of text at a pseudo-random offset (no two clusters equal). */
function* fullClusters(count: number, text: Buffer): Generator<[number, Buffer]> {
  const rnd = prng(7);
  for (let i = 0; i < count; i++) {
    const at = Math.floor(rnd() * (text.length - CLUSTER));
    const c = Buffer.from(text.subarray(at, at + CLUSTER));
    c.writeUInt32BE(i, 0);
    yield [i, c];
  }
}

function timeSeqRead(spec: ChainElementSpec, rounds = 3, request = MiB): { ms: number; mbs: number } {
  const dev = openImageChain([spec]);
  try {
    const buf = Buffer.alloc(request);
    let best = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      for (let off = 0; off < dev.size; off += request) dev.read(buf, off);
      best = Math.min(best, performance.now() - t0);
    }
    return { ms: Math.round(best), mbs: Math.round(dev.size / 1e6 / (best / 1000)) };
  } finally {
    dev.close();
  }
}

/** fs.readSync over the file's data clusters in 1 MiB requests: what any reader here can reach. */
function timeReadSync(path: string, bytes: number, rounds = 3): number {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(MiB);
    let best = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      for (let off = CLUSTER; off < CLUSTER + bytes; off += MiB) readSync(fd, buf, 0, MiB, off);
      best = Math.min(best, performance.now() - t0);
    }
    return Math.round(bytes / 1e6 / (best / 1000));
  } finally {
    closeSync(fd);
  }
}

/** qemu-io's own figure for the same sequential read (reference). */
async function qemuIoRead(path: string, size: number): Promise<number | null> {
  try {
    const { stdout } = await execa('qemu-io', ['-r', '-c', `read 0 ${size}`, path]);
    const m = /\(([\d.]+) (KiB|MiB|GiB)\/sec/.exec(stdout);
    if (!m) return null;
    const mib = Number(m[1]) * (m[2] === 'GiB' ? 1024 : m[2] === 'KiB' ? 1 / 1024 : 1);
    return Math.round((mib * MiB) / 1e6);
  } catch {
    return null;
  }
}

export async function runImageBench(log: (s: string) => void): Promise<ImageFigures> {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const text = textBlock(1);

  log('image: writing a 256 MiB fully allocated qcow2');
  const plain = join(OUT, 'plain.qcow2');
  const clusters = (256 * MiB) / CLUSTER;
  writeQcow2Layer({ path: plain, virtualSize: 256 * MiB, backing: null, clusters: fullClusters(clusters, text) });
  log('image: compressing it (qemu-img convert -c)');
  const compressed = join(OUT, 'compressed.qcow2');
  await execa('qemu-img', ['convert', '-c', '-O', 'qcow2', plain, compressed]);
  const compressedFileMB = Math.round(statSync(compressed).size / MiB);

  log('image: sequential reads');
  const seqPlain = timeSeqRead({ path: plain, format: 'qcow2', label: 'plain' });
  const seqPlain64k = timeSeqRead({ path: plain, format: 'qcow2', label: 'plain' }, 3, CLUSTER);
  const readSyncMBs = timeReadSync(plain, 256 * MiB);
  const seqComp = timeSeqRead({ path: compressed, format: 'qcow2', label: 'compressed' }, 2);
  const qemuIoPlainMBs = await qemuIoRead(plain, 256 * MiB);
  const qemuIoCompressedMBs = await qemuIoRead(compressed, 256 * MiB);

  log('image: a chain of 20 layers of 40 GiB (a base with 512 MiB of data, 19 layers of 2000 scattered clusters)');
  const virtual = 40 * 1024 * MiB;
  const spread = (2 * 1024 * MiB) / CLUSTER; // data lives in the first 2 GiB
  const specs: ChainElementSpec[] = [];
  let below: string | null = null;
  for (let i = 0; i < 20; i++) {
    const p = join(OUT, `chain-${String(i).padStart(2, '0')}.qcow2`);
    const rnd = prng(100 + i);
    const picked = new Set<number>();
    const want = i === 0 ? spread / 4 : 2000;
    while (picked.size < want) picked.add(Math.floor(rnd() * spread));
    const cl = [...picked].map((gc): [number, Buffer] => [gc, Buffer.from(text.subarray(gc % 1000, (gc % 1000) + CLUSTER))]);
    writeQcow2Layer({ path: p, virtualSize: virtual, backing: below ? { path: below, format: 'qcow2' } : null, clusters: cl });
    specs.unshift({ path: p, format: 'qcow2', label: `l${i}` });
    below = p;
  }

  const t0 = performance.now();
  const dev = openImageChain(specs);
  const chainOpenMs = Math.round((performance.now() - t0) * 100) / 100;
  try {
    const first = Buffer.alloc(4096);
    const t1 = performance.now();
    dev.read(first, 1234 * CLUSTER);
    const chainFirstReadMs = Math.round((performance.now() - t1) * 100) / 100;
    const rnd = prng(42);
    const buf = Buffer.alloc(4096);
    const reads = 200_000;
    const t2 = performance.now();
    for (let i = 0; i < reads; i++) dev.read(buf, Math.floor(rnd() * (spread * CLUSTER / 4096)) * 4096);
    const chainRandomReadsPerSec = Math.round(reads / ((performance.now() - t2) / 1000));
    const t3 = performance.now();
    const extents = dev.map(0, dev.size);
    const chainMapMs = Math.round(performance.now() - t3);
    return {
      seqPlainMBs: seqPlain.mbs,
      seqPlainMs: seqPlain.ms,
      seqPlain64kMBs: seqPlain64k.mbs,
      readSyncMBs,
      seqCompressedMBs: seqComp.mbs,
      seqCompressedMs: seqComp.ms,
      compressedFileMB,
      qemuIoPlainMBs,
      qemuIoCompressedMBs,
      chainOpenMs,
      chainRandomReadsPerSec,
      chainRandomReads: reads,
      chainMapMs,
      chainMapExtents: extents.length,
      chainFirstReadMs,
    };
  } finally {
    dev.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const f = await runImageBench((s) => process.stderr.write(`bench: ${s}\n`));
  const rows: [string, string][] = [
    ['sequential read, 256 MiB fully allocated qcow2, 1 MiB requests (warm, best of 3)', `${f.seqPlainMBs} MB/s (${f.seqPlainMs} ms)`],
    ['  the same in 64 KiB requests', `${f.seqPlain64kMBs} MB/s`],
    ['  reference: fs.readSync of the file itself, 1 MiB requests', `${f.readSyncMBs} MB/s`],
    ['  reference: qemu-io -r -c "read 0 256M"', f.qemuIoPlainMBs === null ? 'n/a' : `${f.qemuIoPlainMBs} MB/s`],
    [`sequential read, the same compressed (qemu-img convert -c, ${f.compressedFileMB} MiB file), 1 MiB requests`, `${f.seqCompressedMBs} MB/s of guest bytes (${f.seqCompressedMs} ms)`],
    ['  reference: qemu-io -r -c "read 0 256M"', f.qemuIoCompressedMBs === null ? 'n/a' : `${f.qemuIoCompressedMBs} MB/s`],
    ['chain of 20 x 40 GiB: open (20 headers, 20 L1 tables)', `${f.chainOpenMs} ms`],
    ['chain of 20: first 4 KiB read (cold L2 cache)', `${f.chainFirstReadMs} ms`],
    [`chain of 20: random 4 KiB reads (${f.chainRandomReads})`, `${f.chainRandomReadsPerSec} reads/s`],
    ['chain of 20: map of the whole 40 GiB', `${f.chainMapMs} ms, ${f.chainMapExtents} extents`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(100)} ${v}`);
  if (existsSync(OUT)) await rm(OUT, { recursive: true, force: true });
}
