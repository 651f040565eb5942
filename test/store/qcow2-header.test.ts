import { execa } from 'execa';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasQcow2Magic, readQcow2Header } from '../../src/store/qcow2-header.js';
import { qemuImgCreate, removeAll, tempDir, userError, writeRandom } from './helpers.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir('lf-qcow2-');
});
afterAll(async () => {
  await removeAll(dir);
});

/** What qemu-img itself says, to check the hand-written reader against. */
async function qemuInfo(img: string): Promise<Record<string, unknown>> {
  const { stdout } = await execa('qemu-img', ['info', '--output=json', '-U', img]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('readQcow2Header', () => {
  test('a v3 image without a backing file', async () => {
    const img = path.join(dir, 'base.qcow2');
    await qemuImgCreate(img);
    const h = await readQcow2Header(img);
    expect(h).toMatchObject({
      version: 3,
      virtualSize: 64 * 1024 * 1024,
      clusterBits: 16,
      backingFile: null,
      backingFormat: null,
      headerLength: 112,
      dirty: false,
      corrupt: false,
      encrypted: false,
      dataFile: null,
    });
    const info = await qemuInfo(img);
    expect(h.virtualSize).toBe(info['virtual-size']);
    expect(2 ** h.clusterBits).toBe(info['cluster-size']);
  });

  test('a layer: absolute backing file and the backing-format extension, as qemu-img reports them', async () => {
    const base = path.join(dir, 'base2.qcow2');
    const layer = path.join(dir, 'layer.qcow2');
    await qemuImgCreate(base);
    await qemuImgCreate(layer, base, 'qcow2', ['-o', 'cluster_size=4096']);
    const h = await readQcow2Header(layer);
    expect(h.backingFile).toBe(base);
    expect(h.backingFormat).toBe('qcow2');
    expect(h.clusterBits).toBe(12);
    const info = await qemuInfo(layer);
    expect(h.backingFile).toBe(info['backing-filename']);
    expect(h.backingFormat).toBe(info['backing-filename-format']);
  });

  test('a v2 (compat=0.10) image with a relative backing file', async () => {
    const base = path.join(dir, 'v2', 'base.qcow2');
    const layer = path.join(dir, 'v2', 'sub', 'layer.qcow2');
    await qemuImgCreate(base);
    await mkdir(path.dirname(layer), { recursive: true });
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', '-b', '../base.qcow2', '-F', 'qcow2', layer, '64M']);
    const h = await readQcow2Header(layer);
    expect(h.version).toBe(2);
    expect(h.headerLength).toBe(72);
    expect(h.backingFile).toBe('../base.qcow2');
    expect(h.backingFormat).toBe('qcow2');
  });

  test('a long backing path (near qemu\'s 1023-byte limit)', async () => {
    const deep = path.join(dir, 'd'.repeat(200), 'e'.repeat(200), 'f'.repeat(200));
    const base = path.join(deep, 'base.qcow2');
    await qemuImgCreate(base);
    const layer = path.join(dir, 'long-layer.qcow2');
    await qemuImgCreate(layer, base);
    expect((await readQcow2Header(layer)).backingFile).toBe(base);
  });

  test('random bytes: not a qcow2 image (bad magic)', async () => {
    const img = path.join(dir, 'random', 'image.qcow2');
    await writeRandom(img, 65536);
    const err = await userError(readQcow2Header(img));
    expect(err.message).toBe(`${img}: not a qcow2 image (bad magic)`);
    expect(await hasQcow2Magic(img)).toBe(false);
  });

  test('an empty file: bad magic', async () => {
    const img = path.join(dir, 'empty.qcow2');
    await writeFile(img, '');
    await expect(readQcow2Header(img)).rejects.toThrow(/empty\.qcow2: not a qcow2 image \(bad magic\)/);
  });

  test('the magic and nothing else: truncated header', async () => {
    const img = path.join(dir, 'short.qcow2');
    await writeFile(img, Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3, 0, 0]));
    await expect(readQcow2Header(img)).rejects.toThrow(/short\.qcow2: not a qcow2 image \(truncated header/);
  });

  test('an unknown version and a bad cluster_bits are named', async () => {
    const good = path.join(dir, 'tpl.qcow2');
    await qemuImgCreate(good);
    const bytes = await readFile(good);
    const v4 = Buffer.from(bytes);
    v4.writeUInt32BE(4, 4);
    await writeFile(path.join(dir, 'v4.qcow2'), v4);
    await expect(readQcow2Header(path.join(dir, 'v4.qcow2'))).rejects.toThrow(/unsupported qcow2 version 4/);
    const cb = Buffer.from(bytes);
    cb.writeUInt32BE(40, 20);
    await writeFile(path.join(dir, 'cb.qcow2'), cb);
    await expect(readQcow2Header(path.join(dir, 'cb.qcow2'))).rejects.toThrow(/corrupt qcow2 header \(cluster_bits 40/);
  });

  test('a missing file and a directory', async () => {
    await expect(readQcow2Header(path.join(dir, 'nope.qcow2'))).rejects.toThrow(/nope\.qcow2: does not exist/);
    await expect(readQcow2Header(dir)).rejects.toThrow(/is a directory, not a qcow2 image/);
  });

  test('reading leaves the image as it was (size and mtime)', async () => {
    const img = path.join(dir, 'base.qcow2');
    const before = await stat(img, { bigint: true });
    await readQcow2Header(img);
    const after = await stat(img, { bigint: true });
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.size).toBe(before.size);
  });
});
