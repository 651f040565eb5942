// A store moved away from where it was built: absolute backing paths point nowhere, the chain is
// resolved under the new root (src/store/chain.ts) and read through the device with the labels
// reports use. Also raw images on their own.

import { execa } from 'execa';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeQcow2Layer } from '../../samples/lib/qcow2-writer.js';
import { openImageChain } from '../../src/image/chain-device.js';
import { newRun } from '../../src/image/chain-image.js';
import { elementLabel, openLayerDevice } from '../../src/store/layer-device.js';
import { RawImage } from '../../src/image/raw.js';
import { resolveChain } from '../../src/store/chain.js';
import { UserError } from '../../src/util/errors.js';
import { baseImage, fakeId, layerImage, removeAll, snapshotTree, tempDir } from '../store/helpers.js';
import { createQcow2, qemuIo, qemuRaw, readAll } from '../image/helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('lf-layerdev-');
});
afterAll(async () => {
  await removeAll(dir);
});

describe('openLayerDevice on a relocated store', () => {
  test('resolveChain remaps the dead absolute paths under the new root; the device reads what qemu read before the move', async () => {
    const built = path.join(dir, 'var', 'cache', 'obuilder');
    const base = baseImage(built, 'debian-12');
    const a = fakeId('layer A');
    const b = fakeId('layer B');
    await createQcow2(base, '8M');
    await qemuIo(base, ['write -P 0x0b 0 8M']);
    // Layer A: written by our writer (absolute backing path, as obuilder records it).
    await mkdir(path.dirname(layerImage(built, a)), { recursive: true });
    writeQcow2Layer({
      path: layerImage(built, a),
      virtualSize: 16 << 20,
      backing: { path: base, format: 'qcow2' },
      clusters: [
        [3, Buffer.alloc(65536, 0xaa)],
        [200, Buffer.alloc(65536, 0xab)],
      ],
      zeroClusters: [5],
    });
    // Layer B: by qemu-img, on A.
    await createQcow2(layerImage(built, b), '16M', { backing: layerImage(built, a) });
    await qemuIo(layerImage(built, b), ['write -P 0xbb 4k 8k', 'write -P 0xbc 13M 100k']);
    const expected = await qemuRaw(layerImage(built, b), dir);

    const moved = path.join(dir, 'elsewhere', 'store');
    await mkdir(path.dirname(moved), { recursive: true });
    await rename(built, moved);
    // qemu itself cannot follow the chain any more.
    const broken = await execa('qemu-img', ['info', '--backing-chain', layerImage(moved, b)], { reject: false });
    expect(broken.exitCode).not.toBe(0);

    const before = await snapshotTree(moved);
    const chain = await resolveChain(layerImage(moved, b), { root: moved });
    expect(chain.links.map((l) => l.resolvedVia)).toEqual(['given', 'store-root', 'store-root']);
    const dev = openLayerDevice(chain.links);
    try {
      expect(dev.name).toBe(`layer ${b}`);
      expect(dev.elements.map((e) => e.label)).toEqual([b, a, 'base:debian-12']);
      expect(dev.elements.map((e) => e.path)).toEqual([layerImage(moved, b), layerImage(moved, a), baseImage(moved, 'debian-12')]);
      expect(readAll(dev).equals(expected)).toBe(true);
      // Which layer holds what: B's own writes, A's clusters and its zero cluster, the base, nothing past 8M.
      const at = (off: number) => dev.map(off, 1)[0];
      expect(at(4096)).toMatchObject({ element: 0, how: 'data' });
      expect(at(3 * 65536)).toMatchObject({ element: 1, how: 'data' });
      expect(at(5 * 65536)).toMatchObject({ element: 1, how: 'zero' });
      expect(at(6 * 65536)).toMatchObject({ element: 2, how: 'data' });
      expect(at(200 * 65536)).toMatchObject({ element: 1, how: 'data' });
      expect(at(13 << 20)).toMatchObject({ element: 0, how: 'data' });
      expect(at(9 << 20)).toMatchObject({ element: null, how: 'none' });
    } finally {
      dev.close();
    }
    expect(await snapshotTree(moved)).toEqual(before);
  });

  test('labels: layer id, base:<name>, else the path; unsupported formats are refused', async () => {
    expect(elementLabel(`/s/result/${fakeId('x')}/rootfs/image.qcow2`)).toBe(fakeId('x'));
    expect(elementLabel('/s/base-image/openbsd-78.qcow2')).toBe('base:openbsd-78');
    expect(elementLabel('/tmp/other.img')).toBe('/tmp/other.img');
    expect(() => openLayerDevice([{ image: '/tmp/x.vmdk', format: 'vmdk' }])).toThrow(/x\.vmdk: image format vmdk is not supported \(qcow2 and raw are\)/);
    expect(() => openLayerDevice([])).toThrow(UserError);
  });
});

describe('raw images', () => {
  test('a raw image alone: every byte its own data', async () => {
    const p = path.join(dir, 'alone.raw');
    const bytes = Buffer.alloc(3 * 512 + 512);
    bytes.fill(7, 100, 900);
    await writeFile(p, bytes);
    const dev = openImageChain([{ path: p, format: 'raw', label: 'r' }]);
    try {
      expect(dev.size).toBe(bytes.length);
      expect(dev.clusterSize).toBe(512);
      expect(readAll(dev, 333).equals(bytes)).toBe(true);
      expect(dev.map(0, dev.size)).toEqual([{ offset: 0, length: bytes.length, element: 0, how: 'data' }]);
    } finally {
      dev.close();
    }
  });

  test('past the end of the file, within the declared size: zeros, from no image', async () => {
    const p = path.join(dir, 'short.raw');
    await writeFile(p, Buffer.alloc(1000, 0x3c));
    const raw = RawImage.open(p, 4096);
    try {
      expect(raw.virtualSize).toBe(4096);
      const run = newRun();
      raw.lookup(990, 100, run);
      expect(run).toMatchObject({ kind: 'data', host: 990, length: 10 });
      const buf = Buffer.alloc(10, 0xff);
      raw.readRun(run, buf, 0);
      expect([...buf]).toEqual(Array(10).fill(0x3c));
      raw.lookup(1000, 3096, run);
      expect(run).toMatchObject({ kind: 'unallocated', length: 3096 });
    } finally {
      raw.close();
    }
    expect(() => RawImage.open(p, -1)).toThrow(/declared size -1 is not a byte count/);
  });
});
