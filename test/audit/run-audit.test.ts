// runAudit (the API behind `audit` and the terminal UI's `A`) and its result cache: hits,
// misses, corrupt entries rewritten and never trusted, --no-cache, a changed image; a broken
// layer in the middle of a store (an error line, the audit goes on); selection by prefix and
// date; Ctrl-C (abort) with the lines so far and a summary.

import { mkdir, readFile, readdir, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { GeneratedStore, ScriptStep } from '../../bench/store-generator.js';
import { writeQcow2Layer } from '../../samples/lib/qcow2-writer.js';
import { cachedVerdictFor, defaultCacheDir, readCachedVerdicts } from '../../src/audit/cache.js';
import { runAudit, type RunAuditOptions } from '../../src/audit/run-audit.js';
import type { AuditLine, AuditSummary } from '../../src/audit/types.js';
import { UserError } from '../../src/util/errors.js';
import { makeStore, removeTempDirs, tempDir } from './stores.js';

/** A chain with a branch: clean layers, one loss, one inconclusive-free tricky layer. */
const SCRIPT: ScriptStep[] = [
  { kind: 'normal', parent: null },
  { kind: 'normal' },
  { kind: 'append' },
  { kind: 'normal' },
  { kind: 'foreign-text' },
  { kind: 'normal', parent: 1 },
  { kind: 'zeros' },
  { kind: 'normal' },
];

async function audit(opts: RunAuditOptions, onLine?: (l: AuditLine) => void): Promise<{ lines: AuditLine[]; summary: AuditSummary }> {
  const lines: AuditLine[] = [];
  const summary = await runAudit(opts, {
    onLine: (l) => {
      lines.push(l);
      onLine?.(l);
    },
  });
  return { lines, summary };
}

function byLayer(lines: AuditLine[]): Map<string, AuditLine> {
  return new Map(lines.map((l) => [l.layer, l]));
}

function entryFile(cacheDir: string, id: string): string {
  return path.join(cacheDir, 'audit', id.slice(0, 2), `${id}.json`);
}

const image = (g: GeneratedStore, id: string): string => path.join(g.root, 'result', id, 'rootfs', 'image.qcow2');

let gen: GeneratedStore;
beforeAll(async () => {
  ({ store: gen } = await makeStore({ script: SCRIPT, seed: 21 }));
}, 120_000);
afterAll(removeTempDirs);

describe('the result cache', () => {
  let cacheDir: string;
  let first: AuditLine[];
  const corrupt = (): string => gen.layers.find((l) => l.kind === 'foreign-text')!.id;

  beforeAll(async () => {
    cacheDir = path.join(await tempDir(), 'cache');
    first = (await audit({ store: gen.spec, jobs: 2, cacheDir })).lines;
  });

  test('a first audit misses and writes an entry per layer, atomically (no temporary file left)', async () => {
    expect(first).toHaveLength(SCRIPT.length);
    expect(first.every((l) => !l.cached)).toBe(true);
    for (const l of first) JSON.parse(await readFile(entryFile(cacheDir, l.layer), 'utf8'));
    const names = (await readdir(path.join(cacheDir, 'audit'), { recursive: true })).map(String);
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('a second audit is served from the cache, with the same results', async () => {
    const { lines, summary } = await audit({ store: gen.spec, jobs: 2, cacheDir });
    expect(summary.cached).toBe(SCRIPT.length);
    const a = byLayer(first);
    for (const l of lines) {
      expect(l.cached).toBe(true);
      const { cached: _c, ms: _m, ...rest } = l;
      const { cached: _c2, ms: _m2, ...want } = a.get(l.layer)!;
      expect(rest).toEqual(want);
    }
    expect(byLayer(lines).get(corrupt())!.verdict).toBe('soft-updates-data-loss');
  });

  test('a corrupt or mismatched entry is ignored, the layer audited again and the entry rewritten', async () => {
    const [x, y, z] = first.map((l) => l.layer);
    await writeFile(entryFile(cacheDir, x!), '{"format": "layer-forensics.audit-cache/1", "trunc');
    const entry = JSON.parse(await readFile(entryFile(cacheDir, y!), 'utf8')) as { image: { size: number }; line: { verdict: string } };
    await writeFile(entryFile(cacheDir, y!), JSON.stringify({ ...entry, image: { ...entry.image, size: entry.image.size + 1 } }));
    const tampered = JSON.parse(await readFile(entryFile(cacheDir, z!), 'utf8')) as { line: Record<string, unknown> };
    await writeFile(entryFile(cacheDir, z!), JSON.stringify({ ...tampered, line: { ...tampered.line, verdict: 'certainly-fine' } }));
    const { lines } = await audit({ store: gen.spec, jobs: 1, cacheDir });
    const m = byLayer(lines);
    for (const id of [x!, y!, z!]) expect(m.get(id)!.cached).toBe(false);
    expect(lines.filter((l) => l.cached)).toHaveLength(SCRIPT.length - 3);
    for (const id of [x!, y!, z!]) expect(m.get(id)!.verdict).toBe(byLayer(first).get(id)!.verdict);
    const again = (await audit({ store: gen.spec, jobs: 1, cacheDir })).lines;
    expect(again.every((l) => l.cached)).toBe(true);
  });

  test('an image whose mtime changed is audited again', async () => {
    const id = first[3]!.layer;
    const when = new Date('2026-06-01T00:00:00Z');
    await utimes(image(gen, id), when, when);
    const { lines } = await audit({ store: gen.spec, jobs: 1, cacheDir });
    expect(lines.filter((l) => !l.cached).map((l) => l.layer)).toEqual([id]);
  });

  test('--no-cache neither reads nor writes the cache', async () => {
    const fresh = path.join(await tempDir(), 'cache');
    const { lines } = await audit({ store: gen.spec, jobs: 2, cacheDir: fresh, noCache: true });
    expect(lines.every((l) => !l.cached)).toBe(true);
    await expect(readdir(fresh)).rejects.toThrow(/ENOENT/);
    const again = await audit({ store: gen.spec, jobs: 2, cacheDir, noCache: true });
    expect(again.lines.every((l) => !l.cached)).toBe(true);
  });

  test('readCachedVerdicts and cachedVerdictFor give the valid cached lines, cheaply', async () => {
    const all = await readCachedVerdicts(gen.spec, cacheDir);
    expect(new Set(all.keys())).toEqual(new Set(gen.layers.map((l) => l.id)));
    expect(all.get(corrupt())!.verdict).toBe('soft-updates-data-loss');
    expect((await cachedVerdictFor(gen.root, corrupt(), cacheDir))!.files[0]!.class).toBe('foreign-text');
    expect((await cachedVerdictFor(`qemu:${gen.root}`, corrupt().toUpperCase(), cacheDir))!.layer).toBe(corrupt());
    expect(await cachedVerdictFor(gen.spec, '0'.repeat(64), cacheDir)).toBeNull();
    expect(await cachedVerdictFor(gen.spec, 'not-an-id', cacheDir)).toBeNull();
    expect(await readCachedVerdicts('/nonexistent/store', cacheDir)).toEqual(new Map());
    const when = new Date('2026-07-01T00:00:00Z');
    await utimes(image(gen, corrupt()), when, when);
    expect(await cachedVerdictFor(gen.spec, corrupt(), cacheDir)).toBeNull();
  });

  test('the default cache directory follows XDG_CACHE_HOME (absolute only), else ~/.cache', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/layer-forensics');
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.cache/layer-forensics');
    expect(defaultCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/layer-forensics');
  });
});

describe('a store with broken layers', () => {
  let broken: GeneratedStore;
  let cacheDir: string;
  beforeAll(async () => {
    ({ store: broken, cacheDir } = await makeStore({ script: SCRIPT, seed: 22 }));
  }, 120_000);

  test('a missing image in the middle and a layer that is not a qcow2: error lines with the reason, the audit goes on', async () => {
    const middle = broken.layers[1]!.id; // layers 2.. and 5.. are built on it
    await rm(image(broken, middle));
    const leaf = broken.layers[7]!.id;
    await truncate(image(broken, leaf), 0);
    await writeFile(image(broken, leaf), 'not a qcow2 at all');
    const { lines, summary } = await audit({ store: broken.spec, jobs: 2, cacheDir });
    expect(lines).toHaveLength(SCRIPT.length);
    const m = byLayer(lines);
    expect(m.get(middle)!.verdict).toBe('error');
    expect(m.get(middle)!.error).toMatch(/does not exist/);
    for (const i of [2, 3, 4, 5, 6, 7]) expect(m.get(broken.layers[i]!.id)!.verdict).toBe('error');
    expect(m.get(leaf)!.error).toBeTruthy();
    expect(m.get(broken.layers[0]!.id)!.verdict).toBe('clean');
    expect(summary).toMatchObject({ layers: SCRIPT.length, errors: SCRIPT.length - 1, clean: 1 });
    // Errors are not cached: the chain may be repaired.
    const again = await audit({ store: broken.spec, jobs: 1, cacheDir });
    expect(again.lines.filter((l) => l.cached).map((l) => l.layer)).toEqual([broken.layers[0]!.id]);
  });

  test('a layer whose disk has no FFS is an error line naming what is there', async () => {
    const { store: g, cacheDir: c } = await makeStore({ script: [{ kind: 'normal', parent: null }, { kind: 'normal' }], seed: 23, diskSize: 8 * 2 ** 30 });
    // An empty base: no partition table, no superblock where a reader looks; only the layers' own clusters.
    writeQcow2Layer({ path: g.baseImage, virtualSize: g.diskSize, backing: null, clusters: [] });
    const { lines } = await audit({ store: g.spec, jobs: 1, cacheDir: c });
    expect(lines.map((l) => l.verdict)).toEqual(['error', 'error']);
    expect(lines[0]!.error).toMatch(/no FFS/);
  });
});

describe('selection and interruption', () => {
  test('--layer prefixes (each must match), --since, a missing store', async () => {
    const cacheDir = path.join(await tempDir(), 'cache');
    const ids = gen.layers.map((l) => l.id);
    const { lines } = await audit({ store: gen.spec, layers: [ids[2]!.slice(0, 8), ids[4]!], cacheDir });
    expect(lines.map((l) => l.layer).sort()).toEqual([ids[2]!, ids[4]!].sort());
    await expect(audit({ store: gen.spec, layers: ['ffffffffffff0000'], cacheDir })).rejects.toThrow(UserError);
    await expect(audit({ store: gen.spec, layers: ['xyz'], cacheDir })).rejects.toThrow(/not a layer id prefix/);
    const last = gen.layers[gen.layers.length - 1]!.created.replace(' ', 'T') + 'Z';
    const recent = await audit({ store: gen.spec, since: last, cacheDir });
    expect(recent.lines.map((l) => l.layer)).toEqual([ids[ids.length - 1]!]);
    expect((await audit({ store: gen.spec, since: '2999-01-01', cacheDir })).summary.layers).toBe(0);
    await expect(audit({ store: gen.spec, since: 'yesterday', cacheDir })).rejects.toThrow(/--since/);
    await expect(audit({ store: '/nonexistent/store', cacheDir })).rejects.toThrow(/does not exist/);
  });

  test('aborting stops the audit with the lines so far and an interrupted summary', async () => {
    const cacheDir = path.join(await tempDir(), 'cache');
    await mkdir(cacheDir, { recursive: true });
    const ac = new AbortController();
    const lines: AuditLine[] = [];
    const summary = await runAudit({ store: gen.spec, jobs: 1, cacheDir, noCache: true }, { signal: ac.signal, onLine: (l) => (lines.push(l), ac.abort()) });
    expect(summary.interrupted).toBe(true);
    expect(summary.layers).toBe(lines.length);
    expect(lines.length).toBeLessThan(SCRIPT.length);
    expect(summary.selected).toBe(SCRIPT.length);
  });

  test('one worker or three: the same verdicts', async () => {
    const cacheDir = path.join(await tempDir(), 'cache');
    const one = byLayer((await audit({ store: gen.spec, jobs: 1, cacheDir, noCache: true })).lines);
    const three = byLayer((await audit({ store: gen.spec, jobs: 3, cacheDir, noCache: true })).lines);
    for (const [id, l] of one) expect(three.get(id)!.verdict).toBe(l.verdict);
  });
});
