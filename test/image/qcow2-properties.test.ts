// Property tests: random corruptions of the header, the L1 table, the L2 tables and the cluster
// bytes (plain and compressed) of real qemu-made images. Whatever the bytes, opening, reading and
// mapping either works or throws a one-line UserError naming the image: never another exception,
// never a hang (each run is timed), and an edit that changes nothing reads the original bytes.

import { execa } from 'execa';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openImageChain } from '../../src/image/chain-device.js';
import { readQcow2HeaderSync } from '../../src/image/qcow2-header.js';
import { UserError } from '../../src/util/errors.js';
import { removeAll, tempDir } from '../store/helpers.js';
import { createQcow2, qemuIo, qemuRaw } from './helpers.js';

/** Longest a single open + read + map may take on a 4 MiB image, corrupt or not. */
const RUN_BUDGET_MS = 2000;
/** Fixed for reproducible runs; LF_FC_SEED / LF_FC_RUNS explore further. */
const SEED = process.env['LF_FC_SEED'] ? Number(process.env['LF_FC_SEED']) : 0x5eed;
const RUNS = process.env['LF_FC_RUNS'] ? Number(process.env['LF_FC_RUNS']) : 120;

interface Fixture {
  name: string;
  bytes: Buffer;
  expected: Buffer;
  /** [start, end) byte ranges of the file worth corrupting, by structure. */
  regions: Record<string, [number, number][]>;
}

let dir: string;
const fixtures: Fixture[] = [];

/** Where the header, the L1 table, the L2 tables and the clusters they point at lie in `file`. */
function regionsOf(file: string, bytes: Buffer): Fixture['regions'] {
  const h = readQcow2HeaderSync(file);
  const cs = h.clusterSize;
  const l1: [number, number] = [h.l1TableOffset, h.l1TableOffset + h.l1Size * 8];
  const l2: [number, number][] = [];
  const data: [number, number][] = [];
  const cMask = (1n << BigInt(62 - (h.clusterBits - 8))) - 1n;
  for (let i = 0; i < h.l1Size; i++) {
    const t = Number(bytes.readBigUInt64BE(h.l1TableOffset + 8 * i) & 0x00fffffffffffe00n);
    if (t === 0) continue;
    l2.push([t, t + cs]);
    for (let j = 0; j < cs / 8; j++) {
      const e = bytes.readBigUInt64BE(t + 8 * j);
      if (e >> 62n === 1n) {
        const off = Number(e & cMask);
        data.push([off, Math.min(off + 512, bytes.length)]);
      } else {
        const off = Number(e & 0x00fffffffffffe00n);
        if (off !== 0) data.push([off, off + cs]);
      }
    }
  }
  return { header: [[0, Math.min(cs, 1024)]], l1: [l1], l2, data };
}

async function addFixture(name: string, img: string): Promise<void> {
  const bytes = await readFile(img);
  fixtures.push({ name, bytes, expected: await qemuRaw(img, dir), regions: regionsOf(img, bytes) });
}

beforeAll(async () => {
  dir = await tempDir('lf-props-');
  const writes = ['write -P 0x41 0 100k', 'write -z 192k 64k', 'write -P 0x42 300k 5000', 'write -P 0x43 2M 700k', 'write -P 0x44 3M 1'];
  // v3, 64 KiB clusters, plain and zero clusters.
  const v3 = path.join(dir, 'v3.qcow2');
  await createQcow2(v3, '4M');
  await qemuIo(v3, writes);
  await addFixture('v3 64k', v3);
  // v2, 4 KiB clusters.
  const v2 = path.join(dir, 'v2.qcow2');
  await createQcow2(v2, '4M', { options: 'compat=0.10,cluster_size=4096' });
  await qemuIo(v2, writes);
  await addFixture('v2 4k', v2);
  // Compressed, 64 KiB and 512-byte clusters (the narrowest size field: one bit).
  for (const cs of [65536, 512]) {
    const c = path.join(dir, `c${cs}.qcow2`);
    await execa('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', `cluster_size=${cs}`, v3, c]);
    await addFixture(`compressed ${cs}`, c);
  }
});
afterAll(async () => {
  await removeAll(dir);
});

/** One corrupted image, opened, read and mapped. Returns 'read' with equal/unequal bytes, or 'refused'. */
function tryImage(file: string, expected: Buffer): 'same' | 'different' | 'refused' {
  try {
    const dev = openImageChain([{ path: file, format: 'qcow2', label: 'x' }]);
    try {
      // A corrupt header may claim any size: read what the fixture holds, map it all.
      const buf = Buffer.alloc(Math.min(dev.size, expected.length));
      for (let off = 0; off < buf.length; off += 1 << 20) dev.read(buf.subarray(off, Math.min(off + (1 << 20), buf.length)), off);
      dev.map(0, dev.size);
      return dev.size === expected.length && buf.equals(expected) ? 'same' : 'different';
    } finally {
      dev.close();
    }
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    if (err.message.includes('\n') || !err.message.startsWith(`${file}: `)) {
      throw new Error(`not a one-line message naming the image: ${err.message}`, { cause: err });
    }
    return 'refused';
  }
}

const edit = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), flip: fc.boolean() });

describe('random corruptions never escape as anything but a UserError', () => {
  for (const region of ['header', 'l1', 'l2', 'data'] as const) {
    test(`${region}`, () => {
      const outcomes = { same: 0, different: 0, refused: 0 };
      for (const fx of fixtures) {
        const ranges = fx.regions[region]!;
        if (ranges.length === 0) continue;
        const file = path.join(dir, `mut-${region}-${fx.name.replace(/\W/g, '_')}.qcow2`);
        fc.assert(
          fc.property(fc.nat(ranges.length - 1), fc.array(edit, { minLength: 1, maxLength: 6 }), (which, edits) => {
            const [start, end] = ranges[which]!;
            const bytes = Buffer.from(fx.bytes);
            for (const e of edits) {
              const at = start + (e.at % (end - start));
              if (at >= bytes.length) continue;
              bytes[at] = e.flip ? bytes[at]! ^ (1 << (e.value & 7)) : e.value;
            }
            writeFileSync(file, bytes);
            const t0 = performance.now();
            const outcome = tryImage(file, fx.expected);
            const ms = performance.now() - t0;
            outcomes[outcome]++;
            if (ms > RUN_BUDGET_MS) throw new Error(`${fx.name}: a run took ${ms.toFixed(0)} ms`);
            if (bytes.equals(fx.bytes) && outcome !== 'same') throw new Error(`${fx.name}: an unchanged image read ${outcome}`);
          }),
          { numRuns: RUNS, seed: SEED + region.length },
        );
      }
      if (process.env['LF_FC_VERBOSE']) console.log(region, outcomes);
      // The corruptions were not all harmless, nor all refused.
      expect(outcomes.refused + outcomes.different).toBeGreaterThan(0);
      expect(outcomes.same + outcomes.different).toBeGreaterThan(0);
    }, 120_000);
  }
});
