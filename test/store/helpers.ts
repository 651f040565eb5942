// Real obuilder-shaped QEMU stores for the store tests: real qcow2 images made by qemu-img with
// absolute backing paths (as obuilder writes them) and a real sqlite db in WAL mode.

import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../src/util/errors.js';
import { writeBuildsDb, type BuildRow } from '../../samples/lib/obuilder-db.js';

export async function tempDir(prefix = 'lf-store-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export function fakeId(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

/** `qemu-img create -f qcow2 [-b backing -F fmt] img 64M`. */
export async function qemuImgCreate(img: string, backing?: string, backingFormat = 'qcow2', extra: string[] = []): Promise<void> {
  await mkdir(path.dirname(img), { recursive: true });
  const args = ['create', '-q', '-f', 'qcow2', ...extra];
  if (backing) args.push('-b', backing, '-F', backingFormat);
  args.push(img, '64M');
  await execa('qemu-img', args);
}

export function layerImage(root: string, id: string): string {
  return path.join(root, 'result', id, 'rootfs', 'image.qcow2');
}

export function baseImage(root: string, name: string): string {
  return path.join(root, 'base-image', `${name}.qcow2`);
}

export interface LayerSpec {
  id: string;
  /** Parent layer id, or null to sit on the base. */
  parent: string | null;
  created: string; // obuilder's 'YYYY-MM-DD HH:MM:SS' (UTC)
  log?: string;
}

/** Make layers in order (parents before children), each backed by its parent's absolute path. */
export async function makeLayers(root: string, base: string, layers: LayerSpec[]): Promise<void> {
  for (const l of layers) {
    const backing = l.parent ? layerImage(root, l.parent) : baseImage(root, base);
    await qemuImgCreate(layerImage(root, l.id), backing);
    if (l.log !== undefined) await writeFile(path.join(root, 'result', l.id, 'log'), l.log);
  }
}

/** Write state/db.sqlite as obuilder does (WAL mode), closed cleanly. */
export function writeDb(root: string, rows: BuildRow[]): string {
  const file = path.join(root, 'state', 'db.sqlite');
  writeBuildsDb(file, rows);
  return file;
}

/** A standard store: base `debian-12`, layers A (on the base) ← B ← C, a db, a log for A. */
export interface StdStore {
  root: string;
  base: string;
  a: string;
  b: string;
  c: string;
  db: string;
}

export async function makeStdStore(root: string, opts: { db?: boolean } = {}): Promise<StdStore> {
  const base = 'debian-12';
  await mkdir(path.join(root, 'state'), { recursive: true });
  for (const d of ['result-tmp', 'cache', 'cache-tmp']) await mkdir(path.join(root, d), { recursive: true });
  await qemuImgCreate(baseImage(root, base));
  const a = fakeId('A');
  const b = fakeId('B');
  const c = fakeId('C');
  const specs: LayerSpec[] = [
    { id: a, parent: null, created: '2026-06-29 16:01:11', log: '(from debian-12)\n' },
    { id: b, parent: a, created: '2026-06-29 16:02:38' },
    { id: c, parent: b, created: '2026-06-29 16:03:10' },
  ];
  await makeLayers(root, base, specs);
  const db = path.join(root, 'state', 'db.sqlite');
  if (opts.db !== false) {
    writeDb(root, [
      { id: a, created: specs[0]!.created, rc: 1, parent: null },
      { id: b, created: specs[1]!.created, rc: 1, parent: a },
      { id: c, created: specs[2]!.created, rc: 0, parent: b },
    ]);
  }
  return { root, base, a, b, c, db };
}

/** `cp -a src dst` (keeps mtimes and sparseness). */
export async function copyTree(src: string, dst: string): Promise<void> {
  await execa('cp', ['-a', '--sparse=always', src, dst]);
}

export async function sha256File(p: string): Promise<string> {
  return createHash('sha256').update(await readFile(p)).digest('hex');
}

/** Every file and directory under `root` with its size and mtime (ns), for before/after checks. */
export async function snapshotTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const st = await stat(p, { bigint: true });
      out.set(path.relative(root, p), `${e.isDirectory() ? 'd' : 'f'} ${st.size} ${st.mtimeNs}`);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out;
}

export async function writeRandom(p: string, bytes: number): Promise<void> {
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, randomBytes(bytes));
}

export async function removeAll(...dirs: string[]): Promise<void> {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}

/** The UserError a promise rejects with (fails the test when it resolves or rejects otherwise). */
export async function userError(p: Promise<unknown>): Promise<UserError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof UserError) return err;
    throw new Error(`expected a UserError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a UserError, but it succeeded');
}

/** `qemu-img rebase -u`: rewrite only the backing name (and format) recorded in `img`'s header. */
export async function rebaseUnsafe(img: string, backing: string, format?: string): Promise<void> {
  await execa('qemu-img', ['rebase', '-q', '-u', '-b', backing, ...(format ? ['-F', format] : []), img]);
}
