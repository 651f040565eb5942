// The rules that tell an edit of the expected source (`modified`) from stale blocks (issue 9,
// design.md section 3), one by one.

import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { classifyContent } from '../../src/classify/content.js';
import { compareTrees } from '../../src/classify/compare-trees.js';
import { decideVerdict } from '../../src/diagnose/verdict.js';
import type { Tree, TreeEntry } from '../../src/tree/tree.js';
import { STALE, candidates, ffsDirChunk, genOcaml, genOpam, memEntry, memTree, realFiles, rng, versionPairs } from './helpers.js';

/** An OCaml source of about `size` bytes. */
function source(size: number, seed = 1): Buffer {
  const r = rng(seed);
  let b = genOcaml(r, 100);
  while (b.length < size) b = Buffer.concat([b, genOcaml(r, 200)]);
  return b.subarray(0, size);
}

const insertAt = (b: Buffer, at: number, s: string) => Buffer.concat([b.subarray(0, at), Buffer.from(s), b.subarray(at)]);
const lineStart = (b: Buffer, near: number) => b.lastIndexOf(0x0a, near) + 1;

async function one(e: Uint8Array, a: Uint8Array, opts: { corpus?: Tree; path?: string } = {}) {
  const path = opts.path ?? 'f.ml';
  const expected = memTree({ [path]: e });
  const files = await compareTrees(expected, memTree({ [path]: a }), { candidates: candidates(expected, opts.corpus) });
  return { file: files[0]!, verdict: decideVerdict(files) };
}

describe('edits are modified, whatever their size', () => {
  const big = source(200_000);

  it('a one-line edit in a 200 KB source that shifts the rest', async () => {
    const at = lineStart(big, 100_000);
    const { file, verdict } = await one(big, insertAt(big, at, 'let added = 42\n'));
    expect(file.class).toBe('modified');
    expect(file.detail).toMatchObject({ linesAdded: 1, linesRemoved: 0 });
    expect(file.regions.map((r) => r.class)).toEqual(['match', 'modified', 'match']);
    expect(verdict.kind).toBe('inconclusive');
    expect(verdict.summary).toMatch(/another version of what the step copied/);
  });

  it('a one-line edit in a 200 KB source that keeps the size', async () => {
    const a = Buffer.from(big);
    const at = big.indexOf('let ', 150_000);
    a.write('LET', at);
    const { file, verdict } = await one(big, a);
    expect(file.class).toBe('modified');
    expect(file.regions.filter((r) => r.class === 'modified')).toHaveLength(1);
    expect(verdict.kind).toBe('inconclusive');
  });

  it.each([
    ['CRLF line endings', (t: string) => t.replace(/\n/g, '\r\n'), { lineEndings: 'crlf' }],
    ['a version bump in every line', (t: string) => t.replace(/[0-9]/g, (d) => String((Number(d) + 1) % 10)), {}],
    ['re-indentation', (t: string) => t.replace(/^ +/gm, (s) => '\t'.repeat(s.length / 2)), {}],
    ['lines reordered', (t: string) => t.split('\n').sort().join('\n'), {}],
    ['upper case', (t: string) => t.toUpperCase(), {}],
    ['a block of new text', (t: string) => t.replace('\n\n', `\n${'(* a long new comment line of the next version *)\n'.repeat(40)}\n`), {}],
    ['lines removed', (t: string) => t.split('\n').filter((_, i) => i % 7 !== 3).join('\n'), {}],
  ] as const)('%s', async (_, edit, detail) => {
    const e = source(20_000, 7);
    const a = Buffer.from(edit(e.toString('latin1')), 'latin1');
    const { file } = await one(e, a);
    expect(file.class).toBe('modified');
    expect(file.detail).toMatchObject(detail);
  });

  it('lines inserted at a block boundary of a file then cut back to its old size (found by fast-check)', async () => {
    // The first block ends with a line; the inserted lines fill most of the last block and push
    // the rest along, so only 112 of its 262 bytes are the expected ones: moved, not unrelated.
    const head = source(512, 11);
    const e = Buffer.concat([head.subarray(0, lineStart(head, 511)), Buffer.from(' '.repeat(511 - lineStart(head, 511)) + '\n'), source(262, 12)]);
    expect(e.length).toBe(774);
    const inserted = '  depends x509 dune 968\n  depends x509 handshake let dune dune lwt 608\n  lwt version x509 512\n  x509 handshake x509 608\n';
    const a = insertAt(e, 512, inserted).subarray(0, e.length);
    const { file, verdict } = await one(e, a);
    expect(file.class).toBe('modified');
    expect(verdict.kind).toBe('inconclusive');
  });

  it('the end of a file rewritten from a block boundary, size kept: an edit, unless another file holds those bytes (found by fast-check)', async () => {
    // One edge only: other text from offset 1536 to the end reads the same whether a paragraph
    // was replaced there or the last fragment was never written. The origin decides.
    const e = source(2152, 31);
    const donor = source(4096, 32);
    const a = Buffer.from(e);
    donor.copy(a, 1536, 2048, 2048 + 616);
    const alone = await one(e, a);
    expect(alone.file.class).toBe('modified');
    expect(JSON.stringify(alone.file.detail)).toMatch(/to the end .*no file they come from/);
    expect(alone.verdict.kind).toBe('inconclusive');
    const traced = await one(e, a, { corpus: memTree({ 'lib/donor.ml': donor }) });
    expect(traced.file.class).toBe('partial');
    expect(traced.file.provenance).toMatchObject({ path: 'lib/donor.ml', offset: 2048, fileOffset: 1536 });
    expect(traced.verdict.kind).toBe('soft-updates-data-loss');
    // In a text file, bytes no edit of text writes are stale without an origin, even in a last
    // fragment too short to be a junk block: a control character, or broken UTF-8 (found by
    // fast-check: 127 random bytes holding 3 control characters).
    const t = source(2175, 33);
    const highBytes = Buffer.from(t);
    for (let i = 2048; i < t.length; i++) highBytes[i] = 0xa0 + ((i * 37) % 96);
    expect((await one(t, highBytes)).file.class).toBe('partial');
    const control = Buffer.from(t);
    donor.copy(control, 2048, 0, 127);
    control[2100] = 0x01;
    expect((await one(t, control)).file.class).toBe('partial');
    // UTF-8 text rewritten at the end, a character cut by the block boundary: an edit.
    const u = Buffer.concat([source(2047, 34), Buffer.from('é résumé of the next version, naïve façade\n'.repeat(4))]).subarray(0, 2175);
    const uEdit = Buffer.concat([u.subarray(0, 2049), Buffer.from('©'.repeat(63))]).subarray(0, 2175);
    expect((await one(u, uEdit)).file.class).toBe('modified');
    // Binary too: random bytes over the last fragment of a compressed file.
    const gz = gzipSync(Buffer.concat([e, donor]));
    const g = Buffer.from(gz);
    for (let i = 1024; i < g.length; i++) g[i] = (i * 131 + 7) & 0xff;
    expect((await one(gz, g, { path: 'f.gz' })).file.class).toBe('modified');
  });

  it('LF endings where CRLF was expected', async () => {
    const e = Buffer.from(genOpam(rng(3)).toString().replace(/\n/g, '\r\n'));
    const { file } = await one(e, Buffer.from(e.toString().replace(/\r\n/g, '\n')));
    expect(file).toMatchObject({ class: 'modified', detail: { lineEndings: 'lf' } });
  });

  it("another commit's version of the file (ocaml-tls history), of the same size or another", async () => {
    const pairs = versionPairs();
    expect(pairs.some((p) => p.expected.length === p.actual.length)).toBe(true);
    for (const p of pairs) {
      const { file, verdict } = await one(p.expected, p.actual, { path: p.name });
      expect(file.class, p.name).toBe('modified');
      expect(verdict.kind, p.name).toBe('inconclusive');
    }
  });

  it('binary: another build of a compressed file of the same size, bytes inserted, bytes flipped', async () => {
    const text = Buffer.concat(realFiles().map((f) => f.data));
    const e = gzipSync(text, { level: 1 });
    const rebuilt = gzipSync(text, { level: 9 });
    const same = Buffer.concat([rebuilt, Buffer.alloc(Math.max(0, e.length - rebuilt.length))]).subarray(0, e.length);
    expect((await one(e, same)).file.class).toBe('modified');
    expect((await one(e, insertAt(e, 5000, 'xyz'))).file.class).toBe('modified');
    const flipped = Buffer.from(e);
    for (let i = 100; i < flipped.length; i += 997) flipped[i]! ^= 0x55;
    expect((await one(e, flipped)).file.class).toBe('modified');
  });

  it('exact prefixes stay size-mismatch (truncated, over-long; an append is one too)', async () => {
    const e = source(5000);
    expect((await one(e, e.subarray(0, 3000))).file).toMatchObject({ class: 'size-mismatch', detail: { truncated: true } });
    const longer = Buffer.concat([e, Buffer.from('let appended = 1\n')]);
    expect((await one(e, longer)).file).toMatchObject({ class: 'size-mismatch', detail: { overlong: true } });
  });

  it('another size that is not an edit: zeros, junk, unrelated text', async () => {
    const e = source(5000);
    expect((await one(e, Buffer.alloc(4096))).file.class).toBe('size-mismatch');
    const junk = Buffer.concat([e.subarray(0, 1000), Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) & 0xff))]);
    expect((await one(e, junk)).file.class).toBe('size-mismatch');
    expect((await one(e, genOpam(rng(5)))).file.class).toBe('size-mismatch');
  });
});

describe('stale blocks are stale, edits around them or not', () => {
  // Real sources: ocaml-tls files, 64 KiB of them, and another one to take stale text from.
  const real = realFiles();
  const src = Buffer.concat(real.filter((f) => f.name.endsWith('.ml')).map((f) => f.data)).subarray(0, 64 * 1024);
  // Not among the files `src` is made of (text moved within a file is an edit, rightly).
  const other = real.find((f) => f.name === 'ocaml-tls/same-size.lib_handshake_client13.ml.a')!.data;

  it('a stale 2 KiB block of another file\'s text inside an otherwise intact 64 KiB source is partial, with its origin', async () => {
    const a = Buffer.from(src);
    other.copy(a, 30_720, 4096, 4096 + 2048);
    const corpus = memTree({ 'lib/other.ml': other });
    const { file, verdict } = await one(src, a, { corpus });
    expect(file.class).toBe('partial');
    expect(file.provenance).toMatchObject({ source: 'corpus', path: 'lib/other.ml', offset: 4096, matchedBytes: 2048, fileOffset: 30_720 });
    expect(file.regions.find((r) => r.class === 'foreign-text')).toMatchObject({ offset: 30_720, length: 2048, provenance: { offset: 4096 } });
    expect(verdict.kind).toBe('soft-updates-data-loss');
    // Without a candidate to name, still stale.
    expect((await one(src, a)).file.class).toBe('partial');
  });

  it('zeros, a directory block and binary blocks inside a text file are stale even next to an edit', async () => {
    for (const fill of ['zeros', 'dir', 'binary'] as const) {
      const a = Buffer.from(src);
      a.write('EDIT', src.indexOf('let ', 1000)); // an edit elsewhere
      if (fill === 'zeros') a.fill(0, 4096, 4608);
      else if (fill === 'dir') ffsDirChunk(12345, ['a.opam', 'b.opam']).copy(a, 4096);
      else for (let i = 4096; i < 4608; i++) a[i] = (i * 131) & 0xff;
      const { file, verdict } = await one(src, a);
      expect(file.class, fill).toBe('partial');
      expect(file.regions.map((r) => r.class)).toContain('modified');
      expect(verdict.kind).toBe('soft-updates-data-loss');
    }
  });

  it("zeros over whole blocks of a binary are stale even where the expected bytes are zeros too (the bench's zeroed binaries)", async () => {
    // A binary with zeros of its own where the lost blocks start and end (padding, as ELF files
    // and archives have): the agreement at the edges is those zeros, not the ends of an edit.
    const bin = Buffer.from(Array.from({ length: 8000 }, (_, i) => ((i * 2654435761) >>> 24) | 1));
    bin.fill(0, 1024, 1040);
    bin.fill(0, 3060, 3072);
    const lost = Buffer.from(bin);
    lost.fill(0, 1024, 3072);
    const { file, verdict } = await one(bin, lost, { path: 'f.bin' });
    expect(file.class).toBe('partial');
    expect(file.regions.filter((r) => r.class !== 'match')).toEqual([{ offset: 1024, length: 2048, class: 'zeros' }]);
    expect(verdict.kind).toBe('soft-updates-data-loss');
    // The whole file zeroed, its first byte a zero already.
    bin[0] = 0;
    expect((await one(bin, Buffer.alloc(bin.length), { path: 'f.bin' })).file.class).toBe('zeros');
  });

  it('text that could be an edit, next to an edit, is taken for one (never the other way round)', async () => {
    const a = Buffer.from(src);
    a.write('EDIT', src.indexOf('let ', 1000));
    other.copy(a, 8192, 0, 1024);
    expect((await one(src, a)).file.class).toBe('modified');
  });

  it('a block of a sibling file whose first hundreds of bytes are those of the expected file is found by its origin', async () => {
    // A sibling that shares 200 bytes with the expected file at the start of block 1 (as opam
    // files of one project share their headers), and differs around it.
    const e = real.find((f) => f.name === 'ocaml-tls/lib_writer.ml')!.data;
    const sibling = Buffer.concat([other.subarray(0, 512), e.subarray(512, 712), other.subarray(1000, 1312), other.subarray(2000, 4000)]);
    const a = Buffer.from(e);
    sibling.copy(a, 512, 512, 1024);
    const { file, verdict } = await one(e, a, { corpus: memTree({ 'lib/sibling.ml': sibling }) });
    expect(file.class).toBe('partial');
    expect(file.provenance).toMatchObject({ source: 'corpus', path: 'lib/sibling.ml', offset: 512, fileOffset: 512 });
    expect(verdict.kind).toBe('soft-updates-data-loss');
    // Without the sibling to show where the block came from, 200 bytes agreeing at its start read as an edit.
    expect((await one(e, a)).file.class).toBe('modified');
  });

  it("a sibling's last fragment (its text, then zeros) that reads like an edit is found by its origin (found by fast-check)", async () => {
    // The sibling quotes 504 bytes of the expected file and ends there: the stale block is those
    // bytes and the 8 zeros after the sibling's end, aligned 512-byte blocks of it exactly.
    const e = source(20_000, 21);
    const sibling = Buffer.concat([other.subarray(0, 4608), e.subarray(3000, 3504)]);
    const a = Buffer.from(e);
    a.fill(0, 14_848, 15_360);
    sibling.copy(a, 14_848, 4608);
    expect((await one(e, a)).file.class).toBe('modified');
    const { file, verdict } = await one(e, a, { corpus: memTree({ 'lib/sibling.ml': sibling }) });
    expect(file.class).toBe('partial');
    expect(file.provenance).toMatchObject({ source: 'corpus', path: 'lib/sibling.ml', offset: 4608, fileOffset: 14_848, matchedBytes: 504 });
    expect(verdict.kind).toBe('soft-updates-data-loss');
  });

  it('a sibling whose neighbouring block is the same as the expected one is not named: it could be another version', async () => {
    // tls.opam and tls-lwt.opam share their first 641 bytes: block 1 of tls-lwt.opam in
    // tls.opam reads like a version of tls.opam that took tls-lwt's dependencies.
    const tls = real.find((f) => f.name === 'samples/tls.opam')!.data;
    const lwt = real.find((f) => f.name === 'samples/tls-lwt.opam')!.data;
    const a = Buffer.from(tls);
    lwt.copy(a, 512, 512, 1015);
    const expected = memTree({ 'tls.opam': tls, 'tls-lwt.opam': lwt });
    const files = await compareTrees(expected, memTree({ 'tls.opam': a, 'tls-lwt.opam': lwt }), { candidates: candidates(expected) });
    expect(files.find((x) => x.path === 'tls.opam')!.class).toBe('modified');
  });

  it('but not when the "origin" goes on agreeing with the layer around the run: that is another version of the file', async () => {
    const e = source(8192, 3);
    const a = Buffer.from(e);
    a.write('x'.repeat(600), 2048); // an edit the size of a block, on block boundaries
    // The corpus holds the layer's version itself, under another name.
    const { file } = await one(e, a, { corpus: memTree({ 'vendor/copy.ml': a }) });
    expect(STALE.has(file.class)).toBe(false);
  });

  it('whole files: the incident (another opam file, zeros, a directory block)', async () => {
    const [async_, zx] = [real.find((f) => f.name === 'samples/tls-async.opam')!.data, genOpam(rng(8), 'zxcvbn')];
    const stale = Buffer.concat([zx, Buffer.alloc(async_.length)]).subarray(0, async_.length);
    expect((await classifyContent(stale, async_)).class).toBe('foreign-text');
    expect((await classifyContent(Buffer.alloc(async_.length), async_)).class).toBe('zeros');
    const dir = Buffer.concat([ffsDirChunk(3, ['tls.opam', 'tls-lwt.opam']), ffsDirChunk(3, ['x', 'y']), Buffer.alloc(2048)]).subarray(0, async_.length);
    expect((await classifyContent(dir, async_)).class).toBe('directory-block');
  });
});

describe('large files are streamed', () => {
  /** A file read only in chunks: read() of the whole fails, and every read is at most `max` bytes. */
  function streamed(path: string, data: Buffer, seen: { max: number }): TreeEntry {
    return {
      path,
      kind: 'file',
      size: data.length,
      read: async () => Promise.reject(new Error(`${path} read whole`)),
      readHead: async (n) => data.subarray(0, n),
      openReader: async () => ({
        read: async (buf, pos) => {
          seen.max = Math.max(seen.max, buf.length);
          return data.copy(buf, 0, pos, Math.min(data.length, pos + buf.length));
        },
        close: async () => {},
      }),
    };
  }

  const e = source(8 * 1024 * 1024, 21);

  it.each([
    ['a stale block of another file', 'partial'],
    ['CRLF endings', 'modified'],
    ['a one-line insertion', 'modified'],
    ['a same-size edit', 'modified'],
    ['zeros', 'zeros'],
    ['identical', 'match'],
  ] as const)('%s: %s, never read whole', async (what, cls) => {
    const other = source(100_000, 5);
    let a: Buffer;
    if (what === 'a stale block of another file') {
      a = Buffer.from(e);
      other.copy(a, 5 * 1024 * 1024, 4096, 8192);
    } else if (what === 'a one-line insertion') a = insertAt(e, lineStart(e, 3_000_000), 'let inserted = 1\n');
    else if (what === 'CRLF endings') a = Buffer.from(e.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    else if (what === 'a same-size edit') {
      a = Buffer.from(e);
      a.write('LET', e.indexOf('let ', 6_000_000));
    } else if (what === 'zeros') a = Buffer.alloc(e.length);
    else a = Buffer.from(e);
    const seen = { max: 0 };
    const expected: Tree = new Map([['big.ml', streamed('big.ml', e, seen)]]);
    const actual: Tree = new Map([['big.ml', streamed('big.ml', a, seen)]]);
    const corpus = memTree({ 'other.ml': other });
    const [f] = await compareTrees(expected, actual, { candidates: candidates(expected, corpus) });
    expect(f!.class).toBe(cls);
    // Bounded reads: chunks of 1 MiB, windows of a few around what differs.
    expect(seen.max).toBeLessThanOrEqual(3 * 1024 * 1024);
    if (what === 'a stale block of another file') expect(f!.provenance).toMatchObject({ path: 'other.ml', offset: 4096, matchedBytes: 4096, fileOffset: 5 * 1024 * 1024 });
    if (cls === 'match') expect(f!.expectedSha256).toBe(f!.actualSha256);
    else expect(f!.expectedSha256).not.toBe(f!.actualSha256);
  });
});

describe('unreadable files', () => {
  it('are unreadable (with the reason), never missing nor damaged', async () => {
    const e = memTree({ 'a.opam': 'opam-version: "2.0"\n', 'b.opam': 'x\n' });
    const a = memTree({ 'b.opam': 'x\n' });
    a.set('a.opam', memEntry('a.opam', Buffer.alloc(0), { unreadable: 'gtar: a.opam: Cannot open: Permission denied\x1b[2J' }));
    const files = await compareTrees(e, a);
    const f = files.find((x) => x.path === 'a.opam')!;
    expect(f).toMatchObject({ class: 'unreadable', detail: { side: 'layer', reason: 'gtar: a.opam: Cannot open: Permission denied\x1b[2J' } });
    expect(decideVerdict(files).kind).toBe('inconclusive');
  });

  it('a file that fails to read on the host is unreadable too', async () => {
    const e = memTree({ 'a.ml': 'let x = 1\n' });
    const a: Tree = new Map([['a.ml', { path: 'a.ml', kind: 'file', size: 10, read: async () => Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })) }]]);
    const [f] = await compareTrees(e, a);
    expect(f).toMatchObject({ class: 'unreadable', detail: { side: 'host' } });
  });
});

describe('where a directory block came from', () => {
  it('the `.` entry\'s inode is asked of the producer, and named as guest provenance', async () => {
    const e = genOpam(rng(1));
    const stale = Buffer.concat([ffsDirChunk(4242, ['zxcvbn.opam', 'tls.opam']), Buffer.alloc(e.length)]).subarray(0, e.length);
    const asked: [number, string[] | undefined][] = [];
    const [f] = await compareTrees(memTree({ 'tls.opam': e }), memTree({ 'tls.opam': stale }), {
      directoryOfInode: async (ino, names) => {
        asked.push([ino, names]);
        return ino === 4242 ? '/home/opam/opam-repository/packages' : null;
      },
    });
    expect(f!.class).toBe('directory-block');
    expect(asked).toEqual([[4242, ['zxcvbn.opam', 'tls.opam']]]);
    expect(f!.provenance).toMatchObject({ source: 'guest', path: '/home/opam/opam-repository/packages', offset: 0 });
    expect(f!.detail.directoryInode).toBe(4242);
  });
});
