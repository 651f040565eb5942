import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileReport } from '../../src/report/schema.js';
import { blockStrip, diffLines, directoryLines, escapeForText, fileBody, hexDump, lineText, type LineSource } from '../../src/tui/file-view.js';
import { loadFileBytes } from '../../src/tui/screens/file.js';
import { EVIL, buildFixture, type Fixture } from './fixtures.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  await fx?.remove();
});

const file = (path: string): FileReport => fx.corrupt.report.files.find((f) => f.path === path)!;
const all = (src: LineSource) => Array.from({ length: src.count }, (_, i) => lineText(src.line(i)));
async function body(path: string, columns = 100): Promise<string[]> {
  const f = file(path);
  return all(fileBody(f, await loadFileBytes(f, fx.corrupt.expected, fx.corrupt.actual), { columns, blockSize: fx.corrupt.report.extraction.blockSize }));
}

describe('file views (real reports from fixture directories)', () => {
  it('the fixture has every class the views handle', () => {
    const classes = Object.fromEntries(fx.corrupt.report.files.map((f) => [f.path, f.class]));
    expect(classes).toMatchObject({
      'tls.opam': 'directory-block',
      'tls-async.opam': 'foreign-text',
      'tls-lwt.opam': 'zeros',
      'tls-mirage.opam': 'match',
      'evil.opam': 'foreign-text',
      'partial.opam': 'partial',
      'blob.bin': 'foreign-binary',
      'gone.opam': 'missing',
      'short.opam': 'size-mismatch',
      // One line edited: an edit, not data loss.
      'long.opam': 'modified',
    });
  });

  it('a directory block: its decoded records, names and inodes', async () => {
    const lines = await body('tls.opam');
    expect(lines[0]).toMatch(/^FFS \(UFS1\/UFS2\) little-endian directory block: \d+ entries/);
    const names = lines.filter((l) => /^\s+\d+\s+\d+\s+\w+\s+\d+\s+/.test(l)).map((l) => l.trim().split(/\s+/).pop());
    // The file holds the start of the block only: its first entries, in order.
    expect(names).toEqual(file('tls.opam').detail.entries);
    expect(names.slice(0, 2)).toEqual(['.', '..']);
    expect(names.length).toBeGreaterThan(4);
    expect(lines.some((l) => /^\s+0\s+\d+\s+dir\s+12\s+\.$/.test(l))).toBe(true);
  });

  it('text: a unified diff, NUL padding folded', async () => {
    const lines = await body('tls-async.opam');
    expect(lines[0]).toBe('--- expected/tls-async.opam');
    expect(lines[1]).toBe('+++ layer/tls-async.opam');
    expect(lines).toContain('-name: "tls-async"');
    expect(lines).toContain('+name: "zxcvbn"');
    expect(lines.some((l) => l.includes('\\0 ×40'))).toBe(true);
  });

  it('binary: a hex dump of the actual bytes beside the expected ones, differing rows marked', async () => {
    const lines = await body('blob.bin', 100);
    expect(lines[0]).toMatch(/^offset\s+in the layer\s+expected$/);
    expect(lines[1]).toMatch(/^≠ 00000000 {2}([0-9a-f]{2} ){8}/);
    expect(lines[1]).toContain('│');
    // 8 bytes a side at 100 columns, 16 when wide.
    expect(hexDump(Buffer.alloc(32, 1), Buffer.alloc(32, 2), 200).line(1).map((s) => s.text).join('')).toMatch(/(01 ){15}01/);
  });

  it('zeros: the hex dump folds repeated rows', async () => {
    const lines = await body('tls-lwt.opam');
    expect(lines[0]).toMatch(/Every one of the \d+ bytes is NUL/);
    expect(lines.filter((l) => l === '*').length).toBeLessThan(lines.length);
  });

  it('partial: a strip of the blocks coloured by class, and the regions', async () => {
    const f = file('partial.opam');
    const strip = blockStrip(f, 512, 100);
    expect(lineText(strip[1]!)).toBe('  ==00==dd');
    const seg = strip[1]!.find((s) => s.text === '00');
    expect(seg?.color).toBe('blue');
    const lines = await body('partial.opam');
    expect(lines.join('\n')).toMatch(/offset\s+length\s+class/);
  });

  it('escape sequences in stale bytes are shown escaped, never raw', async () => {
    const lines = await body('evil.opam');
    const text = lines.join('\n');
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    // The stale line, its escape sequences shown escaped, the NUL padding folded.
    expect(text).toMatch(/^\+The repository index.*\\e\[2J\\e\]0;pwned\\x07\\e\[31mred\\e\[0m\\0 ×64$/m);
    expect(escapeForText(Buffer.from(EVIL))).toBe('\\e[2J\\e]0;pwned\\x07\\e[31mred\\e[0m');
    // Names in a directory block are escaped too.
    const evilDir = Buffer.alloc(512);
    evilDir.writeUInt32LE(2, 0);
    evilDir.writeUInt16LE(512, 4);
    evilDir[6] = 8;
    evilDir[7] = 5;
    evilDir.write('a\x1bb\x07c', 8, 'latin1');
    const d = directoryLines({ ...file('tls.opam') }, evilDir).map(lineText).join('\n');
    expect(d).toContain('a\\eb\\x07c');
    expect(d).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });

  it('a missing file shows what was expected; a truncated one, the diff', async () => {
    expect((await body('gone.opam')).join('\n')).toMatch(/Not in the layer at all[\s\S]*opam-version: "2.0"/);
    expect(await body('short.opam')).toContain('+opam-version');
  });

  it('diffLines on identical-looking text says so', () => {
    expect(diffLines('a', Buffer.from('x\n'), Buffer.from('x\n')).map(lineText)[2]).toMatch(/no textual difference/);
  });
});
