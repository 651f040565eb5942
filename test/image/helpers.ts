// The independent tools the image reader is checked against: qemu-img and qemu-io build the
// images, `qemu-img convert -O raw` says what the guest sees, `qemu-img map --output=json` says
// which chain element holds each range.

import { execa } from 'execa';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MappedDevice, SourceExtent } from '../../src/image/block-device.js';

export async function qemuImg(...args: string[]): Promise<string> {
  return (await execa('qemu-img', args)).stdout;
}

/** `qemu-img create -f qcow2 [-o opts] [-b backing -F fmt] img size`. */
export async function createQcow2(
  img: string,
  size: number | string,
  opts: { options?: string; backing?: string; backingFormat?: 'qcow2' | 'raw' } = {},
): Promise<void> {
  await mkdir(path.dirname(img), { recursive: true });
  const args = ['create', '-q', '-f', 'qcow2'];
  if (opts.options) args.push('-o', opts.options);
  if (opts.backing) args.push('-b', opts.backing, '-F', opts.backingFormat ?? 'qcow2');
  args.push(img, String(size));
  await qemuImg(...args);
}

/** Run qemu-io commands (`write -P 0x5a 4096 512`, `write -z 0 64k`, ...) on an image. */
export async function qemuIo(img: string, cmds: string[], format = 'qcow2'): Promise<void> {
  if (cmds.length === 0) return;
  await execa('qemu-io', ['-f', format, ...cmds.flatMap((c) => ['-c', c]), img]);
}

/** What the guest sees: `qemu-img convert -O raw` of the image, read into memory. */
export async function qemuRaw(img: string, tmp: string): Promise<Buffer> {
  const out = path.join(tmp, `raw-${path.basename(img)}-${process.hrtime.bigint()}.raw`);
  await qemuImg('convert', '-U', '-O', 'raw', img, out);
  try {
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}

export interface QemuMapEntry {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  offset?: number;
}

export async function qemuMap(img: string): Promise<QemuMapEntry[]> {
  return JSON.parse(await qemuImg('map', '-U', '--output=json', img)) as QemuMapEntry[];
}

type Key = Pick<SourceExtent, 'element' | 'how'>;

/** Append, merging with the previous extent when it continues it with the same element and how. */
function push(out: SourceExtent[], e: SourceExtent): void {
  const last = out[out.length - 1];
  if (last && last.element === e.element && last.how === e.how && last.offset + last.length === e.offset) last.length += e.length;
  else out.push({ ...e });
}

/**
 * qemu-img map in the device's terms: `present: false` → no element (zeros); data at depth d →
 * element d, `compressed` when qemu gives no host offset for a qcow2 element (compressed clusters
 * have none); `zero: true, data: false` at depth d → a zero cluster of element d (a hole of a raw
 * element is still that element's data).
 */
export function expectedMap(entries: QemuMapEntry[], formats: readonly ('qcow2' | 'raw')[]): SourceExtent[] {
  const out: SourceExtent[] = [];
  for (const e of entries) {
    let key: Key;
    if (!e.present) key = { element: null, how: 'none' };
    else if (formats[e.depth] === 'raw') key = { element: e.depth, how: 'data' };
    else if (e.data) key = { element: e.depth, how: e.offset === undefined ? 'compressed' : 'data' };
    else key = { element: e.depth, how: 'zero' };
    push(out, { offset: e.start, length: e.length, ...key });
  }
  return out;
}

/** The device's map of its whole size, merged the same way (the device already merges). */
export function deviceMap(dev: MappedDevice): SourceExtent[] {
  const out: SourceExtent[] = [];
  for (const e of dev.map(0, dev.size)) push(out, e);
  return out;
}

/** A small deterministic PRNG (mulberry32): random ranges that a failure can reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Read `count` random ranges (up to `maxLen` bytes) and compare each with `expected`. */
export function compareRandomRanges(dev: MappedDevice, expected: Buffer, seed: number, count = 200, maxLen = 300_000): number {
  const rnd = prng(seed);
  let bad = 0;
  for (let i = 0; i < count; i++) {
    const len = 1 + Math.floor(rnd() * Math.min(maxLen, dev.size));
    const off = Math.floor(rnd() * (dev.size - len + 1));
    const buf = Buffer.alloc(len, 0xa5);
    dev.read(buf, off);
    if (!buf.equals(expected.subarray(off, off + len))) bad++;
  }
  return bad;
}

/** Read the whole device in chunks of `chunk` bytes. */
export function readAll(dev: MappedDevice, chunk = 1 << 20): Buffer {
  const out = Buffer.alloc(dev.size);
  for (let off = 0; off < dev.size; off += chunk) dev.read(out.subarray(off, Math.min(off + chunk, dev.size)), off);
  return out;
}
