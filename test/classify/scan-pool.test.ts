// The scan pool (classify/scan-pool.ts): pairs of host files scanned and judged by worker threads
// and by the calling thread must give, file for file, the report the usual comparison gives; a
// worker that dies hands its pairs back; a file swapped for a symlink or a fifo after the listing
// is never read through the link nor waited on.

import { createHash } from 'node:crypto';
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareTrees, type CandidateSource } from '../../src/classify/compare-trees.js';
import { ScanPool, type Scanned } from '../../src/classify/scan-pool.js';
import { claimPair } from '../../src/classify/scan-worker.js';
import { readDirectoryTree } from '../../src/extract/directory-tree.js';
import { atPath, type Tree } from '../../src/tree/tree.js';
import { withTempDir } from '../helpers/fs-images.js';
import { writeTree } from '../helpers/trees.js';
import { ffsDirChunk, genOcaml, genOpam, rng } from './helpers.js';

/** A layer's worth of files and the same files with soft-updates damage of every kind (and an edit). */
function damagedPair(): { expected: Record<string, Buffer>; actual: Record<string, Buffer> } {
  const r = rng(20261127);
  const expected: Record<string, Buffer> = {};
  for (let i = 0; i < 40; i++) expected[`packages/p${i}/opam`] = genOpam(r, `p${i}`);
  for (let i = 0; i < 10; i++) expected[`src/m${i}.ml`] = genOcaml(r, 300);
  const bin = Buffer.alloc(1_300_000);
  for (let i = 0; i < bin.length; i++) bin[i] = Math.floor(r() * 256);
  expected['bin/tool.exe'] = bin;
  const actual = { ...expected };
  const copy = (p: string): Buffer => (actual[p] = Buffer.from(expected[p]!));
  copy('packages/p1/opam').fill(0, 512, 1024); // a zeroed block
  copy('packages/p2/opam').fill(0); // all zeros
  ffsDirChunk(4242, ['tls', 'x509', 'mirage-crypto']).copy(copy('packages/p3/opam'), 0); // a directory block
  expected['src/m1.ml']!.copy(copy('src/m0.ml'), 1024, 2048, 2560); // another file's text, mid-file
  const tool = copy('bin/tool.exe');
  tool.fill(0, 716_800, 720_896); // a zeroed block in the second chunk of a large binary
  const edited = copy('src/m2.ml');
  edited.write('let version = "1.0.1"', 100); // a same-size edit
  return { expected, actual };
}

/** The same trees as the usual comparison sees them: entries without a host file to scan. */
function withoutHostFiles(t: Tree): Tree {
  return new Map([...t].map(([p, e]) => [p, Object.assign(atPath(e, p), { hostFile: undefined })]));
}

const SWAPPED = 'packages/p5/opam';

/** Intact trees, listed; then `swap` puts something else in place of one actual file. */
async function swappedAfterListing(dir: string, swap: (file: string, original: string) => Promise<unknown>): Promise<{ e: Tree; a: Tree; candidates: CandidateSource[] }> {
  const { expected } = damagedPair();
  await writeTree(join(dir, 'e'), expected);
  await writeTree(join(dir, 'a'), expected);
  const listed = await trees(dir);
  await rm(join(dir, 'a', SWAPPED));
  await swap(join(dir, 'a', SWAPPED), join(dir, 'e', SWAPPED));
  return listed;
}


/** With and without workers: the swapped file alone differs, reported unreadable with `reason`. */
async function expectOnlySwappedUnreadable(e: Tree, a: Tree, candidates: CandidateSource[], reason: string): Promise<void> {
  for (const workers of [0, 1]) {
    const r = await compareTrees(e, a, { candidates, workers });
    const f = r.find((x) => x.path === SWAPPED)!;
    expect(f.class, `workers: ${workers}`).toBe('unreadable');
    expect(f.detail).toMatchObject({ side: 'host', reason: expect.stringContaining(reason) });
    expect(r.filter((x) => x.class !== 'match')).toHaveLength(1);
  }
}

async function trees(dir: string): Promise<{ e: Tree; a: Tree; candidates: CandidateSource[] }> {
  const e = await readDirectoryTree(join(dir, 'e'));
  const a = await readDirectoryTree(join(dir, 'a'));
  return { e, a, candidates: [{ source: 'expected', root: join(dir, 'e'), tree: e, name: (x) => x }] };
}

describe('claiming pairs from both ends', () => {
  it('every pair is claimed exactly once, whatever the interleaving of the threads at each end', () => {
    fc.assert(
      fc.property(fc.nat(300), fc.array(fc.integer({ min: 2, max: 4 }), { maxLength: 400 }), (n, order) => {
        // Thread 1 (the calling thread) claims from the back, threads 2-4 from the front; a thread
        // stops at its first refusal, as answerSome does.
        const claim = new Int32Array(new SharedArrayBuffer(8));
        claim[1] = n - 1;
        const owner = new Int32Array(new SharedArrayBuffer(4 * n));
        const stopped = new Set<number>();
        const got = new Map<number, number[]>();
        const step = (me: number): void => {
          if (stopped.has(me)) return;
          const i = claimPair(claim, owner, me, me === 1);
          if (i < 0) stopped.add(me);
          else got.set(me, [...(got.get(me) ?? []), i]);
        };
        for (const me of order) step(me === 4 ? 1 : me);
        for (const me of [1, 2, 3]) while (!stopped.has(me)) step(me);
        const all = [...got.values()].flat().sort((x, y) => x - y);
        expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
        for (const [me, list] of got) for (const i of list) expect(owner[i]).toBe(me);
        // The back's claims are the end of the list, in order.
        const back = got.get(1) ?? [];
        expect(back).toEqual(Array.from({ length: back.length }, (_, k) => n - 1 - k));
      }),
      { numRuns: 300, seed: 20261127 },
    );
  });
});

describe('scanning pairs of host files', () => {
  it('worker threads and the calling thread give the report the usual comparison gives, file for file', async () => {
    await withTempDir(async (dir) => {
      const { expected, actual } = damagedPair();
      await writeTree(join(dir, 'e'), expected);
      await writeTree(join(dir, 'a'), actual);
      const { e, a, candidates } = await trees(dir);
      const usual = await compareTrees(withoutHostFiles(e), withoutHostFiles(a), { candidates });
      const classes = Object.fromEntries(usual.filter((f) => f.class !== 'match').map((f) => [f.path, f.class]));
      expect(classes).toEqual({
        'packages/p1/opam': 'partial',
        'packages/p2/opam': 'zeros',
        'packages/p3/opam': 'partial',
        'src/m0.ml': 'partial',
        'src/m2.ml': 'modified',
        'bin/tool.exe': 'partial',
      });
      for (const workers of [0, 1, 2]) {
        const scanned = await compareTrees(e, a, { candidates, workers });
        expect(scanned, `workers: ${workers}`).toEqual(usual);
      }
    });
  });

  it('a worker that dies hands its pairs back: every pair is answered, and what is answered is right', async () => {
    await withTempDir(async (dir) => {
      const { expected, actual } = damagedPair();
      await writeTree(join(dir, 'e'), expected);
      await writeTree(join(dir, 'a'), actual);
      const { e, a } = await trees(dir);
      // Several batches' worth: the worker holds the first when it is stopped, the others are left.
      const once = [...e.keys()].filter((p) => e.get(p)!.kind === 'file').map((p) => ({ e: e.get(p)!, a: a.get(p)! }));
      const pairs = [...once, ...once, ...once, ...once];
      const pool = new ScanPool(1);
      // One promise per pair, told as it is answered: the same bytes (with their sha256), scanned
      // and differing, or null (handed back).
      type Told = { same: string } | Scanned | null;
      const resolve: ((s: Told) => void)[] = [];
      const asked = pairs.map(() => new Promise<Told>((res) => resolve.push(res)));
      void pool.scan(pairs, 4096, true, { each: (k, s) => resolve[k]!(s), same: (k, _size, sha256) => resolve[k]!({ same: sha256 }) });
      // Once it has claimed a batch, the worker is stopped under the pool's feet (as a crash or its
      // heap cap would).
      const inside = pool as unknown as { live: Set<{ terminate(): Promise<number> }>; jobs: Map<number, { owner: Int32Array }> };
      const owner = [...inside.jobs.values()][0]!.owner;
      // This thread is held (it would claim every batch itself, a worker being slower to start).
      const nap = new Int32Array(new SharedArrayBuffer(4));
      const until = Date.now() + 30_000;
      while (!owner.some((o) => o > 1) && Date.now() < until) Atomics.wait(nap, 0, 0, 5);
      expect(owner.some((o) => o > 1)).toBe(true);
      for (const w of inside.live) await w.terminate();
      const got = await Promise.all(asked);
      await pool.close();
      for (const [i, s] of got.entries()) {
        if (!s) continue; // handed back: compared the usual way
        const path = pairs[i]!.e.path;
        const same = Buffer.compare(expected[path]!, actual[path]!) === 0;
        expect('same' in s, path).toBe(same);
        if ('same' in s) expect(s.same, path).toBe(createHash('sha256').update(expected[path]!).digest('hex'));
        else expect(s.scan.runs.length, path).toBeGreaterThan(0);
      }
      expect(got.some((s) => s !== null)).toBe(true);
    });
  });

  it('the walk stats no file: the scan learns the sizes of the pairs it reads, and the report has them', async () => {
    await withTempDir(async (dir) => {
      const { expected, actual } = damagedPair();
      actual['extra.txt'] = Buffer.from('not expected\n');
      actual['packages/p7/opam'] = Buffer.concat([expected['packages/p7/opam']!, Buffer.from('# one more line\n')]);
      await writeTree(join(dir, 'e'), expected);
      await writeTree(join(dir, 'a'), actual);
      const { e, a, candidates } = await trees(dir);
      const files = (t: Tree) => [...t.values()].filter((x) => x.kind === 'file');
      // Listed by name and kind only.
      for (const x of [...files(e), ...files(a)]) expect(x.peekSize?.(), x.path).toBeUndefined();
      const r = await compareTrees(e, a, { candidates, workers: 1 });
      for (const f of r) {
        if (expected[f.path]) expect(f.expectedSize, f.path).toBe(expected[f.path]!.length);
        if (actual[f.path]) expect(f.actualSize, f.path).toBe(actual[f.path]!.length);
      }
      expect(r.find((f) => f.path === 'packages/p7/opam')!.class).toBe('size-mismatch');
      // Every pair of the same size was sized by the scan's own open; the others were asked.
      for (const x of [...files(e), ...files(a)]) expect(x.peekSize?.(), x.path).toBe((expected[x.path] && x === e.get(x.path) ? expected : actual)[x.path]!.length);
    });
  });

  it('a file removed after the listing is reported unreadable, with and without workers', async () => {
    await withTempDir(async (dir) => {
      const { e, a, candidates } = await swappedAfterListing(dir, async () => {});
      await expectOnlySwappedUnreadable(e, a, candidates, 'does not exist');
    });
  });

  it('a file swapped for a symlink after the listing is reported unreadable, never read through the link', async () => {
    await withTempDir(async (dir) => {
      // Same size, same bytes: read through the link, it would pass as intact.
      const { e, a, candidates } = await swappedAfterListing(dir, (file, original) => symlink(original, file));
      await expectOnlySwappedUnreadable(e, a, candidates, 'is a symbolic link now (not followed)');
    });
  });

  it('a file swapped for a fifo after the listing is reported unreadable, and nothing waits on it', async () => {
    await withTempDir(async (dir) => {
      const { e, a, candidates } = await swappedAfterListing(dir, (file) => execa('mkfifo', [file]));
      for (const workers of [0, 1]) {
        const r = await compareTrees(e, a, { candidates, workers });
        const f = r.find((x) => x.path === SWAPPED)!;
        expect(f.class, `workers: ${workers}`).toBe('unreadable');
        expect(f.detail).toMatchObject({ side: 'host', reason: expect.stringContaining('is no longer a regular file') });
      }
      // And the usual path alone (no scan at all) refuses it the same way.
      const usual = await compareTrees(withoutHostFiles(e), withoutHostFiles(a), { candidates });
      expect(usual.find((x) => x.path === SWAPPED)!.class).toBe('unreadable');
    });
  }, 30_000);
});
