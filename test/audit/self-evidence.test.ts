// The audit's rules (design.md section 10) layer by layer, on a generated store whose layers each
// do one thing: the legit tricky operations must stay clean (0 false positives), what the
// evidence cannot decide must be inconclusive with its reason (never corrupt), and every
// injected soft-updates loss must be found with its files, classes and owner.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { GeneratedStore, LayerFs, ScriptStep } from '../../bench/store-generator.js';
import { auditLayer, type LayerAuditResult } from '../../src/audit/audit-layer.js';
import { isFfsDirectoryBlock } from '../../src/audit/stale-content.js';
import { openStore, type Layer } from '../../src/store/store.js';
import { makeStore, removeTempDirs } from './stores.js';

const text = (name: string, n: number): Buffer => {
  const line = `opam-version: "2.0"\nname: "${name}"\ndepends: [ "dune" {>= "3.0"} ]\n`;
  return Buffer.from(line.repeat(Math.ceil(n / line.length)).slice(0, n));
};
const FRESH = 150; // cylinder groups nothing else in these stores writes

/** The script: one layer per case, the custom ones first, the generator's kinds after. */
const custom: Record<string, { index: number; step: ScriptStep; expect: 'clean' | 'inconclusive'; mentions?: string }> = {};
const script: ScriptStep[] = [{ kind: 'normal', parent: null }];
function add(name: string, step: (fs: LayerFs) => void, expect: 'clean' | 'inconclusive', mentions?: string): void {
  custom[name] = { index: script.length, step: { step }, expect, mentions };
  script.push({ step });
}
const bin = randomBytes(100_000);
const orig = text('orig', 40_000);
add('writes a binary and a text file', (fs) => {
  fs.home.mkdir('/opam/fp');
  fs.home.writeFile('/opam/fp/lib.so', bin);
  fs.home.writeFile('/opam/fp/tls.opam', text('tls', 5000));
}, 'clean');
add('rewrites them with the same bytes (unlinked and created again, as tar does)', (fs) => {
  fs.home.writeFile('/opam/fp/lib.so', bin, { replace: 'unlink' });
  fs.home.writeFile('/opam/fp/tls.opam', text('tls', 5000), { replace: 'unlink' });
}, 'clean');
add('writes a file in an empty cylinder group', (fs) => {
  fs.home.mkdir('/opam/fp2');
  fs.home.writeFile('/opam/fp2/orig.txt', orig, { cg: FRESH });
}, 'clean');
add("deletes it and writes its bytes under another name, on the blocks it freed", (fs) => {
  fs.home.unlink('/opam/fp2/orig.txt');
  fs.home.writeFile('/opam/fp2/copy.txt', orig, { cg: FRESH });
}, 'inconclusive', '/home/opam/fp2/copy.txt');
add('writes a file of zeros beside a text file, in one cluster', (fs) => {
  fs.home.writeFile('/opam/fp/data.txt', text('data', 3000), { cg: FRESH + 1 });
  fs.home.writeFile('/opam/fp/zero.bin', Buffer.alloc(4000), { cg: FRESH + 1 });
}, 'inconclusive', '/home/opam/fp/zero.bin');
add('writes a small file', (fs) => fs.home.writeFile('/opam/fp/grow.bin', text('grow', 1000), { cg: FRESH + 2 }), 'clean');
add('extends it with truncate (a zero block at its end)', (fs) => fs.home.truncate('/opam/fp/grow.bin', 100_000), 'clean');
add('writes a slow symlink, a large file of zeros alone, and a regular file holding a directory block', (fs) => {
  fs.home.symlink('/opam/fp/slow', `${'../'.repeat(40)}target`);
  fs.home.writeFile('/opam/fp/zeros.img', Buffer.alloc(300_000), { cg: FRESH + 3 });
  const dir = fs.home.extents('/opam')[0]!;
  fs.home.writeFile('/opam/fp/dirblock.bin', fs.home.readFrags(dir.fsAddr, 512));
}, 'clean');
const BRANCH = script.length - 1;
const TRICKY = ['metadata', 'rename', 'hardlink', 'append', 'truncate', 'rewrite-same', 'zero-files', 'delete', 'dir-grow'] as const;
for (const kind of TRICKY) script.push({ kind });
const LOSSES = ['zeros', 'directory-block', 'empty-directory-block', 'foreign-text', 'foreign-binary', 'partial', 'indirect'] as const;
for (const kind of LOSSES) script.push({ kind, parent: BRANCH });

let gen: GeneratedStore;
const layers = new Map<string, Layer>();
const results = new Map<number, LayerAuditResult>();

async function audit(index: number): Promise<LayerAuditResult> {
  let r = results.get(index);
  if (!r) {
    const l = layers.get(gen.layers[index]!.id)!;
    r = await auditLayer(l.links);
    results.set(index, r);
  }
  return r;
}

beforeAll(async () => {
  ({ store: gen } = await makeStore({ script, seed: 5 }));
  const store = await openStore(gen.spec);
  for (const l of await store.listLayers()) layers.set(l.id, l);
});
afterAll(removeTempDirs);

describe('legit layers and undecidable evidence (never corrupt)', () => {
  test.each(Object.entries(custom))('%s', async (_name, c) => {
    const r = await audit(c.index);
    expect(r.files).toEqual([]);
    expect(r.verdict).toBe(c.expect);
    if (c.mentions) expect(r.notes.some((n) => n.startsWith(c.mentions!))).toBe(true);
    if (c.expect === 'clean') expect(r.notes).toEqual([]);
  });

  test.each(TRICKY.map((k, i) => [k, BRANCH + 1 + i] as const))('%s stays clean', async (_kind, index) => {
    const r = await audit(index);
    expect(gen.layers[index]!.kind).toBe(_kind);
    expect({ verdict: r.verdict, notes: r.notes, files: r.files }).toEqual({ verdict: 'clean', notes: [], files: [] });
  });

  test('the metadata layers changed inodes and assigned no block, the writing ones did', async () => {
    const meta = await audit(BRANCH + 1);
    expect(meta.stats.changedInodes).toBeGreaterThan(0);
    const rewrite = await audit(custom['rewrites them with the same bytes (unlinked and created again, as tar does)']!.index);
    expect(rewrite.stats.newBlocks).toBeGreaterThan(0);
    expect(rewrite.stats.staleBlocks).toBe(0);
  });
});

describe('injected soft-updates losses', () => {
  test.each(LOSSES.map((k, i) => [k, BRANCH + 1 + TRICKY.length + i] as const))('%s: found, with its files, classes and owner', async (kind, index) => {
    const truth = gen.layers[index]!;
    expect(truth.kind).toBe(kind);
    expect(truth.lost.length).toBeGreaterThan(0);
    const r = await audit(index);
    expect(r.verdict).toBe('soft-updates-data-loss');
    const got = r.files.map((f) => ({ path: f.path, class: f.class, owner: f.provenance ? { layer: f.provenance.layer, path: f.provenance.path } : null }));
    const want = truth.lost.map((f) => ({ path: f.path, class: f.class, owner: f.owner }));
    expect(got.sort((a, b) => a.path.localeCompare(b.path))).toEqual(want.sort((a, b) => a.path.localeCompare(b.path)));
    for (const f of r.files) {
      expect(f.provenance?.source ?? 'parent-layer').toBe('parent-layer');
      expect(f.evidence).toMatch(new RegExp(`^${f.class}: `));
      expect(f.report.storage?.blocks.length).toBeGreaterThan(0);
    }
  });

  test('a directory removed in the parent is named even though rm -r rewrote its block first', async () => {
    const index = BRANCH + 1 + TRICKY.length + LOSSES.indexOf('directory-block');
    const [f] = (await audit(index)).files;
    // The owner was alive in the grandparent; the parent emptied and removed it.
    expect(f?.provenance?.layer).toBe(gen.layers[BRANCH]!.parent);
    expect(f?.report.detail.owners).toEqual([expect.objectContaining({ role: 'directory', path: '/home/opam/.cache/dir-src-0' })]);
  });
});

describe('the strict FFS directory check', () => {
  test('random bytes, text and zeros are not a directory block; a real one is', () => {
    for (let i = 0; i < 200; i++) expect(isFfsDirectoryBlock(randomBytes(16384), 1 << 20)).toBe(false);
    expect(isFfsDirectoryBlock(text('x', 16384), 1 << 20)).toBe(false);
    expect(isFfsDirectoryBlock(Buffer.alloc(2048), 1 << 20)).toBe(false);
    const chunk = Buffer.alloc(2048);
    chunk.writeUInt32LE(5, 0);
    chunk.writeUInt16LE(12, 4);
    chunk[6] = 4;
    chunk[7] = 1;
    chunk.write('.', 8);
    chunk.writeUInt32LE(2, 12);
    chunk.writeUInt16LE(500, 16);
    chunk[18] = 4;
    chunk[19] = 2;
    chunk.write('..', 20);
    expect(isFfsDirectoryBlock(chunk, 1 << 20)).toBe(true);
    // An inode number the filesystem does not have: not this filesystem's directory.
    expect(isFfsDirectoryBlock(chunk, 4)).toBe(false);
  });
});
