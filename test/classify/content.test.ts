import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { classifyContent, classifyRegions } from '../../src/classify/content.js';
import { isAllZero, isPaddedText, isText } from '../../src/classify/bytes.js';
import { ffsDirectory, names } from '../helpers/fs-images.js';

const opam = (name: string, extra = ''): Buffer =>
  Buffer.from(
    `opam-version: "2.0"\nname: "${name}"\nmaintainer: "someone@example.org"\nsynopsis: "The ${name} library"\n` +
      `depends: [\n  "ocaml" {>= "4.08.0"}\n  "dune" {>= "3.0"}\n  "mirage-crypto" {>= "1.0.0"}\n]\n${extra}`,
  );

describe('byte predicates', () => {
  it('zeros', () => {
    expect(isAllZero(Buffer.alloc(0))).toBe(true);
    expect(isAllZero(Buffer.alloc(200_000))).toBe(true);
    const b = Buffer.alloc(200_000);
    b[199_999] = 1;
    expect(isAllZero(b)).toBe(false);
  });
  it('UTF-8 text, a cut multi-byte character at the end, NUL padding', () => {
    expect(isText(Buffer.from('synopsis: "Ünïcödé ✓ text"\n'))).toBe(true);
    const cut = Buffer.from('abc ✓');
    expect(isText(cut.subarray(0, cut.length - 1))).toBe(true);
    expect(isText(Buffer.from([0x61, 0xff, 0x62]))).toBe(false);
    expect(isText(Buffer.from('abc\0def'))).toBe(false);
    expect(isPaddedText(Buffer.concat([Buffer.from('text'), Buffer.alloc(300)]))).toBe(true);
    expect(isPaddedText(Buffer.alloc(30))).toBe(false);
  });
});

describe('classifyContent on right-sized, wrong bytes', () => {
  const expected = opam('tls', 'build: [["dune" "build" "-p" name "-j" jobs]]\n'.repeat(30));

  it('zeros', async () => {
    const c = await classifyContent(Buffer.alloc(expected.length), expected);
    expect(c.class).toBe('zeros');
    expect(c.regions).toEqual([{ offset: 0, length: expected.length, class: 'zeros' }]);
  });

  it('a directory block from a real FFS image', async () => {
    const d = await ffsDirectory(names(60));
    const stale = d.blocks.subarray(0, expected.length);
    const c = await classifyContent(stale, expected);
    expect(c.class).toBe('directory-block');
    expect(c.detail.format).toBe('ffs-le');
    expect(c.regions.every((r) => r.class === 'directory-block')).toBe(true);
  });

  it("another file's text, with and without NUL padding", async () => {
    const other = opam('zxcvbn', 'x-comment: "padding text to make it long enough"\n'.repeat(40));
    const c1 = await classifyContent(other.subarray(0, expected.length), expected);
    expect(c1.class).toBe('foreign-text');
    const short = opam('zxcvbn');
    const padded = Buffer.concat([short, Buffer.alloc(expected.length - short.length)]);
    const c2 = await classifyContent(padded, expected);
    expect(c2.class).toBe('foreign-text');
    expect(c2.detail).toMatchObject({ textBytes: short.length, paddingBytes: expected.length - short.length });
    // The regions show the text then the zero tail.
    expect(c2.regions.at(-1)!.class).toBe('zeros');
  });

  it('binary junk, with the format file-type knows', async () => {
    const elf = (await readFile(process.execPath)).subarray(0, expected.length);
    const c = await classifyContent(elf, expected);
    expect(c.class).toBe('foreign-binary');
    expect(c.detail.format).toMatchObject({ ext: 'elf' });
    const gz = gzipSync(Buffer.alloc(100_000, 7));
    const g = Buffer.concat([gz, Buffer.alloc(Math.max(0, expected.length - gz.length), 0x99)]).subarray(0, expected.length);
    const c2 = await classifyContent(g, expected);
    expect(c2.class).toBe('foreign-binary');
    expect(c2.detail.format).toMatchObject({ ext: 'gz' });
  });

  it('partial: some aligned blocks match, the others are classified region by region', async () => {
    const exp = Buffer.from('0123456789abcdef'.repeat(256)); // 4096 bytes
    const act = Buffer.from(exp);
    act.fill(0, 1024, 2048); // blocks 2-3 zeroed
    Buffer.from('stale text from somewhere else '.repeat(20)).copy(act, 3072, 0, 512); // block 6 text
    const c = await classifyContent(act, exp);
    expect(c.class).toBe('partial');
    expect(c.regions).toEqual([
      { offset: 0, length: 1024, class: 'match' },
      { offset: 1024, length: 1024, class: 'zeros' },
      { offset: 2048, length: 1024, class: 'match' },
      { offset: 3072, length: 512, class: 'foreign-text' },
      { offset: 3584, length: 512, class: 'match' },
    ]);
    expect(c.detail.matchedBytes).toBe(4096 - 1024 - 512);
    // With 2 KiB blocks no whole block matches: the damage is no longer block-aligned, so not partial.
    const c2 = await classifyContent(act, exp, 2048);
    expect(c2.regions).toEqual([{ offset: 0, length: 4096, class: 'foreign-text' }]);
    expect(c2.class).toBe('foreign-text');
  });

  it('regions on a file that is a directory block followed by text', async () => {
    const d = await ffsDirectory(names(10));
    const stale = Buffer.concat([d.blocks.subarray(0, 512), Buffer.from('tail of another text file\n'.repeat(40)).subarray(0, 512)]);
    const regions = classifyRegions(stale, null, 512);
    expect(regions.map((r) => r.class)).toEqual(['directory-block', 'foreign-text']);
  });
});
