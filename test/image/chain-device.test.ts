// The chain device against qemu itself: images built by qemu-img/qemu-io (v2 and v3, 512 B to
// 2 MiB clusters, zero clusters, compressed clusters, chains of up to 20 with a raw base and
// shorter backing files), read through the device and compared byte for byte with
// `qemu-img convert -O raw`, and mapped and compared with `qemu-img map --output=json`.

import { execa } from 'execa';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openImageChain, type ChainElementSpec } from '../../src/image/chain-device.js';
import { UserError } from '../../src/util/errors.js';
import { removeAll, tempDir } from '../store/helpers.js';
import { compareRandomRanges, createQcow2, deviceMap, expectedMap, prng, qemuIo, qemuMap, qemuRaw, readAll } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('lf-image-');
});
afterAll(async () => {
  await removeAll(dir);
});

/** Random qemu-io writes: patterns at unaligned offsets and lengths, and (optionally) zero writes. */
function randomWrites(seed: number, size: number, n: number, zeros: number, maxLen = 200_000): string[] {
  const rnd = prng(seed);
  const cmds: string[] = [];
  for (let i = 0; i < n + zeros; i++) {
    const len = 1 + Math.floor(rnd() * maxLen);
    const off = Math.floor(rnd() * (size - len));
    if (i < n) cmds.push(`write -P 0x${(1 + Math.floor(rnd() * 254)).toString(16)} ${off} ${len}`);
    else {
      // qemu-io's -z writes must be sector-aligned.
      const a = Math.floor(off / 512) * 512;
      cmds.push(`write -z ${a} ${Math.max(512, Math.floor(len / 512) * 512)}`);
    }
  }
  return cmds;
}

/** Open `elements`, compare every byte, random ranges and the map with qemu's view of `top`. */
async function checkAgainstQemu(elements: ChainElementSpec[], seed: number): Promise<void> {
  const top = elements[0]!.path;
  const [expected, qmap] = await Promise.all([qemuRaw(top, dir), qemuMap(top)]);
  const dev = openImageChain(elements);
  try {
    expect(dev.size).toBe(expected.length);
    expect(readAll(dev).equals(expected)).toBe(true);
    expect(compareRandomRanges(dev, expected, seed, 150)).toBe(0);
    expect(deviceMap(dev)).toEqual(expectedMap(qmap, elements.map((e) => e.format)));
  } finally {
    dev.close();
  }
}

const CLUSTERS = [512, 4096, 65536, 2 * 1024 * 1024];

describe('one qcow2 image, as qemu reads it', () => {
  for (const compat of ['0.10', '1.1']) {
    for (const cs of CLUSTERS) {
      test(`compat=${compat}, ${cs}-byte clusters: written, zeroed and untouched ranges`, async () => {
        const img = path.join(dir, `single-${compat}-${cs}.qcow2`);
        const size = 24 * 1024 * 1024 + 1536; // not a multiple of the cluster size: a partial last cluster
        await createQcow2(img, size, { options: `compat=${compat},cluster_size=${cs}` });
        await qemuIo(img, [...randomWrites(cs + compat.length, size, 14, 4), `write -P 0x77 ${size - 700} 700`]);
        await checkAgainstQemu([{ path: img, format: 'qcow2', label: 'single' }], cs);
      });
    }
  }

  test('a v3 zero cluster over allocated data reads as zeros and maps as zero', async () => {
    const img = path.join(dir, 'zero-over-data.qcow2');
    await createQcow2(img, '4M');
    await qemuIo(img, ['write -P 0x11 0 1M', 'write -z 64k 128k']);
    await checkAgainstQemu([{ path: img, format: 'qcow2', label: 'z' }], 7);
    const dev = openImageChain([{ path: img, format: 'qcow2', label: 'z' }]);
    try {
      expect(dev.map(0, 1 << 20)).toEqual([
        { offset: 0, length: 65536, element: 0, how: 'data' },
        { offset: 65536, length: 131072, element: 0, how: 'zero' },
        { offset: 196608, length: 1048576 - 196608, element: 0, how: 'data' },
      ]);
    } finally {
      dev.close();
    }
  });
});

describe('compressed clusters (qemu-img convert -c)', () => {
  for (const [compat, cs] of [
    ['1.1', 512],
    ['1.1', 4096],
    ['1.1', 65536],
    ['0.10', 65536],
    ['1.1', 2 * 1024 * 1024],
  ] as const) {
    test(`compat=${compat}, ${cs}-byte clusters`, async () => {
      const src = path.join(dir, `csrc-${compat}-${cs}.qcow2`);
      const img = path.join(dir, `comp-${compat}-${cs}.qcow2`);
      const size = 12 * 1024 * 1024 + 1536; // the last cluster is partial: qemu compresses it zero-padded
      await createQcow2(src, size);
      // Compressible runs, incompressible-ish ones (many short patterns) and holes.
      const rnd = prng(cs);
      const cmds: string[] = [];
      for (let i = 0; i < 300; i++) {
        const len = 1 + Math.floor(rnd() * 9000);
        cmds.push(`write -P 0x${(1 + Math.floor(rnd() * 254)).toString(16)} ${Math.floor(rnd() * (size - len))} ${len}`);
      }
      await qemuIo(src, cmds);
      await qemuIo(src, ['write -P 0x33 0 3M', `write -P 0x34 ${size - 1000} 1000`]);
      await execa('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', `compat=${compat},cluster_size=${cs}`, src, img]);
      await checkAgainstQemu([{ path: img, format: 'qcow2', label: 'c' }], cs + 1);
      const dev = openImageChain([{ path: img, format: 'qcow2', label: 'c' }]);
      try {
        expect(dev.map(0, dev.size).some((e) => e.how === 'compressed')).toBe(true);
      } finally {
        dev.close();
      }
    });
  }
});

describe('backing chains', () => {
  test('a chain of 20: a raw base, 19 qcow2 layers of mixed cluster sizes, some backing files shorter than their child', async () => {
    const cdir = path.join(dir, 'chain20');
    await mkdir(cdir, { recursive: true });
    const base = path.join(cdir, 'base.raw');
    // A raw base with bytes and holes.
    const baseBytes = Buffer.alloc(6 * 1024 * 1024);
    const rnd = prng(20);
    for (let i = 0; i < 40; i++) baseBytes.fill(1 + Math.floor(rnd() * 254), Math.floor(rnd() * 6e6), Math.floor(rnd() * 6e6) + 5000);
    await writeFile(base, baseBytes);
    const specs: ChainElementSpec[] = [{ path: base, format: 'raw', label: 'base:raw' }];
    let below = base;
    let belowFormat: 'qcow2' | 'raw' = 'raw';
    for (let i = 1; i < 20; i++) {
      const img = path.join(cdir, `l${i}.qcow2`);
      const size = (6 + Math.floor(i / 4) * 2) * 1024 * 1024; // grows every 4 layers: shorter backing files
      const cs = [65536, 4096, 512, 65536, 2 * 1024 * 1024][i % 5]!;
      await createQcow2(img, size, { options: `cluster_size=${cs}`, backing: below, backingFormat: belowFormat });
      await qemuIo(img, randomWrites(100 + i, size, 6, i % 3 === 0 ? 2 : 0, 150_000));
      specs.unshift({ path: img, format: 'qcow2', label: `l${i}` });
      below = img;
      belowFormat = 'qcow2';
    }
    expect(specs).toHaveLength(20);
    await checkAgainstQemu(specs, 2020);
  });

  test('a backing file shorter than the top: the tail reads zeros from no element, even where the top writes past it', async () => {
    const base = path.join(dir, 'short-base.qcow2');
    const top = path.join(dir, 'short-top.qcow2');
    await createQcow2(base, '1M');
    await qemuIo(base, ['write -P 0x42 0 1M']);
    await createQcow2(top, '4M', { backing: base });
    await qemuIo(top, ['write -P 0x43 2M 4k']);
    const specs: ChainElementSpec[] = [
      { path: top, format: 'qcow2', label: 'top' },
      { path: base, format: 'qcow2', label: 'base' },
    ];
    await checkAgainstQemu(specs, 3);
    const dev = openImageChain(specs);
    try {
      expect(dev.map(0, dev.size)).toEqual([
        { offset: 0, length: 1 << 20, element: 1, how: 'data' },
        { offset: 1 << 20, length: 1 << 20, element: null, how: 'none' },
        { offset: 2 << 20, length: 65536, element: 0, how: 'data' },
        { offset: (2 << 20) + 65536, length: (2 << 20) - 65536, element: null, how: 'none' },
      ]);
      const b = Buffer.alloc(8, 0xff);
      dev.read(b, (1 << 20) - 4);
      expect([...b]).toEqual([0x42, 0x42, 0x42, 0x42, 0, 0, 0, 0]);
    } finally {
      dev.close();
    }
  });

  test('a zero cluster in a layer hides its backing data; an unallocated one shows it', async () => {
    const base = path.join(dir, 'hide-base.qcow2');
    const top = path.join(dir, 'hide-top.qcow2');
    await createQcow2(base, '2M');
    await qemuIo(base, ['write -P 0x61 0 2M']);
    await createQcow2(top, '2M', { backing: base });
    await qemuIo(top, ['write -z 0 64k', 'write -P 0x62 128k 1']);
    const specs: ChainElementSpec[] = [
      { path: top, format: 'qcow2', label: 'top' },
      { path: base, format: 'qcow2', label: 'base' },
    ];
    await checkAgainstQemu(specs, 4);
    const dev = openImageChain(specs);
    try {
      expect(dev.map(0, 256 * 1024)).toEqual([
        { offset: 0, length: 65536, element: 0, how: 'zero' },
        { offset: 65536, length: 65536, element: 1, how: 'data' },
        { offset: 131072, length: 65536, element: 0, how: 'data' },
        { offset: 196608, length: 65536, element: 1, how: 'data' },
      ]);
      expect(dev.elements.map((e) => e.label)).toEqual(['top', 'base']);
    } finally {
      dev.close();
    }
  });

  test('a tiny L2 cache budget (evicting on every table) reads the same bytes', async () => {
    const img = path.join(dir, 'small-cache.qcow2');
    await createQcow2(img, '16M', { options: 'cluster_size=512' });
    await qemuIo(img, randomWrites(9, 16 << 20, 30, 0, 50_000));
    const expected = await qemuRaw(img, dir);
    const dev = openImageChain([{ path: img, format: 'qcow2', label: 'c' }], { cacheBytes: 1 });
    try {
      expect(compareRandomRanges(dev, expected, 9, 300)).toBe(0);
      expect(readAll(dev, 7777).equals(expected)).toBe(true);
    } finally {
      dev.close();
    }
  });
});

describe('the device contract', () => {
  test('reads outside the device are a UserError naming it; map is clipped; reading leaves the images unchanged', async () => {
    const img = path.join(dir, 'contract.qcow2');
    await createQcow2(img, '1M');
    await qemuIo(img, ['write -P 1 0 4k']);
    const before = await stat(img, { bigint: true });
    const dev = openImageChain([{ path: img, format: 'qcow2', label: 'L1' }], { name: 'layer L1' });
    try {
      expect(() => dev.read(Buffer.alloc(2), (1 << 20) - 1)).toThrow(UserError);
      expect(() => dev.read(Buffer.alloc(2), (1 << 20) - 1)).toThrow(/^layer L1: read of 2 bytes at 1048575 is outside its 1048576 bytes$/);
      expect(() => dev.read(Buffer.alloc(1), -1)).toThrow(UserError);
      expect(dev.map(-100, 200)).toEqual([{ offset: 0, length: 100, element: 0, how: 'data' }]);
      expect(dev.map(1 << 20, 10)).toEqual([]);
      expect(dev.map((1 << 20) - 10, 100)).toEqual([{ offset: (1 << 20) - 10, length: 10, element: null, how: 'none' }]);
      expect(dev.elements[0]).toMatchObject({ path: img, format: 'qcow2', label: 'L1', virtualSize: 1 << 20, clusterSize: 65536, dirty: false });
      const empty = Buffer.alloc(0);
      dev.read(empty, 1 << 20);
    } finally {
      dev.close();
    }
    expect(() => dev.read(Buffer.alloc(1), 0)).toThrow(/after close/);
    const after = await stat(img, { bigint: true });
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.ctimeNs).toBe(before.ctimeNs);
    expect(after.size).toBe(before.size);
  });

  test('the chain must match its images: a raw or backing-less element followed by more, or a backed qcow2 last', async () => {
    const base = path.join(dir, 'shape-base.qcow2');
    const top = path.join(dir, 'shape-top.qcow2');
    const raw = path.join(dir, 'shape.raw');
    await createQcow2(base, '1M');
    await createQcow2(top, '1M', { backing: base });
    await writeFile(raw, Buffer.alloc(4096));
    expect(() => openImageChain([{ path: top, format: 'qcow2', label: 't' }])).toThrow(/shape-top\.qcow2: names a backing file, but the chain of t ends with it/);
    expect(() =>
      openImageChain([
        { path: base, format: 'qcow2', label: 'b' },
        { path: top, format: 'qcow2', label: 't' },
      ]),
    ).toThrow(/shape-base\.qcow2: has no backing file, yet .*shape-top\.qcow2 follows it/);
    expect(() =>
      openImageChain([
        { path: raw, format: 'raw', label: 'r' },
        { path: base, format: 'qcow2', label: 'b' },
      ]),
    ).toThrow(/shape\.raw: is a raw image, yet/);
    expect(() => openImageChain([])).toThrow(UserError);
    expect(() => openImageChain([{ path: path.join(dir, 'nope.qcow2'), format: 'qcow2', label: 'n' }])).toThrow(/nope\.qcow2: does not exist$/);
    expect(() => openImageChain([{ path: dir, format: 'qcow2', label: 'd' }])).toThrow(/is a directory, not a qcow2 image$/);
    expect(() => openImageChain([{ path: base, format: 'vmdk' as 'qcow2', label: 'v' }])).toThrow(/image format vmdk is not supported/);
  });
});
