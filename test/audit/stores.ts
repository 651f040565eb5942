// Generated stores for the audit's tests (bench/store-generator.ts), each in its own temp dir.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateStore, type GeneratedStore, type GeneratorOptions } from '../../bench/store-generator.js';

const dirs: string[] = [];

/** A fresh temp dir, removed by `removeTempDirs`. */
export async function tempDir(prefix = 'lf-audit-'): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export async function removeTempDirs(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

/** Generate a store in a new temp dir (`<dir>/store`); the cache dir for its audits is `<dir>/cache`. */
export async function makeStore(opts: Omit<GeneratorOptions, 'root'>): Promise<{ store: GeneratedStore; dir: string; cacheDir: string }> {
  const dir = await tempDir();
  const store = generateStore({ ...opts, root: path.join(dir, 'store') });
  return { store, dir, cacheDir: path.join(dir, 'cache') };
}
