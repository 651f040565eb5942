import { execa } from 'execa';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openImageChain } from '../../src/image/chain-device.js';
import {
  EXT_BACKING_FORMAT,
  EXT_FEATURE_TABLE,
  hasQcow2Magic,
  probeImageFormat,
  readQcow2Header,
  refuseUnsupported,
} from '../../src/image/qcow2-header.js';
import { UserError } from '../../src/util/errors.js';
import { qemuImgCreate, removeAll, tempDir, userError, writeRandom } from '../store/helpers.js';
import { qemuImgCreateRetrying } from '../helpers/qemu-img-create.js';

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

describe('every header field', () => {
  test('as qemu-img create lays them out, and as qemu-img info reports them', async () => {
    const base = path.join(dir, 'fields-base.qcow2');
    const img = path.join(dir, 'fields.qcow2');
    await qemuImgCreate(base);
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096,refcount_bits=64,lazy_refcounts=on', '-b', base, '-F', 'qcow2', img, '100M']);
    const h = await readQcow2Header(img);
    const info = (await qemuInfo(img)) as { 'format-specific': { data: Record<string, unknown> } };
    const spec = info['format-specific'].data;
    expect(h).toMatchObject({
      version: 3,
      virtualSize: 100 * 1024 * 1024,
      clusterBits: 12,
      clusterSize: 4096,
      cryptMethod: 0,
      // 100 MiB / (4096 * 512) = 50 L2 tables.
      l1Size: 50,
      nbSnapshots: 0,
      snapshotsOffset: 0,
      refcountOrder: 6,
      compressionType: 0,
      lazyRefcounts: true,
      dirty: false,
      incompatibleBits: 0n,
      compatibleFeatures: 1n,
      autoclearFeatures: 0n,
      backingFormat: 'qcow2',
    });
    expect(spec['refcount-bits']).toBe(2 ** h.refcountOrder);
    expect(spec['lazy-refcounts']).toBe(h.lazyRefcounts);
    expect(spec['compression-type']).toBe('zlib');
    expect(h.l1TableOffset % 4096).toBe(0);
    expect(h.refcountTableOffset % 4096).toBe(0);
    expect(h.refcountTableClusters).toBeGreaterThan(0);
    // With 4 KiB clusters qemu writes only the backing format extension...
    expect(h.extensions.map((e) => e.type)).toEqual([EXT_BACKING_FORMAT]);
    // ...with larger ones the feature name table too.
    const big = await readQcow2Header(base);
    expect(big.extensions.map((e) => e.type)).toEqual([EXT_FEATURE_TABLE]);
    expect(big.featureNames).toContainEqual({ type: 1, bit: 0, name: 'lazy refcounts' });
    expect(big.featureNames).toContainEqual({ type: 0, bit: 4, name: 'extended L2 entries' });
  });

  test('snapshots are counted and the active L1 is what is read', async () => {
    const img = path.join(dir, 'snap.qcow2');
    await qemuImgCreate(img);
    await execa('qemu-io', ['-c', 'write -P 0x11 0 64k', img]);
    await execa('qemu-img', ['snapshot', '-c', 'before', img]);
    await execa('qemu-io', ['-c', 'write -P 0x22 0 64k', img]);
    const h = await readQcow2Header(img);
    expect(h.nbSnapshots).toBe(1);
    expect(h.snapshotsOffset).toBeGreaterThan(0);
    const dev = openImageChain([{ path: img, format: 'qcow2', label: 's' }]);
    try {
      const b = Buffer.alloc(4);
      dev.read(b, 0);
      expect([...b]).toEqual([0x22, 0x22, 0x22, 0x22]);
    } finally {
      dev.close();
    }
  });
});

describe('probeImageFormat', () => {
  test('qcow2 for a qcow2 image, raw for any other readable file (empty included)', async () => {
    const raw = path.join(dir, 'probe.raw');
    await writeFile(raw, Buffer.alloc(1024, 0x51));
    const empty = path.join(dir, 'probe-empty.raw');
    await writeFile(empty, '');
    expect(await probeImageFormat(path.join(dir, 'base.qcow2'))).toBe('qcow2');
    expect(await probeImageFormat(raw)).toBe('raw');
    expect(await probeImageFormat(empty)).toBe('raw');
    expect(await hasQcow2Magic(raw)).toBe(false);
  });

  test('a missing file and a directory are UserErrors, not "raw"', async () => {
    await expect(probeImageFormat(path.join(dir, 'nope'))).rejects.toThrow(/nope: does not exist$/);
    await expect(probeImageFormat(path.join(dir, 'probe.raw', 'x'))).rejects.toThrow(/does not exist \(a component of the path is not a directory\)$/);
    await expect(probeImageFormat(dir)).rejects.toThrow(/is a directory, not a disk image$/);
  });

  test('an I/O error is a UserError, not "raw" (/proc/self/mem fails reads at offset 0 with EIO)', async () => {
    await expect(probeImageFormat('/proc/self/mem')).rejects.toThrow(/^\/proc\/self\/mem: cannot be read \(I\/O error\) \(reading 4 bytes at offset 0\)$/);
  });

  test('a permission error is a UserError, not "raw"', async () => {
    const img = path.join(dir, 'locked', 'base.qcow2');
    await qemuImgCreate(img);
    await chmod(img, 0o000);
    try {
      if (process.getuid?.() !== 0) {
        await expect(probeImageFormat(img)).rejects.toThrow(/locked\/base\.qcow2: .*permission denied\)?$/);
        await expect(hasQcow2Magic(img)).rejects.toThrow(UserError);
        return;
      }
      // Root reads anything: ask as nobody, in a child process.
      const script = path.join(dir, 'probe-as-nobody.mts');
      const mod = path.resolve('src/image/qcow2-header.ts');
      await writeFile(
        script,
        `import { probeImageFormat } from ${JSON.stringify(mod)};\n` +
          `try { console.log('format', await probeImageFormat(${JSON.stringify(img)})); } ` +
          `catch (e) { console.log(e.name, e.message); }\n`,
      );
      await chmod(dir, 0o755);
      await chmod(path.dirname(img), 0o755);
      await chmod(script, 0o644);
      const tsx = path.resolve('node_modules/tsx/dist/esm/index.mjs');
      const { stdout } = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', tsx, script]);
      expect(stdout.startsWith(`UserError ${img}: `)).toBe(true);
      expect(stdout).toMatch(/permission denied\)?$/);
      expect(stdout.split('\n')).toHaveLength(1);
    } finally {
      await chmod(img, 0o644);
    }
  });
});

describe('refuseUnsupported: one line naming the image and the feature', () => {
  const secret = ['--object', 'secret,id=sec0,data=secret'];
  const cases: [string, string[], RegExp][] = [
    ['luks', [...secret, '-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10'], /luks\.qcow2: encrypted qcow2 images \(LUKS\) are not supported$/],
    ['aes', [...secret, '-o', 'encrypt.format=aes,encrypt.key-secret=sec0'], /aes\.qcow2: encrypted qcow2 images \(AES\) are not supported$/],
    ['datafile', ['-o', 'data_file=DIR/datafile.data'], /datafile\.qcow2: qcow2 images with an external data file .*datafile\.data are not supported$/],
    ['datafile-raw', ['-o', 'data_file=DIR/datafile-raw.data,data_file_raw=on'], /datafile-raw\.qcow2: qcow2 images with an external data file .* are not supported$/],
    ['extl2', ['-o', 'extended_l2=on'], /extl2\.qcow2: qcow2 images with extended L2 entries \(subclusters\) are not supported$/],
    ['zstd', ['-o', 'compression_type=zstd'], /zstd\.qcow2: zstd-compressed qcow2 images are not supported \(Node's zlib has no zstd\)$/],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const img = path.join(dir, 'unsupported', `${name}.qcow2`);
      await mkdir(path.dirname(img), { recursive: true });
      await qemuImgCreateRetrying(['-q', '-f', 'qcow2', ...args.map((a) => a.replace('DIR', path.dirname(img))), img, '1M']);
      // The header itself reads (the store can list such a layer); opening it for reading refuses.
      const h = await readQcow2Header(img);
      expect(() => refuseUnsupported(h, img)).toThrow(message);
      let err: unknown;
      try {
        openImageChain([{ path: img, format: 'qcow2', label: name }]).close();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  test('an unknown incompatible bit, named from the feature table when it is there', async () => {
    const img = path.join(dir, 'unsupported', 'bit7.qcow2');
    await qemuImgCreate(img);
    const bytes = await readFile(img);
    bytes.writeBigUInt64BE(1n << 7n, 72);
    await writeFile(img, bytes);
    await expect(readQcow2Header(img).then((h) => refuseUnsupported(h, img))).rejects.toThrow(/bit7\.qcow2: unsupported qcow2 incompatible feature bit 7$/);
    // Name bit 7 in the feature table, as a newer qemu would.
    const h = await readQcow2Header(img);
    const table = h.extensions.find((e) => e.type === EXT_FEATURE_TABLE)!;
    bytes.writeUInt8(0, table.offset);
    bytes.writeUInt8(7, table.offset + 1);
    bytes.fill(0, table.offset + 2, table.offset + 48);
    bytes.write('time travel\x1b[31m', table.offset + 2);
    await writeFile(img, bytes);
    expect(() => openImageChain([{ path: img, format: 'qcow2', label: 'b' }])).toThrow(
      /bit7\.qcow2: unsupported qcow2 incompatible feature bit 7 \(time travel\\e\[31m\)$/,
    );
    // Bit 40 (above the folded 32).
    bytes.writeBigUInt64BE(1n << 40n, 72);
    await writeFile(img, bytes);
    expect(() => openImageChain([{ path: img, format: 'qcow2', label: 'b' }])).toThrow(/unsupported qcow2 incompatible feature bit 40$/);
  });

  test('a dirty image (killed qemu-io with lazy refcounts) is read, and said to be dirty', async () => {
    const img = path.join(dir, 'dirty.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', img, '1M']);
    await execa('qemu-io', ['-c', 'write -P 0x5d 0 64k', '-c', 'sigraise 9', img], { reject: false });
    const h = await readQcow2Header(img);
    expect(h.dirty).toBe(true);
    expect(() => refuseUnsupported(h, img)).not.toThrow();
    const dev = openImageChain([{ path: img, format: 'qcow2', label: 'd' }]);
    try {
      expect(dev.elements[0]!.dirty).toBe(true);
      const b = Buffer.alloc(2);
      dev.read(b, 65534);
      expect([...b]).toEqual([0x5d, 0x5d]);
    } finally {
      dev.close();
    }
  });

  test('a compression_type without its incompatible bit is a corrupt header', async () => {
    const img = path.join(dir, 'unsupported', 'ctype.qcow2');
    await qemuImgCreate(img);
    const bytes = await readFile(img);
    expect(bytes.readUInt32BE(100)).toBeGreaterThan(104);
    bytes.writeUInt8(1, 104);
    await writeFile(img, bytes);
    expect(() => openImageChain([{ path: img, format: 'qcow2', label: 'c' }])).toThrow(
      /ctype\.qcow2: corrupt qcow2 header \(compression_type 1 with the compression type bit clear\)$/,
    );
  });
});
