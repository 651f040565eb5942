// The audit's result cache (design.md section 10): layers are immutable, so a layer's result is
// kept under `$XDG_CACHE_HOME/layer-forensics/audit/` (default ~/.cache) keyed by the layer id and
// its image's size and mtime (nanoseconds), and a nightly audit reads only new layers.
//
// One small JSON file per layer, `audit/<id[0:2]>/<id>.json`, written to a temporary name in the
// same directory and renamed over (atomic: a reader sees the old entry or the new one, never half
// of one). What is read back is checked before it is trusted: an entry that does not parse, has
// another format or rules version, names another layer, or another image size or mtime, is a
// miss, and the audit writes a fresh one over it. Errors (a broken chain may be repaired) are not
// cached. Reading only: the store is never written.

import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseStoreSpec } from '../store/store.js';
import { mapPool } from '../util/pool.js';
import { isAuditLine, type AuditLine } from './types.js';

const ENTRY_FORMAT = 'layer-forensics.audit-cache/1';
/**
 * The version of the audit's rules: bump it whenever a change to self-evidence could change a
 * verdict, so that results computed by older rules are not served.
 */
export const AUDIT_RULES_VERSION = 1;
const ID_RE = /^[0-9a-f]{64}$/;

/** `$XDG_CACHE_HOME/layer-forensics` (an absolute XDG_CACHE_HOME only, as the spec says), else ~/.cache/layer-forensics. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'layer-forensics');
}

/** What a cached result is valid for: the layer image's size and mtime. */
export interface ImageKey {
  size: number;
  /** st_mtime in nanoseconds, as a decimal string (exact, unlike a float of milliseconds). */
  mtimeNs: string;
}

interface Entry {
  format: typeof ENTRY_FORMAT;
  rules: number;
  id: string;
  image: ImageKey;
  line: AuditLine;
}

/** The key of a layer image now, or null when it cannot be stat'ed. */
export async function imageKey(image: string): Promise<ImageKey | null> {
  try {
    const st = await stat(image, { bigint: true });
    return st.isFile() ? { size: Number(st.size), mtimeNs: st.mtimeNs.toString() } : null;
  } catch {
    return null;
  }
}

function entryPath(cacheDir: string, id: string): string {
  return path.join(cacheDir, 'audit', id.slice(0, 2), `${id}.json`);
}

function isEntry(x: unknown, id: string, key: ImageKey): x is Entry {
  const e = x as Partial<Entry> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    e.format === ENTRY_FORMAT &&
    e.rules === AUDIT_RULES_VERSION &&
    e.id === id &&
    typeof e.image === 'object' &&
    e.image !== null &&
    e.image.size === key.size &&
    e.image.mtimeNs === key.mtimeNs &&
    isAuditLine(e.line) &&
    e.line.layer === id &&
    e.line.verdict !== 'error'
  );
}

/** The cached line for layer `id` when its entry is sound and still matches `key`; else null. */
export async function readEntry(cacheDir: string, id: string, key: ImageKey): Promise<AuditLine | null> {
  if (!ID_RE.test(id)) return null;
  let text: string;
  try {
    text = await readFile(entryPath(cacheDir, id), 'utf8');
  } catch {
    return null;
  }
  try {
    const e: unknown = JSON.parse(text);
    return isEntry(e, id, key) ? { ...e.line, cached: true } : null;
  } catch {
    return null;
  }
}

/** Store a layer's result (not an error), atomically: a temporary file in the same directory, renamed over. */
export async function writeEntry(cacheDir: string, id: string, key: ImageKey, line: AuditLine): Promise<void> {
  if (!ID_RE.test(id) || line.verdict === 'error') return;
  const file = entryPath(cacheDir, id);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const entry: Entry = { format: ENTRY_FORMAT, rules: AUDIT_RULES_VERSION, id, image: key, line: { ...line, cached: false } };
  try {
    await writeFile(tmp, JSON.stringify(entry));
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function storeRoot(store: string): string {
  return path.resolve(parseStoreSpec(store));
}

function layerImage(root: string, id: string): string {
  return path.join(root, 'result', id, 'rootfs', 'image.qcow2');
}

/** The cached result of one layer of `store` (`qemu:/path` or `/path`), when still valid; else null. */
export async function cachedVerdictFor(store: string, layerId: string, cacheDir: string = defaultCacheDir()): Promise<AuditLine | null> {
  const id = layerId.toLowerCase();
  if (!ID_RE.test(id)) return null;
  const key = await imageKey(layerImage(storeRoot(store), id));
  return key ? readEntry(cacheDir, id, key) : null;
}

/**
 * Every layer of `store` with a valid cached result, by layer id. Cheap: one readdir of the store's
 * `result/`, and per layer a stat of its image and one small read when an entry exists.
 */
export async function readCachedVerdicts(store: string, cacheDir: string = defaultCacheDir()): Promise<Map<string, AuditLine>> {
  const root = storeRoot(store);
  let ids: string[];
  try {
    ids = (await readdir(path.join(root, 'result'))).filter((n) => ID_RE.test(n));
  } catch {
    return new Map();
  }
  const out = new Map<string, AuditLine>();
  await mapPool(ids, { concurrency: 16 }, async (id) => {
    const key = await imageKey(layerImage(root, id));
    const line = key ? await readEntry(cacheDir, id, key) : null;
    if (line) out.set(id, line);
  });
  return out;
}
