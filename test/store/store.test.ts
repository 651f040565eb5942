import Database from 'better-sqlite3';
import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openStore } from '../../src/store/store.js';
import { sqliteTimeToIso } from '../../src/store/metadata-db.js';
import {
  baseImage,
  copyTree,
  fakeId,
  layerImage,
  makeLayers,
  makeStdStore,
  qemuImgCreate,
  removeAll,
  sha256File,
  snapshotTree,
  tempDir,
  userError,
  writeDb,
  writeRandom,
  type StdStore,
} from './helpers.js';

let tmp: string;
let s: StdStore;

beforeAll(async () => {
  tmp = await tempDir('lf-store-');
  s = await makeStdStore(path.join(tmp, 'store'));
});
afterAll(async () => {
  await removeAll(tmp);
});

describe('openStore', () => {
  test('accepts qemu:/path and /path', async () => {
    expect((await openStore(`qemu:${s.root}`)).root).toBe(s.root);
    const st = await openStore(s.root);
    expect(st.root).toBe(s.root);
    expect(st.dbPath).toBe(s.db);
  });

  test('a missing path, a file, a directory that is not a store, another backend', async () => {
    const missing = path.join(tmp, 'nope');
    expect((await userError(openStore(`qemu:${missing}`))).message).toBe(`store ${missing}: does not exist`);
    const file = path.join(tmp, 'a-file');
    await writeFile(file, 'x');
    expect((await userError(openStore(file))).message).toBe(`store ${file}: not a directory`);
    const empty = path.join(tmp, 'empty');
    await mkdir(empty);
    expect((await userError(openStore(empty))).message).toBe(
      `store ${empty}: not an obuilder QEMU store (no result/ or base-image/)`,
    );
    expect((await userError(openStore('btrfs:/var/cache/obuilder'))).message).toMatch(/only qemu: stores are supported/);
    expect((await userError(openStore('qemu:'))).message).toMatch(/no path given/);
  });
});

describe('listLayers with state/db.sqlite', () => {
  test('newest first, with parent, base, created, depth, bytes, log and rc', async () => {
    const store = await openStore(s.root);
    const layers = await store.listLayers();
    expect(layers.map((l) => l.id)).toEqual([s.c, s.b, s.a]);
    const [c, b, a] = layers;
    expect(c).toMatchObject({
      parent: s.b,
      base: 'debian-12',
      created: '2026-06-29T16:03:10.000Z',
      chainDepth: 4,
      image: layerImage(s.root, s.c),
      rc: 0,
      inDb: true,
      log: null,
    });
    expect(c!.chain).toEqual([layerImage(s.root, s.c), layerImage(s.root, s.b), layerImage(s.root, s.a), baseImage(s.root, 'debian-12')]);
    expect(b).toMatchObject({ parent: s.a, base: 'debian-12', chainDepth: 3, rc: 1 });
    expect(a).toMatchObject({ parent: null, base: 'debian-12', chainDepth: 2, log: path.join(s.root, 'result', s.a, 'log') });
    const st = await stat(layerImage(s.root, s.c));
    expect(c!.bytes).toBe(st.blocks * 512);
    expect(c!.bytes).toBeGreaterThan(0);
    for (const l of layers) {
      expect(l.chainError).toBeUndefined();
      expect(l.warnings).toBeUndefined();
    }
    expect(store.warnings).toEqual([]);
  });

  test('the db is byte-identical, no -wal/-shm appear, and no store file changes', async () => {
    const dbHash = await sha256File(s.db);
    const before = await snapshotTree(s.root);
    const store = await openStore(s.root);
    await store.listLayers();
    await store.getLayer(s.c.slice(0, 8));
    expect(await sha256File(s.db)).toBe(dbHash);
    expect((await readdir(path.dirname(s.db))).sort()).toEqual(['db.sqlite']);
    expect(await snapshotTree(s.root)).toEqual(before);
  });

  test('a live WAL db (rows only in -wal, writer still open): rows seen, db/-wal/-shm untouched', async () => {
    const root = path.join(tmp, 'live');
    const live = await makeStdStore(root);
    const extra = fakeId('live-extra');
    await makeLayers(root, live.base, [{ id: extra, parent: live.c, created: '2026-07-01 00:00:00' }]);
    const writer = new Database(live.db);
    try {
      writer.pragma('journal_mode = WAL');
      writer.pragma('wal_autocheckpoint = 0');
      writer
        .prepare('INSERT INTO builds (id, created, used, rc, parent) VALUES (?, ?, ?, 0, ?)')
        .run(extra, '2026-07-01 00:00:00', '2026-07-01 00:00:00', live.c);
      const files = ['db.sqlite', 'db.sqlite-wal', 'db.sqlite-shm'].map((f) => path.join(root, 'state', f));
      const hashes = await Promise.all(files.map(sha256File));
      const layers = await (await openStore(root)).listLayers();
      expect(layers[0]).toMatchObject({ id: extra, inDb: true, created: '2026-07-01T00:00:00.000Z', parent: live.c, chainDepth: 5 });
      expect(await Promise.all(files.map(sha256File))).toEqual(hashes);
      expect((await readdir(path.join(root, 'state'))).sort()).toEqual(['db.sqlite', 'db.sqlite-shm', 'db.sqlite-wal']);
    } finally {
      writer.close();
    }
  });

  test('images without a db row and rows without an image', async () => {
    const root = path.join(tmp, 'mixed');
    const m = await makeStdStore(root);
    const orphanImage = fakeId('no-row');
    await makeLayers(root, m.base, [{ id: orphanImage, parent: m.a, created: '' }]);
    await utimes(layerImage(root, orphanImage), new Date('2026-06-30T12:00:00Z'), new Date('2026-06-30T12:00:00Z'));
    const ghost = fakeId('no-image');
    writeDb(root, [{ id: ghost, created: '2026-06-28 00:00:00', parent: m.a }]);

    const store = await openStore(root);
    const layers = await store.listLayers();
    expect(layers.map((l) => l.id)).toEqual([orphanImage, m.c, m.b, m.a, ghost]);
    expect(layers[0]).toMatchObject({ inDb: false, parent: m.a, base: 'debian-12', created: '2026-06-30T12:00:00.000Z', rc: null, chainDepth: 3 });
    expect(layers[4]).toMatchObject({ inDb: true, bytes: 0, chainDepth: 0, chain: [], parent: m.a });
    expect(layers[4]!.chainError).toBe(`layer ${ghost}: listed in state/db.sqlite but ${layerImage(root, ghost)} does not exist`);
    expect((await userError(store.getLayer(ghost))).message).toBe(layers[4]!.chainError);
    expect((await store.getLayer(orphanImage.slice(0, 10))).id).toBe(orphanImage);
  });

  test('a db parent that disagrees with the backing file is listed with a warning', async () => {
    const root = path.join(tmp, 'disagree');
    const d = await makeStdStore(root);
    writeDb(root, [{ id: d.c, created: '2026-06-29 16:03:10', parent: d.a }]);
    const c = await (await openStore(root)).getLayer(d.c);
    expect(c.parent).toBe(d.a);
    expect(c.warnings?.[0]).toBe(`layer ${d.c}: state/db.sqlite says parent ${d.a}, the image's backing file says ${d.b}`);
  });

  test('an unreadable db falls back to the images, with a warning', async () => {
    const root = path.join(tmp, 'baddb');
    const d = await makeStdStore(root, { db: false });
    await writeRandom(path.join(root, 'state', 'db.sqlite'), 8192);
    const store = await openStore(root);
    const layers = await store.listLayers();
    expect(layers.map((l) => l.id).sort()).toEqual([d.a, d.b, d.c].sort());
    expect(store.warnings).toHaveLength(1);
    expect(store.warnings[0]).toMatch(/state\/db\.sqlite: cannot read the builds table/);
  });
});

describe('listLayers without a db', () => {
  test('parents from the qcow2 headers, created from mtimes', async () => {
    const root = path.join(tmp, 'nodb');
    const d = await makeStdStore(root, { db: false });
    await rm(path.join(root, 'state'), { recursive: true });
    const times: [string, string][] = [
      [d.a, '2026-06-01T00:00:00Z'],
      [d.b, '2026-06-03T00:00:00Z'],
      [d.c, '2026-06-02T00:00:00Z'],
    ];
    for (const [id, t] of times) await utimes(layerImage(root, id), new Date(t), new Date(t));
    const store = await openStore(root);
    expect(store.dbPath).toBeNull();
    const layers = await store.listLayers();
    expect(layers.map((l) => [l.id, l.parent, l.created, l.chainDepth, l.base, l.inDb, l.rc])).toEqual([
      [d.b, d.a, '2026-06-03T00:00:00.000Z', 3, 'debian-12', false, null],
      [d.c, d.b, '2026-06-02T00:00:00.000Z', 4, 'debian-12', false, null],
      [d.a, null, '2026-06-01T00:00:00.000Z', 2, 'debian-12', false, null],
    ]);
  });
});

describe('broken layers', () => {
  let root: string;
  let d: StdStore;
  const junk = fakeId('random-bytes');

  beforeAll(async () => {
    const src = await makeStdStore(path.join(tmp, 'broken-src'));
    root = path.join(tmp, 'broken');
    await copyTree(src.root, root);
    await rm(src.root, { recursive: true });
    d = { ...src, root, db: path.join(root, 'state', 'db.sqlite') };
    await rm(layerImage(root, d.a));
    await writeRandom(layerImage(root, junk), 65536);
  });

  test('are listed, marked with the reason', async () => {
    const store = await openStore(`qemu:${root}`);
    const layers = await store.listLayers();
    const byId = new Map(layers.map((l) => [l.id, l]));
    expect(byId.get(d.a)!.chainError).toBe(`layer ${d.a}: listed in state/db.sqlite but ${layerImage(root, d.a)} does not exist`);
    const b = byId.get(d.b)!;
    expect(b.chainError).toBe(
      `layer ${d.b}: backing file ${layerImage(path.join(tmp, 'broken-src'), d.a)} does not exist and no ${layerImage(root, d.a)} either`,
    );
    expect(b.chain).toEqual([layerImage(root, d.b)]);
    expect(b.chainDepth).toBe(1);
    expect(b.parent).toBe(d.a);
    expect(byId.get(d.c)!.chainError).toMatch(new RegExp(`^layer ${d.b}: backing file .* \\(in the chain of layer ${d.c}\\)$`));
    expect(byId.get(junk)!.chainError).toBe(`layer ${junk}: ${layerImage(root, junk)}: not a qcow2 image (bad magic)`);
    expect(byId.get(junk)!.inDb).toBe(false);
  });

  test('getLayer of them throws the UserError', async () => {
    const store = await openStore(root);
    expect((await userError(store.getLayer(d.b))).message).toMatch(new RegExp(`^layer ${d.b}: backing file `));
    expect((await userError(store.getLayer(junk))).message).toBe(
      `layer ${junk}: ${layerImage(root, junk)}: not a qcow2 image (bad magic)`,
    );
  });
});

describe('getLayer', () => {
  let root: string;
  const x1 = 'a1' + '0'.repeat(62);
  const x2 = 'a2' + '0'.repeat(62);
  const x3 = 'a2' + '1'.repeat(62);

  beforeAll(async () => {
    root = path.join(tmp, 'prefix');
    await qemuImgCreate(baseImage(root, 'openbsd-78'));
    await makeLayers(root, 'openbsd-78', [
      { id: x1, parent: null, created: '' },
      { id: x2, parent: x1, created: '' },
      { id: x3, parent: x1, created: '' },
    ]);
  });

  test('by full id and by unique prefix (any case)', async () => {
    const store = await openStore(root);
    const l = await store.getLayer(x2);
    expect(l).toMatchObject({ id: x2, parent: x1, base: 'openbsd-78', chainDepth: 3 });
    expect(l.links.map((k) => k.format)).toEqual(['qcow2', 'qcow2', 'qcow2']);
    expect((await store.getLayer('A1')).id).toBe(x1);
    expect((await store.getLayer('a20')).id).toBe(x2);
  });

  test('unknown, ambiguous and malformed ids', async () => {
    const store = await openStore(root);
    expect((await userError(store.getLayer('ffff'))).message).toBe(`layer ffff: not in store ${root}`);
    const amb = await userError(store.getLayer('a2'));
    expect(amb.message).toMatch(/^layer a2: ambiguous prefix, matches 2 layers in store /);
    expect(amb.message).toContain(x2.slice(0, 12));
    expect((await userError(store.getLayer('../etc'))).message).toMatch(/not a layer id/);
    expect((await userError(store.getLayer(''))).message).toMatch(/not a layer id/);
  });
});

describe('sqliteTimeToIso', () => {
  test('obuilder times are UTC', () => {
    expect(sqliteTimeToIso('2026-06-29 16:02:38')).toBe('2026-06-29T16:02:38.000Z');
    expect(sqliteTimeToIso('2026-06-29T16:02:38Z')).toBe('2026-06-29T16:02:38.000Z');
    expect(sqliteTimeToIso(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(sqliteTimeToIso('yesterday')).toBeNull();
    expect(sqliteTimeToIso(null)).toBeNull();
  });
});
