import { execa } from 'execa';
import { qemuImgCreateRetrying } from '../helpers/qemu-img-create.js';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { openStore } from '../../src/store/store.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ChainError, describeImage, remapToRoot, resolveChain, storePathOf } from '../../src/store/chain.js';
import { UserError } from '../../src/util/errors.js';
import { escapeText } from '../../src/report/escape.js';
import {
  baseImage,
  rebaseUnsafe,
  copyTree,
  fakeId,
  layerImage,
  makeStdStore,
  qemuImgCreate,
  removeAll,
  snapshotTree,
  tempDir,
  writeRandom,
  userError,
  type StdStore,
} from './helpers.js';

let tmp: string;
let s: StdStore;

beforeAll(async () => {
  tmp = await tempDir('lf-chain-');
  s = await makeStdStore(path.join(tmp, 'store'));
});
afterAll(async () => {
  await removeAll(tmp);
});

describe('store path shapes', () => {
  const id = 'ab'.repeat(32);
  test('storePathOf and remapToRoot', () => {
    expect(storePathOf(`/var/cache/obuilder/result/${id}/rootfs/image.qcow2`)).toEqual({ kind: 'layer', id });
    expect(storePathOf('/var/cache/obuilder/base-image/openbsd-78-amd64-ocaml-5.5.qcow2')).toEqual({
      kind: 'base',
      name: 'openbsd-78-amd64-ocaml-5.5',
    });
    expect(storePathOf('/elsewhere/disk.qcow2')).toBeNull();
    expect(remapToRoot(`/old/result/${id}/rootfs/image.qcow2`, '/new')).toBe(`/new/result/${id}/rootfs/image.qcow2`);
    expect(remapToRoot('/old/base-image/x.qcow2', '/new')).toBe('/new/base-image/x.qcow2');
    expect(remapToRoot('/old/other/x.qcow2', '/new')).toBeNull();
    expect(describeImage(`/r/result/${id}/rootfs/image.qcow2`)).toBe(`layer ${id}`);
  });
});

describe('resolveChain', () => {
  test('layer first, base last, with each link\'s recorded backing path and format', async () => {
    const chain = await resolveChain(layerImage(s.root, s.c), { root: s.root });
    expect(chain.images).toEqual([
      layerImage(s.root, s.c),
      layerImage(s.root, s.b),
      layerImage(s.root, s.a),
      baseImage(s.root, s.base),
    ]);
    expect(chain.links.map((l) => l.backingFormat)).toEqual(['qcow2', 'qcow2', 'qcow2', null]);
    expect(chain.links.map((l) => l.format)).toEqual(['qcow2', 'qcow2', 'qcow2', 'qcow2']);
    expect(chain.links.map((l) => l.resolvedVia)).toEqual(['given', 'literal', 'literal', 'literal']);
    expect(chain.links[0]!.backingFile).toBe(layerImage(s.root, s.b));
    expect(chain.links[3]!.backingFile).toBeNull();
    expect(chain.links[1]!.recordedAs).toBe(layerImage(s.root, s.b));
  });

  test('a store copied elsewhere, its old place deleted, resolves against the new root', async () => {
    const moved = path.join(tmp, 'moved-new');
    const o = await makeStdStore(path.join(tmp, 'moved-src'));
    await copyTree(o.root, moved);
    await rm(o.root, { recursive: true });
    const before = await snapshotTree(moved);
    const chain = await resolveChain(layerImage(moved, o.c), { root: moved });
    expect(chain.images).toEqual([
      layerImage(moved, o.c),
      layerImage(moved, o.b),
      layerImage(moved, o.a),
      baseImage(moved, o.base),
    ]);
    expect(chain.links.slice(1).map((l) => l.resolvedVia)).toEqual(['store-root', 'store-root', 'store-root']);
    expect(chain.links[1]!.recordedAs).toBe(layerImage(o.root, o.b));
    expect(await snapshotTree(moved)).toEqual(before);
  });

  test('a copy whose old place still exists resolves under the root given, not the old place', async () => {
    const copy = path.join(tmp, 'copy-kept');
    await copyTree(s.root, copy);
    const chain = await resolveChain(layerImage(copy, s.c), { root: copy });
    expect(chain.images.every((p) => p.startsWith(copy + path.sep))).toBe(true);
    expect(chain.links[1]!.resolvedVia).toBe('store-root');
    await removeAll(copy);
  });

  test('a broken chain names the layer and where it points', async () => {
    const src = await makeStdStore(path.join(tmp, 'broken-src'));
    const broken = path.join(tmp, 'broken');
    await copyTree(src.root, broken);
    await rm(src.root, { recursive: true });
    await rm(path.join(broken, 'result', src.a), { recursive: true });

    const direct = await userError(resolveChain(layerImage(broken, src.b), { root: broken }));
    expect(direct.message).toBe(
      `layer ${src.b}: backing file ${layerImage(src.root, src.a)} does not exist and no ${layerImage(broken, src.a)} either`,
    );

    const err = await resolveChain(layerImage(broken, src.c), { root: broken }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect(err).toBeInstanceOf(UserError);
    const ce = err as ChainError;
    expect(ce.message).toBe(
      `layer ${src.b}: backing file ${layerImage(src.root, src.a)} does not exist and no ${layerImage(broken, src.a)} either (in the chain of layer ${src.c})`,
    );
    expect(ce.partial.map((l) => l.image)).toEqual([layerImage(broken, src.c), layerImage(broken, src.b)]);
    expect(ce.message).not.toMatch(/\n/);
  });

  test('a backing path that is not store-shaped and does not exist', async () => {
    const d = path.join(tmp, 'odd');
    const o = await makeStdStore(d, { db: false });
    const gone = path.join(tmp, 'odd-gone', 'disk.qcow2');
    await qemuImgCreate(gone);
    await rebaseUnsafe(layerImage(d, o.a), gone, 'qcow2');
    await rm(path.dirname(gone), { recursive: true });
    await expect(resolveChain(layerImage(d, o.a), { root: d })).rejects.toThrow(
      `layer ${o.a}: backing file ${gone} does not exist and it is not a store path`,
    );
  });

  test('a backing file of random bytes declared qcow2: not a qcow2 image, naming the layer', async () => {
    const d = path.join(tmp, 'badbase');
    const src = await makeStdStore(d);
    await writeRandom(baseImage(d, src.base), 4096);
    expect((await userError(resolveChain(layerImage(d, src.a), { root: d }))).message).toBe(
      `layer ${src.a}: backing file ${baseImage(d, src.base)}: not a qcow2 image (bad magic)`,
    );
    await expect(resolveChain(layerImage(d, src.c), { root: d })).rejects.toThrow(/\(in the chain of layer /);
  });

  test('the layer itself of random bytes', async () => {
    const img = path.join(tmp, 'rnd', 'result', 'f'.repeat(64), 'rootfs', 'image.qcow2');
    await writeRandom(img, 1000);
    expect((await userError(resolveChain(img, { root: path.join(tmp, 'rnd') }))).message).toBe(
      `${img}: not a qcow2 image (bad magic)`,
    );
  });

  test('a relative backing path is relative to the image\'s directory, and stays in the store', async () => {
    const d = path.join(tmp, 'rel');
    const o = await makeStdStore(d, { db: false });
    await rebaseUnsafe(layerImage(d, o.b), `../../${o.a}/rootfs/image.qcow2`, 'qcow2');
    await rebaseUnsafe(layerImage(d, o.a), `../../../base-image/${o.base}.qcow2`, 'qcow2');
    const chain = await resolveChain(layerImage(d, o.c), { root: d });
    expect(chain.images).toEqual([layerImage(d, o.c), layerImage(d, o.b), layerImage(d, o.a), baseImage(d, o.base)]);
    expect(chain.links.map((l) => l.resolvedVia)).toEqual(['given', 'literal', 'relative', 'relative']);
  });

  test('a raw base image in base-image/ ends the chain with format raw', async () => {
    const d = path.join(tmp, 'raw');
    const o = await makeStdStore(d, { db: false });
    const rawBase = path.join(d, 'base-image', 'raw-disk.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'raw', rawBase, '64M']);
    await rebaseUnsafe(layerImage(d, o.a), rawBase, 'raw');
    const chain = await resolveChain(layerImage(d, o.a), { root: d });
    expect(chain.links.map((l) => l.format)).toEqual(['qcow2', 'raw']);
    expect(chain.links[1]!.header).toBeNull();
  });

  test('a loop is refused', async () => {
    const d = path.join(tmp, 'loop');
    const o = await makeStdStore(d, { db: false });
    // Unsafe rebase rewrites only a's header: a now points back at c, which sits on b, on a.
    await rebaseUnsafe(layerImage(d, o.a), layerImage(d, o.c), 'qcow2');
    await expect(resolveChain(layerImage(d, o.c), { root: d })).rejects.toThrow(
      `layer ${o.c}: backing chain loops back to ${layerImage(d, o.c)}`,
    );
  });

  test('a chain deeper than the limit is refused', async () => {
    await expect(resolveChain(layerImage(s.root, s.c), { root: s.root, maxDepth: 3 })).rejects.toThrow(
      `layer ${s.c}: backing chain deeper than 3 images`,
    );
    await expect(resolveChain(layerImage(s.root, s.c), { root: s.root, maxDepth: 4 })).resolves.toBeDefined();
  });

  test('control characters in a recorded backing path are escaped where the error is printed', async () => {
    const d = path.join(tmp, 'esc');
    const o = await makeStdStore(d, { db: false });
    await rebaseUnsafe(layerImage(d, o.a), '/nowhere/\x1b[31mred\u009b2J', 'qcow2');
    const err = (await resolveChain(layerImage(d, o.a), { root: d }).catch((e: unknown) => e)) as Error;
    // The message carries the name as recorded; it is escaped once, where it is printed.
    expect(err.message).toContain('/nowhere/\x1b[31mred\u009b2J');
    expect(escapeText(err.message)).toContain('/nowhere/\\e[31mred\\x9b2J');
    expect(escapeText(err.message)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  test('reading a chain changes nothing in the store', async () => {
    const before = await snapshotTree(s.root);
    await resolveChain(layerImage(s.root, s.c), { root: s.root });
    expect(await snapshotTree(s.root)).toEqual(before);
  });
});

describe('every element of a chain is inside the store given', () => {
  let n = 0;
  /** A fresh standard store under tmp/confine-<n>/store, and a place outside it. */
  async function fresh(): Promise<StdStore & { outside: string }> {
    const dir = path.join(tmp, `confine-${++n}`);
    const o = await makeStdStore(path.join(dir, 'store'), { db: false });
    await mkdir(path.join(dir, 'outside'), { recursive: true });
    return { ...o, outside: path.join(dir, 'outside') };
  }
  const rootfsOf = (o: StdStore, id: string): string => path.dirname(layerImage(o.root, id));

  test('a relative backing name climbing out of the store (raw) is refused, naming the layer, the name and where it leads', async () => {
    const o = await fresh();
    // From result/<id>/rootfs/, four levels up is the directory holding the store.
    const hostFile = path.join(path.dirname(o.root), 'etc', 'passwd');
    await mkdir(path.dirname(hostFile), { recursive: true });
    await writeFile(hostFile, 'root:x:0:0:root:/root:/bin/sh\n');
    await rebaseUnsafe(layerImage(o.root, o.a), '../../../../etc/passwd', 'raw');
    const before = await snapshotTree(o.root);
    const err = await userError(resolveChain(layerImage(o.root, o.c), { root: o.root }));
    expect(err).toBeInstanceOf(ChainError);
    expect(err.message).toBe(
      `layer ${o.a}: backing file ../../../../etc/passwd (relative to ${rootfsOf(o, o.a)}) resolves to ${hostFile}, outside store ${o.root} (in the chain of layer ${o.c})`,
    );
    expect(await snapshotTree(o.root)).toEqual(before);
  });

  test('relative to the host\'s real /etc/passwd, declared raw', async () => {
    const o = await fresh();
    const name = `${'../'.repeat(30)}etc/passwd`;
    await rebaseUnsafe(layerImage(o.root, o.a), name, 'raw');
    expect((await userError(resolveChain(layerImage(o.root, o.a), { root: o.root }))).message).toBe(
      `layer ${o.a}: backing file ${name} (relative to ${rootfsOf(o, o.a)}) resolves to /etc/passwd, outside store ${o.root}`,
    );
  });

  test('an absolute host file, raw or declared qcow2', async () => {
    const o = await fresh();
    for (const format of ['raw', 'qcow2']) {
      await rebaseUnsafe(layerImage(o.root, o.b), '/etc/hostname', format);
      expect((await userError(resolveChain(layerImage(o.root, o.b), { root: o.root }))).message).toBe(
        `layer ${o.b}: backing file /etc/hostname resolves to /etc/hostname, outside store ${o.root}`,
      );
    }
  });

  test('an absolute qcow2 outside the store', async () => {
    const o = await fresh();
    const disk = path.join(o.outside, 'disk.qcow2');
    await qemuImgCreate(disk);
    await rebaseUnsafe(layerImage(o.root, o.a), disk, 'qcow2');
    expect((await userError(resolveChain(layerImage(o.root, o.a), { root: o.root }))).message).toBe(
      `layer ${o.a}: backing file ${disk} resolves to ${disk}, outside store ${o.root}`,
    );
  });

  test('through a symlink in base-image/ leading out (raw and qcow2)', async () => {
    const o = await fresh();
    const evil = path.join(o.root, 'base-image', 'evil.qcow2');
    await symlink('/etc/passwd', evil);
    await rebaseUnsafe(layerImage(o.root, o.a), evil, 'raw');
    expect((await userError(resolveChain(layerImage(o.root, o.a), { root: o.root }))).message).toBe(
      `layer ${o.a}: backing file ${evil} resolves to /etc/passwd, outside store ${o.root}`,
    );
    const disk = path.join(o.outside, 'disk.qcow2');
    await qemuImgCreate(disk);
    const linked = path.join(o.root, 'base-image', 'linked.qcow2');
    await symlink(disk, linked);
    await rebaseUnsafe(layerImage(o.root, o.a), linked, 'qcow2');
    expect((await userError(resolveChain(layerImage(o.root, o.a), { root: o.root }))).message).toBe(
      `layer ${o.a}: backing file ${linked} resolves to ${disk}, outside store ${o.root}`,
    );
  });

  test('a layer directory that is a symlink to a directory outside the store', async () => {
    const o = await fresh();
    const moved = path.join(o.outside, 'moved');
    await rename(path.join(o.root, 'result', o.b), moved);
    await symlink(moved, path.join(o.root, 'result', o.b));
    const real = path.join(moved, 'rootfs', 'image.qcow2');
    expect((await userError(resolveChain(layerImage(o.root, o.b), { root: o.root }))).message).toBe(
      `layer ${o.b}: ${layerImage(o.root, o.b)} resolves to ${real}, outside store ${o.root}`,
    );
    expect((await userError(resolveChain(layerImage(o.root, o.c), { root: o.root }))).message).toBe(
      `layer ${o.c}: backing file ${layerImage(o.root, o.b)} resolves to ${real}, outside store ${o.root}`,
    );
    // The store says the same, as one line per broken layer.
    const store = await openStore(o.root);
    expect((await userError(store.getLayer(o.c))).message).toBe(
      `layer ${o.c}: backing file ${layerImage(o.root, o.b)} resolves to ${real}, outside store ${o.root}`,
    );
    const listed = new Map((await store.listLayers()).map((l) => [l.id, l]));
    expect(listed.get(o.b)!.chainError).toMatch(/outside store/);
    expect(listed.get(o.a)!.chainError).toBeUndefined();
  });

  test('a symlink that stays inside the store is followed to its real place', async () => {
    const o = await fresh();
    const alias = path.join(o.root, 'base-image', 'alias.qcow2');
    await symlink(`${o.base}.qcow2`, alias);
    await rebaseUnsafe(layerImage(o.root, o.a), alias, 'qcow2');
    const chain = await resolveChain(layerImage(o.root, o.a), { root: o.root });
    expect(chain.images).toEqual([layerImage(o.root, o.a), baseImage(o.root, o.base)]);
  });

  test('a store copied elsewhere whose parent is missing never falls back to the old absolute path', async () => {
    const o = await fresh();
    const copy = path.join(path.dirname(o.root), 'copy');
    await copyTree(o.root, copy);
    await rm(path.join(copy, 'result', o.a), { recursive: true });
    // The old place still has the parent: it must not be used.
    const err = await userError(resolveChain(layerImage(copy, o.c), { root: copy }));
    expect(err.message).toBe(
      `layer ${o.b}: backing file ${layerImage(o.root, o.a)} is not in store ${copy}: no ${layerImage(copy, o.a)}, and the image at the recorded path is outside the store (it is never used) (in the chain of layer ${o.c})`,
    );
    expect((err as ChainError).partial.every((l) => l.image.startsWith(copy + path.sep))).toBe(true);
  });

  test('a layer is qcow2 and nothing else: a layer declared raw is refused', async () => {
    const o = await fresh();
    await rebaseUnsafe(layerImage(o.root, o.b), layerImage(o.root, o.a), 'raw');
    expect((await userError(resolveChain(layerImage(o.root, o.b), { root: o.root }))).message).toBe(
      `layer ${o.b}: backing file ${layerImage(o.root, o.a)} is layer ${o.a}, declared raw: a layer is a qcow2 image and nothing else`,
    );
  });

  test('a file of the store that is neither a layer nor a base image, and a format that is neither qcow2 nor raw', async () => {
    const o = await fresh();
    const other = path.join(o.root, 'result-tmp', 'disk.raw');
    await writeFile(other, Buffer.alloc(4096));
    await rebaseUnsafe(layerImage(o.root, o.a), other, 'raw');
    expect((await userError(resolveChain(layerImage(o.root, o.a), { root: o.root }))).message).toBe(
      `layer ${o.a}: backing file ${other} is result-tmp/disk.raw in store ${o.root}, neither a layer image (result/<id>/rootfs/image.qcow2) nor a base image (base-image/<name>.qcow2)`,
    );
    await rebaseUnsafe(layerImage(o.root, o.a), baseImage(o.root, o.base), 'vmdk');
    expect((await userError(resolveChain(layerImage(o.root, o.a), { root: o.root }))).message).toBe(
      `layer ${o.a}: backing file ${baseImage(o.root, o.base)} is base image ${o.base}, declared as format vmdk (only qcow2, and raw for a base image, are read)`,
    );
  });

  test('an encrypted qcow2 (as the layer or as its base) is refused', async () => {
    const o = await fresh();
    const secret = ['--object', 'secret,id=sec0,data=evidence'];
    const encOpts = ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10'];
    await rm(baseImage(o.root, o.base));
    await qemuImgCreateRetrying(['-q', ...secret, '-f', 'qcow2', ...encOpts, baseImage(o.root, o.base), '64M']);
    expect((await userError(resolveChain(layerImage(o.root, o.a), { root: o.root }))).message).toBe(
      `layer ${o.a}: backing file ${baseImage(o.root, o.base)} is an encrypted qcow2 image (LUKS), which is not supported`,
    );
    const enc = fakeId('encrypted');
    await mkdir(path.dirname(layerImage(o.root, enc)), { recursive: true });
    await qemuImgCreateRetrying(['-q', ...secret, '-f', 'qcow2', ...encOpts, layerImage(o.root, enc), '64M']);
    expect((await userError(resolveChain(layerImage(o.root, enc), { root: o.root }))).message).toBe(
      `layer ${enc}: ${layerImage(o.root, enc)} is an encrypted qcow2 image (LUKS), which is not supported`,
    );
  });

  test('a qcow2 naming an external data file (another host file) is refused', async () => {
    const o = await fresh();
    const data = path.join(o.outside, 'data.raw');
    const id = fakeId('data-file');
    await mkdir(path.dirname(layerImage(o.root, id)), { recursive: true });
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${data}`, layerImage(o.root, id), '64M']);
    expect((await userError(resolveChain(layerImage(o.root, id), { root: o.root }))).message).toBe(
      `layer ${id}: ${layerImage(o.root, id)} is a qcow2 image with an external data file ${data}, which is not supported (it names another host file)`,
    );
  });
});
