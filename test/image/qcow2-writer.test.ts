// The test/sample qcow2 layer writer (samples/lib/qcow2-writer.ts), proven with qemu-img: its
// images check clean, map exactly the clusters given at depth 0, and compare equal to the
// expected raw disk. The device then reads them like qemu.

import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeQcow2Layer } from '../../samples/lib/qcow2-writer.js';
import { openImageChain, type ChainElementSpec } from '../../src/image/chain-device.js';
import { removeAll, tempDir } from '../store/helpers.js';
import { createQcow2, deviceMap, expectedMap, prng, qemuIo, qemuMap, qemuRaw, readAll } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('lf-writer-');
});
afterAll(async () => {
  await removeAll(dir);
});

/** Random distinct clusters with random bytes (some shorter than a cluster), and some zero clusters. */
function randomClusters(seed: number, cs: number, total: number, n: number, zeros: number): { data: [number, Buffer][]; zero: number[] } {
  const rnd = prng(seed);
  const picked = new Set<number>();
  while (picked.size < Math.min(n + zeros, total)) picked.add(Math.floor(rnd() * total));
  const all = [...picked];
  const data = all.slice(0, n).map((gc): [number, Buffer] => {
    const len = rnd() < 0.2 ? 1 + Math.floor(rnd() * cs) : cs;
    const b = Buffer.alloc(len);
    // Blocks of a few patterns: cheap to make, easy to tell apart.
    for (let o = 0; o < len; o += 256) b.fill(Math.floor(rnd() * 256), o, Math.min(len, o + 256));
    return [gc, b];
  });
  return { data, zero: all.slice(n) };
}

describe('writeQcow2Layer', () => {
  for (const clusterBits of [9, 12, 16, 21]) {
    for (const backing of ['none', 'qcow2', 'raw'] as const) {
      test(`${2 ** clusterBits}-byte clusters, backing ${backing}`, async () => {
        const cs = 2 ** clusterBits;
        const size = 32 * 1024 * 1024;
        const total = size / cs;
        const img = path.join(dir, `w-${clusterBits}-${backing}.qcow2`);
        let below: ChainElementSpec | null = null;
        if (backing === 'qcow2') {
          const b = path.join(dir, `wb-${clusterBits}.qcow2`);
          await createQcow2(b, size);
          await qemuIo(b, ['write -P 0x99 0 32M']);
          below = { path: b, format: 'qcow2', label: 'base' };
        } else if (backing === 'raw') {
          const b = path.join(dir, `wb-${clusterBits}.raw`);
          await writeFile(b, Buffer.alloc(size / 2, 0x98)); // shorter than the layer
          below = { path: b, format: 'raw', label: 'base' };
        }
        const { data, zero } = randomClusters(clusterBits * 7 + backing.length, cs, total, Math.min(400, total / 4), below ? 20 : 0);
        const info = writeQcow2Layer({
          path: img,
          virtualSize: size,
          backing: below ? { path: below.path, format: below.format } : null,
          clusterBits,
          clusters: data,
          zeroClusters: zero,
        });
        expect(info.dataClusters).toBe(data.length);

        // qemu-img check: no errors, no leaks.
        const check = await execa('qemu-img', ['check', '--output=json', img]);
        const report = JSON.parse(check.stdout) as Record<string, unknown>;
        expect(report['corruptions'] ?? 0).toBe(0);
        expect(report['leaks'] ?? 0).toBe(0);
        expect(report['check-errors']).toBe(0);
        expect(report['allocated-clusters']).toBe(data.length);

        // qemu-img map: exactly those clusters at depth 0 (data), the zero ones as zero.
        const map = await qemuMap(img);
        const depth0 = new Map<number, 'data' | 'zero'>();
        for (const e of map.filter((m) => m.depth === 0 && m.present)) {
          for (let o = e.start; o < e.start + e.length; o += cs) depth0.set(o / cs, e.data ? 'data' : 'zero');
        }
        const want = new Map<number, 'data' | 'zero'>([...data.map(([gc]) => [gc, 'data'] as const), ...zero.map((gc) => [gc, 'zero'] as const)]);
        expect(new Map([...depth0].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...want].sort((a, b) => a[0] - b[0])));

        // qemu-img compare against the raw disk it should show.
        const expected = below ? await qemuRaw(below.path, dir) : Buffer.alloc(0);
        const disk = Buffer.alloc(size);
        expected.copy(disk, 0, 0, Math.min(expected.length, size));
        for (const gc of zero) disk.fill(0, gc * cs, (gc + 1) * cs);
        for (const [gc, b] of data) {
          disk.fill(0, gc * cs, (gc + 1) * cs);
          b.copy(disk, gc * cs);
        }
        const rawPath = path.join(dir, `expected-${clusterBits}-${backing}.raw`);
        await writeFile(rawPath, disk);
        const cmp = await execa('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', rawPath, img], { reject: false });
        expect(cmp.stdout).toContain('Images are identical');
        expect(cmp.exitCode).toBe(0);

        // And the device reads what qemu reads.
        const specs: ChainElementSpec[] = [{ path: img, format: 'qcow2', label: 'layer' }, ...(below ? [below] : [])];
        const dev = openImageChain(specs);
        try {
          expect(readAll(dev).equals(disk)).toBe(true);
          expect(deviceMap(dev)).toEqual(expectedMap(map, specs.map((s) => s.format)));
        } finally {
          dev.close();
        }
      });
    }
  }

  test('refuses what it cannot write', () => {
    const p = path.join(dir, 'refused.qcow2');
    expect(() => writeQcow2Layer({ path: p, virtualSize: 1000, backing: null, clusters: [] })).toThrow(/multiple of 512/);
    expect(() => writeQcow2Layer({ path: p, virtualSize: 65536, backing: null, clusters: [[1, Buffer.alloc(1)]] })).toThrow(/outside the virtual size/);
    expect(() =>
      writeQcow2Layer({
        path: p,
        virtualSize: 1 << 20,
        backing: null,
        clusters: [
          [1, Buffer.alloc(1)],
          [1, Buffer.alloc(1)],
        ],
      }),
    ).toThrow(/given twice/);
    expect(() => writeQcow2Layer({ path: p, virtualSize: 1 << 20, backing: null, clusters: [[0, Buffer.alloc(65537)]] })).toThrow(/more than a cluster/);
  });
});
