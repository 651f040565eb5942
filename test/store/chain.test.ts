import { execa } from 'execa';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ChainError, describeImage, remapToRoot, resolveChain, storePathOf } from '../../src/store/chain.js';
import { UserError } from '../../src/util/errors.js';
import {
  baseImage,
  copyTree,
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
    const base = path.join(d, 'gone', 'disk.qcow2');
    await qemuImgCreate(base);
    const layer = path.join(d, 'layer.qcow2');
    await qemuImgCreate(layer, base);
    await rm(path.join(d, 'gone'), { recursive: true });
    await expect(resolveChain(layer, { root: d })).rejects.toThrow(
      `${layer}: backing file ${base} does not exist and it is not a store path`,
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

  test('a relative backing path is relative to the image\'s directory', async () => {
    const d = path.join(tmp, 'rel');
    await qemuImgCreate(path.join(d, 'base.qcow2'));
    await qemuImgCreate(path.join(d, 'sub', 'mid.qcow2'), '../base.qcow2');
    await qemuImgCreate(path.join(d, 'sub', 'top.qcow2'), 'mid.qcow2');
    const chain = await resolveChain(path.join(d, 'sub', 'top.qcow2'), { root: d });
    expect(chain.images).toEqual([path.join(d, 'sub', 'top.qcow2'), path.join(d, 'sub', 'mid.qcow2'), path.join(d, 'base.qcow2')]);
    expect(chain.links.map((l) => l.resolvedVia)).toEqual(['given', 'relative', 'relative']);
  });

  test('a raw base ends the chain with format raw', async () => {
    const d = path.join(tmp, 'raw');
    await qemuImgCreate(path.join(d, 'placeholder.qcow2'));
    await execa('qemu-img', ['create', '-q', '-f', 'raw', path.join(d, 'base.raw'), '64M']);
    await qemuImgCreate(path.join(d, 'top.qcow2'), path.join(d, 'base.raw'), 'raw');
    const chain = await resolveChain(path.join(d, 'top.qcow2'), { root: d });
    expect(chain.links.map((l) => l.format)).toEqual(['qcow2', 'raw']);
    expect(chain.links[1]!.header).toBeNull();
  });

  test('a loop is refused', async () => {
    const d = path.join(tmp, 'loop');
    const x = path.join(d, 'x.qcow2');
    const y = path.join(d, 'y.qcow2');
    await qemuImgCreate(y);
    await qemuImgCreate(x, y);
    // Unsafe rebase rewrites only y's header: y now points back at x.
    await execa('qemu-img', ['rebase', '-u', '-b', x, '-F', 'qcow2', y]);
    await expect(resolveChain(x, { root: d })).rejects.toThrow(`${x}: backing chain loops back to ${x}`);
  });

  test('a chain deeper than the limit is refused', async () => {
    await expect(resolveChain(layerImage(s.root, s.c), { root: s.root, maxDepth: 3 })).rejects.toThrow(
      `layer ${s.c}: backing chain deeper than 3 images`,
    );
    await expect(resolveChain(layerImage(s.root, s.c), { root: s.root, maxDepth: 4 })).resolves.toBeDefined();
  });

  test('control characters in a recorded backing path are escaped in the error', async () => {
    const d = path.join(tmp, 'esc');
    await qemuImgCreate(path.join(d, 'y.qcow2'));
    await qemuImgCreate(path.join(d, 'x.qcow2'), path.join(d, 'y.qcow2'));
    await execa('qemu-img', ['rebase', '-u', '-b', '/nowhere/\x1b[31mred', '-F', 'qcow2', path.join(d, 'x.qcow2')]);
    const err = (await resolveChain(path.join(d, 'x.qcow2'), { root: d }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('/nowhere/\\e[31mred');
    expect(err.message).not.toContain('\x1b');
  });

  test('reading a chain changes nothing in the store', async () => {
    const before = await snapshotTree(s.root);
    await resolveChain(layerImage(s.root, s.c), { root: s.root });
    expect(await snapshotTree(s.root)).toEqual(before);
  });
});
