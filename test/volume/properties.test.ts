// fast-check: every table this layer reads (MBR with logicals, GPT, OpenBSD MBR+label, GPT+label,
// FreeBSD slice+label, bare label), randomly corrupted, cut short, or replaced by random bytes,
// gives a partition list whose windows all lie on the device, or a one-line UserError; never
// another exception, never a hang (each input within a time and a read budget).

import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  applyToBuffer,
  bareOpenbsdLabel,
  FS_BSDFFS,
  FS_SWAP,
  freebsdDisk,
  openbsdDisk,
  openbsdLabelSector,
  SECTOR,
  writeImageFile,
} from '../../samples/lib/disk-layout.js';
import { UserError } from '../../src/util/errors.js';
import { crc32 } from '../../src/volume/crc32.js';
import { GPT_HEADER, GPT_MAX_ARRAY_BYTES } from '../../src/volume/gpt.js';
import { readVolumes } from '../../src/volume/index.js';
import { MemDevice, removeAll, sfdisk, tempDir } from './helpers.js';

const MiB = 2 ** 20;
const SIZE = 2 * MiB;
const SECTORS = SIZE / SECTOR;
const RUNS = 300;
// The read count is the deterministic bound (a loop shows up as reads); the time bound is loose
// because these tests share the machine with QEMU guests, and only catches a hang between reads.
const TIME_BUDGET_MS = 2000;
const READ_BUDGET = 5000;

const images = new Map<string, Buffer>();
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  const parts = { a: { offset: 100, size: 1000, fstype: FS_BSDFFS }, b: { offset: 1100, size: 500, fstype: FS_SWAP }, e: { offset: 1600, size: 2400, fstype: FS_BSDFFS } };
  const blank = (): Uint8Array => new Uint8Array(SIZE);
  images.set('openbsd', Buffer.from(applyToBuffer(blank(), openbsdDisk({ diskSectors: SECTORS, duid: '0123456789abcdef', partitions: parts }))));
  images.set('bare', Buffer.from(applyToBuffer(blank(), [bareOpenbsdLabel({ diskSectors: SECTORS, duid: '0123456789abcdef', partitions: parts })])));
  images.set(
    'freebsd',
    Buffer.from(applyToBuffer(blank(), freebsdDisk({ sliceStart: 63, sliceSectors: SECTORS - 63, absolute: true, partitions: { a: { offset: 16, size: 2000, fstype: FS_BSDFFS } } }))),
  );
  const mbrImg = path.join(dir, 'mbr.img');
  await writeImageFile(mbrImg, SIZE, []);
  await sfdisk(mbrImg, ['label: dos', 'start=64, size=500, type=83', 'start=600, type=5', 'start=700, size=500, type=83', 'start=1300, size=500, type=82', 'start=1900, size=500, type=7'].join('\n'));
  images.set('mbr-logicals', await readFile(mbrImg));
  const gptImg = path.join(dir, 'gpt.img');
  await writeImageFile(gptImg, SIZE, []);
  await sfdisk(gptImg, ['label: gpt', 'start=40, size=500, type=linux, name="root"', 'start=600, size=400, type=swap', 'start=1100, size=2800, type=824CC7A0-36A8-11E3-890A-952519AD3F61'].join('\n'));
  const gpt = await readFile(gptImg);
  images.set('gpt', Buffer.from(gpt));
  const withLabel = Buffer.from(gpt);
  withLabel.set(
    openbsdLabelSector({ diskSectors: SECTORS, boundStart: 1100, boundEnd: 3900, duid: 'fedcba9876543210', partitions: { a: { offset: 1100, size: 2800, fstype: FS_BSDFFS } } }),
    1100 * SECTOR + 512,
  );
  images.set('gpt-openbsd', withLabel);
});

afterAll(async () => {
  await removeAll(dir);
});

/** The property: a sound result or a one-line UserError, within budget. */
function check(bytes: Uint8Array): void {
  const dev = new MemDevice(bytes, 'fuzz.img');
  const t0 = performance.now();
  let outcome: 'ok' | 'refused';
  try {
    const vs = readVolumes(dev);
    outcome = 'ok';
    expect(['mbr', 'gpt', 'disklabel', 'none']).toContain(vs.scheme);
    for (const w of vs.warnings) expect(oneLine(w)).toBe(true);
    for (const p of vs.partitions) {
      expect(Number.isSafeInteger(p.offset) && Number.isSafeInteger(p.size)).toBe(true);
      expect(p.offset).toBeGreaterThanOrEqual(0);
      expect(p.size).toBeGreaterThanOrEqual(0);
      expect(p.offset + p.size).toBeLessThanOrEqual(dev.size);
      expect([p.device.start, p.device.size, p.device.parent]).toEqual([p.offset, p.size, dev]);
      if (p.duid !== undefined) expect(p.duid).toMatch(/^[0-9a-f]{16}$/);
    }
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    outcome = 'refused';
    expect(err.message.length).toBeGreaterThan(0);
    expect(oneLine(err.message)).toBe(true);
  }
  expect(['ok', 'refused']).toContain(outcome);
  expect(performance.now() - t0).toBeLessThan(TIME_BUDGET_MS);
  expect(dev.reads).toBeLessThan(READ_BUDGET);
}

function oneLine(s: string): boolean {
  return !/[\x00-\x1f\x7f]/.test(s);
}

/** The sectors that hold anything (the tables: these images are zeros elsewhere). */
function hotSectors(b: Buffer): number[] {
  const out: number[] = [];
  for (let s = 0; s < b.length / SECTOR; s++) {
    if (b.subarray(s * SECTOR, (s + 1) * SECTOR).some((x) => x !== 0)) out.push(s);
  }
  return out;
}

const INTERESTING_U32 = [0, 1, 2, 63, 64, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 0x8256_4557, 0x5745_5682, 0xaa55, SECTORS - 1, SECTORS, SECTORS + 1];

type Edit = { sector: number; at: number; kind: 'u8' | 'u16' | 'u32'; value: number };

const edit = fc.record({
  sector: fc.nat(),
  // Anywhere, but mostly where the fields are: an MBR's table (446-511), a label's or GPT
  // header's first fields and first entries (0-160).
  at: fc.oneof(fc.nat({ max: SECTOR - 1 }), fc.integer({ min: 440, max: SECTOR - 1 }), fc.nat({ max: 160 })),
  kind: fc.constantFrom<'u8' | 'u16' | 'u32'>('u8', 'u16', 'u32'),
  value: fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.constantFrom(...INTERESTING_U32)),
});

function corrupt(base: Buffer, edits: readonly Edit[], hot: readonly number[]): Buffer {
  const b = Buffer.from(base);
  for (const e of edits) {
    const sector = hot[e.sector % hot.length]!;
    const width = { u8: 1, u16: 2, u32: 4 }[e.kind];
    const at = sector * SECTOR + Math.min(e.at - (e.at % width), SECTOR - width);
    if (e.kind === 'u8') b[at] = e.value & 0xff;
    else if (e.kind === 'u16') b.writeUInt16LE(e.value & 0xffff, at);
    else b.writeUInt32LE(e.value >>> 0, at);
  }
  return b;
}

/**
 * Recompute the primary GPT's CRCs after corrupting it, so garbage reaches the entry parser
 * instead of being turned away by the checksums.
 */
function refreshGptCrcs(b: Buffer): void {
  if (b.length < 2 * SECTOR) return;
  const h = GPT_HEADER.at(b, SECTOR);
  const num = h.u32('gh_part_num');
  const size = h.u32('gh_part_size');
  const lba = h.u64('gh_part_lba');
  const bytes = num * size;
  if (bytes > 0 && bytes <= GPT_MAX_ARRAY_BYTES && lba < BigInt(b.length / SECTOR) && Number(lba) * SECTOR + bytes <= b.length) {
    h.setU32('gh_part_csum', crc32(b.subarray(Number(lba) * SECTOR, Number(lba) * SECTOR + bytes)));
  }
  const hsize = h.u32('gh_size');
  if (hsize >= GPT_HEADER.size && hsize <= SECTOR) {
    h.setU32('gh_csum', 0);
    h.setU32('gh_csum', crc32(b.subarray(SECTOR, SECTOR + hsize)));
  }
}

describe('random corruption of each table', () => {
  for (const name of ['mbr-logicals', 'gpt', 'gpt-openbsd', 'openbsd', 'freebsd', 'bare']) {
    test(`${name}: corrupted fields and bytes`, () => {
      const base = images.get(name)!;
      const hot = hotSectors(base);
      check(base); // the pristine image itself
      fc.assert(
        fc.property(fc.array(edit, { minLength: 1, maxLength: 12 }), fc.boolean(), (edits, fixCrcs) => {
          const b = corrupt(base, edits, hot);
          if (fixCrcs) refreshGptCrcs(b);
          check(b);
        }),
        { numRuns: RUNS },
      );
    });

    test(`${name}: cut short anywhere`, () => {
      const base = images.get(name)!;
      fc.assert(
        fc.property(fc.nat({ max: base.length }), (len) => check(base.subarray(0, len))),
        { numRuns: 100 },
      );
    });
  }
});

describe('random bytes', () => {
  test('with and without the markers each reader looks for first', () => {
    const marker = fc.constantFrom('none', 'mbr', 'protective', 'label', 'gpt', 'label+mbr');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 16 * 1024 }), marker, (raw, m) => {
        const b = Buffer.from(raw);
        if (b.length >= 1024) {
          if (m === 'mbr' || m === 'protective' || m === 'label+mbr') {
            b.writeUInt16LE(0xaa55, 510);
            for (let i = 0; i < 4; i++) b[446 + 16 * i] = b[446 + 16 * i]! & 0x80;
            if (m === 'protective') b[446 + 4] = 0xee;
            if (m === 'label+mbr') b[446 + 4] = 0xa6;
          }
          if (m === 'label') {
            b.writeUInt32LE(0x82564557, 512);
            b.writeUInt32LE(0x82564557, 512 + 132);
          }
          if (m === 'gpt' || m === 'protective') b.write('EFI PART', 512, 'latin1');
        }
        check(b);
      }),
      { numRuns: 500 },
    );
  });
});
