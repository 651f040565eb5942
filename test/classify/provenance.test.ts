import { describe, expect, it } from 'vitest';
import { ProvenanceIndex, Wanted } from '../../src/classify/provenance.js';
import { hashBlock, newHashes } from '../../src/classify/block-hash.js';
import { indexTree } from '../../src/classify/index-corpus.js';
import { genOcaml, genOpam, memTree, rng } from './helpers.js';

const opam = (name: string, body: string): Buffer =>
  Buffer.from(`opam-version: "2.0"\nmaintainer: "Hannes Mehnert <hannes@mehnert.org>"\nname: "${name}"\n${body}`);

function corpus(): ProvenanceIndex {
  const idx = new ProvenanceIndex();
  // Many files share a long common start, as opam files of one maintainer do.
  for (let i = 0; i < 500; i++) idx.add('corpus', '/repo', `packages/p${i}/p${i}.1.0/opam`, opam(`p${i}`, `synopsis: "package ${i}"\n`.repeat(5)));
  idx.add('corpus', '/repo', 'packages/zxcvbn/zxcvbn.3.0/opam', opam('zxcvbn', 'synopsis: "Password strength"\ndepends: ["ocaml"]\n'.repeat(10)));
  idx.add('corpus', '/repo', 'repo', Buffer.from('opam-version: "2.0"\nbrowse: "https://opam.ocaml.org/pkg/"\n'));
  idx.add('expected', '/src', 'tls.opam', opam('tls', 'synopsis: "TLS in pure OCaml"\n'.repeat(8)));
  return idx;
}

describe('ProvenanceIndex: the start of a file', () => {
  const idx = corpus();

  it('names the file whose start the stale bytes are (stale cut to the damaged file size)', async () => {
    const z = opam('zxcvbn', 'synopsis: "Password strength"\ndepends: ["ocaml"]\n'.repeat(10));
    const p = await idx.lookup(z.subarray(0, 300));
    expect(p).toMatchObject({ source: 'corpus', root: '/repo', path: 'packages/zxcvbn/zxcvbn.3.0/opam', matchedBytes: 300, offset: 0, stretchOffset: 0 });
  });

  it('names a shorter file the stale bytes start with, its NUL tail ignored', async () => {
    const repo = Buffer.from('opam-version: "2.0"\nbrowse: "https://opam.ocaml.org/pkg/"\n');
    const stale = Buffer.concat([repo, Buffer.alloc(200)]);
    expect(await idx.lookup(stale)).toMatchObject({ path: 'repo', matchedBytes: repo.length, offset: 0 });
    const junk = Buffer.concat([repo, Buffer.from([0xff, 0xfe, 1, 2, 3])]);
    expect(await idx.lookup(junk)).toMatchObject({ path: 'repo', matchedBytes: repo.length });
  });

  it('picks the exact file among files sharing a long prefix', async () => {
    const p137 = opam('p137', `synopsis: "package 137"\n`.repeat(5));
    expect((await idx.lookup(p137))?.path).toBe('packages/p137/p137.1.0/opam');
  });

  it('does not name a file for a merely common prefix, nor the file itself', async () => {
    expect(await idx.lookup(opam('unknown', 'synopsis: "never seen"\n'.repeat(20)))).toBeNull();
    const tls = opam('tls', 'synopsis: "TLS in pure OCaml"\n'.repeat(8));
    expect(await idx.lookup(tls, { exclude: { source: 'expected', path: 'tls.opam' } })).toBeNull();
    expect((await idx.lookup(tls))?.path).toBe('tls.opam');
    expect(await idx.lookup(Buffer.alloc(100))).toBeNull();
  });
});

describe('ProvenanceIndex: any block-aligned offset', () => {
  const r = rng(42);
  const files = Array.from({ length: 40 }, (_, i) => ({ path: `src/m${i}.ml`, data: genOcaml(r, 300 + i * 20) }));
  const idx = new ProvenanceIndex();
  for (const f of files) idx.add('corpus', '/c', f.path, f.data);

  it('stale blocks from the middle of another file: the file and the offset, the match extended both ways', async () => {
    for (const [i, f] of files.entries()) {
      const blocks = Math.floor(f.data.length / 512);
      const from = (i % Math.max(1, blocks - 3)) * 512;
      const stretch = f.data.subarray(from, from + 3 * 512);
      const m = await idx.lookup(stretch);
      expect(m, f.path).toMatchObject({ path: f.path, offset: from, matchedBytes: stretch.length, stretchOffset: 0 });
    }
  });

  it('a stretch that starts with bytes from elsewhere: the match starts where the candidate does', async () => {
    const f = files[7]!;
    const stretch = Buffer.concat([Buffer.alloc(512, 0x41), f.data.subarray(1024, 2048)]);
    const m = await idx.lookup(stretch);
    expect(m).toMatchObject({ path: f.path, offset: 1024, stretchOffset: 512, matchedBytes: 1024 });
  });

  it('the last, short block of a stale stretch (the end of the damaged file)', async () => {
    const f = files[20]!;
    const m = await idx.lookup(f.data.subarray(2048, 2048 + 300));
    expect(m).toMatchObject({ path: f.path, offset: 2048, matchedBytes: 300 });
  });

  it('extends past the bytes it was given through readMore', async () => {
    const f = files[39]!;
    const m = await idx.lookup(f.data.subarray(512, 1024), { length: f.data.length - 512, readMore: async (pos, n) => f.data.subarray(512 + pos, 512 + pos + n) });
    expect(m).toMatchObject({ path: f.path, offset: 512, matchedBytes: f.data.length - 512 });
  });

  it('a hash collision (or a block shared by two files) is settled on the bytes and by votes', async () => {
    // Two files sharing their first block; the stretch holds the second file's first two blocks.
    const a = Buffer.concat([files[0]!.data.subarray(0, 512), genOpam(rng(1))]);
    const b = Buffer.concat([files[0]!.data.subarray(0, 512), genOpam(rng(2))]);
    const i2 = new ProvenanceIndex();
    i2.add('corpus', '/c', 'a', a);
    i2.add('corpus', '/c', 'b', b);
    expect((await i2.lookup(b.subarray(0, 1024)))?.path).toBe('b');
    expect((await i2.lookup(a.subarray(0, 1024)))?.path).toBe('a');
  });
});

describe('ProvenanceIndex: memory and the wanted filter', () => {
  it('a full index holds at most 32 bytes per 512-byte block (64 KiB per indexed MiB) and 8 per file', () => {
    const idx = new ProvenanceIndex();
    const r = rng(3);
    let bytes = 0;
    let blocks = 0;
    for (let i = 0; i < 200; i++) {
      const d = genOcaml(r, 200);
      bytes += d.length;
      blocks += Math.ceil(d.length / 512);
      idx.add('corpus', '/c', `f${i}`, d);
    }
    idx.seal();
    const s = idx.stats;
    expect(s.indexedBytes).toBe(bytes);
    // Four ladder levels for every whole block, fewer for a short last block.
    expect(s.memoryBytes).toBeLessThanOrEqual(blocks * 32 + 200 * 8);
    expect(s.entries).toBeGreaterThan(blocks * 3);
  });

  it('with `wanted`, only the blocks that may match are kept, and lookups answer the same', async () => {
    const r = rng(4);
    const files = Array.from({ length: 100 }, (_, i) => ({ path: `f${i}`, data: genOcaml(r, 150) }));
    const stretch = files[57]!.data.subarray(1024, 2048 + 100);
    const wanted = new Wanted();
    const h = newHashes();
    hashBlock(stretch, 0, 512, h);
    wanted.add(512, h);
    hashBlock(stretch, 512, 512, h);
    wanted.add(512, h);
    hashBlock(stretch, 1024, 100, h);
    wanted.add(512, h);
    wanted.add(64, h);
    const full = new ProvenanceIndex();
    const small = new ProvenanceIndex({ wanted });
    for (const f of files) {
      full.add('corpus', '/c', f.path, f.data);
      small.add('corpus', '/c', f.path, f.data);
    }
    full.seal();
    small.seal();
    expect(small.stats.entries).toBeLessThan(10);
    expect(full.stats.entries).toBeGreaterThan(1000);
    const a = await full.lookup(stretch);
    const b = await small.lookup(stretch);
    expect(b).toMatchObject({ path: 'f57', offset: 1024, matchedBytes: stretch.length });
    expect({ ...a, read: null }).toEqual({ ...b, read: null });
  });

  it('indexTree reads large files in chunks and skips unreadable ones', async () => {
    const big = Buffer.concat(Array.from({ length: 40 }, (_, i) => genOcaml(rng(i), 1200))); // > 1 MiB
    const readerOf = (data: Buffer) => async () => ({
      read: async (buf: Buffer, pos: number) => data.copy(buf, 0, pos, Math.min(data.length, pos + buf.length)),
      close: async () => {},
    });
    const tree = memTree({ 'small.ml': genOcaml(rng(9), 50) });
    tree.set('big.ml', { path: 'big.ml', kind: 'file', size: big.length, read: async () => Promise.reject(new Error('read whole')), openReader: readerOf(big) });
    tree.set('denied.ml', { path: 'denied.ml', kind: 'file', size: 10, unreadable: 'Permission denied', read: async () => Promise.reject(new Error('no')) });
    const idx = new ProvenanceIndex();
    expect(await indexTree(idx, tree, 'corpus', '/c')).toBe(2);
    const off = 1024 * 1024 + 512 * 3;
    expect(await idx.lookup(big.subarray(off, off + 4096))).toMatchObject({ path: 'big.ml', offset: off });
  });
});

describe('Wanted: what a head book of 24-bit heads asks', () => {
  it("mayHave64 is true for the low 24 bits of every wanted block's head, and for few others", () => {
    const r = rng(9);
    const wanted = new Wanted();
    const h = newHashes();
    const heads: number[] = [];
    for (let i = 0; i < 300; i++) {
      const block = genOcaml(r, 2).subarray(0, 512);
      hashBlock(block, 0, block.length, h);
      wanted.add(512, h);
      heads.push(h.h64);
    }
    for (const x of heads) {
      expect(wanted.has64(x)).toBe(true);
      expect(wanted.mayHave64(x & 0xffffff)).toBe(true);
    }
    // Other heads: only a shared low 24 bits (about 300 in 16 million) lets one through.
    let through = 0;
    for (let i = 0; i < 100_000; i++) if (wanted.mayHave64(Math.floor(r() * 0x1000000))) through++;
    expect(through).toBeLessThan(20);
  });
});
